//! Event loop groups in C: `nx_loop_group_*` over `nioxide_core::event_loop::EventLoopGroup`
//! (Netty's `EventLoopGroup`).
//!
//! A group is a checked handle the caller owns until `nx_loop_group_free`. Its loops have
//! handles too, made with the group and owned by it: `nx_loop_group_next` hands out the same
//! `nx_loop_t *` for a loop every time, and the group frees them.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use nioxide_core::event_loop::{EventLoop, EventLoopGroup, Repeat};
use nioxide_core::sys::fork;

use crate::args::{Out, code, predicate, status, wait_millis};
use crate::error::{NX_EDEADLK, NX_EFORKED, NX_ETIMEDOUT};
use crate::event_loop::{self, nx_callable_cb, nx_task_cb, period, shutdown_times};
use crate::handle::{self, HANDLES, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{GroupObject, LoopObject, nx_free_cb, nx_loop_group_t, nx_loop_t, nx_promise_t};

/// The group behind a C handle (alive for the caller's whole call); `NX_EFORKED` in a forked
/// child.
pub(crate) fn group_of(group: *mut nx_loop_group_t) -> Result<Arc<GroupObject>, c_int> {
    let object = handle::get(group)?;
    if fork::is_forked(object.generation) {
        return Err(NX_EFORKED);
    }
    Ok(object)
}

/// Frees the handles of a group's loops.
fn release_loops(loops: &[RawHandle]) {
    for raw in loops {
        HANDLES.release(*raw);
    }
}

/// Starts a group of `threads` event loops (0: one per core; at most 4096), each on its own
/// library thread named `nioxide-loop-N` with asynchronous signals blocked.
///
/// On success `*group_out` is a new group that the caller owns and must release with
/// `nx_loop_group_free`. On error `*group_out` is left unchanged and no thread is left
/// running.
///
/// Thread safety: safe from any thread; the group may be used from any thread.
///
/// Errors: `NX_EINVAL` (NULL `group_out`, more than 4096 threads), `-EMFILE`, `-ENFILE`,
/// `-ENOMEM`, `-EAGAIN`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_new(threads: usize, group_out: *mut *mut nx_loop_group_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(group_out)?;
            let group = EventLoopGroup::new(threads).map_err(code)?;
            let mut loops = Vec::with_capacity(group.loops().len());
            let mut made = || {
                for lp in group.loops() {
                    let object = Arc::new(LoopObject::new(lp.clone(), true));
                    loops.push(RawHandle::from_ptr(handle::insert::<nx_loop_t>(object)?));
                }
                handle::insert::<nx_loop_group_t>(Arc::new(GroupObject {
                    group: group.clone(),
                    loops: loops.clone(),
                    generation: fork::generation(),
                }))
            };
            match made() {
                Ok(ptr) => {
                    out.set(ptr);
                    Ok(())
                }
                Err(e) => {
                    release_loops(&loops);
                    group.shutdown_now();
                    let _ = group.await_termination(None);
                    Err(e)
                }
            }
        })
    }
}

/// Stores the group's next loop, round-robin, in `*loop_out`: the group's own handle for that
/// loop, the same each time the loop comes up. The group owns it (never free it; it is valid
/// until `nx_loop_group_free`). On error `*loop_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_next(
    group: *mut nx_loop_group_t,
    loop_out: *mut *mut nx_loop_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(loop_out)?;
            out.set(group_of(group)?.next().1.as_ptr());
            Ok(())
        })
    }
}

/// Stores the number of loops in the group in `*count_out` (unchanged on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_size(group: *mut nx_loop_group_t, count_out: *mut usize) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(count_out)?;
            out.set(group_of(group)?.loops.len());
            Ok(())
        })
    }
}

/// `nx_loop_execute` on the group's next loop (the task gets that loop's handle); its rules
/// apply.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_execute`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_execute(
    group: *mut nx_loop_group_t,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let group = group_of(group)?;
            let (lp, raw) = group.next();
            event_loop::execute(lp, raw, task, attachment, attachment_free)
        })
    }
}

/// `nx_loop_submit` on the group's next loop; its rules apply.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_submit`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_submit(
    group: *mut nx_loop_group_t,
    callable: nx_callable_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let group = group_of(group)?;
            let (lp, raw) = group.next();
            event_loop::submit(lp, raw, callable, attachment, attachment_free, future_out)
        })
    }
}

