//! [`ChannelInitializer`]: a handler that sets a new channel's pipeline up, then removes
//! itself (Netty's `ChannelInitializer`).

use std::sync::Arc;

use super::channel::Channel;
use super::context::Context;
use super::handler::{ChannelHandler, HandlerResult, Mask};

/// The function a [`ChannelInitializer`] runs for each channel. Shared: a bootstrap's child
/// initializer runs on several loops at once.
pub type InitFn = Arc<dyn Fn(&Channel) -> HandlerResult + Send + Sync>;

/// Runs its function with the channel when it is added (on the channel's loop, before the
/// channel's first event reaches the handlers the function adds), then removes itself. A
/// failure fires the exception event and closes the channel.
pub struct ChannelInitializer {
    init: InitFn,
}

impl std::fmt::Debug for ChannelInitializer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelInitializer").finish_non_exhaustive()
    }
}

impl ChannelInitializer {
    /// An initializer running `init`.
    pub fn new(init: impl Fn(&Channel) -> HandlerResult + Send + Sync + 'static) -> Self {
        ChannelInitializer {
            init: Arc::new(init),
        }
    }

    /// An initializer running a shared function.
    pub fn from_shared(init: InitFn) -> Self {
        ChannelInitializer { init }
    }
}

impl ChannelHandler for ChannelInitializer {
    fn mask(&self) -> Mask {
        Mask::NONE
    }

    fn handler_added(&self, ctx: &Context) -> HandlerResult {
        let result = (self.init)(ctx.channel());
        let _ = ctx.pipeline().remove_context(ctx);
        if let Err(failure) = result {
            ctx.channel().pipeline().fire_exception_caught(failure);
            let _ = ctx.channel().close();
        }
        Ok(())
    }
}
