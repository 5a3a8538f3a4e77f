//! `nioxide.AsynchronousChannelGroup`: core's
//! [`AsynchronousChannelGroup`](nx::AsynchronousChannelGroup), the loops that run the
//! completion handlers of its channels, each with its `EventLoop` object (its exception
//! handler, its futures). A process-wide default group, one loop per core, is made the first
//! time a channel is opened without a group.

use std::sync::Arc;

use nioxide_core::aio as nx;
use nioxide_core::event_loop as el;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::error::{UnsupportedOperationError, interpreter_exiting, invalid, loop_error, to_pyerr};
use crate::event_loop::EventLoop;
use crate::event_loop::callback::LoopState;
use crate::event_loop::group::EventLoopGroup;
use crate::gil;
use crate::live::{Class, Live};
use crate::selector::timeout;

/// The loops that run completion handlers; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct AsynchronousChannelGroup {
    pub(crate) core: nx::AsynchronousChannelGroup,
    loops: Vec<Py<EventLoop>>,
    /// The borrowed `EventLoopGroup` (kept alive while the group lives).
    borrowed: Option<Py<EventLoopGroup>>,
    /// The default group, which interpreter exit shuts down (no warning when freed).
    default: bool,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// The process-wide default group.
static DEFAULT: PyOnceLock<Py<AsynchronousChannelGroup>> = PyOnceLock::new();

impl AsynchronousChannelGroup {
    fn make(
        core: nx::AsynchronousChannelGroup,
        loops: Vec<Py<EventLoop>>,
        borrowed: Option<Py<EventLoopGroup>>,
        default: bool,
    ) -> AsynchronousChannelGroup {
        for lp in &loops {
            let lp = lp.get();
            super::remember_loop(&lp.core, &lp.state);
        }
        AsynchronousChannelGroup {
            core,
            loops,
            borrowed,
            default,
            _live: Live::new(Class::AsynchronousChannelGroup),
        }
    }

    fn owned(py: Python<'_>, threads: usize, default: bool) -> PyResult<Self> {
        if gil::closing() {
            return Err(interpreter_exiting());
        }
        let core = nx::AsynchronousChannelGroup::new(threads).map_err(to_pyerr)?;
        let loops = core
            .event_loop_group()
            .loops()
            .iter()
            .map(|lp| EventLoop::spawned(py, lp.clone(), true))
            .collect::<PyResult<_>>()?;
        Ok(Self::make(core, loops, None, default))
    }

    /// The group a channel opens in: `group`, or the default one.
    pub(crate) fn or_default<'py>(
        py: Python<'py>,
        group: Option<&Bound<'py, AsynchronousChannelGroup>>,
    ) -> PyResult<Bound<'py, AsynchronousChannelGroup>> {
        match group {
            Some(group) => Ok(group.clone()),
            None => Self::default_group(py),
        }
    }

    fn default_group(py: Python<'_>) -> PyResult<Bound<'_, AsynchronousChannelGroup>> {
        let group = DEFAULT.get_or_try_init(py, || Py::new(py, Self::owned(py, 0, true)?))?;
        Ok(group.bind(py).clone())
    }

    /// The Python state of `event_loop`, one of the group's loops.
    pub(crate) fn state_of(&self, event_loop: &el::EventLoop) -> PyResult<Arc<LoopState>> {
        match self.loops.iter().find(|lp| lp.get().core.same(event_loop)) {
            Some(lp) => Ok(lp.get().state.clone()),
            None => super::loop_state(event_loop),
        }
    }

    fn on_group_thread(&self) -> bool {
        self.loops.iter().any(|lp| lp.get().core.in_event_loop())
    }

    /// Refuses `what` on the default group, which lives until interpreter exit: like Java's
    /// default group (which no user code can reach, so none can shut it down), it serves
    /// every channel opened without a group, including other libraries' channels.
    fn refuse_if_default(&self, what: &str) -> PyResult<()> {
        if self.default {
            return Err(UnsupportedOperationError::new_err(format!(
                "{what} on the default AsynchronousChannelGroup: it serves every channel \
                 opened without a group and lives until interpreter exit; use \
                 AsynchronousChannelGroup.with_threads() for a group you can shut down"
            )));
        }
        Ok(())
    }
}

#[pymethods]
impl AsynchronousChannelGroup {
    #[staticmethod]
    #[pyo3(signature = (n = None))]
    fn with_threads(py: Python<'_>, n: Option<usize>) -> PyResult<Self> {
        if n == Some(0) {
            return Err(invalid(
                "a group needs at least one thread (n=None: one per core)",
            ));
        }
        Self::owned(py, n.unwrap_or(0), false)
    }

    #[staticmethod]
    fn with_event_loop_group(group: &Bound<'_, EventLoopGroup>) -> PyResult<Self> {
        let this = group.get();
        let borrowed = this.core()?;
        let loops = this
            .loop_objects()
            .iter()
            .map(|lp| lp.clone_ref(group.py()))
            .collect();
        let core = nx::AsynchronousChannelGroup::with_event_loop_group(borrowed);
        Ok(Self::make(core, loops, Some(group.clone().unbind()), false))
    }

    #[staticmethod]
    #[pyo3(name = "default")]
    fn default_py(py: Python<'_>) -> PyResult<Py<AsynchronousChannelGroup>> {
        Ok(Self::default_group(py)?.unbind())
    }

    #[getter]
    fn loops(&self, py: Python<'_>) -> Vec<Py<EventLoop>> {
        self.loops.iter().map(|lp| lp.clone_ref(py)).collect()
    }

    #[getter]
    fn event_loop_group(&self, py: Python<'_>) -> Option<Py<EventLoopGroup>> {
        self.borrowed.as_ref().map(|g| g.clone_ref(py))
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

    fn shutdown(&self) -> PyResult<()> {
        self.refuse_if_default("shutdown()")?;
        self.core.shutdown();
        Ok(())
    }

    fn shutdown_now(&self) -> PyResult<()> {
        self.refuse_if_default("shutdown_now()")?;
        self.core.shutdown_now();
        Ok(())
    }

    fn is_shutdown(&self) -> bool {
        self.core.is_shutdown()
    }

    fn is_terminated(&self) -> bool {
        self.core.is_terminated()
    }

    fn open_channels(&self) -> usize {
        self.core.open_channels()
    }

    #[pyo3(signature = (timeout = None))]
    fn await_termination(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if timeout.is_none() {
            // It would wait forever: the default group terminates only at interpreter exit.
            self.refuse_if_default("await_termination() without a timeout")?;
        }
        let limit = self::timeout(timeout)?;
        let core = &self.core;
        gil::blocking(py, loop_error, || core.await_termination(limit))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Shuts down now and, unless called on one of the group's threads, waits for
    /// termination.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.refuse_if_default("leaving a `with` block")?;
        self.core.shutdown_now();
        if !self.on_group_thread() {
            let core = &self.core;
            gil::blocking(py, loop_error, || core.await_termination(None))?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if self.core.is_terminated() {
            "terminated"
        } else if self.core.is_shutdown() {
            "shut down"
        } else {
            "open"
        };
        format!(
            "<nioxide.AsynchronousChannelGroup loops={} channels={} {state}>",
            self.loops.len(),
            self.core.open_channels()
        )
    }
}

impl Drop for AsynchronousChannelGroup {
    /// A group whose object goes away unshut gets a `ResourceWarning` and is shut down now
    /// (its channels hold their loops, not the group object).
    fn drop(&mut self) {
        if !self.default && !self.core.is_shutdown() {
            crate::error::warn_unclosed(&self.__repr__());
            self.core.shutdown_now();
        }
    }
}
