//! The handler trait and the mask that says which events and operations a handler takes.
//!
//! A handler implements the methods it cares about; the defaults pass the event on (to the
//! next inbound handler) or the operation on (to the next outbound handler towards the
//! head). [`ChannelHandler::mask`] says which of them the handler takes at all: the pipeline
//! skips a handler for what its mask leaves out without calling it, so a C handler with NULL
//! function pointers or a Python class that overrides few methods costs nothing for the rest.

use std::any::Any;

use super::context::Context;
use super::message::{ChannelAddress, Message, UserEvent};
use crate::event_loop::{Failure, Promise};

/// What a handler method returns: `Err` routes as in Netty (an inbound callback's failure
/// goes to the same handler's [`exception_caught`](ChannelHandler::exception_caught); an
/// outbound callback's fails its promise, or fires the exception event when it has none).
pub type HandlerResult = std::result::Result<(), Failure>;

/// Which events and operations a handler takes: a set of the constants below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mask(pub u32);

impl Mask {
    /// `channel_registered`.
    pub const REGISTERED: Mask = Mask(1 << 0);
    /// `channel_unregistered`.
    pub const UNREGISTERED: Mask = Mask(1 << 1);
    /// `channel_active`.
    pub const ACTIVE: Mask = Mask(1 << 2);
    /// `channel_inactive`.
    pub const INACTIVE: Mask = Mask(1 << 3);
    /// `channel_read`.
    pub const READ: Mask = Mask(1 << 4);
    /// `channel_read_complete`.
    pub const READ_COMPLETE: Mask = Mask(1 << 5);
    /// `user_event_triggered`.
    pub const USER_EVENT: Mask = Mask(1 << 6);
    /// `channel_writability_changed`.
    pub const WRITABILITY_CHANGED: Mask = Mask(1 << 7);
    /// `exception_caught`.
    pub const EXCEPTION: Mask = Mask(1 << 8);
    /// The `bind` operation.
    pub const BIND: Mask = Mask(1 << 16);
    /// The `connect` operation.
    pub const CONNECT: Mask = Mask(1 << 17);
    /// The `disconnect` operation.
    pub const DISCONNECT: Mask = Mask(1 << 18);
    /// The `close` operation.
    pub const CLOSE: Mask = Mask(1 << 19);
    /// The `read` operation (ask for a read batch).
    pub const READ_OP: Mask = Mask(1 << 20);
    /// The `write` operation.
    pub const WRITE: Mask = Mask(1 << 21);
    /// The `flush` operation.
    pub const FLUSH: Mask = Mask(1 << 22);
    /// Every inbound event.
    pub const INBOUND: Mask = Mask(0x1ff);
    /// Every outbound operation.
    pub const OUTBOUND: Mask = Mask(0x7f << 16);
    /// Everything (the default).
    pub const ALL: Mask = Mask(Self::INBOUND.0 | Self::OUTBOUND.0);
    /// Nothing (a handler that only watches `handler_added`/`handler_removed`).
    pub const NONE: Mask = Mask(0);

    /// Whether every bit of `other` is in this mask.
    pub fn contains(self, other: Mask) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Mask {
    type Output = Mask;
    fn bitor(self, other: Mask) -> Mask {
        Mask(self.0 | other.0)
    }
}

/// A channel handler (Netty's `ChannelInboundHandler` and `ChannelOutboundHandler` in one).
///
/// Every method runs on the channel's loop thread, inline in the call that passes the event
/// or operation to it (so a handler may be re-entered: a `channel_read` that writes through
/// the channel reaches this handler's own `write`; methods take `&self`, and a handler keeps
/// its state in cells). A handler instance belongs to one pipeline; a binding that shares
/// one object between pipelines (Python's `sharable`) wraps it once per pipeline.
///
/// Messages passed in are the handler's: it passes them on or drops them (releasing them).
/// A promise passed to an outbound method is the handler's too: it passes it on or
/// completes it. `handler_removed` is the last call; a handler releases what it holds there.
pub trait ChannelHandler: Send + 'static {
    /// What this handler takes (read once, when it is added): the rest passes it by.
    fn mask(&self) -> Mask {
        Mask::ALL
    }

