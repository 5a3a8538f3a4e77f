//! Event loops in C: `nx_loop_*` over `nioxide_core::event_loop::EventLoop` (libuv's
//! `uv_loop_t`, Netty's `EventLoop`).
//!
//! A loop is a checked handle: the caller owns the loops it makes (`nx_loop_new` for a loop it
//! drives with `nx_loop_run`, `nx_loop_start` for one a library thread drives) until
//! `nx_loop_free`; the loops of a group belong to the group (`nx_loop_group_next` hands out
//! the same handle for a loop every time, and the group frees them).
//!
//! Tasks, timers, listeners and watch callbacks are the user's function plus `void
//! *attachment` and an optional `attachment_free`, kept in core as a `CAttachment` inside the
//! closure core runs, so the attachment is freed exactly when core drops the closure: on the
//! loop's thread after the last run, or, for work that never ran, on the thread that shuts the
//! loop down or waits for its termination. A call that fails hands the closure back
//! (`give_back`): the caller keeps its attachment and nothing is freed.
//!
//! The `int` a task returns is its status: negative fails the task's future with that code
//! (`nx_loop_submit`, the `nx_loop_schedule*` family), or, for `nx_loop_execute`, which has no
//! future, is reported on standard error and counted (`NX_LOOP_COUNTER_TASK_ERRORS`). Either
//! way the loop goes on.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod group;
pub mod promise;
pub mod timer;
pub mod watch;

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use nioxide_core::event_loop::{
    EventLoop, Failure, Promise, RawTask, Repeat, RunMode, Task, TimerTask, Value,
};
use nioxide_core::sys::fork;

