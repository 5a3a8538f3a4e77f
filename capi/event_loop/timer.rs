//! Reusable timers in C: `nx_timer_*` over `nioxide_core::event_loop::LoopTimer` (libuv's
//! `uv_timer_t`).
//!
//! A timer is made once on a loop, with its callback and attachment, then started, stopped
//! and restarted as often as needed: a start or a stop allocates nothing and makes no
//! handle, no promise and, on the loop's own thread, no system call. The timer is a checked
//! handle the caller owns until `nx_timer_free`; the callback gets that same handle.
//! (`nx_loop_schedule*` is the other kind of timer: one scheduled task with its future.)

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use nioxide_core::event_loop::{EventLoop, LoopTimer};

use crate::args::{Out, code, predicate, status};
use crate::attachment::{CAttachment, new_late};
use crate::error::{NX_ECLOSED, NX_EINVAL};
use crate::event_loop::loop_of;
use crate::handle::{self, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{nx_free_cb, nx_loop_t, nx_timer_t};

/// A timer callback: runs on the loop's thread each time the timer fires. `timer` is the
/// handle `nx_timer_new` returned, `attachment` the pointer given with it, unchanged. A
/// non-repeating timer is already stopped when its callback runs, a repeating one already
/// re-armed; the callback may start, stop, close or free its own timer. A callback must not
/// `longjmp` or throw through nioxide.
#[allow(non_camel_case_types)]
pub type nx_timer_cb =
    Option<unsafe extern "C" fn(timer: *mut nx_timer_t, attachment: *mut c_void)>;

/// Runs `f` with the timer behind a C handle, borrowed for the call (`handle::with`: no
/// reference-count traffic on the start/stop path); `NX_EFORKED` in a forked child.
fn with_timer<R>(
    timer: *mut nx_timer_t,
    f: impl FnOnce(&LoopTimer) -> Result<R, c_int>,
) -> Result<R, c_int> {
    handle::with(timer, |late| f(late.get()?))?
}

/// The timer, unless it is closed (`NX_ECLOSED`).
fn open(timer: &LoopTimer) -> Result<&LoopTimer, c_int> {
    if timer.is_closed() {
        return Err(NX_ECLOSED);
    }
    Ok(timer)
}

/// A C repeat in milliseconds: 0 (none) or positive; negative is `NX_EINVAL`.
fn repeat(repeat_ms: i64) -> Result<Duration, c_int> {
    u64::try_from(repeat_ms)
        .map(Duration::from_millis)
        .map_err(|_| NX_EINVAL)
}

/// Milliseconds for C, rounded up (a host that waits this long never wakes early).
fn millis_up(d: Duration) -> i64 {
    i64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX)
}

/// Makes a reusable timer on `loop` (libuv's `uv_timer_init`), stopped: start it with
/// `nx_timer_start`. Each time it fires, `callback(timer, attachment)` runs on the loop's
/// thread. The timer stays usable until `nx_timer_close`; the loop's shutdown stops it, and
/// its termination closes it.
///
/// Ownership: on success `*timer_out` is a new timer that the caller owns and must release
/// with `nx_timer_free`. The timer owns `attachment`: `attachment_free(attachment)` (if not
/// NULL) is called exactly once, when the timer is closed (by `nx_timer_close`,
/// `nx_timer_free` or the loop's termination), on the thread that closes it, or on the loop's
/// thread after the callback if it was running then. On error nioxide keeps nothing and frees
/// nothing, and `*timer_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL loop, callback or `timer_out`), `NX_EREJECTED` (the loop is
/// shutting down, from another thread; or terminated), `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-ENOMEM` (no handle left).
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_new(
    r#loop: *mut nx_loop_t,
    callback: nx_timer_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    timer_out: *mut *mut nx_timer_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out: Out<*mut nx_timer_t> = Out::new(timer_out)?;
            let callback = callback.ok_or(NX_EINVAL)?;
            let event_loop = loop_of(r#loop)?;
            let attachment = CAttachment::new(attachment, attachment_free);
            new_late(out, &event_loop.event_loop, attachment, |raw: RawHandle, attachment: Arc<CAttachment>| {
                event_loop.event_loop.timer(move |_: &EventLoop, _: &LoopTimer| {
                    // SAFETY: the user gave us this function to call with this attachment on
                    // the loop.
                    unsafe { callback(raw.as_ptr(), attachment.ptr()) }
                })
            }, |_| {}) // a new timer is stopped: nothing to start
        })
    }
}

