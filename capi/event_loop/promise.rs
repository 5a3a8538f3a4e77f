//! Promises and futures in C: `nx_promise_*` over `nioxide_core::event_loop::Promise`
//! (Netty's `Promise`/`Future`, Java's `Future`).
//!
//! One handle type serves promises the user completes (`nx_promise_new`) and the futures of
//! tasks (`nx_loop_submit`) and timers (`nx_loop_schedule*`), which only nioxide completes. A
//! value is the user's `void *` with an optional free function, kept in core as a
//! `CAttachment`; a failure is a negative error code. Listeners get the promise handle they
//! were added with, and their attachment, on the promise's loop.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use nioxide_core::event_loop::{Failure, Outcome, Promise};
use nioxide_core::sys::fork;

use crate::args::{Out, code, error_from_code, predicate, status, wait_millis};
use crate::attachment::CAttachment;
use crate::error::{NX_EALREADYDONE, NX_EFORKED, NX_EINVAL, NX_ETIMEDOUT};
use crate::event_loop::loop_of;
use crate::handle::{self, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{PromiseObject, nx_free_cb, nx_loop_t, nx_promise_t};

/// A promise listener: runs once the promise completes, on the promise's loop, on a later
/// turn, after the listeners added before it. `promise` is the handle the listener was added
/// with, `attachment` the pointer given with it, unchanged. A listener must not `longjmp` or
/// throw through nioxide.
#[allow(non_camel_case_types)]
pub type nx_promise_listener_cb =
    Option<unsafe extern "C" fn(promise: *mut nx_promise_t, attachment: *mut c_void)>;

/// The promise object behind a C handle (alive for the caller's whole call); `NX_EFORKED` in
/// a forked child.
fn promise_of(promise: *mut nx_promise_t) -> Result<Arc<PromiseObject>, c_int> {
    let object = handle::get(promise)?;
    if fork::is_forked(object.generation) {
        return Err(NX_EFORKED);
    }
    Ok(object)
}

/// Offers `value` to the promise: whether it won. A lost value is not freed (the caller keeps
/// it): it goes in without its free function, which is armed once the promise holds it.
fn try_success(promise: &Promise, value: *mut c_void, value_free: nx_free_cb) -> bool {
    if value.is_null() && value_free.is_none() {
        return promise.try_success(None);
    }
    if !promise.try_success(Some(Box::new(CAttachment::new(value, None)))) {
        return false;
    }
    if let Some(free) = value_free {
        // The value is in the promise for good: from now on its last reference frees it.
        promise.with_outcome(|outcome| {
            if let Some(Outcome::Success(Some(v))) = outcome {
                if let Some(v) = v.downcast_ref::<CAttachment>() {
                    v.arm(free);
                }
            }
        });
    }
    true
}

/// A failure from a C error code, which must be negative.
fn failure(error: c_int) -> Result<Failure, c_int> {
    if error >= 0 {
        return Err(NX_EINVAL);
    }
    Ok(Failure::new(error_from_code(error)))
}

/// Makes a promise the caller completes with `nx_promise_try_success` and friends. Its
/// listeners run on `executor` (which may be NULL), on a later loop turn. With no executor
/// (or once the executor terminated) they run on the thread that completes the promise, or,
/// when added to a completed promise, inside `nx_promise_add_listener`: the one exception to
/// "no callback inside the call that started it"; give an executor to avoid it.
///
/// On success `*promise_out` is a new promise that the caller owns and must release with
/// `nx_promise_free`. `executor` is only read during the call (the promise does not keep it
/// alive). On error `*promise_out` is left unchanged.
///
/// Thread safety: safe from any thread; the promise may be used from any thread.
///
/// Errors: `NX_EINVAL` (NULL `promise_out`, `executor` not a loop), `NX_EBADHANDLE`,
/// `NX_EFORKED` (`executor` made before a fork), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_new(
    executor: *mut nx_loop_t,
    promise_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(promise_out)?;
            let promise = if executor.is_null() {
                Promise::new(None)
            } else {
                Promise::new(Some(&loop_of(executor)?.event_loop))
            };
            out.set(handle::insert::<nx_promise_t>(Arc::new(PromiseObject::user(promise)))?);
            Ok(())
        })
    }
}

/// Completes the promise with success and `value` (which may be NULL), unless it is already
/// complete. Returns 1 if this call completed it, 0 if it was already complete, or a negative
/// error. Listeners are then queued to the promise's loop (see `nx_promise_new` for a promise
/// without one); waiters wake up.
///
/// Ownership: if this call wins, the promise owns `value`: `value_free(value)` (if not NULL)
/// is called exactly once, when the promise's last reference goes (at `nx_promise_free`, or
/// after the last pending listener ran, on that thread). If it returns 0 or an error, nioxide
/// keeps nothing and frees nothing.
///
/// Thread safety: safe from any thread; of concurrent completions exactly one wins.
///
/// Errors: `NX_EINVAL` (NULL, not a promise, or the future of a task or timer, which only
/// nioxide completes), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_try_success(
    promise: *mut nx_promise_t,
    value: *mut c_void,
    value_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(try_success(promise_of(promise)?.settable()?, value, value_free)))
    }
}