use crate::args::{Out, code, error_from_code, predicate, status, wait_millis};
use crate::attachment::{CAttachment, give_back};
use crate::error::{NX_ECLOSED, NX_EDEADLK, NX_EFORKED, NX_EINVAL, NX_ETIMEDOUT, err_name};
use crate::handle::{self, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{LoopObject, PromiseObject, nx_free_cb, nx_loop_t, nx_promise_t};

/// `nx_loop_run` mode: run until `nx_loop_stop`, shutdown, or nothing referenced is left (no
/// queued task, no ref'd timer or watch); libuv's `UV_RUN_DEFAULT`.
pub const NX_RUN_DEFAULT: c_int = 0;
/// `nx_loop_run` mode: one turn, blocking for I/O or the next timer if nothing is pending;
/// libuv's `UV_RUN_ONCE`.
pub const NX_RUN_ONCE: c_int = 1;
/// `nx_loop_run` mode: one turn without blocking; libuv's `UV_RUN_NOWAIT`.
pub const NX_RUN_NOWAIT: c_int = 2;

/// `nx_loop_counter`: loop turns.
pub const NX_LOOP_COUNTER_TURNS: c_int = 1;
/// `nx_loop_counter`: I/O events dispatched to watches.
pub const NX_LOOP_COUNTER_EVENTS: c_int = 2;
/// `nx_loop_counter`: tasks run (promise listeners included).
pub const NX_LOOP_COUNTER_TASKS_RUN: c_int = 3;
/// `nx_loop_counter`: timer runs (each run of a periodic timer counts).
pub const NX_LOOP_COUNTER_TIMERS_FIRED: c_int = 4;
/// `nx_loop_counter`: nanoseconds spent waiting in the backend.
pub const NX_LOOP_COUNTER_WAIT_NS: c_int = 5;
/// `nx_loop_counter`: panics caught on the loop's thread (the loop went on).
pub const NX_LOOP_COUNTER_PANICS: c_int = 6;
/// `nx_loop_counter`: tasks of `nx_loop_execute` that returned a negative status (reported on
/// standard error; the loop went on).
pub const NX_LOOP_COUNTER_TASK_ERRORS: c_int = 7;
/// `nx_loop_counter`: exceptions that reached the tail of a pipeline channel's pipeline on
/// this loop (or failed an exception callback); each is reported on standard error, and the
/// channel stays open. The channel's loop: `nx_channel_event_loop`.
pub const NX_LOOP_COUNTER_UNHANDLED_EXCEPTIONS: c_int = 8;
/// `nx_loop_counter`: `epoll_wait` calls of the loop's backend.
pub const NX_LOOP_COUNTER_EPOLL_WAITS: c_int = 9;
/// `nx_loop_counter`: `epoll_ctl` calls of the loop's backend (registrations, interest
/// changes, deregistrations).
pub const NX_LOOP_COUNTER_EPOLL_CTLS: c_int = 10;
/// `nx_loop_counter`: events `epoll_wait` returned, the wake-up eventfd's included (so a
/// wake-up by another thread shows here).
pub const NX_LOOP_COUNTER_BACKEND_EVENTS: c_int = 11;
/// `nx_loop_counter`: `epoll_wait` calls that returned no event (a spinning loop shows here).
pub const NX_LOOP_COUNTER_EMPTY_WAITS: c_int = 12;

/// A task: runs once on the loop's thread (or on each run of a periodic timer). `attachment`
/// is the pointer given with the task, unchanged.
///
/// Return 0 (or any non-negative number) for success, a negative error code for failure:
/// the task's future fails with that code (a periodic timer then stops), or, for
/// `nx_loop_execute`, the failure is reported on standard error and counted in
/// `NX_LOOP_COUNTER_TASK_ERRORS`. The loop goes on either way. A task must not `longjmp` or
/// throw through nioxide.
#[allow(non_camel_case_types)]
pub type nx_task_cb =
    Option<unsafe extern "C" fn(r#loop: *mut nx_loop_t, attachment: *mut c_void) -> c_int>;

/// A task that produces a value, for `nx_loop_submit`: runs once on the loop's thread.
///
/// `*value_out` and `*value_free_out` are NULL on entry. To succeed with a value, store it in
/// `*value_out` (and, if nioxide should free it, its free function in `*value_free_out`) and
/// return 0 (or any non-negative number): the future then owns the value. To fail, return a
/// negative error code: the future fails with it, and whatever was stored in the
/// out-parameters is ignored (nioxide frees nothing). A callable must not `longjmp` or throw
/// through nioxide.
#[allow(non_camel_case_types)]
pub type nx_callable_cb = Option<
    unsafe extern "C" fn(
        r#loop: *mut nx_loop_t,
        value_out: *mut *mut c_void,
        value_free_out: *mut nx_free_cb,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// The loop behind a C handle (alive for the caller's whole call); `NX_EFORKED` in a forked
/// child.
pub(crate) fn loop_of(event_loop: *mut nx_loop_t) -> Result<Arc<LoopObject>, c_int> {
    let object = handle::get(event_loop)?;
    if fork::is_forked(object.generation) {
        return Err(NX_EFORKED);
    }
    Ok(object)
}

/// The loop behind a C handle, and the handle, which the tasks queued on it get back.
fn target(event_loop: *mut nx_loop_t) -> Result<(Arc<LoopObject>, RawHandle), c_int> {
    Ok((loop_of(event_loop)?, RawHandle::from_ptr(event_loop)))
}

/// Core's run mode for a C mode; anything else is `NX_EINVAL`.
fn checked_mode(mode: c_int) -> Result<RunMode, c_int> {
    match mode {
        NX_RUN_DEFAULT => Ok(RunMode::Default),
        NX_RUN_ONCE => Ok(RunMode::Once),
        NX_RUN_NOWAIT => Ok(RunMode::NoWait),
        _ => Err(NX_EINVAL),
    }
}

/// A C task as core keeps it: the function, the attachment (freed when this drops) and the
/// handle of the loop it runs on, passed to the function.
struct CTask {
    task: unsafe extern "C" fn(*mut nx_loop_t, *mut c_void) -> c_int,
    attachment: CAttachment,
    event_loop: RawHandle,
}

impl CTask {
    fn run(&self) -> c_int {
        // SAFETY: the user gave us this function to call with this attachment on the loop.
        unsafe { (self.task)(self.event_loop.as_ptr(), self.attachment.ptr()) }
    }

    /// The task as core's allocation-free [`RawTask`]: four words, rebuilt by
    /// [`run_raw`] or [`discard_raw`] (exactly one of them runs).
    fn into_raw(self) -> RawTask {
        let (attachment, free) = self.attachment.into_parts();
        let data = [
            self.task as usize,
            attachment as usize,
            free.map_or(0, |f| f as usize),
            self.event_loop.as_ptr::<c_void>() as usize,
        ];
        // SAFETY: the words name the user's function and attachment, which the API lets run
        // and be freed on the loop's thread; `from_raw` rebuilds them once.
        unsafe { RawTask::new(run_raw, discard_raw, data) }
    }

    /// Rebuilds a task from [`CTask::into_raw`]'s words.
    ///
    /// # Safety
    /// `data` comes from `into_raw`, and is rebuilt at most once.
    unsafe fn from_raw(data: [usize; 4]) -> CTask {
        // SAFETY: the words are a non-NULL task function and an optional free function
        // (0 = none), as `into_raw` stored them; `Option<fn>` has the NULL niche.
        unsafe {
            CTask {
                task: std::mem::transmute::<
                    usize,
                    unsafe extern "C" fn(*mut nx_loop_t, *mut c_void) -> c_int,
                >(data[0]),
                attachment: CAttachment::new(
                    data[1] as *mut c_void,
                    std::mem::transmute::<usize, nx_free_cb>(data[2]),
                ),
                event_loop: RawHandle::from_ptr(data[3] as *const c_void),
            }
        }
    }
}

/// Runs a C task on the loop's thread; its attachment is freed after it returns.
///
/// # Safety
/// `data` comes from [`CTask::into_raw`] (core calls this or [`discard_raw`] once).
unsafe fn run_raw(event_loop: &EventLoop, data: [usize; 4]) {
    // SAFETY: forwarded contract.
    let task = unsafe { CTask::from_raw(data) };
    let status = task.run();
    if status < 0 {
        report_task_error(event_loop, status);
    }
}

/// Frees the attachment of a C task that never ran (the loop shut down).
///
/// # Safety
/// As [`run_raw`].
unsafe fn discard_raw(data: [usize; 4]) {
    // SAFETY: forwarded contract.
    drop(unsafe { CTask::from_raw(data) });
}

/// A C callable as core keeps it (see [`CTask`]).
struct CCallable {
    callable: unsafe extern "C" fn(
        *mut nx_loop_t,
        *mut *mut c_void,
        *mut nx_free_cb,
        *mut c_void,
    ) -> c_int,
    attachment: CAttachment,
    event_loop: RawHandle,
}

impl CCallable {
    /// Runs the callable: its value as core's promise keeps it (none when it stored neither a
    /// value nor a free function), or its negative status.
    fn call(&self) -> Result<Option<Value>, c_int> {
        let mut value: *mut c_void = ptr::null_mut();
        let mut value_free: nx_free_cb = None;
        // SAFETY: the user gave us this function to call with this attachment on the loop;
        // both out-pointers are valid locals.
        let status = unsafe {
            (self.callable)(
                self.event_loop.as_ptr(),
                &mut value,
                &mut value_free,
                self.attachment.ptr(),
            )
        };
        if status < 0 {
            return Err(status);
        }
        Ok(CAttachment::boxed(value, value_free))
    }
}

/// Counts and reports a negative status of an `nx_loop_execute` task, which has no future to
/// carry it.
fn report_task_error(event_loop: &EventLoop, status: c_int) {
    event_loop.count_task_failure();
    nioxide_core::sys::stderr::report(&format!(
        "nioxide: a task returned {status} ({}); the loop goes on",
        err_name(status).to_string_lossy()
    ));
}

/// Queues a C task on `event_loop`, whose handle is `raw`: the body of `nx_loop_execute` and
/// `nx_loop_group_execute`. On error nothing is kept and nothing freed.
pub(crate) fn execute(
    event_loop: &EventLoop,
    raw: RawHandle,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> Result<(), c_int> {
    let task = CTask {
        task: task.ok_or(NX_EINVAL)?,
        attachment: CAttachment::new(attachment, attachment_free),
        event_loop: raw,
    };
    let mut queued = Some(task.into_raw());
    let result = event_loop.try_execute_raw(&mut queued);
    // Still there only if core refused it: the caller keeps its attachment, nothing is freed.
    if let Some(refused) = queued {
        refused.into_data();
    }
    result.map_err(code)
}

/// Cancels the future of a submitted task that is dropped without running (the loop shut down
/// first), as core's `EventLoop::submit` does.
struct CancelUnrun(Option<Promise>);

impl Drop for CancelUnrun {
    fn drop(&mut self) {
        if let Some(promise) = self.0.take() {
            promise.cancel();
        }
    }
}

/// Queues a C callable on `event_loop` and makes its future: the body of `nx_loop_submit` and
/// `nx_loop_group_submit`. `future_out` may be NULL. On error nothing is kept and nothing
/// freed.
pub(crate) fn submit(
    event_loop: &EventLoop,
    raw: RawHandle,
    callable: nx_callable_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> Result<(), c_int> {
    let callable = callable.ok_or(NX_EINVAL)?;
    let future = Promise::new(Some(event_loop));
    // The handle is made first, so that nothing fails once the task is queued (and before
    // the attachment is taken: if no handle is left, the caller keeps it).
    let handle = if future_out.is_null() {
        None
    } else {
        Some(handle::insert::<nx_promise_t>(Arc::new(
            PromiseObject::task(future.clone()),
        ))?)
    };
    let callable = CCallable {
        callable,
        attachment: CAttachment::new(attachment, attachment_free),
        event_loop: raw,
    };
    let mut unrun = CancelUnrun(Some(future));
    let mut queued: Option<Task> = Some(Box::new(move |_: &EventLoop| {
        let Some(promise) = unrun.0.take() else {
            return;
        };
        if promise.set_uncancellable() {
            match callable.call() {
                Ok(value) => promise.try_success(value),
                Err(status) => promise.try_failure(Failure::new(error_from_code(status))),
            };
        }
    }));
    let result = event_loop.try_execute(&mut queued);
    give_back(queued);
    match (result, handle) {
        (Ok(()), Some(ptr)) => Out::new(future_out)?.set(ptr),
        (Ok(()), None) => {}
        (Err(e), handle) => {
            if let Some(ptr) = handle {
                let _ = handle::remove(ptr);
            }
            return Err(code(e));
        }
    }
    Ok(())
}

/// Schedules a C task on `event_loop`: the body of the `nx_loop_schedule*` and
/// `nx_loop_group_schedule*` functions. A negative `delay_ms` is 0 (Java's rule); a period
/// must be positive. `future_out` may be NULL. On error nothing is kept and nothing freed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn schedule(
    event_loop: &EventLoop,
    raw: RawHandle,
    delay_ms: i64,
    repeat: Repeat,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> Result<(), c_int> {
    let task = task.ok_or(NX_EINVAL)?;
    let delay = Duration::from_millis(u64::try_from(delay_ms).unwrap_or(0));
    // The handle is reserved first, so that nothing fails once the timer is set (and before
    // the attachment is taken: if no handle is left, the caller keeps it).
    let reserved = if future_out.is_null() {
        None
    } else {
        let object = Arc::new(PromiseObject::scheduled());
        Some((handle::insert::<nx_promise_t>(object.clone())?, object))
    };
    let task = CTask {
        task,
        attachment: CAttachment::new(attachment, attachment_free),
        event_loop: raw,
    };
    let mut timer: Option<TimerTask> = Some(Box::new(move |_: &EventLoop| {
        let status = task.run();
        if status < 0 {
            Err(Failure::new(error_from_code(status)))
        } else {
            Ok(None)
        }
    }));
    let result = event_loop.try_schedule(&mut timer, delay, repeat);
    give_back(timer);
    match (result, reserved) {
        (Ok(scheduled), Some((ptr, object))) => {
            object.set_scheduled(scheduled);
            Out::new(future_out)?.set(ptr);
        }
        (Ok(_), None) => {}
        (Err(e), reserved) => {
            if let Some((ptr, _)) = reserved {
                let _ = handle::remove(ptr);
            }
            return Err(code(e));
        }
    }
    Ok(())
}

/// Core's repetition for a C period: positive milliseconds, else `NX_EINVAL`.
pub(crate) fn period(period_ms: i64) -> Result<Duration, c_int> {
    match u64::try_from(period_ms) {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(NX_EINVAL),
    }
}

/// Core's graceful-shutdown times for C ones: `quiet_ms` must not be negative; a negative
/// `timeout_ms` means no deadline (queued work drains until the quiet period passes).
pub(crate) fn shutdown_times(
    quiet_ms: i64,
    timeout_ms: i64,
) -> Result<(Duration, Duration), c_int> {
    /// Far enough to be "no deadline", near enough that `Instant + it` cannot overflow.
    const NO_DEADLINE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let quiet = u64::try_from(quiet_ms).map_err(|_| NX_EINVAL)?;
    let timeout = wait_millis(timeout_ms).map_or(NO_DEADLINE, |t| t.min(NO_DEADLINE));
    Ok((Duration::from_millis(quiet), timeout))
}

/// Waits for a loop that is shutting down: the body of `nx_loop_await_termination`.
fn await_termination(event_loop: &EventLoop, timeout: Option<Duration>) -> Result<(), c_int> {
    if !event_loop.is_terminated() && event_loop.in_event_loop() {
        // The calling thread drives this loop: nobody else would finish the shutdown.
        return Err(NX_EDEADLK);
    }
    match event_loop.await_termination(timeout) {
        Ok(true) => Ok(()),
        Ok(false) => Err(NX_ETIMEDOUT),
        Err(e) => Err(code(e)),
    }
}

/// Makes a handle for a new loop and stores it in `*loop_out`; on error the loop is shut down
/// again (its thread joined).
fn new_loop(event_loop: EventLoop, loop_out: Out<*mut nx_loop_t>) -> Result<(), c_int> {
    match handle::insert::<nx_loop_t>(Arc::new(LoopObject::new(event_loop.clone(), false))) {
        Ok(ptr) => {
            loop_out.set(ptr);
            Ok(())
        }
        Err(e) => {
            event_loop.close();
            let _ = event_loop.await_termination(None);
            Err(e)
        }
    }
}

/// Makes an event loop driven by the caller: run it with `nx_loop_run` (or embed it in a host
/// loop through `nx_loop_backend_fd` and `nx_loop_backend_timeout`). The calling thread is its
/// owner (`nx_loop_in_event_loop` is 1 there) until another thread runs it; the thread that
/// runs it becomes the owner.
///
/// On success `*loop_out` is a new loop that the caller owns and must release with
/// `nx_loop_free`. It holds two descriptors (an epoll instance and its wake-up eventfd), both
/// close-on-exec. On error `*loop_out` is left unchanged.
///
/// Thread safety: safe from any thread; the loop may be used from any thread.
///
/// Errors: `NX_EINVAL` (NULL `loop_out`), `-EMFILE`, `-ENFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_new(loop_out: *mut *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(loop_out)?;
            new_loop(EventLoop::new().map_err(code)?, out)
        })
    }
}

/// Starts an event loop on a new library thread, named `nioxide-loop-N`, with every
/// asynchronous signal blocked (signals reach the application's threads). It runs until shut
/// down (`nx_loop_shutdown_gracefully`, `nx_loop_shutdown_now`, `nx_loop_close`); the thread
/// is joined by `nx_loop_await_termination` or `nx_loop_free`. `nx_loop_run` refuses it
/// (`NX_EBUSY`).
///
/// On success `*loop_out` is a new loop that the caller owns and must release with
/// `nx_loop_free`. On error `*loop_out` is left unchanged and no thread is left running.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `loop_out`), `-EMFILE`, `-ENFILE`, `-ENOMEM`, `-EAGAIN` (no
/// thread could be started).
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_start(loop_out: *mut *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(loop_out)?;
            new_loop(EventLoop::spawn().map_err(code)?, out)
        })
    }
}