    /// The handler as `Any`, for a binding that finds its own handler objects again through
    /// a context ([`Context::handler_as`]); `None` (the default) keeps it opaque. A handler
    /// returning itself must be `Sync`: any thread holding a context may look at it.
    fn as_any(&self) -> Option<&(dyn Any + Send + Sync)> {
        None
    }

    /// The handler was added to a pipeline: called before any event reaches it.
    fn handler_added(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// The handler was removed: no event reaches it after this call.
    fn handler_removed(&self, ctx: &Context) -> HandlerResult {
        let _ = ctx;
        Ok(())
    }

    /// The channel was registered with its loop.
    fn channel_registered(&self, ctx: &Context) -> HandlerResult {
        ctx.fire_channel_registered();
        Ok(())
    }

    /// The channel was unregistered (after `channel_inactive`; the last event).
    fn channel_unregistered(&self, ctx: &Context) -> HandlerResult {
        ctx.fire_channel_unregistered();
        Ok(())
    }

    /// The channel became active (connected, bound for a server).
    fn channel_active(&self, ctx: &Context) -> HandlerResult {
        ctx.fire_channel_active();
        Ok(())
    }

    /// The channel became inactive (closed), once, only after `channel_active`.
    fn channel_inactive(&self, ctx: &Context) -> HandlerResult {
        ctx.fire_channel_inactive();
        Ok(())
    }

    /// A message was read (a TCP channel: a [`Message::Buffer`]; a server: an accepted
    /// [`Channel`](super::Channel) as a [`Message::User`]).
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        ctx.fire_channel_read(msg);
        Ok(())
    }

    /// A read batch ended (where handlers flush what they wrote).
    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        ctx.fire_channel_read_complete();
        Ok(())
    }

    /// A user event.
    fn user_event_triggered(&self, ctx: &Context, event: UserEvent) -> HandlerResult {
        ctx.fire_user_event_triggered(event);
        Ok(())
    }

    /// The channel's writability changed (see [`Channel::is_writable`](super::Channel::is_writable)).
    fn channel_writability_changed(&self, ctx: &Context) -> HandlerResult {
        ctx.fire_channel_writability_changed();
        Ok(())
    }

    /// An exception was fired, or a callback of this handler failed.
    fn exception_caught(&self, ctx: &Context, failure: Failure) -> HandlerResult {
        ctx.fire_exception_caught(failure);
        Ok(())
    }

    /// Bind to `local`.
    fn bind(
        &self,
        ctx: &Context,
        local: ChannelAddress,
        promise: Option<Promise>,
    ) -> HandlerResult {
        ctx.bind(local, promise);
        Ok(())
    }

    /// Connect to `remote` (from `local`, if given).
    fn connect(
        &self,
        ctx: &Context,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    ) -> HandlerResult {
        ctx.connect(remote, local, promise);
        Ok(())
    }

    /// Disconnect (a TCP channel closes).
    fn disconnect(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        ctx.disconnect(promise);
        Ok(())
    }

    /// Close.
    fn close(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        ctx.close(promise);
        Ok(())
    }

    /// Ask for a read batch (what auto-read does by itself).
    fn read(&self, ctx: &Context) -> HandlerResult {
        ctx.read();
        Ok(())
    }

    /// Write `msg` (queued until a flush).
    fn write(&self, ctx: &Context, msg: Message, promise: Option<Promise>) -> HandlerResult {
        ctx.write(msg, promise);
        Ok(())
    }

    /// Flush what was written.
    fn flush(&self, ctx: &Context) -> HandlerResult {
        ctx.flush();
        Ok(())
    }
}