/// Completes the promise with the failure `error` (a negative code: `-errno` or `NX_E*`;
/// `NX_ECANCELLED` makes it cancelled), unless it is already complete. Returns 1 if this call
/// completed it, 0 if it was already complete, or a negative error.
///
/// Thread safety: safe from any thread; of concurrent completions exactly one wins.
///
/// Errors: `NX_EINVAL` (`error` >= 0, NULL, not a promise, or the future of a task or
/// timer), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_try_failure(promise: *mut nx_promise_t, error: c_int) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let failure = failure(error)?;
            Ok(promise_of(promise)?.settable()?.try_failure(failure))
        })
    }
}

/// `nx_promise_try_success` that treats an already complete promise as an error
/// (`NX_EALREADYDONE`: `value` stays the caller's, nothing is freed). Returns 0 on success.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EALREADYDONE`, and those of `nx_promise_try_success`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_set_success(
    promise: *mut nx_promise_t,
    value: *mut c_void,
    value_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = promise_of(promise)?;
            if try_success(object.settable()?, value, value_free) {
                Ok(())
            } else {
                Err(NX_EALREADYDONE)
            }
        })
    }
}

/// `nx_promise_try_failure` that treats an already complete promise as an error
/// (`NX_EALREADYDONE`). Returns 0 on success.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EALREADYDONE`, and those of `nx_promise_try_failure`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_set_failure(promise: *mut nx_promise_t, error: c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let failure = failure(error)?;
            let object = promise_of(promise)?;
            object.settable()?.set_failure(failure).map_err(code)
        })
    }
}

/// Cancels the promise: it fails with `NX_ECANCELLED` unless it is already complete or its
/// operation has started (a task that began running). Returns 1 if this call cancelled it, 0
/// if not (it won or lost the race before), or a negative error. A cancelled timer never runs
/// and releases its ref at once; a cancelled submitted task never runs.
///
/// Thread safety: safe from any thread; against a run starting on the loop exactly one wins.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_cancel(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(promise_of(promise)?.promise()?.cancel()))
    }
}

/// Marks the operation of a promise the caller completes as started (Netty's
/// `setUncancellable`, `concurrent.futures`' `set_running_or_notify_cancel`): from now on
/// `nx_promise_cancel` loses and `nx_promise_is_running` is 1 until it completes. Returns 1 if
/// it is uncancellable now (also if it already completed otherwise), 0 if it was cancelled
/// (the operation should not start), or a negative error.
///
/// Thread safety: safe from any thread; against a cancel on another thread exactly one wins.
///
/// Errors: `NX_EINVAL` (NULL, or the future of a task or timer, which nioxide completes),
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_set_uncancellable(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(promise_of(promise)?.settable()?.set_uncancellable()))
    }
}

/// Whether the promise's operation is running: 1 while it is incomplete and its operation
/// has started (a task that began running, or `nx_promise_set_uncancellable`), else 0; or a
/// negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_is_running(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(promise_of(promise)?.promise()?.is_running()))
    }
}

/// Whether the promise is complete (succeeded, failed or cancelled): 1 or 0, or a negative
/// error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_is_done(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(promise_of(promise)?.promise()?.is_done()))
    }
}

/// Whether the promise succeeded: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_is_success(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(promise_of(promise)?.promise()?.is_success()))
    }
}

/// Whether the promise was cancelled (failed with `NX_ECANCELLED`): 1 or 0, or a negative
/// error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_is_cancelled(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(promise_of(promise)?.promise()?.is_cancelled()))
    }
}

/// Stores why the promise failed in `*cause_out`: its negative error code (`NX_ECANCELLED`
/// if cancelled), or 0 if it has not failed (incomplete or succeeded). On error `*cause_out`
/// is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_cause(promise: *mut nx_promise_t, cause_out: *mut c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(cause_out)?;
            let cause = promise_of(promise)?.promise()?.cause();
            out.set(cause.map_or(0, |e| e.code()));
            Ok(())
        })
    }
}

/// Stores the value of a promise that succeeded in `*value_out` (NULL if it succeeded without
/// one), without waiting; Java's `Future.get` with a zero timeout. The value is borrowed: it
/// stays owned by the promise and valid until `nx_promise_free`. On error `*value_out` is
/// unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_ETIMEDOUT` (not complete yet), the promise's own cause if it failed
/// (`NX_ECANCELLED` if cancelled; use `nx_promise_cause` to tell the two apart), `NX_EINVAL`,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_value(
    promise: *mut nx_promise_t,
    value_out: *mut *mut c_void,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(value_out)?;
            let object = promise_of(promise)?;
            let value = object.promise()?.with_outcome(|outcome| match outcome {
                None => Err(NX_ETIMEDOUT),
                Some(Outcome::Failure(f)) => Err(f.error.code()),
                Some(Outcome::Success(value)) => Ok(CAttachment::pointer(value.as_ref())),
            })?;
            out.set(value);
            Ok(())
        })
    }
}