/// Runs a caller-driven loop on the calling thread, which becomes its owner, as `mode` says:
/// `NX_RUN_DEFAULT` (until `nx_loop_stop`, the end of a shutdown, or nothing referenced is
/// left: no queued task, no ref'd timer, no ref'd watch), `NX_RUN_ONCE` (one turn, blocking
/// for I/O or the next timer if nothing is pending) or `NX_RUN_NOWAIT` (one turn without
/// blocking). A `nx_loop_stop` made before the call makes it return after at most one turn.
/// `NX_RUN_DEFAULT` and `NX_RUN_ONCE` return 0 at once, without a turn, when nothing
/// referenced is left (`nx_loop_is_alive` says 0), as libuv's `uv_run` does: there would be
/// nothing to wait for.
///
/// A turn runs the due timers, the queued tasks (those queued during the turn run in the
/// next), waits for I/O, runs the watch callbacks, then due timers and queued tasks again.
/// Every callback runs on this thread, inside this call. A loop that shuts down while it runs
/// finishes its shutdown here, and the call returns 0.
///
/// Returns 1 if referenced work is left (libuv's `uv_run` result), 0 if not, or a negative
/// error.
///
/// Thread safety: safe from any thread, one at a time: a run while another run is active
/// (also a re-entrant run from a callback) is `NX_EBUSY`.
///
/// Errors: `NX_EINVAL` (NULL, not a loop, unknown `mode`), `NX_EBUSY` (already running, or a
/// library thread drives the loop), `NX_ECLOSED` (terminated), `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-errno` from `epoll_wait`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_run(r#loop: *mut nx_loop_t, mode: c_int) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let mode = checked_mode(mode)?;
            loop_of(r#loop)?.event_loop.run(mode).map_err(code)
        })
    }
}

