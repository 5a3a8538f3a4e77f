//! `nioxide.Future` and `nioxide.ScheduledFuture`: core's [`Promise`](nx::Promise) with
//! `concurrent.futures` names, awaitable from asyncio.
//!
//! The classes here are the bases `FutureBase` and `ScheduledFutureBase`; the classes users
//! see, `nioxide.Future` and `nioxide.ScheduledFuture` (`nioxide/_future.py`), add
//! `concurrent.futures.Future` to them, and every future made here is one of those: the Python
//! class is called with a [`Seed`] that carries the new future's Rust half into `__new__`.
//!
//! A result is a Python object kept in core as the promise's value; a failure keeps the
//! exception object as its detail, so `result()` raises the very exception the callable
//! raised. Each core promise has exactly one `Future` object (made where the promise is made),
//! so the future's `__traverse__` may show its value to the collector as its own. Done
//! callbacks are calls registered on the promise's loop (see [`super::callback`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nioxide_core::event_loop::{self as nx, Failure, Outcome};
use nioxide_core::sync::lock;
use nioxide_core::{Error, ErrorKind};
use pyo3::PyTraverseError;
use pyo3::exceptions::{PyBaseException, PyRuntimeError, PyTypeError};
use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use super::EventLoop;
use super::callback::{self, Call, LoopState};
use crate::error::to_pyerr;
use crate::gil;
use crate::live::{Class, Live};
use crate::selector::timeout;

/// The result of an operation that completes later; see the stub for the Python
/// documentation.
#[pyclass(
    name = "FutureBase",
    module = "nioxide._nioxide",
    subclass,
    frozen,
    weakref
)]
#[derive(Debug)]
pub(crate) struct Future {
    core: nx::Promise,
    state: Arc<LoopState>,
    /// The registry ticket of a scheduled task's callable: a won `cancel()` releases it at
    /// once instead of when the timer's deadline comes.
    timer: Option<u64>,
    /// Whether Python code completes it (`Future(loop)`, `loop.create_promise()`, a
    /// channel's `new_promise()`), rather than a task of the loop (`submit`, `schedule`) or
    /// a channel's own operation.
    user: bool,
    /// Whether only Python code can complete it, so that its done callbacks are shown to the
    /// collector while it is pending (see `__traverse__`): a user future, but not a channel's
    /// promise, which the channel's operation completes (or fails when it closes) even when
    /// no Python code holds it.
    only_python: bool,
    /// Whether this object owns the promise's outcome for the collector: the one object made
    /// with the promise. A second object for the same promise (a channel promise handed to a
    /// Python outbound handler) must not show the value again.
    owner: bool,
    /// The registry tickets of its done callbacks, on a library-driven loop (see
    /// `__traverse__`).
    callbacks: Mutex<Vec<u64>>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// The future of a scheduled task, with libuv's ref/unref for its timer.
#[pyclass(
    name = "ScheduledFutureBase",
    module = "nioxide._nioxide",
    extends = Future,
    subclass,
    frozen
)]
#[derive(Debug)]
pub(crate) struct ScheduledFuture {
    core: nx::ScheduledFuture,
}

/// The Rust half of a new future on its way into `__new__`: Rust makes a future by calling
/// its Python class (`nioxide.Future`, `nioxide.ScheduledFuture`) with a seed in place of the
/// loop. Never handed to Python code otherwise; taken exactly once.
#[pyclass(module = "nioxide._nioxide", frozen)]
struct Seed(Mutex<Option<(Future, Option<ScheduledFuture>)>>);

impl Seed {
    fn take(&self) -> PyResult<(Future, Option<ScheduledFuture>)> {
        lock(&self.0)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("a future's seed is used once"))
    }
}

/// The Python classes of the futures Rust makes (`nioxide/_future.py`).
static FUTURE_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SCHEDULED_FUTURE_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CHANNEL_FUTURE_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// An object of the Python class `name` of `nioxide._future` whose Rust half is `future`
/// (and `scheduled`, for a `ScheduledFuture`).
fn instantiate<T: pyo3::PyClass>(
    py: Python<'_>,
    class: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    future: Future,
    scheduled: Option<ScheduledFuture>,
) -> PyResult<Py<T>> {
    let class = class.import(py, "nioxide._future", name)?;
    let seed = Py::new(py, Seed(Mutex::new(Some((future, scheduled)))))?;
    Ok(class.call1((seed,))?.cast_into::<T>()?.unbind())
}