/// Adds a listener: `listener(promise, attachment)` runs once the promise completes, on the
/// promise's loop on a later turn (never inside this call), after the listeners added before
/// it; also when added after completion. A promise without a loop, or whose loop has
/// terminated, runs it as `nx_promise_new` says (on the completing thread; added to a
/// completed promise, inside this call). A loop that shuts down still runs the listeners of
/// the promises completed by then (the futures of the timers it cancels too), on its thread
/// or on the thread that shuts it down, even when it drops its queued tasks. `promise` is the
/// handle given here: free it in the listener, or after it ran (a listener handed a freed
/// handle gets `NX_EBADHANDLE` from calls on it).
///
/// Ownership: the promise owns `attachment`: `attachment_free(attachment)` (if not NULL) is
/// called exactly once, right after the listener ran, on the same thread; or, if the
/// listener never runs (the promise never completes), when the promise's last reference
/// goes. On error nioxide keeps nothing and frees nothing.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL promise or listener), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_add_listener(
    promise: *mut nx_promise_t,
    listener: nx_promise_listener_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let listener = listener.ok_or(NX_EINVAL)?;
            let object = promise_of(promise)?;
            let raw = RawHandle::from_ptr(promise);
            let attachment = CAttachment::new(attachment, attachment_free);
            object.promise()?.add_listener(Box::new(move |_: &Promise| {
                // SAFETY: the user gave us this function to call with this attachment.
                unsafe { listener(raw.as_ptr(), attachment.ptr()) };
                drop(attachment);
            }));
            Ok(())
        })
    }
}

/// Waits until the promise completes, or `timeout_ms` milliseconds pass (negative: forever; 0:
/// do not wait). Returns 0 once it is complete (however it completed: check
/// `nx_promise_is_success` or `nx_promise_value`).
///
/// Thread safety: safe from any thread except the thread of the promise's own loop (also the
/// owner of a caller-driven loop), where waiting for an incomplete promise would wait for
/// itself: `NX_EDEADLK`, never a hang. A promise without a loop may be waited on anywhere.
///
/// Errors: `NX_ETIMEDOUT`, `NX_EDEADLK`, `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_wait(promise: *mut nx_promise_t, timeout_ms: i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = promise_of(promise)?;
            match object.promise()?.wait(wait_millis(timeout_ms)) {
                Ok(true) => Ok(()),
                Ok(false) => Err(NX_ETIMEDOUT),
                Err(e) => Err(code(e)),
            }
        })
    }
}

/// For the future of a timer (`nx_loop_schedule*`): makes the timer keep an `NX_RUN_DEFAULT`
/// run going (`ref` non-zero, the default) or not (0): libuv's `uv_ref`/`uv_unref`. A
/// cancelled or finished timer keeps nothing alive either way.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (not a timer's future), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_set_ref(promise: *mut nx_promise_t, r#ref: c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = promise_of(promise)?;
            object.scheduled.get().ok_or(NX_EINVAL)?.set_ref(r#ref != 0);
            Ok(())
        })
    }
}

/// For the future of a timer: whether it is ref'd (see `nx_promise_set_ref`): 1 or 0, or a
/// negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (not a timer's future), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_has_ref(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(promise_of(promise)?.scheduled.get().ok_or(NX_EINVAL)?.has_ref()))
    }
}

/// Makes another handle to the same promise: `*promise_out` is the caller's until
/// `nx_promise_free`, and may do what `promise` may (complete it, if that one may). For a
/// promise lent to a pipeline callback (a write's), it keeps the promise past the callback,
/// to complete it later. On error `*promise_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_retain(
    promise: *mut nx_promise_t,
    promise_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(promise_out)?;
            let copy = promise_of(promise)?.share();
            out.set(handle::insert::<nx_promise_t>(Arc::new(copy))?);
            Ok(())
        })
    }
}

/// Frees the handle. It does not cancel anything: a submitted task or a timer still runs, and
/// the promise itself lives on while nioxide still needs it (a pending listener or task);
/// its value's `value_free` runs when the last reference goes (here, or after that listener
/// or task, on its thread). Every later call with the handle, a second free included, returns
/// `NX_EBADHANDLE`. Allowed in a forked child.
///
/// Thread safety: safe from any thread, also from the promise's own listener.
///
/// Errors: `NX_EINVAL` (NULL or not a promise), `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_promise_free(promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            handle::remove(promise)?;
            Ok(())
        })
    }
}
