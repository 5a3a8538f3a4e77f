//! The channel pipeline (Netty's model) for Python: thin classes over core's
//! [`pipeline`](nioxide_core::pipeline), one file per core module.
//!
//! [`channel`] has `Channel` and its kinds, [`list`] `ChannelPipeline`, [`context`]
//! `ChannelHandlerContext`, [`handler`] the core handler that calls a Python handler,
//! [`message`] `Buffer`, user messages, events and addresses, [`config`] the options by
//! Netty's names, [`bootstrap`] `ServerBootstrap` and `Bootstrap`, [`embedded`]
//! `EmbeddedChannel`. The handler base classes, `ChannelInitializer`, `ChannelOption`,
//! `ChannelFuture` and the `CLOSE` listeners are pure Python (`nioxide/_pipeline.py`,
//! `nioxide/_future.py`).
//!
//! # Threads and the GIL
//!
//! Handlers run on their channel's loop thread, inside the loop's callback scope, which takes
//! the GIL once per callback phase for all the Python handlers of that phase; an event a
//! Python class does not override passes by in core without entering Python. Calls from
//! other threads are queued to the loop (core's rule) and never wait for it.

pub(crate) mod bootstrap;
pub(crate) mod channel;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod embedded;
pub(crate) mod handler;
pub(crate) mod list;
pub(crate) mod message;

use pyo3::prelude::*;

/// Adds the pipeline's classes and constants to the module, and routes exceptions that
/// reach a pipeline's tail to the loops' exception handlers.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<message::Buffer>()?;
    m.add_class::<message::OpaqueMessage>()?;
    m.add_class::<message::UserEvent>()?;
    for (name, event) in message::EVENT_NAMES.iter().zip(message::events(py)?) {
        m.add(*name, event.clone_ref(py))?;
    }
    m.add_class::<channel::Channel>()?;
    m.add_class::<channel::TcpChannel>()?;
    m.add_class::<channel::TcpServerChannel>()?;
    m.add_class::<channel::LocalChannel>()?;
    m.add_class::<channel::LocalServerChannel>()?;
    m.add_class::<list::ChannelPipeline>()?;
    m.add_class::<context::ChannelHandlerContext>()?;
    m.add_class::<bootstrap::ServerBootstrap>()?;
    m.add_class::<bootstrap::Bootstrap>()?;
    m.add_class::<embedded::EmbeddedChannel>()?;
    m.add("_HANDLER_METHODS", handler::methods_dict(py)?)?;
    m.add("_CHANNEL_OPTIONS", config::NAMES.to_vec())?;
    channel::install_unhandled_hook();
    Ok(())
}
