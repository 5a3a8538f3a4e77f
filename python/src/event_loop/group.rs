//! `nioxide.EventLoopGroup`: core's [`EventLoopGroup`](nx::EventLoopGroup), N library-driven
//! loops on N threads. The group makes one `EventLoop` object per loop and keeps it, so
//! `next()` hands out the same objects (with their exception handlers) each time.

use std::time::Duration;

use nioxide_core::event_loop::{self as nx, Repeat};
use nioxide_core::sys::fork;
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyIterator, PyList, PyTuple};

use super::promise::{Future, ScheduledFuture};
use super::{EventLoop, SHUTDOWN_TIMEOUT, delay, period};
use crate::error::{interpreter_exiting, invalid, loop_error, to_pyerr};
use crate::gil;
use crate::live::{Class, Live};
use crate::selector::timeout;

/// N event loops on N threads; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct EventLoopGroup {
    core: nx::EventLoopGroup,
    loops: Vec<Py<EventLoop>>,
    generation: u64,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

impl EventLoopGroup {
    /// The core group (the pipeline's bootstraps take it).
    pub(crate) fn core(&self) -> PyResult<&nx::EventLoopGroup> {
        if self.forked() {
            return Err(to_pyerr(nioxide_core::ErrorKind::Forked.into()));
        }
        Ok(&self.core)
    }

    /// The `EventLoop` objects of its loops.
    pub(crate) fn loop_objects(&self) -> &[Py<EventLoop>] {
        &self.loops
    }

    fn forked(&self) -> bool {
        fork::is_forked(self.generation)
    }

    /// The `EventLoop` object of core's next loop (round-robin).
    fn next_loop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, EventLoop>> {
        if self.forked() {
            return Err(to_pyerr(nioxide_core::ErrorKind::Forked.into()));
        }
        let next = self.core.next();
        let object = self
            .loops
            .iter()
            .find(|lp| lp.get().core.same(next))
            .unwrap_or(&self.loops[0]);
        Ok(object.bind(py).clone())
    }

    fn await_terminated(&self, py: Python<'_>, limit: Option<Duration>) -> PyResult<bool> {
        let core = &self.core;
        gil::blocking(py, loop_error, || core.await_termination(limit))
    }
}

#[pymethods]
impl EventLoopGroup {
    #[new]
    #[pyo3(signature = (n = None))]
    fn new(py: Python<'_>, n: Option<usize>) -> PyResult<Self> {
        if n == Some(0) {
            return Err(invalid(
                "a group needs at least one loop (n=None: one per core)",
            ));
        }
        if gil::closing() {
            return Err(interpreter_exiting());
        }
        let core = nx::EventLoopGroup::new(n.unwrap_or(0)).map_err(to_pyerr)?;
        let loops = core
            .loops()
            .iter()
            .map(|lp| EventLoop::spawned(py, lp.clone(), true))
            .collect::<PyResult<_>>()?;
        Ok(EventLoopGroup {
            core,
            loops,
            generation: fork::generation(),
            _live: Live::new(Class::EventLoopGroup),
        })
    }

    fn next(&self, py: Python<'_>) -> PyResult<Py<EventLoop>> {
        Ok(self.next_loop(py)?.unbind())
    }

    #[getter]
    fn loops(&self, py: Python<'_>) -> Vec<Py<EventLoop>> {
        self.loops.iter().map(|lp| lp.clone_ref(py)).collect()
    }

    fn __len__(&self) -> usize {
        self.loops.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        PyList::new(py, &self.loops)?.try_iter()
    }

    #[pyo3(signature = (callable, /, *args))]
    fn execute(&self, callable: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        EventLoop::execute_call(&self.next_loop(callable.py())?, callable, args)
    }