/// How a promise completed, with the Python objects cloned out of core's lock.
enum Settled {
    Value(Py<PyAny>),
    Raised(Py<PyAny>),
    Error(Error),
}

/// The Python object a core value holds (`None` for no value).
fn value_object(py: Python<'_>, value: Option<&nx::Value>) -> Py<PyAny> {
    let Some(value) = value else {
        return py.None();
    };
    match value.downcast_ref::<Py<PyAny>>() {
        Some(object) => object.clone_ref(py),
        // An AIO operation's future holds core's value (a count, a read's outcome, an
        // accepted channel).
        None => crate::aio::future_value(py, value).unwrap_or_else(|| py.None()),
    }
}

/// The exception object a failure keeps, if a Python callable failed.
fn detail_object(failure: &Failure) -> Option<&Py<PyAny>> {
    failure.detail.as_ref()?.downcast_ref::<Py<PyAny>>()
}

impl Future {
    /// The `Future` object of a new core promise of the loop `state` belongs to.
    /// `user`: Python code completes it, rather than a task of the loop.
    pub(crate) fn new_object(
        py: Python<'_>,
        core: nx::Promise,
        state: Arc<LoopState>,
        user: bool,
    ) -> PyResult<Py<Future>> {
        let future = Future::with(core, state, None, user);
        instantiate(py, &FUTURE_CLASS, "Future", future, None)
    }