/// Asks the loop to return from its current `nx_loop_run` after the turn in progress (or, if
/// none is running, makes the next run return after at most one turn). Has no effect on a
/// loop a library thread drives: shut that down instead.
///
/// Thread safety: safe from any thread, also from the loop's own callbacks.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_stop(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            loop_of(r#loop)?.event_loop.stop();
            Ok(())
        })
    }
}

/// Stores the loop's backend descriptor in `*fd_out`: an epoll descriptor that polls readable
/// when the loop has I/O or a wake-up for a turn. A host program embeds a caller-driven loop
/// by polling it for `POLLIN` with the timeout of `nx_loop_backend_timeout`, then running an
/// `NX_RUN_NOWAIT` turn. nioxide owns the descriptor: never close it, read it or add it to
/// another epoll set in edge-triggered mode. Valid until the loop terminates. On error
/// `*fd_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED` (terminated), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_backend_fd(r#loop: *mut nx_loop_t, fd_out: *mut c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(fd_out)?;
            let object = loop_of(r#loop)?;
            if object.event_loop.is_terminated() {
                return Err(NX_ECLOSED);
            }
            out.set(object.event_loop.backend_fd());
            Ok(())
        })
    }
}

/// Stores in `*timeout_ms_out` how long a host program may wait on `nx_loop_backend_fd`
/// before the loop needs a turn: 0 while tasks (also tasks queued from the loop's own thread,
/// which do not wake the descriptor), readiness already seen (also a raw descriptor a watch
/// left unread) or a stop are pending; otherwise the milliseconds until the next timer,
/// rounded up so the host never wakes early, and at most until an accept back-off ends or,
/// during a graceful shutdown, the rest of its quiet period (at most 100 ms); -1 if there is
/// nothing to wait for but the descriptor. On error `*timeout_ms_out` is unchanged.
///
/// Thread safety: safe from any thread; the answer may change as soon as another thread
/// queues work (which then wakes the descriptor).
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED` (terminated), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_backend_timeout(
    r#loop: *mut nx_loop_t,
    timeout_ms_out: *mut i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(timeout_ms_out)?;
            let object = loop_of(r#loop)?;
            if object.event_loop.is_terminated() {
                return Err(NX_ECLOSED);
            }
            out.set(match object.event_loop.backend_timeout() {
                None => -1,
                Some(left) => {
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    i64::try_from(ms).unwrap_or(i64::MAX)
                }
            });
            Ok(())
        })
    }
}

/// Whether the calling thread is the loop's thread: the library thread of a started loop, or
/// the owner of a caller-driven loop (the thread that runs it, or last ran it, or made it).
/// Returns 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_in_event_loop(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(loop_of(r#loop)?.event_loop.in_event_loop()))
    }
}

/// Stores the loop's clock in `*now_ms_out`: milliseconds since the loop was made, from the
/// monotonic clock (`CLOCK_MONOTONIC`) that timers use. On error `*now_ms_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_now(r#loop: *mut nx_loop_t, now_ms_out: *mut i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(now_ms_out)?;
            let now = loop_of(r#loop)?.event_loop.now();
            out.set(i64::try_from(now.as_millis()).unwrap_or(i64::MAX));
            Ok(())
        })
    }
}