/// `nx_loop_schedule` on the group's next loop; its rules apply.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_schedule`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_schedule(
    group: *mut nx_loop_group_t,
    delay_ms: i64,
    task: nx_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let group = group_of(group)?;
            let (lp, raw) = group.next();
            event_loop::schedule(
                lp, raw, delay_ms, Repeat::Once, task, attachment, attachment_free, future_out,
            )
        })
    }
}

/// `nx_loop_schedule_at_fixed_rate` on the group's next loop; its rules apply.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_schedule_at_fixed_rate`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_schedule_at_fixed_rate(
    group: *mut nx_loop_group_t,
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
            let group = group_of(group)?;
            let (lp, raw) = group.next();
            event_loop::schedule(
                lp, raw, initial_delay_ms, repeat, task, attachment, attachment_free, future_out,
            )
        })
    }
}

/// `nx_loop_schedule_with_fixed_delay` on the group's next loop; its rules apply.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_schedule_with_fixed_delay`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_schedule_with_fixed_delay(
    group: *mut nx_loop_group_t,
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
            let group = group_of(group)?;
            let (lp, raw) = group.next();
            event_loop::schedule(
                lp, raw, initial_delay_ms, repeat, task, attachment, attachment_free, future_out,
            )
        })
    }
}

/// Starts a graceful shutdown of every loop of the group (the phases of
/// `nx_loop_shutdown_gracefully`, with the same `quiet_period_ms` and `timeout_ms`) and
/// returns at once; wait with `nx_loop_group_await_termination`. Idempotent.
///
/// Thread safety: safe from any thread, also from the group's own loops.
///
/// Errors: `NX_EINVAL` (negative `quiet_period_ms`), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_shutdown_gracefully(
    group: *mut nx_loop_group_t,
    quiet_period_ms: i64,
    timeout_ms: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (quiet, timeout) = shutdown_times(quiet_period_ms, timeout_ms)?;
            group_of(group)?.group.shutdown_gracefully(quiet, timeout);
            Ok(())
        })
    }
}

/// Starts a shutdown of every loop of the group that skips the draining (as
/// `nx_loop_shutdown_now`) and returns at once. Idempotent.
///
/// Thread safety: safe from any thread, also from the group's own loops.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_shutdown_now(group: *mut nx_loop_group_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            group_of(group)?.group.shutdown_now();
            Ok(())
        })
    }
}

/// Waits up to `timeout_ms` milliseconds (negative: forever) for every loop of the group to
/// terminate, joins their threads, and frees the attachments of work that never ran, on this
/// thread. Returns 0 once all terminated (also again later).
///
/// Thread safety: safe from any thread except the group's own loops (`NX_EDEADLK`, never a
/// hang).
///
/// Errors: `NX_ETIMEDOUT`, `NX_EDEADLK`, `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_await_termination(
    group: *mut nx_loop_group_t,
    timeout_ms: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            match group_of(group)?.group.await_termination(wait_millis(timeout_ms)) {
                Ok(true) => Ok(()),
                Ok(false) => Err(NX_ETIMEDOUT),
                Err(e) => Err(code(e)),
            }
        })
    }
}

/// Whether every loop of the group has terminated: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_is_terminated(group: *mut nx_loop_group_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| Ok(group_of(group)?.group.is_terminated()))
    }
}

/// Frees the group: shuts every loop down now if needed (as `nx_loop_group_shutdown_now`; for
/// a drained shutdown call `nx_loop_group_shutdown_gracefully` and
/// `nx_loop_group_await_termination` first), waits for their termination (joining the
/// threads; attachments of work that never ran are freed on this thread), then invalidates the
/// group's handle and its loops' handles. Every later call with them returns `NX_EBADHANDLE`.
/// In a forked child it invalidates the handles without waiting (the threads do not exist
/// there).
///
/// Thread safety: safe from any thread except the group's own loops (`NX_EDEADLK`; the
/// handle stays valid).
///
/// Errors: `NX_EINVAL` (NULL or not a group), `NX_EDEADLK`, `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_group_free(group: *mut nx_loop_group_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = handle::get(group)?;
            if !fork::is_forked(object.generation) {
                if object.group.loops().iter().any(EventLoop::in_event_loop) {
                    return Err(NX_EDEADLK);
                }
                object.group.shutdown_now();
                object.group.await_termination(None).map_err(code)?;
            }
            let object = handle::remove(group)?;
            release_loops(&object.loops);
            Ok(())
        })
    }
}
