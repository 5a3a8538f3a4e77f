//! Handlers nioxide ships for pipelines: idle-state detection and read/write timeouts
//! ([`IdleStateHandler`], [`ReadTimeoutHandler`], [`WriteTimeoutHandler`]), with Netty's
//! names and behaviour. They are ordinary [`ChannelHandler`](super::ChannelHandler)s: add
//! them to a pipeline like any other; the C and Python layers add them as they are, so
//! their events never leave Rust.

mod idle;

pub use idle::{
    IdleState, IdleStateEvent, IdleStateHandler, ReadTimeoutHandler, TimeoutKind,
    WriteTimeoutHandler,
};