/// Stores one of the loop's counters in `*value_out`: `NX_LOOP_COUNTER_TURNS`, `_EVENTS`,
/// `_TASKS_RUN`, `_TIMERS_FIRED`, `_WAIT_NS`, `_PANICS`, `_TASK_ERRORS` or
/// `_UNHANDLED_EXCEPTIONS`, or one of its backend's system-call counters: `_EPOLL_WAITS`,
/// `_EPOLL_CTLS`, `_BACKEND_EVENTS`, `_EMPTY_WAITS` (what a steady exchange costs in system
/// calls). Works after the loop terminated. On error `*value_out` is unchanged.
///
/// Thread safety: safe from any thread; the counters may move as soon as they are read.
///
/// Errors: `NX_EINVAL` (NULL `value_out`, unknown `which`), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_counter(
    r#loop: *mut nx_loop_t,
    which: c_int,
    value_out: *mut u64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(value_out)?;
            let event_loop = &loop_of(r#loop)?.event_loop;
            let counters = event_loop.counters();
            let backend = event_loop.backend_counters();
            out.set(match which {
                NX_LOOP_COUNTER_TURNS => counters.turns,
                NX_LOOP_COUNTER_EVENTS => counters.events,
                NX_LOOP_COUNTER_TASKS_RUN => counters.tasks_run,
                NX_LOOP_COUNTER_TIMERS_FIRED => counters.timers_fired,
                NX_LOOP_COUNTER_WAIT_NS => counters.wait_ns,
                NX_LOOP_COUNTER_PANICS => counters.panics,
                NX_LOOP_COUNTER_TASK_ERRORS => counters.task_failures,
                NX_LOOP_COUNTER_UNHANDLED_EXCEPTIONS => counters.unhandled_exceptions,
                NX_LOOP_COUNTER_EPOLL_WAITS => backend.waits,
                NX_LOOP_COUNTER_EPOLL_CTLS => backend.ctl,
                NX_LOOP_COUNTER_BACKEND_EVENTS => backend.events,
                NX_LOOP_COUNTER_EMPTY_WAITS => backend.empty_waits,
                _ => return Err(NX_EINVAL),
            });
            Ok(())
        })
    }
}

