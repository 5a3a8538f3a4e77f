//! The one helper every call that may block goes through: [`blocking`]; and the one way loop
//! threads attach to run Python code: [`attach_loop`].
//!
//! It detaches from the interpreter (releases the GIL) for the length of the call and installs
//! core's interrupt hook ([`wait::with_interrupt`]), so core's waits run Python's signal
//! handlers: after every `EINTR`, and on the main thread at least every [`MAIN_SLICE`] (a
//! signal may be delivered to another thread, which only sets Python's flag). The hook
//! attaches, runs `PyErr_CheckSignals`, and if a handler raised (`KeyboardInterrupt` for
//! Ctrl-C) stashes the exception and stops the wait; [`blocking`] re-raises it.
//!
//! Rule (or a loop thread waiting for the GIL and a thread holding it while it waits for a
//! Rust lock deadlock each other): no Rust lock is held while attaching except the per-call locks
//! core holds around a wait (the select lock, a channel's read or write lock). Every call that
//! may take one of those therefore detaches first, through this helper. The exceptions are
//! core's `try_` calls (`SocketChannel::try_read`, `try_write`, `ServerSocketChannel::try_accept`),
//! which never wait and take no lock whatever the channel's mode: non-blocking channels use
//! them without detaching, which keeps the GIL hand-off out of a select loop's reads and writes.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nioxide_core::sys::wait::{self, Interrupt};
use nioxide_core::{Error, ErrorKind};
use pyo3::prelude::*;

/// How often a wait on Python's main thread stops to run signal handlers.
pub(crate) const MAIN_SLICE: Duration = Duration::from_millis(100);

/// `pthread_self()` of the thread Python runs signal handlers on (its main thread).
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

/// Set by the module's `atexit` hook once every loop thread has been joined: from then on the
/// interpreter may be finalizing, and nothing of nioxide's attaches to it from a loop thread.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Set when the module's `atexit` hook starts: from then on no new library-driven loop or
/// group is started (one started then would never be joined).
static CLOSING: AtomicBool = AtomicBool::new(false);

/// Marks the start of the `atexit` hook (see [`CLOSING`]).
pub(crate) fn set_closing() {
    CLOSING.store(true, Ordering::Release);
}

/// Whether new library-driven loops are refused (the `atexit` hook has started).
pub(crate) fn closing() -> bool {
    CLOSING.load(Ordering::Acquire) || exiting()
}

/// Marks the start of interpreter exit (see [`EXITING`]).
pub(crate) fn set_exiting() {
    EXITING.store(true, Ordering::Release);
}

/// Whether interpreter exit has begun.
pub(crate) fn exiting() -> bool {
    EXITING.load(Ordering::Acquire)
}

/// Runs `f` attached to the interpreter, for code that runs loop callbacks (tasks, timers,
/// watches, listeners, the per-turn scope); `None` if it cannot attach: on a library loop
/// thread once interpreter exit has begun (pyo3's own finalizing check needs CPython 3.13,
/// and abi3 wheels start at 3.11), or when the interpreter is gone. Python's own threads
/// (which drive caller-driven loops) attach as usual. Nested calls inside an attached scope
/// cost a counter increment.
pub(crate) fn attach_loop<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    if exiting() && on_library_thread() {
        return None;
    }
    Python::try_attach(f)
}

/// Whether the calling thread is one core started for a loop (`nioxide-loop-N`).
fn on_library_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with("nioxide-loop-"))
}

/// Records Python's main thread: `threading.main_thread().ident` is its `pthread_self()`.
pub(crate) fn init_main_thread(py: Python<'_>) -> PyResult<()> {
    let ident: u64 = py
        .import("threading")?
        .call_method0("main_thread")?
        .getattr("ident")?
        .extract()?;
    MAIN_THREAD.store(ident, Ordering::Relaxed);
    Ok(())
}

/// In a forked child the thread that forked is Python's main thread (`os.register_at_fork`
/// hook; core's own `pthread_atfork` handler already makes old objects fail with `ForkedError`).
#[pyfunction]
pub(crate) fn after_fork_in_child() {
    MAIN_THREAD.store(current_thread(), Ordering::Relaxed);
}

fn current_thread() -> u64 {
    // SAFETY: plain call without arguments.
    unsafe { libc::pthread_self() as u64 }
}

/// Runs `f` detached from the interpreter, with signal checks installed for its waits, and
/// maps its error with `map` (normally [`crate::error::to_pyerr`]). An exception raised by a
/// signal handler during the wait is raised instead.
pub(crate) fn blocking<T, F>(py: Python<'_>, map: fn(Error) -> PyErr, f: F) -> PyResult<T>
where
    F: FnOnce() -> nioxide_core::Result<T> + Send,
    T: Send,
{
    let on_main = current_thread() == MAIN_THREAD.load(Ordering::Relaxed);
    let (result, raised) = py.detach(move || {
        let raised: Rc<RefCell<Option<PyErr>>> = Rc::default();
        let stash = raised.clone();
        let hook = move || -> nioxide_core::Result<()> {
            // Only the main thread runs signal handlers; elsewhere there is nothing to check.
            if !on_main {
                return Ok(());
            }
            match Python::try_attach(|py| py.check_signals()) {
                Some(Err(err)) => {
                    *stash.borrow_mut() = Some(err);
                    Err(ErrorKind::Interrupted.into())
                }
                // Checked, or the interpreter is finalizing (nothing to run).
                _ => Ok(()),
            }
        };
        let interrupt = Interrupt {
            hook: Box::new(hook),
            slice: on_main.then_some(MAIN_SLICE),
        };
        let result = wait::with_interrupt(interrupt, f);
        let raised = raised.borrow_mut().take();
        (result, raised)
    });
    match (result, raised) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(err)) => Err(err),
        (Err(err), None) => Err(map(err)),
    }
}
