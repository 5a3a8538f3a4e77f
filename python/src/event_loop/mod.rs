//! `nioxide.EventLoop`: a thin wrapper over core's [`event_loop`](nioxide_core::event_loop),
//! with Python's conventions (seconds as floats, `None` for "forever", context managers,
//! asyncio's exception-handler protocol). [`promise`] has `Future`, [`watch`] `Watch`,
//! [`timer`] `Timer`, [`group`] `EventLoopGroup`; [`callback`] is how Python callables live on
//! a loop.
//!
//! # Threads and the GIL
//!
//! `run()`, `await_termination()` and every other wait go through [`gil::blocking`]: the GIL
//! is released and Ctrl-C interrupts them. The thread that drives a loop takes the GIL once per
//! callback phase of a turn (core's callback scope), never while waiting for I/O.
//!
//! # Garbage collection
//!
//! A caller-driven loop runs only inside `run()`, which holds the loop's object; so when its
//! object is unreachable, nothing can run its pending callables any more, and its
//! `__traverse__` shows them to the collector (a loop → callback → loop cycle is collected:
//! `__clear__` drops them and closes the loop). A library-driven loop is like a thread: it
//! runs its callables whether or not Python still references it, so they are not shown to the
//! collector (it must never clear a function the loop thread is about to call); a cycle
//! through it is broken when the loop shuts down, which drops its pending work. The exception
//! is a pending future that only Python code can complete (`create_promise()`): its own
//! `__traverse__` shows its done callbacks, so an abandoned one is collected. An `EventLoop`
//! object that goes away shuts its loop down: a caller-driven loop is closed, a library-driven
//! one shut down gracefully (queued work still runs).
//!
//! # Interpreter exit and fork
//!
//! Every library-driven loop is tracked (weakly); an `atexit` hook shuts them down gracefully
//! and joins their threads before the interpreter finalizes, then stops loop threads from
//! attaching ([`gil::attach_loop`]). In a forked child, objects from the parent raise
//! `ForkedError` (core's rule), are never shut down (their threads are the parent's), and are
//! not tracked for exit.

pub(crate) mod callback;
pub(crate) mod group;
pub(crate) mod promise;
pub(crate) mod timer;
pub(crate) mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nioxide_core::channel::Channel;
use nioxide_core::event_loop::{self as nx, Repeat, RunMode};
use nioxide_core::sync::lock;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTraverseError, intern};

use self::callback::{Call, LoopState};
use self::promise::{Future, ScheduledFuture};
use self::timer::Timer;
use self::watch::Watch;
use crate::channel;
use crate::error::{interpreter_exiting, invalid, loop_error, to_pyerr, warn_unclosed, work_error};
use crate::gil;
use crate::live::{Class, Live};
use crate::selector::{FOREVER, timeout};

/// `run()` until stopped or nothing referenced is left (libuv's `UV_RUN_DEFAULT`).
pub(crate) const RUN_DEFAULT: i64 = 0;
/// One turn, waiting for I/O or a timer if nothing is pending.
pub(crate) const RUN_ONCE: i64 = 1;
/// One turn without waiting.
pub(crate) const RUN_NOWAIT: i64 = 2;

/// The default `timeout` of graceful shutdowns, in seconds (Netty's; the literal in the
/// `shutdown_gracefully` signatures, which Python shows).
const SHUTDOWN_TIMEOUT: f64 = 15.0;
/// How long queued work may still run on library-driven loops at interpreter exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// An event loop (Netty's `EventLoop`, libuv's `uv_loop_t`); see the stub for the Python
/// documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct EventLoop {
    pub(crate) core: nx::EventLoop,
    pub(crate) state: Arc<LoopState>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
    /// A loop of an `EventLoopGroup`, which the group shuts down (no warning of its own).
    member: bool,
    /// Closed by the collector (`__clear__`) before any shutdown: warned of when it is freed.
    cleared_open: AtomicBool,
}

/// Weak handles to every library-driven loop, for the `atexit` hook.
static LIBRARY_LOOPS: Mutex<Vec<nx::WeakEventLoop>> = Mutex::new(Vec::new());