/// Queues `task` to run once on the loop's thread, after the tasks queued before it (from
/// one thread, tasks run in the order they were queued). It never runs inside this call, also
/// when called from the loop's own thread. `task` gets the loop's handle and `attachment`. A
/// negative return is reported on standard error and counted (`NX_LOOP_COUNTER_TASK_ERRORS`);
/// the loop goes on.
///
/// Ownership: on success the loop owns `attachment`: `attachment_free(attachment)` (if not
/// NULL) is called exactly once, on the loop's thread right after the task ran, or, if it
/// never runs (the loop shut down first), on the thread that shuts the loop down or waits for
/// its termination. On error nioxide keeps nothing and frees nothing: the caller keeps
/// `attachment`.
///
/// Thread safety: safe from any thread. A call wakes the loop (one eventfd write) only if it
/// is blocked in its wait; a loop that has just run a stream of tasks watches its queue for up
/// to 10 µs before it blocks, so a steady stream of calls needs no wake-ups.
///
/// Errors: `NX_EINVAL` (NULL loop or task), `NX_EREJECTED` (shutting down, from another
/// thread; or terminated), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_execute(
    r#loop: *mut nx_loop_t,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            // Queuing never waits: borrow the loop for the call (no reference counting).
            let raw = RawHandle::from_ptr(r#loop);
            handle::with(r#loop, |object: &LoopObject| {
                if fork::is_forked(object.generation) {
                    return Err(NX_EFORKED);
                }
                execute(&object.event_loop, raw, task, attachment, attachment_free)
            })?
        })
    }
}

/// Queues `callable` like `nx_loop_execute` and returns its future: it succeeds with the value
/// the callable stores (see `nx_callable_cb`) or fails with its negative return. Cancelling
/// the future before the callable starts keeps it from running (its attachment is still
/// freed on the loop's thread, when the task comes up). A task that never runs (the loop shut
/// down first) cancels its future (`NX_ECANCELLED`) when it is dropped, with its attachment:
/// at the latest when the loop's termination is awaited or the loop freed.
///
/// Ownership: on success `*future_out` (if `future_out` is not NULL) is a new promise handle
/// that the caller owns and must release with `nx_promise_free` (freeing it does not cancel
/// the task). Listeners of the future run on this loop. The attachment follows the rules of
/// `nx_loop_execute`; the future owns the callable's value, freed with the future's last
/// reference. On error nioxide keeps nothing and frees nothing, and `*future_out` is
/// unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_execute`; `-ENOMEM` (no handle left).
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_submit(
    r#loop: *mut nx_loop_t,
    callable: nx_callable_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (object, raw) = target(r#loop)?;
            submit(&object.event_loop, raw, callable, attachment, attachment_free, future_out)
        })
    }
}

/// Schedules `task` to run once on the loop's thread after `delay_ms` milliseconds (negative
/// is 0). Timers fire in deadline order (ties in scheduling order) and never early, measured
/// on the monotonic clock from this call. The future succeeds (with no value) after the run,
/// or fails with the task's negative return. `nx_promise_cancel` on it before it fires keeps
/// it from running and returns 1; once it started, cancel returns 0. A ref'd timer keeps an
/// `NX_RUN_DEFAULT` run going; `nx_promise_set_ref(future, 0)` unrefs it.
///
/// Ownership: on success `*future_out` (if `future_out` is not NULL) is a new promise handle
/// that the caller owns and must release with `nx_promise_free` (freeing it does not cancel
/// the timer). `attachment_free(attachment)` is called exactly once: on the loop's thread
/// after the run, or when a cancelled timer comes up (at its deadline), or, if the loop shuts
/// down first (which cancels pending timers), on the thread that shuts it down or waits for
/// its termination. On error nioxide keeps nothing and frees nothing, and `*future_out` is
/// unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL loop or task), `NX_EREJECTED` (shutting down, from another
/// thread; or terminated), `NX_EBADHANDLE`, `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_schedule(
    r#loop: *mut nx_loop_t,
    delay_ms: i64,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (object, raw) = target(r#loop)?;
            schedule(
                &object.event_loop, raw, delay_ms, Repeat::Once, task, attachment,
                attachment_free, future_out,
            )
        })
    }
}

