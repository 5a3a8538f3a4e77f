//! Asynchronous channel groups in C: `nx_aio_group_*` over
//! `nioxide_core::aio::AsynchronousChannelGroup` (Java's `AsynchronousChannelGroup`).
//!
//! A group is the set of loop threads that runs the completion handlers of its channels: N
//! loops of its own, or an existing `nx_loop_group_t` it borrows (and never shuts down). C has
//! no default group: nioxide starts no thread the program did not ask for.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::c_int;
use std::sync::Arc;

use nioxide_core::aio::AsynchronousChannelGroup;

use crate::args::{Out, code, predicate, status, wait_millis};
use crate::error::NX_ETIMEDOUT;
use crate::event_loop::group::group_of as loop_group_of;
use crate::handle::{self, Late};
use crate::nx_ffi_boundary;
use crate::types::{nx_aio_group_t, nx_loop_group_t};

/// The group behind a C handle, borrowed for the call; `NX_EFORKED` in a forked child.
pub(crate) fn with_group<R>(
    group: *mut nx_aio_group_t,
    f: impl FnOnce(&AsynchronousChannelGroup) -> Result<R, c_int>,
) -> Result<R, c_int> {
    let object = handle::get(group)?;
    f(object.get()?)
}

/// Stores a new handle for `group` in `out`; on error the group is shut down.
fn new_group(group: AsynchronousChannelGroup, out: Out<*mut nx_aio_group_t>) -> Result<(), c_int> {
    let late = Late::new();
    late.set(group.clone());
    match handle::insert::<nx_aio_group_t>(Arc::new(late)) {
        Ok(ptr) => {
            out.set(ptr);
            Ok(())
        }
        Err(e) => {
            group.shutdown_now();
            let _ = group.await_termination(None);
            Err(e)
        }
    }
}

/// Starts a group of `threads` new event loops (0: one per core; at most 4096), each on a
/// library thread named `nioxide-loop-N` with asynchronous signals blocked. The group owns
/// them: they stop once the group has terminated.
///
/// Ownership: on success `*group_out` is a new group that the caller owns and must release
/// with `nx_aio_group_free`. On error `*group_out` is unchanged and no thread is left running.
///
/// Thread safety: safe from any thread; the group may be used from any thread.
///
/// Errors: `NX_EINVAL` (NULL `group_out`, more than 4096 threads), `-EMFILE`, `-ENOMEM`,
/// `-EAGAIN`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_new(threads: usize, group_out: *mut *mut nx_aio_group_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(group_out)?;
            let group = AsynchronousChannelGroup::new(threads).map_err(code)?;
            new_group(group, out)
        })
    }
}

/// Makes a group over the loops of `loops`, which it borrows: shutting the AIO group down
/// (or freeing it) never shuts those loops down; when they shut down, the group's channels on
/// them are closed. Free the AIO group before `loops`.
///
/// Ownership: on success `*group_out` is a new group that the caller owns and must release
/// with `nx_aio_group_free`; `loops` stays the caller's. On error `*group_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `loops` or `group_out`), `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-ENOMEM` (no handle left).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_with_loop_group(
    loops: *mut nx_loop_group_t,
    group_out: *mut *mut nx_aio_group_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(group_out)?;
            let loops = loop_group_of(loops)?;
            new_group(AsynchronousChannelGroup::with_event_loop_group(&loops.group), out)
        })
    }
}

/// Shuts the group down (Java's `shutdown`): no new channel may be opened in it
/// (`NX_EGROUPSHUTDOWN`); it terminates once its open channels are closed. Idempotent;
/// returns at once.
///
/// Thread safety: safe from any thread, also from a completion handler.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_shutdown(group: *mut nx_aio_group_t) -> c_int {
    nx_ffi_boundary! {
        status(|| with_group(group, |g| {
            g.shutdown();
            Ok(())
        }))
    }
}

/// Shuts the group down and closes every channel of it (Java's `shutdownNow`): their pending
/// operations fail with `NX_EASYNCCLOSE`, once each, on the group's threads, before the group
/// terminates. Returns at once, also from inside a completion handler. The channels' handles
/// stay valid (calls on them return `NX_ECLOSED`) until freed.
///
/// Thread safety: safe from any thread, also from a completion handler.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_shutdown_now(group: *mut nx_aio_group_t) -> c_int {
    nx_ffi_boundary! {
        status(|| with_group(group, |g| {
            g.shutdown_now();
            Ok(())
        }))
    }
}

/// Waits until the group has terminated (shut down, every channel closed and its handlers
/// run, the loops it owns stopped and joined), for at most `timeout_ms` milliseconds
/// (negative: forever). Returns 0 once terminated (also again later).
///
/// Thread safety: safe from any thread but the group's own (`NX_EDEADLK` there, never a
/// hang: the thread would wait for itself).
///
/// Errors: `NX_ETIMEDOUT` (not terminated in time), `NX_EDEADLK`, `NX_EINVAL`,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_await_termination(
    group: *mut nx_aio_group_t,
    timeout_ms: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| with_group(group, |g| {
            match g.await_termination(wait_millis(timeout_ms)) {
                Ok(true) => Ok(()),
                Ok(false) => Err(NX_ETIMEDOUT),
                Err(e) => Err(code(e)),
            }
        }))
    }
}

/// Whether the group is shut down (it may not have terminated yet): 1 or 0, or a negative
/// error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_is_shutdown(group: *mut nx_aio_group_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_group(group, |g| Ok(g.is_shutdown())))
    }
}

/// Whether the group has terminated: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_is_terminated(group: *mut nx_aio_group_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_group(group, |g| Ok(g.is_terminated())))
    }
}

/// Sets how many blocking threads run the group's file I/O (at least 1; default 2), named
/// `nioxide-aio-file-N` with asynchronous signals blocked, started when the first file opens.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (0 threads, or the pool has started), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_set_file_threads(
    group: *mut nx_aio_group_t,
    threads: usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| with_group(group, |g| g.set_file_threads(threads).map_err(code)))
    }
}

/// Frees the group: shuts it down now if needed (as `nx_aio_group_shutdown_now`), waits for
/// its termination (joining the threads it owns), then invalidates the handle; every later
/// call with it returns `NX_EBADHANDLE`. Free the group's channels' handles too (before or
/// after). In a forked child it only invalidates the handle.
///
/// Thread safety: safe from any thread but the group's own (`NX_EDEADLK`: nothing is shut
/// down and the handle stays valid).
///
/// Errors: `NX_EINVAL` (NULL or not a group), `NX_EDEADLK`, `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_group_free(group: *mut nx_aio_group_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let object = handle::get(group)?;
            if let Some(g) = object.unforked() {
                // On a group thread the wait below would deadlock: refuse before shutting
                // anything down.
                g.await_termination(Some(std::time::Duration::ZERO)).map_err(code)?;
                g.shutdown_now();
                g.await_termination(None).map_err(code)?;
            }
            handle::remove(group)?;
            Ok(())
        })
    }
}