    /// A `ChannelFuture` (a `Future` whose `channel` is `channel`) for a promise of a
    /// pipeline channel. `user`: Python code may complete it; `owner`: this is the first
    /// object made for the promise (see [`Future::owner`]).
    pub(crate) fn channel_object(
        py: Python<'_>,
        core: nx::Promise,
        state: Arc<LoopState>,
        user: bool,
        owner: bool,
        channel: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Future>> {
        let mut future = Future::with(core, state, None, user);
        future.owner = owner;
        future.only_python = false;
        let object: Py<Future> =
            instantiate(py, &CHANNEL_FUTURE_CLASS, "ChannelFuture", future, None)?;
        object.bind(py).setattr(intern!(py, "channel"), channel)?;
        Ok(object)
    }

    /// The core promise.
    pub(crate) fn core(&self) -> &nx::Promise {
        &self.core
    }

    fn with(core: nx::Promise, state: Arc<LoopState>, timer: Option<u64>, user: bool) -> Future {
        Future {
            core,
            state,
            timer,
            user,
            only_python: user,
            owner: true,
            callbacks: Mutex::new(Vec::new()),
            _live: Live::new(Class::Future),
        }
    }

    /// The promise, if Python code may complete it (C's rule too: the future of a task is
    /// completed by its task).
    fn settable(&self) -> PyResult<&nx::Promise> {
        self.state.check()?;
        if !self.user {
            return Err(crate::error::invalid(
                "the future of a submitted or scheduled task is completed by its task",
            ));
        }
        Ok(&self.core)
    }

    /// The `ScheduledFuture` object of a new scheduled task whose callable is ticket `id`.
    pub(crate) fn scheduled_object(
        py: Python<'_>,
        core: nx::ScheduledFuture,
        state: Arc<LoopState>,
        id: u64,
    ) -> PyResult<Py<ScheduledFuture>> {
        let base = Future::with(core.future().clone(), state, Some(id), false);
        let scheduled = ScheduledFuture { core };
        instantiate(
            py,
            &SCHEDULED_FUTURE_CLASS,
            "ScheduledFuture",
            base,
            Some(scheduled),
        )
    }

    fn settled(&self, py: Python<'_>) -> Option<Settled> {
        self.core.with_outcome(|outcome| {
            Some(match outcome? {
                Outcome::Success(value) => Settled::Value(value_object(py, value.as_ref())),
                Outcome::Failure(failure) => match detail_object(failure) {
                    Some(exception) => Settled::Raised(exception.clone_ref(py)),
                    // A codec's failure carries its message (a frame too long, a length
                    // that does not fit its field).
                    None => match crate::pipeline::codec::failure_error(failure) {
                        Some(err) => Settled::Raised(err.into_value(py).into_any()),
                        None => Settled::Error(failure.error),
                    },
                },
            })
        })
    }

    /// Waits until done, with the GIL released; `TimeoutError` after `seconds` (`None` =
    /// forever, `<= 0` = do not wait), `DeadlockError` on the loop's own thread.
    fn wait(&self, py: Python<'_>, seconds: Option<f64>) -> PyResult<()> {
        self.state.check()?;
        if self.core.is_done() {
            return Ok(());
        }
        let limit = timeout(seconds)?;
        let timed_out = || to_pyerr(ErrorKind::TimedOut.into());
        // A zero wait cannot deadlock: it only looks.
        if limit == Some(Duration::ZERO) {
            return Err(timed_out());
        }
        let core = &self.core;
        if gil::blocking(py, to_pyerr, || core.wait(limit))? {
            Ok(())
        } else {
            Err(timed_out())
        }
    }
}

#[pymethods]
impl Future {
    /// (Further arguments are a subclass's, for its `__init__`.)
    #[new]
    #[pyo3(signature = (r#loop, *_args, **_kwargs))]
    fn new(
        r#loop: &Bound<'_, PyAny>,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        if let Ok(seed) = r#loop.cast::<Seed>() {
            return match seed.get().take()? {
                (future, None) => Ok(future),
                // (Rust pairs each seed with its class: not reached.)
                (_, Some(_)) => Err(PyTypeError::new_err("a scheduled future's seed")),
            };
        }
        let r#loop = r#loop.cast::<EventLoop>().map_err(|_| {
            PyTypeError::new_err(format!(
                "Future() takes an EventLoop, not '{}'",
                r#loop
                    .get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })?;
        let state = EventLoop::state_of(r#loop)?;
        Ok(Future::with(
            nx::Promise::new(Some(&r#loop.get().core)),
            state,
            None,
            true,
        ))
    }

    #[classmethod]
    fn __class_getitem__(cls: &Bound<'_, PyType>, item: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        static GENERIC_ALIAS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let alias = GENERIC_ALIAS.import(cls.py(), "types", "GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }

    #[pyo3(signature = (timeout = None))]
    fn result(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        self.wait(py, timeout)?;
        match self.settled(py) {
            Some(Settled::Value(value)) => Ok(value),
            Some(Settled::Raised(exception)) => Err(PyErr::from_value(exception.into_bound(py))),
            Some(Settled::Error(error)) => Err(to_pyerr(error)),
            None => Err(to_pyerr(ErrorKind::TimedOut.into())),
        }
    }

    #[pyo3(signature = (timeout = None))]
    fn exception(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.wait(py, timeout)?;
        match self.settled(py) {
            Some(Settled::Value(_)) | None => Ok(None),
            Some(Settled::Raised(exception)) => Ok(Some(exception)),
            Some(Settled::Error(error)) if error == ErrorKind::Cancelled.into() => {
                Err(to_pyerr(error))
            }
            Some(Settled::Error(error)) => Ok(Some(to_pyerr(error).into_value(py).into_any())),
        }
    }

    fn done(&self) -> PyResult<bool> {
        self.state.check()?;
        Ok(self.core.is_done())
    }

    fn cancelled(&self) -> PyResult<bool> {
        self.state.check()?;
        Ok(self.core.is_cancelled())
    }

    fn running(&self) -> PyResult<bool> {
        self.state.check()?;
        Ok(self.core.is_running())
    }

    /// `concurrent.futures`' executor protocol: marks a pending future running (it can no
    /// longer be cancelled) and returns `True`, or returns `False` if it was cancelled.
    fn set_running_or_notify_cancel(&self) -> PyResult<bool> {
        let core = self.settable()?;
        if core.is_running() {
            return Err(PyRuntimeError::new_err("the future is running already"));
        }
        if core.is_cancelled() {
            return Ok(false);
        }
        if core.is_done() {
            return Err(to_pyerr(ErrorKind::AlreadyCompleted.into()));
        }
        // `false`: cancelled since the look above.
        Ok(core.set_uncancellable())
    }

    /// `True` if the future is cancelled now (by this call or an earlier one); `False` if it
    /// completed otherwise or its task has started.
    fn cancel(&self) -> PyResult<bool> {
        self.state.check()?;
        let won = self.core.cancel();
        if let (true, Some(id)) = (won, self.timer) {
            self.state.forget(id);
        }
        Ok(won || self.core.is_cancelled())
    }

    fn add_done_callback(slf: &Bound<'_, Self>, r#fn: &Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        this.state.check()?;
        let pending = this
            .state
            .register(Call::new(r#fn, [slf.clone().into_any()])?);
        if this.only_python && this.state.is_library_driven() && !this.core.is_done() {
            lock(&this.callbacks).push(pending.id());
        }
        this.core.add_listener(callback::listener(pending));
        Ok(())
    }

    fn set_result(&self, result: Py<PyAny>) -> PyResult<()> {
        self.settable()?
            .set_success(Some(Box::new(result)))
            .map_err(to_pyerr)
    }

    fn set_exception(&self, exception: &Bound<'_, PyAny>) -> PyResult<()> {
        let core = self.settable()?;
        // A class is instantiated, as asyncio does.
        let exception = match exception.cast::<PyType>() {
            Ok(class) if class.is_subclass_of::<PyBaseException>()? => class.call0()?,
            _ => exception.clone(),
        };
        if !exception.is_instance_of::<PyBaseException>() {
            return Err(PyTypeError::new_err(format!(
                "set_exception() takes an exception, not '{}'",
                exception.get_type().name()?
            )));
        }
        let failure = Failure {
            error: ErrorKind::Panic.into(),
            detail: Some(Box::new(exception.unbind())),
        };
        core.set_failure(failure).map_err(to_pyerr)
    }

    fn get_loop(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state.loop_object(py).map(Bound::unbind)
    }

    fn __await__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        static AWAIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let await_future = AWAIT.import(slf.py(), "nioxide._runtime", "await_future")?;
        Ok(await_future.call1((slf,))?.unbind())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let class = slf.get_type().name()?;
        let this = slf.get();
        Ok(match this.settled(py) {
            None => format!("<nioxide.{class} pending>"),
            Some(Settled::Value(value)) => {
                format!(
                    "<nioxide.{class} finished result={}>",
                    value.bind(py).repr()?
                )
            }
            Some(Settled::Error(error)) if error == ErrorKind::Cancelled.into() => {
                format!("<nioxide.{class} cancelled>")
            }
            Some(Settled::Raised(exception)) => format!(
                "<nioxide.{class} finished exception={}>",
                exception.bind(py).repr()?
            ),
            Some(Settled::Error(error)) => {
                format!("<nioxide.{class} finished error={error:?}>")
            }
        })
    }

    /// The result or exception object, which the future owns (one `Future` per promise);
    /// and, for a pending future that only Python code can complete on a library-driven loop,
    /// its done callbacks (`EventLoop.__traverse__` shows a caller-driven loop's, and a task's
    /// future is completed by the loop, whose thread must find its callbacks): they hold the
    /// future, so an abandoned one would otherwise never be collected.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if self.state.forked() {
            return Ok(()); // the parent's locks: left alone
        }
        // Only while pending: once completed, its listeners are on their way to the loop and
        // take their calls themselves (the collector must not clear a callback still owed).
        if !self.core.is_done() {
            if let Ok(ids) = self.callbacks.try_lock() {
                for &id in ids.iter() {
                    self.state.traverse_call(id, &visit)?;
                }
            }
        }
        if !self.owner {
            return Ok(());
        }
        self.core.with_outcome(|outcome| match outcome {
            Some(Outcome::Success(Some(value))) => match value.downcast_ref::<Py<PyAny>>() {
                Some(object) => visit.call(object),
                None => Ok(()),
            },
            Some(Outcome::Failure(failure)) => match detail_object(failure) {
                Some(object) => visit.call(object),
                None => Ok(()),
            },
            _ => Ok(()),
        })
    }

    /// Breaks a cycle through an abandoned future's done callbacks (see `__traverse__`): they
    /// could only run if Python code completed it, and nothing can reach it any more.
    fn __clear__(&self) {
        if self.state.forked() || self.core.is_done() {
            return; // see `__traverse__`
        }
        let ids = std::mem::take(&mut *lock(&self.callbacks));
        for id in ids {
            self.state.forget(id);
        }
    }
}

#[pymethods]
impl ScheduledFuture {
    /// Only Rust makes scheduled futures (with a seed).
    #[new]
    #[pyo3(signature = (seed, *_args, **_kwargs))]
    fn new(
        seed: &Bound<'_, PyAny>,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let made = match seed.cast::<Seed>() {
            Ok(seed) => seed.get().take()?,
            Err(_) => {
                return Err(PyTypeError::new_err(
                    "a ScheduledFuture is made by EventLoop.schedule*(), not directly",
                ));
            }
        };
        match made {
            (base, Some(scheduled)) => Ok(PyClassInitializer::from(base).add_subclass(scheduled)),
            (_, None) => Err(PyTypeError::new_err("a plain future's seed")),
        }
    }

    #[pyo3(name = "ref")]
    fn ref_(&self) {
        self.core.set_ref(true);
    }

    fn unref(&self) {
        self.core.set_ref(false);
    }

    fn has_ref(&self) -> bool {
        self.core.has_ref()
    }
}