/// Schedules `task` to run after `initial_delay_ms` (negative is 0), then every `period_ms`
/// after that first deadline (Java's `scheduleAtFixedRate`): a late run does not shift the
/// later deadlines, and runs never overlap (a run that took longer than the period makes the
/// next one start late). It repeats until its future is cancelled, a run returns a negative
/// status (the future fails with it and no run follows), or the loop shuts down (the future
/// fails with `NX_ECANCELLED`). The future never succeeds. Otherwise as `nx_loop_schedule`,
/// whose ownership rules apply; the attachment is freed after the last run.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_schedule`; `NX_EINVAL` for `period_ms` <= 0.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_schedule_at_fixed_rate(
    r#loop: *mut nx_loop_t,
    initial_delay_ms: i64,
    period_ms: i64,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let repeat = Repeat::FixedRate(period(period_ms)?);
            let (object, raw) = target(r#loop)?;
            schedule(
                &object.event_loop, raw, initial_delay_ms, repeat, task, attachment,
                attachment_free, future_out,
            )
        })
    }
}

/// Schedules `task` to run after `initial_delay_ms` (negative is 0), then again `delay_ms`
/// after each run ends (Java's `scheduleWithFixedDelay`). Stops like
/// `nx_loop_schedule_at_fixed_rate`; otherwise as `nx_loop_schedule`, whose ownership rules
/// apply.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_schedule`; `NX_EINVAL` for `delay_ms` <= 0.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_schedule_with_fixed_delay(
    r#loop: *mut nx_loop_t,
    initial_delay_ms: i64,
    delay_ms: i64,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let repeat = Repeat::FixedDelay(period(delay_ms)?);
            let (object, raw) = target(r#loop)?;
            schedule(
                &object.event_loop, raw, initial_delay_ms, repeat, task, attachment,
                attachment_free, future_out,
            )
        })
    }
}

/// Starts a graceful shutdown and returns at once. Its phases: (1) from now on, work from
/// other threads (`nx_loop_execute`, `submit`, `schedule*`, watches) is rejected with
/// `NX_EREJECTED` (the caller keeps its attachment), while work queued from the loop's own
/// thread is still accepted; timers not yet due are cancelled (their futures fail with
/// `NX_ECANCELLED`); (2) queued work runs until `quiet_period_ms` has passed with no task run,
/// or until `timeout_ms` passed (negative: no deadline); (3) watches are closed, and the
/// channels they watch closed (raw descriptors stay open); (4) the loop terminates. Wait for
/// the end with `nx_loop_await_termination`. A caller-driven loop goes through the phases
/// while it runs (`nx_loop_run` returns 0 once it terminated). Idempotent: later calls, and
/// calls on a terminated loop, change nothing.
///
/// Thread safety: safe from any thread, also from the loop's own callbacks.
///
/// Errors: `NX_EINVAL` (negative `quiet_period_ms`), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_shutdown_gracefully(
    r#loop: *mut nx_loop_t,
    quiet_period_ms: i64,
    timeout_ms: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (quiet, timeout) = shutdown_times(quiet_period_ms, timeout_ms)?;
            loop_of(r#loop)?.event_loop.shutdown_gracefully(quiet, timeout);
            Ok(())
        })
    }
}

/// Starts a shutdown that skips the draining (phase 2 of `nx_loop_shutdown_gracefully`):
/// queued tasks that have not started never run; their attachments are freed on the thread
/// that waits for the termination (or frees the loop). Returns at once. Idempotent; it also
/// cuts short a graceful shutdown in progress.
///
/// Thread safety: safe from any thread, also from the loop's own callbacks.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_shutdown_now(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            loop_of(r#loop)?.event_loop.shutdown_now();
            Ok(())
        })
    }
}

/// Waits up to `timeout_ms` milliseconds (negative: forever) for the loop to terminate, then
/// joins its library thread and, on this thread, frees the attachments of work that never ran.
/// Returns 0 once it terminated (also at once, and again, for a terminated loop).
///
/// Thread safety: safe from any thread except the loop's own: there it would wait for itself
/// (`NX_EDEADLK`, never a hang). That includes the owner of a caller-driven loop, which
/// finishes a shutdown by running the loop (or by `nx_loop_close`) instead.
///
/// Errors: `NX_ETIMEDOUT` (not terminated in time), `NX_EDEADLK`, `NX_EINVAL`,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_await_termination(r#loop: *mut nx_loop_t, timeout_ms: i64) -> c_int {
    nx_ffi_boundary! {
        status(|| await_termination(&loop_of(r#loop)?.event_loop, wait_millis(timeout_ms)))
    }
}

/// Whether the loop's shutdown has started (also once it terminated): 1 or 0, or a negative
/// error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_is_shutting_down(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(loop_of(r#loop)?.event_loop.is_shutting_down()))
    }
}

/// Whether the loop has referenced work left (libuv's `uv_loop_alive`): a queued task, an
/// active ref'd timer or scheduled task, an active ref'd watch, or a shutdown still under way.
/// 1 or 0, or a negative error. `NX_RUN_DEFAULT` and `NX_RUN_ONCE` runs return at once while
/// it says 0.
///
/// Thread safety: safe from any thread; the answer may change as soon as another thread
/// queues work or a timer ends.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_is_alive(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(loop_of(r#loop)?.event_loop.is_alive()))
    }
}