/// Tracks a library-driven loop for [`shutdown_at_exit`].
fn track(event_loop: &nx::EventLoop) {
    let mut loops = lock(&LIBRARY_LOOPS);
    // Forget loops that are gone. (A live one upgraded here is dropped after the lock: it
    // might be the last handle.)
    let mut live = Vec::new();
    loops.retain(|weak| match weak.upgrade() {
        Some(lp) => {
            live.push(lp);
            true
        }
        None => false,
    });
    loops.push(event_loop.downgrade());
    drop(loops);
    drop(live);
}

/// The `atexit` hook: refuses new library-driven loops, shuts every one down gracefully
/// (queued work runs, for up to [`EXIT_TIMEOUT`]; then, or at a Ctrl-C, whatever is still
/// queued is dropped), joins their threads with the GIL released, then stops loop threads
/// from attaching to the interpreter, which is about to finalize. It never returns while a
/// loop thread may still run Python (that thread would crash the finalizing interpreter); a
/// `KeyboardInterrupt` during the wait is raised once every thread is joined.
#[pyfunction]
#[pyo3(name = "_shutdown_at_exit")]
pub(crate) fn shutdown_at_exit(py: Python<'_>) -> PyResult<()> {
    gil::set_closing();
    let mut interrupted = None;
    // Until none is left: a loop spawned just before the hook began may be tracked late.
    loop {
        let loops: Vec<nx::EventLoop> = std::mem::take(&mut *lock(&LIBRARY_LOOPS))
            .iter()
            .filter_map(nx::WeakEventLoop::upgrade)
            .collect();
        if loops.is_empty() {
            break;
        }
        for lp in &loops {
            lp.shutdown_gracefully(Duration::ZERO, EXIT_TIMEOUT);
        }
        for lp in &loops {
            // A loop already shutting down keeps its own deadline: past ours, drop its work.
            let mut limit = Some(EXIT_TIMEOUT + Duration::from_secs(1));
            loop {
                match gil::blocking(py, to_pyerr, || lp.await_termination(limit)) {
                    Ok(true) => break,
                    Ok(false) => lp.shutdown_now(),
                    Err(err) => {
                        interrupted.get_or_insert(err);
                        lp.shutdown_now();
                    }
                }
                limit = None;
            }
        }
    }
    gil::set_exiting();
    interrupted.map_or(Ok(()), Err)
}

/// `os.register_at_fork(after_in_child=...)`: the parent's loops are not the child's to shut
/// down at exit (their threads do not exist here).
#[pyfunction]
pub(crate) fn forget_loops_after_fork() {
    let loops = std::mem::take(&mut *lock(&LIBRARY_LOOPS));
    drop(loops);
}

/// Seconds before a scheduled run: `<= 0` means as soon as possible, more than [`FOREVER`]
/// (infinity included) means then (never, in practice); NaN is an error.
pub(crate) fn delay(seconds: f64) -> PyResult<Duration> {
    if seconds.is_nan() {
        return Err(invalid("delay must be a number"));
    }
    Ok(Duration::try_from_secs_f64(seconds.max(0.0)).map_or(FOREVER, |d| d.min(FOREVER)))
}

/// A period in seconds: positive (at most [`FOREVER`]).
fn period(seconds: f64) -> PyResult<Duration> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if !d.is_zero() => Ok(d.min(FOREVER)),
        Err(_) if seconds > 0.0 => Ok(FOREVER),
        _ => Err(invalid(format!(
            "period must be a positive number of seconds, not {seconds}"
        ))),
    }
}

fn run_mode(mode: i64) -> PyResult<RunMode> {
    match mode {
        RUN_DEFAULT => Ok(RunMode::Default),
        RUN_ONCE => Ok(RunMode::Once),
        RUN_NOWAIT => Ok(RunMode::NoWait),
        other => Err(invalid(format!(
            "mode must be RUN_DEFAULT, RUN_ONCE or RUN_NOWAIT, not {other}"
        ))),
    }
}

/// What `watch()` watches: a channel, or a raw descriptor the caller owns.
enum Watched {
    Channel(Channel),
    Fd(i32),
}

