//! `nioxide.ChannelHandlerContext`: core's [`Context`] (a handler's place in a pipeline).
//!
//! Inbound events (`fire_*`) go from here to the next handler towards the tail, outbound
//! operations to the next one towards the head; on the loop's thread the next handler runs
//! inside the call, from another thread the call is queued (core's rule). A write, close,
//! bind, connect or disconnect takes an optional promise (`ctx.new_promise()`) and returns
//! it; without one nothing is made (a failed write then fires the exception event).

use nioxide_core::event_loop::Promise;
use nioxide_core::pipeline::Context;
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::channel::{self, Channel};
use super::handler::PyHandler;
use super::list::ChannelPipeline;
use crate::event_loop::promise::Future;
use crate::live::{Class, Live};

/// A handler's context; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct ChannelHandlerContext {
    pub(crate) core: Context,
    /// The channel's object (the one the channel keeps while open).
    channel: Py<Channel>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// A new Python object for `core`.
pub(crate) fn new_object(py: Python<'_>, core: Context) -> PyResult<Py<ChannelHandlerContext>> {
    let channel = channel::object(py, core.channel())?.unbind();
    Py::new(
        py,
        ChannelHandlerContext {
            core,
            channel,
            _live: Live::new(Class::ChannelHandlerContext),
        },
    )
}

/// The Python object of `core`: the handler's own if it is a Python handler, else a new one.
pub(crate) fn object(py: Python<'_>, core: &Context) -> PyResult<Py<ChannelHandlerContext>> {
    match core.handler_as::<PyHandler>() {
        Some(handler) => handler.context_object(py, core),
        None => new_object(py, core.clone()),
    }
}

/// A second Python object for a promise an outbound handler is given (the first is the
/// one made with it); Python may complete it (a handler passes it on or completes it).
pub(crate) fn alias_promise<'py>(
    py: Python<'py>,
    ctx: &Bound<'py, ChannelHandlerContext>,
    promise: Promise,
) -> PyResult<Bound<'py, Future>> {
    let channel = ctx.get().channel.bind(py);
    Ok(channel::promise_object(channel, promise, true, false)?.into_bound(py))
}

/// The core promise of an optional Python future argument.
pub(crate) fn core_promise(promise: Option<&Bound<'_, Future>>) -> Option<Promise> {
    promise.map(|p| p.get().core().clone())
}

pipeline_methods!(ChannelHandlerContext {
    #[getter]
    fn name<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::new(py, self.core.name())
    }

    #[getter]
    fn channel(&self, py: Python<'_>) -> Py<Channel> {
        self.channel.clone_ref(py)
    }

    #[getter]
    fn pipeline(&self) -> ChannelPipeline {
        ChannelPipeline::wrap(self.core.pipeline())
    }

    #[getter]
    fn executor(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.channel.get().event_loop(py)
    }

    #[getter]
    fn handler(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        super::handler::handler_object(py, &self.core)
    }

    fn is_removed(&self) -> bool {
        self.core.is_removed()
    }

    fn new_promise(&self, py: Python<'_>) -> PyResult<Py<Future>> {
        self.channel.get().new_promise_object(py, &self.channel)
    }

    /// The channel's object (a handler → context → channel → attribute → handler cycle is
    /// one the collector sees).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.channel)
    }

    fn __repr__(&self) -> String {
        format!(
            "<nioxide.ChannelHandlerContext {:?} of channel {}>",
            self.core.name(),
            self.core.channel().id()
        )
    }
});
