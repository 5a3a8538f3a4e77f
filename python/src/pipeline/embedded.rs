//! `nioxide.EmbeddedChannel`: core's [`EmbeddedChannel`](nx::EmbeddedChannel), a channel with
//! no I/O for testing handlers. It runs on a loop of its own that the thread which made it
//! drives (the class is bound to that thread), whose `EventLoop` object is the channel's
//! `event_loop` and its handlers' `ctx.executor`; scheduled tasks (the channel's and the
//! loop's) run on a virtual clock that `advance_time_by` moves. An exception that reached the tail is raised by the next call
//! that checks (Netty's `checkException`).

use std::time::Duration;

use nioxide_core::event_loop::Failure;
use nioxide_core::pipeline as nx;
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::channel::{self, Channel};
use super::codec;
use super::handler::{boxed, exception_of, unclaim};
use super::list::ChannelPipeline;
use super::message::{from_message, to_message};
use crate::error::{invalid, to_pyerr};
use crate::event_loop::EventLoop;

/// A channel with no I/O for testing handlers; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", unsendable)]
#[derive(Debug)]
pub(crate) struct EmbeddedChannel {
    core: nx::EmbeddedChannel,
    channel: Py<Channel>,
    /// The loop's object: the channel's `event_loop`, its handlers' `ctx.executor`.
    event_loop: Py<EventLoop>,
}

/// The exception of a failure, raised.
fn raise(py: Python<'_>, failure: &Failure) -> PyErr {
    PyErr::from_value(exception_of(py, failure))
}

#[pymethods]
impl EmbeddedChannel {
    /// `EmbeddedChannel(*handlers)`: a registered, active channel whose pipeline holds
    /// `handlers` (named `handler-0`, `handler-1`, …).
    #[new]
    #[pyo3(signature = (*handlers))]
    fn new(py: Python<'_>, handlers: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let event_loop = EventLoop::for_embedded(py)?;
        let mut boxes = Vec::with_capacity(handlers.len());
        for (i, handler) in handlers.iter().enumerate() {
            match boxed(&handler) {
                Ok(b) => boxes.push(b),
                Err(e) => {
                    for earlier in handlers.iter().take(i) {
                        unclaim(&earlier);
                    }
                    return Err(e);
                }
            }
        }
        let core_loop = event_loop.get().core.clone();
        let core = nx::EmbeddedChannel::with_event_loop(core_loop, boxes).map_err(to_pyerr)?;
        for (i, handler) in handlers.iter().enumerate() {
            if let Some(ctx) = core.pipeline().get(&format!("handler-{i}")) {
                codec::remember(&ctx, &handler);
            }
        }
        let channel = channel::object(py, core.channel())?.unbind();
        Ok(EmbeddedChannel {
            core,
            channel,
            event_loop,
        })
    }

    #[getter]
    fn channel(&self, py: Python<'_>) -> Py<Channel> {
        self.channel.clone_ref(py)
    }

    #[getter]
    fn pipeline(&self) -> ChannelPipeline {
        ChannelPipeline::wrap(self.core.pipeline())
    }

    /// Fires each message as a read, then a read complete; runs pending tasks. Returns
    /// whether messages wait at the tail.
    #[pyo3(signature = (*msgs))]
    fn write_inbound(&self, py: Python<'_>, msgs: &Bound<'_, PyTuple>) -> PyResult<bool> {
        let msgs = msgs
            .iter()
            .map(|m| to_message(&m))
            .collect::<PyResult<Vec<_>>>()?;
        self.core.write_inbound(msgs).map_err(|f| raise(py, &f))
    }

    /// Writes each message through the pipeline, flushes, runs pending tasks. Returns
    /// whether written messages wait.
    #[pyo3(signature = (*msgs))]
    fn write_outbound(&self, py: Python<'_>, msgs: &Bound<'_, PyTuple>) -> PyResult<bool> {
        let msgs = msgs
            .iter()
            .map(|m| to_message(&m))
            .collect::<PyResult<Vec<_>>>()?;
        self.core.write_outbound(msgs).map_err(|f| raise(py, &f))
    }

    /// The next message that reached the tail (`None` if there is none).
    fn read_inbound<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.core
            .read_inbound()
            .map(|m| from_message(py, m))
            .transpose()
    }

    /// The next message written and flushed (`None` if there is none).
    fn read_outbound<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.core
            .read_outbound()
            .map(|m| from_message(py, m))
            .transpose()
    }

    #[getter]
    fn inbound_count(&self) -> usize {
        self.core.inbound_len()
    }

    #[getter]
    fn outbound_count(&self) -> usize {
        self.core.outbound_len()
    }

    fn run_pending_tasks(&self) {
        self.core.run_pending_tasks();
    }

    /// Moves the virtual clock `seconds` forward and runs what came due.
    fn advance_time_by(&self, seconds: f64) -> PyResult<()> {
        let by = Duration::try_from_secs_f64(seconds)
            .map_err(|_| invalid(format!("cannot advance the clock by {seconds} seconds")))?;
        self.core.advance_time_by(by);
        Ok(())
    }

    /// The virtual clock's time since the channel was made, in seconds.
    #[getter]
    fn virtual_time(&self) -> f64 {
        self.core.virtual_time().as_secs_f64()
    }

    /// Raises the exception that reached the tail since the last check, if any (once).
    fn check_exception(&self, py: Python<'_>) -> PyResult<()> {
        self.core.check_exception().map_err(|f| raise(py, &f))
    }

    /// Closes the channel, runs what is pending and checks for an exception. Returns whether
    /// messages were left in either direction.
    fn finish(&self, py: Python<'_>) -> PyResult<bool> {
        self.core.finish().map_err(|f| raise(py, &f))
    }

    /// `finish()`, then releases every message left.
    fn finish_and_release_all(&self, py: Python<'_>) -> PyResult<bool> {
        self.core
            .finish_and_release_all()
            .map_err(|f| raise(py, &f))
    }

    /// Closes the channel and runs what its close queued.
    fn close(&self) {
        self.core.close();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) {
        self.core.close();
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.channel)?;
        visit.call(&self.event_loop)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<nioxide.EmbeddedChannel {}>",
            self.channel.bind(py).repr()?
        ))
    }
}