/// Starts the timer (libuv's `uv_timer_start`): it fires `timeout_ms` milliseconds from now
/// (negative is 0: on the loop's next turn), never earlier on the monotonic clock, and then,
/// if `repeat_ms` is not 0, every `repeat_ms` after each expiry (counted from the turn that
/// ran it). Starting an active timer re-arms it with the new values. Timers fire in deadline
/// order, together with the tasks of `nx_loop_schedule*` (ties in the order they were started).
/// Every timeout is kept exact, up to `INT64_MAX` milliseconds (`nx_timer_due_in` says what is
/// left); a repeat longer than a century is a century (as `nx_timer_set_repeat` says).
/// An active timer keeps an `NX_RUN_DEFAULT` run going unless unref'd (`nx_timer_set_ref`).
///
/// Allocates nothing, and from the loop's callbacks makes no system call; otherwise it wakes
/// the loop if the new deadline is the earliest and the loop is waiting.
///
/// Thread safety: safe from any thread, also from the timer's own callback.
///
/// Errors: `NX_EINVAL` (NULL or not a timer, negative `repeat_ms`), `NX_ECLOSED` (the timer
/// is closed; the loop's termination closes its timers), `NX_EREJECTED` (the loop is
/// shutting down, from another thread), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_start(timer: *mut nx_timer_t, timeout_ms: i64, repeat_ms: i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let repeat = repeat(repeat_ms)?;
            let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
            with_timer(timer, |t| t.start(timeout, repeat).map_err(code))
        })
    }
}

/// Stops the timer (libuv's `uv_timer_stop`): it does not fire until started again. Stopping
/// a stopped timer does nothing. Called from another thread while the loop is already running
/// this expiry's callback, the callback still finishes; no later expiry starts.
///
/// Thread safety: safe from any thread, also from the timer's own callback.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_stop(timer: *mut nx_timer_t) -> c_int {
    nx_ffi_boundary! {
        status(|| with_timer(timer, |t| t.stop().map_err(code)))
    }
}

/// Restarts a repeating timer with its repeat as the timeout (libuv's `uv_timer_again`): as
/// `nx_timer_start(timer, repeat, repeat)`. A timer whose repeat is 0 is left as it is.
///
/// Thread safety: safe from any thread, also from the timer's own callback.
///
/// Errors: as `nx_timer_start`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_again(timer: *mut nx_timer_t) -> c_int {
    nx_ffi_boundary! {
        status(|| with_timer(timer, |t| t.again().map_err(code)))
    }
}

/// Sets the repeat in milliseconds (0: none), used from the timer's next expiry on, or by
/// `nx_timer_again` (libuv's `uv_timer_set_repeat`). It does not re-arm an active timer. A
/// repeat longer than a century is a century (as good as never; `nx_timer_get_repeat` then
/// says so).
///
/// Thread safety: safe from any thread, also from the timer's own callback.
///
/// Errors: `NX_EINVAL` (also a negative `repeat_ms`), `NX_ECLOSED`, `NX_EBADHANDLE`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_set_repeat(timer: *mut nx_timer_t, repeat_ms: i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let repeat = repeat(repeat_ms)?;
            with_timer(timer, |t| t.set_repeat(repeat).map_err(code))
        })
    }
}

