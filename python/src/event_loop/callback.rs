//! Python callables on an event loop: how they are kept, run, and where their exceptions go.
//!
//! A callable handed to a loop becomes a [`Call`]: the callable, its arguments, and `run` of
//! the `contextvars` context copied at registration (asyncio's rule: a callback runs in the
//! context it was registered in). The loop's [`LoopState`] keeps every pending `Call` in a
//! registry; the core task, timer, watch or listener holds only a [`Pending`] ticket for it,
//! which releases the `Call` when it is dropped without running (shutdown drops tasks). So
//! the Python objects pending work holds are in one place the garbage collector can be shown
//! (see `EventLoop.__traverse__`), and can be dropped there.
//!
//! Callbacks run attached through [`gil::attach_loop`]; on the thread that drives a loop the
//! turn's [`scope`] already holds the GIL for a whole callback phase, so a turn takes it once,
//! not once per callback. Exceptions go to one of two places:
//! an `Exception` to the callback's future ([`LoopState::failure`]) or to the loop's exception
//! handler ([`LoopState::report`]; `logging.getLogger("nioxide")` by default), and the loop
//! goes on; a `BaseException` (`KeyboardInterrupt`, `SystemExit`) raised on a caller-driven
//! loop stops it and is raised again by `run()`, as in asyncio. A library-driven loop has no
//! `run()` to raise it from: it goes to the handler (and to the future, if there is one).
//!
//! Locks: the registry's lock is taken only around map operations, never while attaching or
//! calling Python; `Call`s taken out of it are dropped after it is released (dropping one may
//! run a `__del__`). A traversal only tries the locks: a missed edge keeps objects alive a
//! little longer, a blocked collector would deadlock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nioxide_core::ErrorKind;
use nioxide_core::event_loop::{self as nx, CallbackScope, Failure, Value};
use nioxide_core::sync::lock;
use nioxide_core::sys::fork;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyWeakrefReference};
use pyo3::{PyTraverseError, ffi, intern};

use crate::gil;

/// The most arguments [`call_fast`] and [`call_method_fast`] pass without a tuple.
const FAST_ARGS: usize = 6;

/// A call's arguments: up to [`FAST_ARGS`] as C pointers followed by NULL (the variadic
/// calls' end), or more as a list (they go in a tuple).
enum Args<'a, 'py> {
    Fast([*mut ffi::PyObject; FAST_ARGS + 1]),
    Many(Vec<Borrowed<'a, 'py, PyAny>>),
}

fn args<'a, 'py>(args: impl IntoIterator<Item = Borrowed<'a, 'py, PyAny>>) -> Args<'a, 'py> {
    let mut iter = args.into_iter();
    let mut seen: [Option<Borrowed<'a, 'py, PyAny>>; FAST_ARGS] = [None; FAST_ARGS];
    for slot in &mut seen {
        match iter.next() {
            Some(arg) => *slot = Some(arg),
            None => break,
        }
    }
    match iter.next() {
        None => {
            let mut slots = [std::ptr::null_mut(); FAST_ARGS + 1];
            for (slot, arg) in slots.iter_mut().zip(seen.iter().flatten()) {
                *slot = arg.as_ptr();
            }
            Args::Fast(slots)
        }
        Some(next) => Args::Many(
            seen.into_iter()
                .flatten()
                .chain([next])
                .chain(iter)
                .collect(),
        ),
    }
}

/// Calls the variadic C function `$f` with the leading arguments, then the [`FAST_ARGS`] + 1
/// slots of `$a` (the first NULL among them ends the argument list).
macro_rules! variadic {
    ($f:path, $a:expr, $($lead:expr),*) => {
        $f($($lead,)* $a[0], $a[1], $a[2], $a[3], $a[4], $a[5], $a[6])
    };
}