fn watched(target: &Bound<'_, PyAny>) -> PyResult<Watched> {
    if let Some(channel) = channel::core_channel(target) {
        // `watch.channel` gives this object back while it lives.
        channel.set_binding(crate::binding::record(target)?);
        return Ok(Watched::Channel(channel));
    }
    // (Not a bool: `True` is an int, and would name standard output.) An int out of range
    // and an error from `fileno()` are raised as they are.
    if target.is_instance_of::<pyo3::types::PyInt>()
        && !target.is_instance_of::<pyo3::types::PyBool>()
    {
        return Ok(Watched::Fd(target.extract()?));
    }
    let fileno = intern!(target.py(), "fileno");
    if !target.is_instance_of::<pyo3::types::PyBool>() && target.hasattr(fileno)? {
        return Ok(Watched::Fd(target.call_method0(fileno)?.extract()?));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(
        "watch() takes a SocketChannel, a ServerSocketChannel, a descriptor number or an \
         object with fileno()",
    ))
}

/// The state of every loop the module serves, found again from a core loop: a pipeline
/// channel only knows its core loop, and its futures and unhandled exceptions need the
/// loop's state (its registry and exception handler).
static LOOP_STATES: Mutex<Vec<(nx::WeakEventLoop, std::sync::Weak<LoopState>)>> =
    Mutex::new(Vec::new());

/// The state of `core`'s loop: the one its `EventLoop` object (or an earlier call) made, or
/// a new one, kept for the next call, for a loop the module has no object of (an
/// `EmbeddedChannel`'s).
pub(crate) fn state_for(core: &nx::EventLoop) -> Arc<LoopState> {
    let mut states = lock(&LOOP_STATES);
    let mut found = None;
    // Upgraded handles are dropped after the lock: a last handle's drop may run code.
    let mut held = Vec::new();
    states.retain(|(weak_loop, weak_state)| {
        let (lp, state) = (weak_loop.upgrade(), weak_state.upgrade());
        let live = match (&lp, &state) {
            (Some(lp), Some(state)) => {
                if found.is_none() && lp.same(core) {
                    found = Some(state.clone());
                }
                true
            }
            _ => false,
        };
        held.push((lp, state));
        live
    });
    let state = found.unwrap_or_else(|| {
        let state = LoopState::new(core.is_library_driven());
        states.push((core.downgrade(), Arc::downgrade(&state)));
        state
    });
    drop(states);
    drop(held);
    state
}

/// Keeps `state` as the state of `core`'s loop for [`state_for`].
fn remember_state(core: &nx::EventLoop, state: &Arc<LoopState>) {
    lock(&LOOP_STATES).push((core.downgrade(), Arc::downgrade(state)));
}

impl EventLoop {
    fn wrap(core: nx::EventLoop, member: bool) -> EventLoop {
        core.set_callback_scope(Some(callback::scope(&core)));
        core.set_exception_handler(Some(crate::pipeline::channel::exception_handler()));
        let state = LoopState::new(core.is_library_driven());
        remember_state(&core, &state);
        EventLoop {
            state,
            core,
            _live: Live::new(Class::EventLoop),
            member,
            cleared_open: AtomicBool::new(false),
        }
    }

    fn forked(&self) -> bool {
        self.state.forked()
    }

    /// `ForkedError` in a forked child, before anything touches state a parent's thread may
    /// have held locked at the fork.
    fn check(&self) -> PyResult<()> {
        self.state.check()
    }

    /// A library-driven loop on its own thread, tracked for interpreter exit; `member`: one
    /// of a group's loops.
    pub(crate) fn spawned(
        py: Python<'_>,
        core: nx::EventLoop,
        member: bool,
    ) -> PyResult<Py<EventLoop>> {
        track(&core);
        let object = Bound::new(py, Self::wrap(core, member))?;
        object.get().state.remember(object.as_any())?;
        Ok(object.unbind())
    }

    /// A new caller-driven loop for an `EmbeddedChannel`, which drives and closes it (so it
    /// gets no "unclosed" warning of its own): the channel's `event_loop` and its handlers'
    /// `ctx.executor`.
    pub(crate) fn for_embedded(py: Python<'_>) -> PyResult<Py<EventLoop>> {
        let core = nx::EventLoop::new().map_err(to_pyerr)?;
        let object = Bound::new(py, Self::wrap(core, true))?;
        object.get().state.remember(object.as_any())?;
        Ok(object.unbind())
    }