/// Stores the timer's repeat in `*repeat_ms_out`: milliseconds, 0 for none (libuv's
/// `uv_timer_get_repeat`). On error `*repeat_ms_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_repeat(timer: *mut nx_timer_t, repeat_ms_out: *mut i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(repeat_ms_out)?;
            let repeat = with_timer(timer, |t| Ok(open(t)?.repeat()))?;
            out.set(i64::try_from(repeat.as_millis()).unwrap_or(i64::MAX));
            Ok(())
        })
    }
}

/// Stores in `*due_in_ms_out` the milliseconds until the timer fires, rounded up (0 if it is
/// due), or -1 if it is not active (libuv's `uv_timer_get_due_in`, which says 0 there). On
/// error `*due_in_ms_out` is unchanged.
///
/// Thread safety: safe from any thread; the answer may change as soon as another thread
/// starts or stops the timer.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_due_in(timer: *mut nx_timer_t, due_in_ms_out: *mut i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(due_in_ms_out)?;
            let due_in = with_timer(timer, |t| Ok(open(t)?.due_in()))?;
            out.set(due_in.map_or(-1, millis_up));
            Ok(())
        })
    }
}

/// Whether the timer is active (started, and neither stopped nor expired without a repeat):
/// 1 or 0, or a negative error. A closed timer is not active.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_is_active(timer: *mut nx_timer_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_timer(timer, |t| Ok(t.is_active())))
    }
}

/// Makes the timer keep an `NX_RUN_DEFAULT` run going while it is active (`ref` non-zero,
/// the default) or not (0): libuv's `uv_ref`/`uv_unref`. An unref'd timer still fires while
/// the loop runs for other reasons.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_set_ref(timer: *mut nx_timer_t, r#ref: c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            with_timer(timer, |t| {
                t.set_ref(r#ref != 0);
                Ok(())
            })
        })
    }
}

/// Whether the timer is ref'd (see `nx_timer_set_ref`): 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_has_ref(timer: *mut nx_timer_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_timer(timer, |t| Ok(t.has_ref())))
    }
}

/// Closes the timer: it is stopped for good, the callback is not called again once this
/// returns (unless it is running on the loop's thread right now, which finishes), and the
/// attachment is freed (on this thread, or on the loop's thread after a running callback).
/// Every later call but `nx_timer_is_active`, `nx_timer_has_ref`, `nx_timer_set_ref`, close
/// and free returns `NX_ECLOSED`. Idempotent: returns 0 every time, also in a forked child
/// (where it does nothing). The handle stays valid until `nx_timer_free`.
///
/// Thread safety: safe from any thread, also from the timer's own callback.
///
/// Errors: `NX_EINVAL` (NULL or not a timer), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_close(timer: *mut nx_timer_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(timer) = handle::get(timer)?.unforked() {
                timer.close();
            }
            Ok(())
        })
    }
}

/// Frees the timer: closes it if needed (as `nx_timer_close`), then invalidates the handle;
/// every later call with it, a second free included, returns `NX_EBADHANDLE`. Allowed in a
/// forked child.
///
/// Thread safety: safe from any thread, also from the timer's own callback.
///
/// Errors: `NX_EINVAL` (NULL or not a timer), `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_timer_free(timer: *mut nx_timer_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(timer) = handle::remove(timer)?.unforked() {
                timer.close();
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_checked() {
        assert_eq!(repeat(0), Ok(Duration::ZERO));
        assert_eq!(repeat(25), Ok(Duration::from_millis(25)));
        assert_eq!(repeat(-1), Err(NX_EINVAL));
    }

    #[test]
    fn due_times_round_up() {
        assert_eq!(millis_up(Duration::ZERO), 0);
        assert_eq!(millis_up(Duration::from_micros(1)), 1);
        assert_eq!(millis_up(Duration::from_millis(7)), 7);
        assert_eq!(millis_up(Duration::MAX), i64::MAX);
    }
}