    #[pyo3(signature = (callable, /, *args))]
    fn submit(
        &self,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<Future>> {
        EventLoop::submit_call(&self.next_loop(callable.py())?, callable, args)
    }

    #[pyo3(signature = (delay, callable, /, *args))]
    fn schedule(
        &self,
        delay: f64,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<ScheduledFuture>> {
        let next = self.next_loop(callable.py())?;
        EventLoop::schedule_call(&next, super::delay(delay)?, Repeat::Once, callable, args)
    }

    #[pyo3(signature = (initial_delay, period, callable, /, *args))]
    fn schedule_at_fixed_rate(
        &self,
        initial_delay: f64,
        period: f64,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<ScheduledFuture>> {
        let repeat = Repeat::FixedRate(super::period(period)?);
        let next = self.next_loop(callable.py())?;
        EventLoop::schedule_call(&next, delay(initial_delay)?, repeat, callable, args)
    }

    #[pyo3(signature = (initial_delay, delay, callable, /, *args))]
    fn schedule_with_fixed_delay(
        &self,
        initial_delay: f64,
        delay: f64,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<ScheduledFuture>> {
        let repeat = Repeat::FixedDelay(period(delay)?);
        let next = self.next_loop(callable.py())?;
        EventLoop::schedule_call(&next, super::delay(initial_delay)?, repeat, callable, args)
    }

    #[pyo3(signature = (handler))]
    fn set_exception_handler(
        &self,
        py: Python<'_>,
        handler: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        for lp in &self.loops {
            EventLoop::set_exception_handler(lp.bind(py), handler)?;
        }
        Ok(())
    }

    #[pyo3(signature = (quiet_period = 0.0, timeout = 15.0))]
    fn shutdown_gracefully(&self, quiet_period: f64, timeout: f64) -> PyResult<()> {
        let quiet = delay(quiet_period)?;
        let limit = delay(timeout)?;
        if !self.forked() {
            self.core.shutdown_gracefully(quiet, limit);
        }
        Ok(())
    }

    fn shutdown_now(&self) {
        if !self.forked() {
            self.core.shutdown_now();
        }
    }

    #[pyo3(signature = (timeout = None))]
    fn await_termination(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if self.forked() {
            return Err(to_pyerr(nioxide_core::ErrorKind::Forked.into()));
        }
        self.await_terminated(py, self::timeout(timeout)?)
    }

    fn is_shutting_down(&self) -> bool {
        self.core.is_shutting_down()
    }

    fn is_terminated(&self) -> bool {
        self.core.is_terminated()
    }

    /// Shuts down now (queued work is dropped) and waits for the threads.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.forked() {
            return Ok(());
        }
        self.core.shutdown_now();
        if self.loops.iter().any(|lp| lp.get().core.in_event_loop()) {
            return Ok(());
        }
        self.await_terminated(py, None).map(drop)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Shuts down gracefully and waits for the threads (unless called from one of them).
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if self.forked() {
            return Ok(false);
        }
        self.shutdown_gracefully(0.0, SHUTDOWN_TIMEOUT)?;
        if !self.loops.iter().any(|lp| lp.get().core.in_event_loop()) {
            self.await_terminated(py, None)?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if self.core.is_terminated() {
            "terminated"
        } else if self.core.is_shutting_down() {
            "shutting down"
        } else {
            "open"
        };
        format!(
            "<nioxide.EventLoopGroup loops={} {state}>",
            self.loops.len()
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for lp in &self.loops {
            visit.call(lp)?;
        }
        Ok(())
    }
}

impl Drop for EventLoopGroup {
    /// A group whose object goes away is shut down gracefully, without waiting (its queued
    /// work runs; the `atexit` hook joins the threads at the latest); one that was not shut
    /// down gets a `ResourceWarning` first.
    fn drop(&mut self) {
        if !self.forked() {
            if !self.core.is_shutting_down() {
                let what = format!("<nioxide.EventLoopGroup loops={}>", self.loops.len());
                crate::error::warn_unclosed(&what);
            }
            self.core
                .shutdown_gracefully(Duration::ZERO, Duration::from_secs_f64(SHUTDOWN_TIMEOUT));
        }
    }
}