    /// The loop's state, for work registered on it (records the loop's object for the
    /// exception handler's `loop` argument).
    pub(crate) fn state_of(slf: &Bound<'_, Self>) -> PyResult<Arc<LoopState>> {
        let this = slf.get();
        this.check()?;
        this.state.remember(slf.as_any())?;
        Ok(this.state.clone())
    }

    /// `execute(callable, *args)`.
    pub(crate) fn execute_call(
        slf: &Bound<'_, Self>,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<()> {
        let state = Self::state_of(slf)?;
        let pending = state.register(Call::new(callable, args.iter())?);
        // On failure the task (and with it the registered call) is dropped here.
        let mut task = Some(callback::task(pending));
        let core = &slf.get().core;
        core.try_execute(&mut task).map_err(work_error(core))
    }

    /// `submit(callable, *args)`.
    pub(crate) fn submit_call(
        slf: &Bound<'_, Self>,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<Future>> {
        let state = Self::state_of(slf)?;
        let mut pending = state.register(Call::new(callable, args.iter())?);
        let core = &slf.get().core;
        let future = core.submit(move |lp| {
            let call = pending.take();
            callback::complete(lp, call, pending.state())
        });
        Future::new_object(slf.py(), future.map_err(work_error(core))?, state, false)
    }

    /// `schedule*(…, callable, *args)`.
    pub(crate) fn schedule_call(
        slf: &Bound<'_, Self>,
        delay: Duration,
        repeat: Repeat,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<ScheduledFuture>> {
        let state = Self::state_of(slf)?;
        let pending = state.register(Call::new(callable, args.iter())?);
        let id = pending.id();
        let mut task: Option<nx::TimerTask> = Some(Box::new(move |lp| {
            callback::complete(lp, pending.get(), pending.state())
        }));
        let core = &slf.get().core;
        let scheduled = core
            .try_schedule(&mut task, delay, repeat)
            .map_err(work_error(core))?;
        Future::scheduled_object(slf.py(), scheduled, state, id)
    }

    /// Raises the `BaseException` a callback raised, if any.
    fn reraise(&self) -> PyResult<()> {
        match self.state.take_raised() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Waits for termination with the GIL released (`None` = forever).
    fn await_terminated(&self, py: Python<'_>, limit: Option<Duration>) -> PyResult<bool> {
        let core = &self.core;
        let done = gil::blocking(py, loop_error, || core.await_termination(limit))?;
        self.reraise()?;
        Ok(done)
    }
}

#[pymethods]
impl EventLoop {
    #[new]
    fn new() -> PyResult<Self> {
        Ok(Self::wrap(nx::EventLoop::new().map_err(to_pyerr)?, false))
    }

    #[staticmethod]
    fn spawn(py: Python<'_>) -> PyResult<Py<EventLoop>> {
        if gil::closing() {
            return Err(interpreter_exiting());
        }
        let core = nx::EventLoop::spawn().map_err(to_pyerr)?;
        Self::spawned(py, core, false)
    }

    #[pyo3(signature = (mode = RUN_DEFAULT))]
    fn run(slf: &Bound<'_, Self>, mode: i64) -> PyResult<bool> {
        let this = slf.get();
        let mode = run_mode(mode)?;
        this.state.remember(slf.as_any())?;
        let core = &this.core;
        let alive = gil::blocking(slf.py(), loop_error, || core.run(mode));
        this.reraise()?;
        if core.is_terminated() {
            this.state.run_close_hook(slf.py())?;
        }
        alive
    }

    fn stop(&self) {
        self.core.stop();
    }

    #[pyo3(signature = (callable, /, *args))]
    fn execute(
        slf: &Bound<'_, Self>,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<()> {
        Self::execute_call(slf, callable, args)
    }

    #[pyo3(signature = (callable, /, *args))]
    fn submit(
        slf: &Bound<'_, Self>,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<Future>> {
        Self::submit_call(slf, callable, args)
    }

    #[pyo3(signature = (delay, callable, /, *args))]
    fn schedule(
        slf: &Bound<'_, Self>,
        delay: f64,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<ScheduledFuture>> {
        Self::schedule_call(slf, self::delay(delay)?, Repeat::Once, callable, args)
    }

    #[pyo3(signature = (initial_delay, period, callable, /, *args))]
    fn schedule_at_fixed_rate(
        slf: &Bound<'_, Self>,
        initial_delay: f64,
        period: f64,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<ScheduledFuture>> {
        let repeat = Repeat::FixedRate(self::period(period)?);
        Self::schedule_call(slf, delay(initial_delay)?, repeat, callable, args)
    }

    #[pyo3(signature = (initial_delay, delay, callable, /, *args))]
    fn schedule_with_fixed_delay(
        slf: &Bound<'_, Self>,
        initial_delay: f64,
        delay: f64,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<ScheduledFuture>> {
        let repeat = Repeat::FixedDelay(period(delay)?);
        Self::schedule_call(slf, self::delay(initial_delay)?, repeat, callable, args)
    }

    fn create_promise(slf: &Bound<'_, Self>) -> PyResult<Py<Future>> {
        let state = Self::state_of(slf)?;
        let core = nx::Promise::new(Some(&slf.get().core));
        Future::new_object(slf.py(), core, state, true)
    }

    fn watch(
        slf: &Bound<'_, Self>,
        target: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = crate::selector::interest_ops)] ops: u32,
        callback: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Watch>> {
        let py = slf.py();
        let state = Self::state_of(slf)?;
        if !callback.is_callable() {
            // Checked before the watch exists (Call::new checks again, once it can be made).
            Call::new(callback, [])?;
        }
        let pending = state.reserve();
        let id = pending.id();
        let on_ready = callback::watch_callback(pending);
        let core = &slf.get().core;
        let watch = match watched(target)? {
            Watched::Channel(channel) => core.watch(channel, ops, on_ready),
            Watched::Fd(fd) => core.watch_fd(fd, ops, on_ready),
        }
        .map_err(work_error(core))?;
        let object = Bound::new(py, Watch::new(watch.clone(), state.clone(), id))?;
        match Call::new(callback, [object.clone().into_any()]) {
            Ok(call) => state.fill(id, call),
            Err(err) => {
                watch.close();
                return Err(err);
            }
        }
        Ok(object.unbind())
    }

    #[pyo3(signature = (callback, /, *args))]
    fn timer(
        slf: &Bound<'_, Self>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<Timer>> {
        Timer::make(slf, callback, args)
    }

    fn in_event_loop(&self) -> bool {
        self.core.in_event_loop()
    }

    fn now(&self) -> f64 {
        self.core.now().as_secs_f64()
    }

    fn time(&self) -> f64 {
        self.now()
    }

    fn backend_fd(&self) -> i32 {
        self.core.backend_fd()
    }

    fn fileno(&self) -> i32 {
        self.core.backend_fd()
    }

    fn backend_timeout(&self) -> Option<f64> {
        self.core.backend_timeout().map(|t| t.as_secs_f64())
    }

    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.core.counters();
        let dict = PyDict::new(py);
        dict.set_item(intern!(py, "turns"), c.turns)?;
        dict.set_item(intern!(py, "events"), c.events)?;
        dict.set_item(intern!(py, "tasks_run"), c.tasks_run)?;
        dict.set_item(intern!(py, "timers_fired"), c.timers_fired)?;
        dict.set_item(intern!(py, "wait_ns"), c.wait_ns)?;
        dict.set_item(intern!(py, "panics"), c.panics)?;
        dict.set_item(intern!(py, "unhandled_exceptions"), c.unhandled_exceptions)?;
        let b = self.core.backend_counters();
        dict.set_item(intern!(py, "epoll_waits"), b.waits)?;
        dict.set_item(intern!(py, "epoll_ctls"), b.ctl)?;
        dict.set_item(intern!(py, "backend_events"), b.events)?;
        dict.set_item(intern!(py, "empty_waits"), b.empty_waits)?;
        Ok(dict)
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
        self.check()?;
        self.await_terminated(py, self::timeout(timeout)?)
    }

    fn is_shutting_down(&self) -> bool {
        self.core.is_shutting_down()
    }

    fn is_terminated(&self) -> bool {
        self.core.is_terminated()
    }

    fn is_alive(&self) -> bool {
        self.core.is_alive()
    }

    /// For the asyncio bridge: `hook()` runs once before a caller-driven loop's backend
    /// descriptor closes (in `close()`, or after a `run()` in which the loop terminated).
    #[pyo3(signature = (hook, /))]
    fn _set_close_hook(&self, hook: Option<Py<PyAny>>) {
        self.state.set_close_hook(hook);
    }

    fn is_library_driven(&self) -> bool {
        self.core.is_library_driven()
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.forked() {
            return Ok(());
        }
        if !self.core.is_library_driven() {
            if !self.core.is_terminated() {
                self.state.run_close_hook(py)?;
            }
            self.core.close();
            return self.reraise();
        }
        self.core.shutdown_now();
        if self.core.in_event_loop() {
            return Ok(());
        }
        self.await_terminated(py, None).map(drop)
    }

    #[pyo3(signature = (handler))]
    pub(crate) fn set_exception_handler(
        slf: &Bound<'_, Self>,
        handler: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let state = Self::state_of(slf)?;
        let handler = handler.filter(|h| !h.is_none());
        if let Some(h) = handler {
            if !h.is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "the exception handler must be a callable or None",
                ));
            }
        }
        state.set_handler(handler.map(|h| h.clone().unbind()));
        Ok(())
    }

