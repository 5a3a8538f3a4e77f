//! The channel pipeline (Netty's model) for Python: thin classes over core's
//! [`pipeline`](nioxide_core::pipeline), one file per core module.
//!
//! [`channel`] has `Channel` and its kinds, [`list`] `ChannelPipeline`, [`context`]
//! `ChannelHandlerContext`, [`handler`] the core handler that calls a Python handler,
//! [`initializer`] what a `ChannelInitializer` (or a bootstrap's handler) runs per channel,
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

/// The `#[pymethods]` of a class over a core context or pipeline (`self.core`): the class's
/// own methods, then what both share, with the same names and arguments as core's: the
/// inbound events (`fire_*`, towards the tail) and the outbound operations (towards the
/// head), each of which takes an optional promise and returns it.
macro_rules! pipeline_methods {
    ($class:ty { $($own:tt)* }) => {
        #[pyo3::pymethods]
        impl $class {
            $($own)*

            fn fire_channel_registered(&self) {
                self.core.fire_channel_registered();
            }

            fn fire_channel_unregistered(&self) {
                self.core.fire_channel_unregistered();
            }

            fn fire_channel_active(&self) {
                self.core.fire_channel_active();
            }

            fn fire_channel_inactive(&self) {
                self.core.fire_channel_inactive();
            }

            fn fire_channel_read(&self, msg: &Bound<'_, PyAny>) -> PyResult<()> {
                self.core.fire_channel_read($crate::pipeline::message::to_message(msg)?);
                Ok(())
            }

            fn fire_channel_read_complete(&self) {
                self.core.fire_channel_read_complete();
            }

            fn fire_user_event_triggered(&self, event: &Bound<'_, PyAny>) -> PyResult<()> {
                self.core
                    .fire_user_event_triggered($crate::pipeline::message::to_event(event)?);
                Ok(())
            }

            fn fire_channel_writability_changed(&self) {
                self.core.fire_channel_writability_changed();
            }

            fn fire_exception_caught(&self, exception: &Bound<'_, PyAny>) -> PyResult<()> {
                self.core
                    .fire_exception_caught($crate::pipeline::handler::failure_from(exception)?);
                Ok(())
            }

            #[pyo3(signature = (local, promise = None))]
            fn bind(
                &self,
                local: &Bound<'_, PyAny>,
                promise: Option<Bound<'_, Future>>,
            ) -> PyResult<Option<Py<Future>>> {
                let local = $crate::pipeline::message::to_address(local)?;
                self.core.bind(local, $crate::pipeline::context::core_promise(promise.as_ref()));
                Ok(promise.map(Bound::unbind))
            }

            #[pyo3(signature = (remote, local = None, promise = None))]
            fn connect(
                &self,
                remote: &Bound<'_, PyAny>,
                local: Option<&Bound<'_, PyAny>>,
                promise: Option<Bound<'_, Future>>,
            ) -> PyResult<Option<Py<Future>>> {
                let remote = $crate::pipeline::message::to_address(remote)?;
                let local = local.map($crate::pipeline::message::to_address).transpose()?;
                let core_promise = $crate::pipeline::context::core_promise(promise.as_ref());
                self.core.connect(remote, local, core_promise);
                Ok(promise.map(Bound::unbind))
            }

            #[pyo3(signature = (promise = None))]
            fn disconnect(&self, promise: Option<Bound<'_, Future>>) -> Option<Py<Future>> {
                self.core.disconnect($crate::pipeline::context::core_promise(promise.as_ref()));
                promise.map(Bound::unbind)
            }

            #[pyo3(signature = (promise = None))]
            fn close(&self, promise: Option<Bound<'_, Future>>) -> Option<Py<Future>> {
                self.core.close($crate::pipeline::context::core_promise(promise.as_ref()));
                promise.map(Bound::unbind)
            }

            fn read(&self) {
                self.core.read();
            }

            #[pyo3(signature = (msg, promise = None))]
            fn write(
                &self,
                msg: &Bound<'_, PyAny>,
                promise: Option<Bound<'_, Future>>,
            ) -> PyResult<Option<Py<Future>>> {
                let msg = $crate::pipeline::message::to_message(msg)?;
                self.core.write(msg, $crate::pipeline::context::core_promise(promise.as_ref()));
                Ok(promise.map(Bound::unbind))
            }

            fn flush(&self) {
                self.core.flush();
            }

            #[pyo3(signature = (msg, promise = None))]
            fn write_and_flush(
                &self,
                msg: &Bound<'_, PyAny>,
                promise: Option<Bound<'_, Future>>,
            ) -> PyResult<Option<Py<Future>>> {
                let msg = $crate::pipeline::message::to_message(msg)?;
                let core_promise = $crate::pipeline::context::core_promise(promise.as_ref());
                self.core.write_and_flush(msg, core_promise);
                Ok(promise.map(Bound::unbind))
            }
        }
    };
}

pub(crate) mod bootstrap;
pub(crate) mod channel;
pub(crate) mod codec;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod embedded;
pub(crate) mod handler;
pub(crate) mod initializer;
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
    codec::register(m)?;
    m.add("_HANDLER_METHODS", handler::methods_dict(py)?)?;
    m.add("_CHANNEL_OPTIONS", config::NAMES.to_vec())?;
    Ok(())
}