/// Runs `fast` on the C pointers of `args` (up to [`FAST_ARGS`]) and takes its new reference
/// (or the exception set with NULL); more arguments go to `many` as a tuple.
fn call_with<'a, 'py: 'a>(
    py: Python<'py>,
    args: impl IntoIterator<Item = Borrowed<'a, 'py, PyAny>>,
    many: impl FnOnce(Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>>,
    fast: impl FnOnce(&[*mut ffi::PyObject; FAST_ARGS + 1]) -> *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    match self::args(args) {
        Args::Fast(a) => {
            let result = fast(&a);
            // SAFETY: `fast` returns a new reference, or NULL with an exception set.
            unsafe { Bound::from_owned_ptr_or_err(py, result) }
        }
        Args::Many(args) => many(PyTuple::new(py, args)?),
    }
}

/// `callable(*args)`, without building an argument tuple for up to [`FAST_ARGS`] arguments.
///
/// The limited API of CPython 3.11 has no `PyObject_Vectorcall`, and pyo3's `call1` builds a
/// tuple for every call there; `PyObject_CallFunctionObjArgs` (limited API) collects its
/// arguments on the C stack and makes a vectorcall, so a call to a Python function or a
/// `METH_FASTCALL` builtin allocates no tuple. Needs the GIL (the `Python` token); raises
/// what the call raises.
pub(crate) fn call_fast<'a, 'py: 'a>(
    callable: &Bound<'py, PyAny>,
    args: impl IntoIterator<Item = Borrowed<'a, 'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let many = |tuple| callable.call1(tuple);
    call_with(callable.py(), args, many, |a| {
        // SAFETY: the GIL is held, every pointer is a live object borrowed for the call, and
        // the list ends at the first NULL (the last slot is always NULL).
        unsafe { variadic!(ffi::PyObject_CallFunctionObjArgs, a, callable.as_ptr()) }
    })
}

/// `object.name(*args)`, without building an argument tuple or a bound method for up to
/// [`FAST_ARGS`] arguments (`PyObject_CallMethodObjArgs`, limited API: the method is looked
/// up on the type and called with `object` first, as a vectorcall). Needs the GIL; raises
/// what the lookup or the call raises.
pub(crate) fn call_method_fast<'a, 'py: 'a>(
    object: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    args: impl IntoIterator<Item = Borrowed<'a, 'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let many = |tuple| object.call_method1(name, tuple);
    call_with(object.py(), args, many, |a| {
        let (object, name) = (object.as_ptr(), name.as_ptr());
        // SAFETY: as in `call_fast`; `name` is a live `str`.
        unsafe { variadic!(ffi::PyObject_CallMethodObjArgs, a, object, name) }
    })
}

/// `TypeError` unless `callable` is callable (raised at the registering call, not later on
/// the loop).
pub(crate) fn check_callable(callable: &Bound<'_, PyAny>) -> PyResult<()> {
    if callable.is_callable() {
        return Ok(());
    }
    Err(PyTypeError::new_err(format!(
        "'{}' object is not callable",
        callable.get_type().name()?
    )))
}

/// A copy of the current `contextvars` context (`contextvars.copy_context()`): what a callback
/// registered now runs in, as asyncio's callbacks do. Needs the GIL.
pub(crate) fn copy_context(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static COPY_CONTEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    COPY_CONTEXT
        .import(py, "contextvars", "copy_context")?
        .call0()
}

/// A Python callable with its arguments and the context it was registered in.
#[derive(Debug)]
pub(crate) struct Call {
    /// The `contextvars.Context` copied at registration (the call runs in it).
    context: Py<PyAny>,
    /// The callable, then its arguments.
    args: Py<PyTuple>,
}