    fn get_exception_handler(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state.handler(py)
    }

    fn default_exception_handler(&self, context: &Bound<'_, PyDict>) -> PyResult<()> {
        callback::default_handler(context.py(), context)
    }

    fn call_exception_handler(slf: &Bound<'_, Self>, context: &Bound<'_, PyDict>) -> PyResult<()> {
        let state = Self::state_of(slf)?;
        state.call_handler(slf.py(), Some(&slf.get().core), context);
        slf.get().reraise()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Caller-driven: closes. Library-driven: shuts down gracefully and waits (from another
    /// thread), as `ThreadPoolExecutor` does. Exceptions propagate.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if !self.core.is_library_driven() || self.forked() {
            self.close(py)?;
            return Ok(false);
        }
        self.shutdown_gracefully(0.0, SHUTDOWN_TIMEOUT)?;
        if !self.core.in_event_loop() {
            self.await_terminated(py, None)?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let driver = if self.core.is_library_driven() {
            "library-driven"
        } else {
            "caller-driven"
        };
        let state = if self.core.is_terminated() {
            "terminated"
        } else if self.core.is_shutting_down() {
            "shutting down"
        } else {
            "open"
        };
        format!("<nioxide.EventLoop {driver} {state}>")
    }

    /// A caller-driven loop's pending callables and its exception handler (see the module
    /// docs for why a library-driven loop shows none).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if self.core.is_library_driven() || self.forked() {
            return Ok(());
        }
        self.state.traverse(&visit)
    }

    /// Breaks cycles through a caller-driven loop: drops its callables (none of them may run
    /// once the collector has cleared them), then closes it.
    fn __clear__(&self) {
        if self.core.is_library_driven() || self.forked() {
            return;
        }
        if !self.core.is_shutting_down() {
            self.cleared_open.store(true, Ordering::Relaxed);
        }
        self.state.clear();
        self.core.close();
    }
}

impl Drop for EventLoop {
    /// A loop whose object goes away is shut down: a caller-driven one closed (nobody can run
    /// it any more), a library-driven one gracefully, without waiting (its queued work runs).
    /// One that was not shut down or closed gets a `ResourceWarning` first (asyncio's
    /// "unclosed event loop"), unless its group owns it.
    fn drop(&mut self) {
        if self.forked() {
            return;
        }
        if !self.member
            && (!self.core.is_shutting_down() || self.cleared_open.load(Ordering::Relaxed))
        {
            let driver = if self.core.is_library_driven() {
                "library-driven"
            } else {
                "caller-driven"
            };
            warn_unclosed(&format!("<nioxide.EventLoop {driver}>"));
        }
        if self.core.is_library_driven() {
            self.core
                .shutdown_gracefully(Duration::ZERO, Duration::from_secs_f64(SHUTDOWN_TIMEOUT));
        } else {
            self.core.close();
            self.state.clear();
        }
    }
}