/// Whether the loop has terminated: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_is_terminated(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(loop_of(r#loop)?.event_loop.is_terminated()))
    }
}

/// Closes the loop, a request like `uv_close`: a caller-driven loop that is not running shuts
/// down now, on this thread (as `nx_loop_shutdown_now`, then the remaining phases: queued
/// tasks are dropped and their attachments freed here, watches closed); a running or
/// library-driven loop starts `nx_loop_shutdown_now` and finishes on its own thread.
/// Idempotent: returns 0 every time, also on a terminated loop and in a forked child (where it
/// does nothing). The handle stays valid until `nx_loop_free`.
///
/// Thread safety: safe from any thread, also from the loop's own callbacks.
///
/// Errors: `NX_EINVAL` (NULL or not a loop), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_close(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = handle::get(r#loop)?;
            if !fork::is_forked(object.generation) {
                object.event_loop.close();
            }
            Ok(())
        })
    }
}

/// Frees the loop: closes it if needed (as `nx_loop_close`: pending work is dropped; for a
/// drained shutdown call `nx_loop_shutdown_gracefully` and `nx_loop_await_termination`
/// first), waits until it terminated (joining its library thread; attachments of work that
/// never ran are freed on this thread), then invalidates the handle. Every later call with it,
/// a second free included, returns `NX_EBADHANDLE`. Futures of the loop's tasks stay valid
/// (their listeners then run on the thread that completes them).
///
/// The loop's own thread cannot wait for itself: from one of its callbacks this returns
/// `NX_EDEADLK` and leaves the handle valid; a caller-driven loop is then closed (it
/// terminates when the current `nx_loop_run` returns; free it afterwards).
///
/// A loop of a group belongs to the group (`NX_EINVAL`): free the group; so does a channel's
/// loop handle (`nx_channel_event_loop`), which belongs to the channel. In a forked child,
/// free invalidates the handle without waiting (the loop's thread does not exist there) and
/// never touches the parent's epoll set.
///
/// Thread safety: safe from any thread but the loop's own (see above).
///
/// Errors: `NX_EINVAL` (NULL, not a loop, or a group's or channel's loop), `NX_EDEADLK`, `NX_EBADHANDLE`
/// (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_free(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = handle::get(r#loop)?;
            if object.group_owned {
                return Err(NX_EINVAL);
            }
            if !fork::is_forked(object.generation) {
                close_and_await(&object.event_loop)?;
            }
            handle::remove(r#loop)?;
            Ok(())
        })
    }
}

/// Closes `event_loop` and waits for its termination (joining its thread); `NX_EDEADLK` on
/// the loop's own thread.
fn close_and_await(event_loop: &EventLoop) -> Result<(), c_int> {
    if event_loop.is_library_driven() && event_loop.in_event_loop() {
        return Err(NX_EDEADLK);
    }
    event_loop.close();
    while !event_loop.is_terminated() {
        if event_loop.in_event_loop() {
            // A caller-driven loop running the callback that called us.
            return Err(NX_EDEADLK);
        }
        // Another thread runs it and finishes the shutdown; closing again covers a run that
        // returned (an NX_RUN_NOWAIT turn) just before it saw the shutdown.
        let _ = event_loop.await_termination(Some(Duration::from_millis(10)));
        event_loop.close();
    }
    event_loop.await_termination(None).map_err(code)?;
    Ok(())
}

/// Queues a task that panics on the loop's thread, to show that the loop catches it, reports
/// it on standard error, counts it (`NX_LOOP_COUNTER_PANICS`) and goes on.
///
/// Only in builds with the `testing` feature (the library the C tests link); the header
/// declares it when `NX_TESTING` is defined.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_execute`.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "C" fn nx_debug_loop_panic(r#loop: *mut nx_loop_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = loop_of(r#loop)?;
            object
                .event_loop
                .execute(|_| panic!("nx_debug_loop_panic: a deliberate panic on the loop thread"))
                .map_err(code)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_checked() {
        assert_eq!(checked_mode(NX_RUN_DEFAULT), Ok(RunMode::Default));
        assert_eq!(checked_mode(NX_RUN_ONCE), Ok(RunMode::Once));
        assert_eq!(checked_mode(NX_RUN_NOWAIT), Ok(RunMode::NoWait));
        assert_eq!(checked_mode(3), Err(NX_EINVAL));
        assert_eq!(checked_mode(-1), Err(NX_EINVAL));
    }

    #[test]
    fn times_are_checked() {
        assert_eq!(period(0), Err(NX_EINVAL));
        assert_eq!(period(-5), Err(NX_EINVAL));
        assert_eq!(period(5), Ok(Duration::from_millis(5)));
        assert_eq!(shutdown_times(-1, 0), Err(NX_EINVAL));
        let (quiet, timeout) = shutdown_times(10, -1).unwrap();
        assert_eq!(quiet, Duration::from_millis(10));
        assert!(timeout > Duration::from_secs(3600 * 24 * 365));
        assert!(std::time::Instant::now().checked_add(timeout).is_some());
    }
}
