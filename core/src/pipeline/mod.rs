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
//! # Examples
//!
//! A handler tested on an [`EmbeddedChannel`]:
//!
//! ```
//! use nioxide_core::pipeline::{
//!     ChannelHandler, Context, EmbeddedChannel, HandlerResult, Mask, Message,
//! };
//!
//! /// Upper-cases what it reads and passes it on.
//! struct Upper;
//!
//! impl ChannelHandler for Upper {
//!     fn mask(&self) -> Mask {
//!         Mask::READ
//!     }
//!     fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
//!         let upper = msg.as_buffer().map(|b| b.to_ascii_uppercase()).unwrap_or_default();
//!         ctx.fire_channel_read(Message::copy_from_slice(&upper));
//!         Ok(())
//!     }
//! }
//!
//! let channel = EmbeddedChannel::new(vec![Box::new(Upper)]).unwrap();
//! channel.write_inbound([Message::copy_from_slice(b"hello")]).unwrap();
//! let read = channel.read_inbound().unwrap();
//! assert_eq!(read.as_buffer().unwrap().as_slice(), b"HELLO");
//! assert!(!channel.finish().unwrap());
//! ```
//!
//! An echo server over TCP (Netty's `EchoServer`), and a client that sends one line:
//!
//! ```
//! use std::time::Duration;
//! use nioxide_core::event_loop::EventLoopGroup;
//! use nioxide_core::pipeline::{
//!     Bootstrap, Channel, ChannelAddress, ChannelHandler, Context, HandlerResult, Message,
//!     ServerBootstrap,
//! };
//!
//! struct Echo;
//!
//! impl ChannelHandler for Echo {
//!     fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
//!         ctx.write(msg, None); // no promise: a failure fires the exception event
//!         Ok(())
//!     }
//!     fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
//!         ctx.flush();
//!         Ok(())
//!     }
//! }
//!
//! let group = EventLoopGroup::new(1).unwrap();
//! let server = ServerBootstrap::new()
//!     .group(group.clone(), group.clone())
//!     .child_handler(|ch: &Channel| {
//!         ch.pipeline().add_last("echo", Box::new(Echo))?;
//!         Ok(())
//!     })
//!     .bind(ChannelAddress::Inet("127.0.0.1:0".parse().unwrap()))
//!     .unwrap();
//! server.future.wait(Some(Duration::from_secs(10))).unwrap();
//! let address = server.channel.local_address().unwrap();
//! let client = Bootstrap::new().group(group.clone()).connect(address).unwrap();
//! client.future.wait(Some(Duration::from_secs(10))).unwrap();
//! assert!(client.channel.is_active());
//! client.channel.write_and_flush(Message::copy_from_slice(b"ping\n"), None);
//! client.channel.close().wait(Some(Duration::from_secs(10))).unwrap();
//! group.shutdown_gracefully(Duration::ZERO, Duration::from_secs(5));
//! group.await_termination(Some(Duration::from_secs(10))).unwrap();
//! ```
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
//! - `handler_added` runs when the addition reaches the loop, also before the channel is
//!   registered (Netty defers it to the registration); events still come after it.
//! - The exceptions nobody handled are reported through the channel's loop: its exception
//!   handler ([`EventLoop::set_exception_handler`](crate::event_loop::EventLoop::set_exception_handler),
//!   standard error without one) and its counter; a process-wide count
//!   ([`unhandled_exceptions`]) adds them up.
//! - Writes without a promise (Netty's void promise) that fail fire the exception event once
//!   per failure (a reset with many such writes queued fires it once); the ones a close
//!   fails fire nothing.

mod bootstrap;
mod cell;
mod channel;
pub mod codec;
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
pub use channel::{Channel, ChannelKind, ChannelTask, CloseWhen, unhandled_exceptions};
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