impl Call {
    /// `callable(*args)`, to run later in the current context. Raises `TypeError` if
    /// `callable` is not callable (at the registering call, not later on the loop).
    pub(crate) fn new<'py>(
        callable: &Bound<'py, PyAny>,
        args: impl IntoIterator<Item = Bound<'py, PyAny>>,
    ) -> PyResult<Call> {
        let py = callable.py();
        check_callable(callable)?;
        let context = copy_context(py)?;
        let items: Vec<_> = std::iter::once(callable.clone()).chain(args).collect();
        Ok(Call {
            context: context.unbind(),
            args: PyTuple::new(py, items)?.unbind(),
        })
    }

    /// The callable.
    pub(crate) fn callable<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.args.bind(py).get_item(0)
    }

    /// The first argument (the watch or future a callback is about).
    pub(crate) fn subject<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.args.bind(py).get_item(1)
    }

    /// Calls it in its context, with `extra` after its own arguments.
    pub(crate) fn invoke<'py>(
        &self,
        py: Python<'py>,
        extra: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = self.args.bind(py);
        let extra = extra.as_ref().map(|e| e.as_borrowed());
        self.run(py, args.iter_borrowed().chain(extra))
    }

    /// Calls it in its context with `first` before its own arguments.
    pub(crate) fn invoke_first<'py>(
        &self,
        py: Python<'py>,
        first: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = self.args.bind(py);
        let callable = args.iter_borrowed().take(1);
        let rest = args.iter_borrowed().skip(1);
        self.run(py, callable.chain([first.as_borrowed()]).chain(rest))
    }

    /// `context.run(*items)`: `items` is the callable and its arguments.
    fn run<'a, 'py: 'a>(
        &self,
        py: Python<'py>,
        items: impl Iterator<Item = Borrowed<'a, 'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call_method_fast(self.context.bind(py), intern!(py, "run"), items)
    }

    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.context)?;
        visit.call(&self.args)
    }
}

#[derive(Debug, Default)]
struct Registry {
    next: u64,
    calls: HashMap<u64, Arc<Call>>,
}

/// What the Python module keeps for one core loop, shared by its `EventLoop` object, the
/// futures and watches made on it, and the tickets of its pending work.
pub(crate) struct LoopState {
    registry: Mutex<Registry>,
    handler: Mutex<Option<Py<PyAny>>>,
    /// A `BaseException` a callback raised, for `run()` to raise.
    raised: Mutex<Option<PyErr>>,
    /// The loop's Python object (weakly: the state must not keep it alive).
    object: PyOnceLock<Py<PyWeakrefReference>>,
    /// Called once before the loop's backend descriptor closes (the asyncio bridge detaches
    /// there, while the descriptor it watches is still open).
    close_hook: Mutex<Option<Py<PyAny>>>,
    library_driven: bool,
    /// The fork generation the loop was made in: in a forked child the registry may have
    /// been locked by a parent's thread at the fork, so it is left alone.
    generation: u64,
}

impl std::fmt::Debug for LoopState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopState")
            .field("library_driven", &self.library_driven)
            .finish_non_exhaustive()
    }
}

impl LoopState {
    /// Sets (or with `None` removes) the hook called once before the loop's backend
    /// descriptor closes.
    pub(crate) fn set_close_hook(&self, hook: Option<Py<PyAny>>) {
        let old = std::mem::replace(&mut *lock(&self.close_hook), hook);
        drop(old);
    }

    /// Calls the close hook, if one is set (once).
    pub(crate) fn run_close_hook(&self, py: Python<'_>) -> PyResult<()> {
        let hook = lock(&self.close_hook).take();
        match hook {
            Some(hook) => hook.call0(py).map(drop),
            None => Ok(()),
        }
    }

    pub(crate) fn new(library_driven: bool) -> Arc<LoopState> {
        Arc::new(LoopState {
            registry: Mutex::default(),
            handler: Mutex::new(None),
            raised: Mutex::new(None),
            object: PyOnceLock::new(),
            close_hook: Mutex::new(None),
            library_driven,
            generation: fork::generation(),
        })
    }

    /// Whether this is a forked child of the process that made the loop.
    pub(crate) fn forked(&self) -> bool {
        fork::is_forked(self.generation)
    }

