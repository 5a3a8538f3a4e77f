//! The channel pipeline (Netty 4's model): channels on event loops, each with an ordered
//! pipeline of handlers that inbound events flow through head to tail and outbound
//! operations tail to head.
//!
//! - [`Channel`]: identity, loop, state, configuration ([`ChannelOption`]), attachment,
//!   close future; kinds [`TcpChannel`]/[`TcpServerChannel`], [`LocalChannel`]/
//!   [`LocalServerChannel`], [`EmbeddedChannel`].
//! - [`Pipeline`]: named [`Context`]s; add, remove, replace, get, names, from any thread
//!   and from inside handlers.
//! - [`ChannelHandler`]: the trait; its [`Mask`] says what it takes, the rest passes by.
//! - [`Message`]: a [`Buffer`] (backed by `bytes`) or a user message; [`UserEvent`]s.
//! - Bootstraps: [`ServerBootstrap`], [`Bootstrap`]; [`ChannelInitializer`].
//!
//! # Threads
//! A channel belongs to one loop for its whole life. On that loop's thread, a context,
//! pipeline or channel operation calls the next handler inside the call (as Netty does);
//! from any other thread it is queued to the loop and keeps its order. Promise listeners
//! and writability events never run inside the call that caused them.
//!
//! # Deliberate differences from Netty
//! - A handler method that fails returns `Err(Failure)` instead of throwing.
//! - Messages are moved, not reference-counted by hand: a handler owns what it gets and
//!   passes it on or drops it; a clone of a [`Buffer`] shares its bytes (Netty's `retain`).
//! - [`Pipeline::names`] lists the user's handlers only (not the head and tail).
//! - Writes count bytes plus a fixed per-entry overhead ([`ENTRY_OVERHEAD`]) and have a hard
//!   cap ([`ChannelOption::WriteBufferHardCap`], 16 MiB by default): a write past it fails
//!   whole with `ENOBUFS`.
//! - A write that reaches a TCP channel's head with a message that is not a buffer fails
//!   with `InvalidArgument` (Netty: `UnsupportedOperationException`).
//! - Writes without a promise (Netty's void promise) that fail fire the exception event once
//!   per failure (a reset with many such writes queued fires it once); the ones a close
//!   fails fire nothing.

mod bootstrap;
mod cell;
mod channel;
mod config;
mod context;
mod embedded;
mod handler;
mod initializer;
mod list;
mod local;
mod message;
mod outbound_buffer;
mod recv_allocator;
mod tcp;

pub use bootstrap::{Bootstrap, ChannelFuture, ServerBootstrap};
pub use channel::{
    Channel, ChannelKind, ChannelTask, CloseWhen, UnhandledExceptionHook,
    set_unhandled_exception_hook, unhandled_exceptions,
};
pub use config::{
    ChannelOption, DEFAULT_BACKLOG, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HARD_CAP,
    DEFAULT_HIGH_WATER_MARK, DEFAULT_LOW_WATER_MARK,
};
pub use context::Context;
pub use embedded::EmbeddedChannel;
pub use handler::{ChannelHandler, HandlerResult, Mask};
pub use initializer::{ChannelInitializer, InitFn};
pub use list::{Pipeline, Position};
pub use local::{LOCAL_PEER_QUEUE, LocalChannel, LocalServerChannel};
#[cfg(any(test, feature = "testing"))]
pub use message::live_buffers;
pub use message::{Buffer, ChannelAddress, Message, UserEvent, UserMessage};
pub use outbound_buffer::ENTRY_OVERHEAD;
pub use tcp::{TcpChannel, TcpServerChannel};

#[cfg(test)]
mod tests;
