//! Handlers nioxide ships for pipelines: idle-state detection and read/write timeouts
//! ([`IdleStateHandler`], [`ReadTimeoutHandler`], [`WriteTimeoutHandler`]), with Netty's
//! names and behaviour. They are ordinary [`ChannelHandler`](super::ChannelHandler)s: add
//! them to a pipeline like any other; the C and Python layers add them as they are, so
//! their events never leave Rust.
//!
//! # Examples
//!
//! Closing connections that stay silent, tested on an embedded channel's virtual clock:
//!
//! ```
//! use std::time::Duration;
//! use nioxide_core::pipeline::codec::{IdleStateEvent, IdleStateHandler};
//! use nioxide_core::pipeline::{ChannelHandler, Context, EmbeddedChannel, HandlerResult, UserEvent};
//!
//! /// Closes the channel at its first reader-idle event.
//! struct CloseWhenIdle;
//!
//! impl ChannelHandler for CloseWhenIdle {
//!     fn user_event_triggered(&self, ctx: &Context, event: UserEvent) -> HandlerResult {
//!         if let UserEvent::Idle(IdleStateEvent::FIRST_READER_IDLE_STATE_EVENT) = event {
//!             ctx.close(None);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let idle = IdleStateHandler::new(Duration::from_secs(30), Duration::ZERO, Duration::ZERO);
//! let channel = EmbeddedChannel::new(vec![Box::new(idle), Box::new(CloseWhenIdle)]).unwrap();
//! channel.advance_time_by(Duration::from_secs(29));
//! assert!(channel.channel().is_open());
//! channel.advance_time_by(Duration::from_secs(1));
//! assert!(!channel.channel().is_open());
//! ```

mod idle;

pub use idle::{
    IdleState, IdleStateEvent, IdleStateHandler, ReadTimeoutHandler, TimeoutKind,
    WriteTimeoutHandler,
};