    /// `ForkedError` in a forked child.
    pub(crate) fn check(&self) -> PyResult<()> {
        if self.forked() {
            return Err(crate::error::to_pyerr(ErrorKind::Forked.into()));
        }
        Ok(())
    }

    /// Records the loop's Python object (the first time; later calls do nothing).
    pub(crate) fn remember(&self, object: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.object.get(object.py()).is_none() {
            let weak = PyWeakrefReference::new(object)?.unbind();
            let _ = self.object.set(object.py(), weak);
        }
        Ok(())
    }

    /// The loop's Python object, while it lives.
    pub(crate) fn loop_object<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.object.get(py)?.bind(py).upgrade()
    }

    /// Keeps `call` until its ticket runs it or is dropped.
    pub(crate) fn register(self: &Arc<Self>, call: Call) -> Pending {
        let pending = self.reserve();
        self.fill(pending.id, call);
        pending
    }

    /// A ticket whose call comes later ([`fill`](Self::fill)): for a watch, whose callback
    /// needs the watch object, which needs the core watch, which needs the ticket.
    pub(crate) fn reserve(self: &Arc<Self>) -> Pending {
        let mut registry = lock(&self.registry);
        registry.next += 1;
        Pending {
            state: self.clone(),
            id: registry.next,
            done: false,
        }
    }

    /// Gives reserved ticket `id` its call.
    pub(crate) fn fill(&self, id: u64, call: Call) {
        lock(&self.registry).calls.insert(id, Arc::new(call));
    }

    fn get(&self, id: u64) -> Option<Arc<Call>> {
        lock(&self.registry).calls.get(&id).cloned()
    }

    fn take(&self, id: u64) -> Option<Arc<Call>> {
        lock(&self.registry).calls.remove(&id)
    }

    /// Drops the call of ticket `id` now (after the lock), if it is still there.
    pub(crate) fn forget(&self, id: u64) {
        drop(self.take(id));
    }

    /// Drops every call and the exception handler: for a loop whose Python object is gone.
    pub(crate) fn clear(&self) {
        let calls = std::mem::take(&mut lock(&self.registry).calls);
        let handler = lock(&self.handler).take();
        let hook = lock(&self.close_hook).take();
        drop((calls, handler, hook));
    }

    /// Visits the handler, the close hook and every pending call's objects.
    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        for slot in [&self.handler, &self.close_hook] {
            if let Ok(object) = slot.try_lock() {
                if let Some(object) = object.as_ref() {
                    visit.call(object)?;
                }
            }
        }
        if let Ok(registry) = self.registry.try_lock() {
            for call in registry.calls.values() {
                call.traverse(visit)?;
            }
        }
        Ok(())
    }

    /// Visits the objects of ticket `id`'s call, if it is still pending.
    pub(crate) fn traverse_call(
        &self,
        id: u64,
        visit: &PyVisit<'_>,
    ) -> Result<(), PyTraverseError> {
        if let Ok(registry) = self.registry.try_lock() {
            if let Some(call) = registry.calls.get(&id) {
                call.traverse(visit)?;
            }
        }
        Ok(())
    }

    /// Whether the loop runs on a library thread.
    pub(crate) fn is_library_driven(&self) -> bool {
        self.library_driven
    }

    pub(crate) fn set_handler(&self, handler: Option<Py<PyAny>>) {
        let previous = std::mem::replace(&mut *lock(&self.handler), handler);
        drop(previous);
    }

    pub(crate) fn handler(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        lock(&self.handler).as_ref().map(|h| h.clone_ref(py))
    }

    /// The `BaseException` a callback raised since the last call, for `run()` to raise.
    pub(crate) fn take_raised(&self) -> Option<PyErr> {
        lock(&self.raised).take()
    }

    /// A `BaseException` on a caller-driven loop stops the loop and is kept for `run()`;
    /// returns whether `err` was taken that way (the first one is; later ones are reported).
    fn escalate(&self, py: Python<'_>, lp: Option<&nx::EventLoop>, err: &PyErr) -> bool {
        if self.library_driven || err.is_instance_of::<PyException>(py) {
            return false;
        }
        {
            let mut raised = lock(&self.raised);
            if raised.is_some() {
                return false;
            }
            *raised = Some(err.clone_ref(py));
        }
        if let Some(lp) = lp {
            lp.stop();
        }
        true
    }

    /// The failure for a future whose callable raised `err`. The exception object is the
    /// failure's detail (the error code, `NX_EPANIC`, is what a C observer would see: the
    /// callback failed unexpectedly). A `BaseException` also stops a caller-driven loop.
    pub(crate) fn failure(
        &self,
        py: Python<'_>,
        lp: Option<&nx::EventLoop>,
        err: PyErr,
    ) -> Failure {
        self.escalate(py, lp, &err);
        Failure {
            error: ErrorKind::Panic.into(),
            detail: Some(Box::new(err.into_value(py).into_any())),
        }
    }

    /// Reports an exception from a callback that has no future: to the exception handler
    /// with an asyncio-style context (`message`, `exception`, `loop` and `details`), or, for
    /// a `BaseException` on a caller-driven loop, out of `run()`.
    pub(crate) fn report(
        &self,
        py: Python<'_>,
        lp: Option<&nx::EventLoop>,
        err: PyErr,
        message: &str,
        details: &[(&str, PyResult<Bound<'_, PyAny>>)],
    ) {
        if self.escalate(py, lp, &err) {
            return;
        }
        // `into_value` attaches the traceback to the exception object (3.11 keeps it apart).
        let exception = err.into_value(py);
        let context = PyDict::new(py);
        let filled = (|| -> PyResult<()> {
            context.set_item(intern!(py, "message"), message)?;
            context.set_item(intern!(py, "exception"), exception)?;
            for (key, value) in details {
                if let Ok(value) = value {
                    context.set_item(*key, value)?;
                }
            }
            context.set_item(intern!(py, "loop"), self.loop_object(py))?;
            Ok(())
        })();
        match filled {
            Ok(()) => self.call_handler(py, lp, &context),
            Err(e) => e.write_unraisable(py, None),
        }
    }

    /// Calls the exception handler (or the default one) with `context`.
    pub(crate) fn call_handler(
        &self,
        py: Python<'_>,
        lp: Option<&nx::EventLoop>,
        context: &Bound<'_, PyDict>,
    ) {
        let Some(handler) = self.handler(py) else {
            if let Err(e) = default_handler(py, context) {
                e.write_unraisable(py, None);
            }
            return;
        };
        let Err(err) = handler.bind(py).call1((self.loop_object(py), context)) else {
            return;
        };
        if self.escalate(py, lp, &err) {
            return;
        }
        // As asyncio: the handler's own failure and the original context are logged.
        let logged = (|| -> PyResult<()> {
            let context2 = PyDict::new(py);
            context2.set_item("message", "Unhandled error in exception handler")?;
            context2.set_item("exception", err.into_value(py))?;
            context2.set_item("context", context)?;
            default_handler(py, &context2)
        })();
        if let Err(e) = logged {
            e.write_unraisable(py, None);
        }
    }
}

/// The default exception handler: logs `context` through `logging.getLogger("nioxide")`
/// (`nioxide._runtime.default_exception_handler`).
pub(crate) fn default_handler(py: Python<'_>, context: &Bound<'_, PyDict>) -> PyResult<()> {
    static DEFAULT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    DEFAULT
        .import(py, "nioxide._runtime", "default_exception_handler")?
        .call1((context,))?;
    Ok(())
}

/// A ticket for one registered [`Call`]: dropping it unrun releases the call.
#[derive(Debug)]
pub(crate) struct Pending {
    state: Arc<LoopState>,
    id: u64,
    done: bool,
}

impl Pending {
    pub(crate) fn state(&self) -> &Arc<LoopState> {
        &self.state
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The call, for callbacks that run more than once (timers, watches).
    pub(crate) fn get(&self) -> Option<Arc<Call>> {
        self.state.get(self.id)
    }

    /// The call, taken out of the registry, for callbacks that run once.
    pub(crate) fn take(&mut self) -> Option<Arc<Call>> {
        self.done = true;
        self.state.take(self.id)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done && !self.state.forked() {
            self.state.forget(self.id);
        }
    }
}

/// The callback scope of every loop the module makes: the GIL is taken once for a whole
/// callback phase of a turn, and the callbacks inside attach for the price of a counter.
/// Where the thread cannot attach (interpreter exit), the phase runs anyway: callbacks then
/// do nothing and their Python objects wait in pyo3's reference pool.
///
/// On a library-driven loop's thread the scope also keeps the thread's Python thread state
/// from one phase to the next ([`ThreadState`]), until the loop has terminated.
pub(crate) fn scope(event_loop: &nx::EventLoop) -> CallbackScope {
    let library_driven = event_loop.is_library_driven();
    let event_loop = event_loop.downgrade();
    Arc::new(move |phase: &mut dyn FnMut()| {
        let attached = gil::attach_loop(|_py| {
            if library_driven {
                ThreadState::keep();
            }
            phase();
            if library_driven && event_loop.upgrade().is_none_or(|lp| lp.is_terminated()) {
                ThreadState::release();
            }
        });
        if attached.is_none() {
            phase();
        }
    })
}

/// The Python thread state of a library loop thread.
///
/// A thread Python did not start gets a new thread state each time it attaches and loses it
/// when it detaches (`PyGILState_Ensure`/`Release`, which pyo3 uses): a loop turn would pay
/// for creating and deleting one (it doubles a `submit().result()` round trip), and
/// `threading.local` data would not outlive a turn. So the first phase on a loop thread takes
/// one more `PyGILState_Ensure`, which keeps the state while the thread detaches between
/// phases, and the loop's last phase (after termination) gives it back, so the state is
/// deleted while the interpreter is alive, before the thread ends (the `atexit` hook waits
/// for that).
enum ThreadState {
    /// Not taken yet.
    Fresh,
    /// Taken: the `PyGILState_Ensure` to match.
    Kept(ffi::PyGILState_STATE),
    /// Given back: not taken again on this thread.
    Released,
}

thread_local! {
    static THREAD_STATE: std::cell::Cell<ThreadState> = const { std::cell::Cell::new(ThreadState::Fresh) };
}

impl ThreadState {
    /// Keeps this thread's state (call while attached); once per thread.
    fn keep() {
        THREAD_STATE.with(|cell| match cell.replace(ThreadState::Released) {
            ThreadState::Fresh => {
                // SAFETY: the thread is attached (inside `attach_loop`), so this only counts
                // one more holder of its thread state; `release` matches it.
                cell.set(ThreadState::Kept(unsafe { ffi::PyGILState_Ensure() }));
            }
            other => cell.set(other),
        });
    }

    /// Gives the kept state back (call while attached): the enclosing detach deletes it.
    fn release() {
        THREAD_STATE.with(|cell| {
            if let ThreadState::Kept(state) = cell.replace(ThreadState::Released) {
                // SAFETY: matches the `PyGILState_Ensure` in `keep` on this thread, which is
                // attached through the enclosing `attach_loop`, so the GIL stays held.
                unsafe { ffi::PyGILState_Release(state) };
            }
        });
    }
}

/// A core task that runs the call of `pending` (`execute`); an exception goes to the handler.
pub(crate) fn task(mut pending: Pending) -> nx::Task {
    Box::new(move |lp| {
        gil::attach_loop(|py| {
            let Some(call) = pending.take() else { return };
            if let Err(err) = call.invoke(py, None) {
                pending.state().report(
                    py,
                    Some(lp),
                    err,
                    "Exception in callback",
                    &[("callback", call.callable(py))],
                );
            }
        });
    })
}

/// Runs `call` for a future (`submit`, `schedule`): its result or exception completes it.
/// Without a call (cancelled, or the loop's object collected) or an interpreter, the future
/// is cancelled.
pub(crate) fn complete(
    lp: &nx::EventLoop,
    call: Option<Arc<Call>>,
    state: &LoopState,
) -> Result<Option<Value>, Failure> {
    let cancelled = || Failure::new(ErrorKind::Cancelled.into());
    let Some(call) = call else {
        return Err(cancelled());
    };
    gil::attach_loop(move |py| match call.invoke(py, None) {
        Ok(value) => Ok(Some(Box::new(value.unbind()) as Value)),
        Err(err) => Err(state.failure(py, Some(lp), err)),
    })
    .unwrap_or_else(|| Err(cancelled()))
}

/// Runs the call of `pending`, a callback that runs more than once (a watch's), with `extra`
/// (a watch's ready ops) after its arguments; an exception goes to the handler with
/// `message`, and the call's first argument (the watch) under `subject`.
fn run_again(
    lp: &nx::EventLoop,
    pending: &Pending,
    extra: Option<u32>,
    message: &str,
    subject: &str,
) {
    gil::attach_loop(|py| {
        let Some(call) = pending.get() else { return };
        let extra = extra.map(|ops| {
            let Ok(ops) = ops.into_pyobject(py);
            ops.into_any()
        });
        if let Err(err) = call.invoke(py, extra) {
            pending.state().report(
                py,
                Some(lp),
                err,
                message,
                &[("callback", call.callable(py)), (subject, call.subject(py))],
            );
        }
    });
}

/// A watch callback that calls `callback(watch, ready_ops)`; an exception goes to the handler.
pub(crate) fn watch_callback(pending: Pending) -> nx::WatchCallback {
    Box::new(move |lp, _watch, ready| {
        run_again(
            lp,
            &pending,
            Some(ready),
            "Exception in watch callback",
            "watch",
        );
    })
}

/// A timer callback that calls `callback(timer, *args)`, with the timer object `object`
/// gives it (the call does not hold the timer object, so that a stopped timer nothing refers
/// to is freed); an exception goes to the handler.
pub(crate) fn timer_callback(
    pending: Pending,
    object: impl Fn(Python<'_>, &nx::LoopTimer) -> PyResult<Py<PyAny>> + Send + 'static,
) -> impl FnMut(&nx::EventLoop, &nx::LoopTimer) + Send + 'static {
    move |lp, timer| {
        gil::attach_loop(|py| {
            let Some(call) = pending.get() else { return };
            let timer = match object(py, timer) {
                Ok(timer) => timer.into_bound(py),
                Err(err) => {
                    err.write_unraisable(py, None);
                    return;
                }
            };
            if let Err(err) = call.invoke_first(py, &timer) {
                pending.state().report(
                    py,
                    Some(lp),
                    err,
                    "Exception in timer callback",
                    &[("callback", call.callable(py)), ("timer", Ok(timer))],
                );
            }
        });
    }
}

/// A promise listener that calls `fn(future)` (`add_done_callback`); an exception goes to the
/// handler of the promise's loop.
pub(crate) fn listener(mut pending: Pending) -> nx::Listener {
    Box::new(move |promise| {
        gil::attach_loop(|py| {
            let Some(call) = pending.take() else { return };
            if let Err(err) = call.invoke(py, None) {
                let lp = promise.executor();
                pending.state().report(
                    py,
                    lp.as_ref(),
                    err,
                    "Exception in done callback",
                    &[
                        ("callback", call.callable(py)),
                        ("future", call.subject(py)),
                    ],
                );
            }
        });
    })
}
