//! Readiness watches in C: `nx_loop_watch_*` and `nx_watch_*` over
//! `nioxide_core::event_loop::Watch` (libuv's `uv_poll_t`).
//!
//! A watch serves a channel of the Selector model, or a raw descriptor the user owns, from an
//! event loop: the callback runs on the loop's thread while the channel is ready for one of
//! the watch's interest ops (level-triggered). The watch is a checked handle the caller owns
//! until `nx_watch_free`; the callback gets that same handle.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nioxide_core::Result as CoreResult;
use nioxide_core::channel::Channel;
use nioxide_core::event_loop::{EventLoop, Watch, WatchCallback};

use crate::args::{Out, code, predicate, status};
use crate::attachment::{CAttachment, new_late};
use crate::channel::{ChannelHandle, channel_of};
use crate::error::{NX_ECLOSED, NX_EINVAL};
use crate::event_loop::loop_of;
use crate::handle::{self, RawHandle};
use crate::nx_ffi_boundary;
use crate::selector::{NX_OP_ACCEPT, NX_OP_CONNECT, NX_OP_READ, NX_OP_WRITE};
use crate::types::{
    nx_free_cb, nx_loop_t, nx_server_socket_channel_t, nx_socket_channel_t, nx_watch_t,
};

/// A watch callback: runs on the loop's thread with the ops the channel is ready for
/// (`NX_OP_*` bits; error and hang-up readiness report every interest op). `watch` is the
/// handle the watch function returned, `attachment` the pointer given with it, unchanged. It
/// may change the interest, close or free the watch. A callback must not `longjmp` or throw
/// through nioxide.
#[allow(non_camel_case_types)]
pub type nx_watch_cb =
    Option<unsafe extern "C" fn(watch: *mut nx_watch_t, ready_ops: u32, attachment: *mut c_void)>;

/// Runs `f` with the watch behind a C handle, borrowed for the call (`handle::with`: checked
/// with loads alone on the loop's running thread); `NX_EFORKED` in a forked child.
fn with_watch<R>(
    watch: *mut nx_watch_t,
    f: impl FnOnce(&Watch) -> Result<R, c_int>,
) -> Result<R, c_int> {
    handle::with(watch, |late| f(late.get()?))?
}

/// The watch, if it is still active (else `NX_ECLOSED`).
fn active(watch: &Watch) -> Result<&Watch, c_int> {
    if !watch.is_active() {
        return Err(NX_ECLOSED);
    }
    Ok(watch)
}

/// Checks interest ops from C: unknown bits are `NX_EINVAL` (core then refuses ops the channel
/// does not support with `NX_EOPS`).
fn checked_ops(ops: u32) -> Result<u32, c_int> {
    if ops & !(NX_OP_READ | NX_OP_WRITE | NX_OP_CONNECT | NX_OP_ACCEPT) != 0 {
        return Err(NX_EINVAL);
    }
    Ok(ops)
}

/// The shared body of the `nx_loop_watch_*` functions: `make` asks core for the watch. On
/// error nothing is kept and nothing freed.
#[allow(clippy::too_many_arguments)]
fn watch(
    event_loop: *mut nx_loop_t,
    ops: u32,
    callback: nx_watch_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    watch_out: *mut *mut nx_watch_t,
    make: impl FnOnce(&EventLoop, u32, WatchCallback) -> CoreResult<Watch>,
) -> Result<(), c_int> {
    let out = Out::new(watch_out)?;
    let callback = callback.ok_or(NX_EINVAL)?;
    let ops = checked_ops(ops)?;
    let event_loop = loop_of(event_loop)?;
    let attachment = CAttachment::new(attachment, attachment_free);
    // A loop thread may see the descriptor ready before the handle names the watch: until
    // then the callback lets the event pass (level-triggered, it comes again next turn), so
    // the user's callback never gets a handle that does not work yet.
    let started = Arc::new(AtomicBool::new(false));
    let armed = started.clone();
    new_late(
        out,
        &event_loop.event_loop,
        attachment,
        |raw: RawHandle, attachment: Arc<CAttachment>| {
            let core_callback: WatchCallback =
                Box::new(move |_: &EventLoop, _: &Watch, ready: u32| {
                    if !armed.load(Ordering::Acquire) {
                        return;
                    }
                    // SAFETY: the user gave us this function to call with this attachment on the
                    // loop.
                    unsafe { callback(raw.as_ptr(), ready, attachment.ptr()) }
                });
            make(&event_loop.event_loop, ops, core_callback)
        },
        |_| started.store(true, Ordering::Release),
    )
}

/// The shared body of `nx_loop_watch_socket_channel` and
/// `nx_loop_watch_server_socket_channel`.
fn watch_channel<H>(
    event_loop: *mut nx_loop_t,
    channel: *mut H,
    ops: u32,
    callback: nx_watch_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    watch_out: *mut *mut nx_watch_t,
) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let channel: Channel = channel_of(channel)?.into();
    watch(
        event_loop,
        ops,
        callback,
        attachment,
        attachment_free,
        watch_out,
        |lp, ops, cb| lp.watch(channel, ops, cb),
    )
}

/// Watches a raw descriptor the user owns, `fd`, for `ops` (`NX_OP_READ`, `NX_OP_WRITE`, or
/// both), level-triggered like libuv's `uv_poll_t`: `callback` runs on the loop's thread at
/// each turn in which `fd` is ready; readiness the callback did not consume is reported again
/// (nioxide re-arms the descriptor after each event, one `epoll_ctl`). nioxide never reads,
/// writes or closes `fd`: keep it open until the watch is closed, and close the watch before
/// closing `fd`. An active, ref'd watch keeps an `NX_RUN_DEFAULT` run going.
///
/// Ownership: on success `*watch_out` is a new watch that the caller owns and must release
/// with `nx_watch_free`. The watch owns `attachment`: `attachment_free(attachment)` (if not
/// NULL) is called exactly once, when the watch ends (by `nx_watch_close`, `nx_watch_free`,
/// the loop's shutdown, or the watched channel's close, also from inside the callback), on
/// the thread that ends it, or on the loop's thread after the callback if it was running
/// then. On error nioxide keeps nothing and
/// frees nothing, and `*watch_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL loop, callback or `watch_out`, negative `fd`, unknown op bits),
/// `NX_EOPS` (`NX_OP_CONNECT` or `NX_OP_ACCEPT`), `NX_EREJECTED` (the loop is shutting down),
/// `NX_EBADHANDLE`, `NX_EFORKED`, `-EBADF`, `-EPERM` (a descriptor epoll cannot watch, such
/// as a regular file), `-EEXIST` (already watched by this loop), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_watch_fd(
    r#loop: *mut nx_loop_t,
    fd: c_int,
    ops: u32,
    callback: nx_watch_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    watch_out: *mut *mut nx_watch_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            watch(r#loop, ops, callback, attachment, attachment_free, watch_out, |lp, ops, cb| {
                lp.watch_fd(fd, ops, cb)
            })
        })
    }
}

/// Watches a socket channel for `ops` (`NX_OP_READ`, `NX_OP_WRITE`, `NX_OP_CONNECT`),
/// level-triggered, without a system call per event: `callback` runs on the loop's thread
/// at each turn in which the channel is ready for one of them; do the I/O with the channel's
/// own functions there. The channel must be non-blocking and registered with no selector; it
/// stays the caller's (free it after the watch). `nx_watch_close` leaves it open, but the
/// loop's shutdown closes it (phase 3). Ownership and the rest as `nx_loop_watch_fd`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EOPS` (`NX_OP_ACCEPT`), `NX_EBLOCKINGMODE` (a blocking channel),
/// `NX_EREGISTERED` (registered with a selector or another loop), `NX_ECLOSED` (the channel
/// is closed), `NX_EREJECTED`, `NX_EBADHANDLE`, `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_watch_socket_channel(
    r#loop: *mut nx_loop_t,
    channel: *mut nx_socket_channel_t,
    ops: u32,
    callback: nx_watch_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    watch_out: *mut *mut nx_watch_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            watch_channel(r#loop, channel, ops, callback, attachment, attachment_free, watch_out)
        })
    }
}

/// Watches a server socket channel for `NX_OP_ACCEPT`: `callback` runs on the loop's thread
/// while a connection is waiting (accept it with `nx_server_socket_channel_accept`). The
/// channel must be non-blocking, bound, and registered with no selector. Ownership and the
/// rest as `nx_loop_watch_socket_channel`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_loop_watch_socket_channel`; `NX_EOPS` for any op but `NX_OP_ACCEPT`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_loop_watch_server_socket_channel(
    r#loop: *mut nx_loop_t,
    channel: *mut nx_server_socket_channel_t,
    ops: u32,
    callback: nx_watch_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    watch_out: *mut *mut nx_watch_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            watch_channel(r#loop, channel, ops, callback, attachment, attachment_free, watch_out)
        })
    }
}

/// Replaces the watch's interest ops (0 pauses it); takes effect at the loop's next turn. A
/// loop waiting for events is woken, so readiness it has already seen (data that arrived
/// while the watch had no read interest) is served at once.
///
/// Thread safety: safe from any thread, also from the watch's own callback.
///
/// Errors: `NX_EINVAL` (unknown bits), `NX_EOPS` (ops the channel does not support),
/// `NX_ECLOSED` (the watch is closed), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_watch_set_interest(watch: *mut nx_watch_t, ops: u32) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let ops = checked_ops(ops)?;
            with_watch(watch, |w| active(w)?.set_interest(ops).map_err(code))
        })
    }
}

/// Stores the watch's interest ops in `*ops_out` (unchanged on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_watch_interest(watch: *mut nx_watch_t, ops_out: *mut u32) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(ops_out)?;
            out.set(with_watch(watch, |w| active(w)?.interest().map_err(code))?);
            Ok(())
        })
    }
}

/// Makes the watch keep an `NX_RUN_DEFAULT` run going (`ref` non-zero, the default) or not
/// (0): libuv's `uv_ref`/`uv_unref`. A closed watch keeps nothing alive either way.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_watch_set_ref(watch: *mut nx_watch_t, r#ref: c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            with_watch(watch, |w| {
                w.set_ref(r#ref != 0);
                Ok(())
            })
        })
    }
}

/// Whether the watch is ref'd (see `nx_watch_set_ref`): 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_watch_has_ref(watch: *mut nx_watch_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_watch(watch, |w| Ok(w.has_ref())))
    }
}

/// Whether the watch is active (not closed, by `nx_watch_close` or the loop's shutdown): 1 or
/// 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_watch_is_active(watch: *mut nx_watch_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_watch(watch, |w| Ok(w.is_active())))
    }
}

/// Stops watching: the callback is not called again once this returns (unless it is running
/// on the loop's thread right now, which finishes), and the attachment is freed (on this
/// thread, or on the loop's thread after a running callback). A watched channel stays open; a
/// raw descriptor is never closed by nioxide. Idempotent: returns 0 every time, also in a
/// forked child (where it does nothing). The handle stays valid until `nx_watch_free`.
///
/// Thread safety: safe from any thread, also from the watch's own callback.
///
/// Errors: `NX_EINVAL` (NULL or not a watch), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_watch_close(watch: *mut nx_watch_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(watch) = handle::get(watch)?.unforked() {
                watch.close();
            }
            Ok(())
        })
    }
}

/// Frees the watch: closes it if needed (as `nx_watch_close`), then invalidates the handle;
/// every later call with it, a second free included, returns `NX_EBADHANDLE`. Allowed in a
/// forked child (without touching the parent's epoll set).
///
/// Thread safety: safe from any thread, also from the watch's own callback.
///
/// Errors: `NX_EINVAL` (NULL or not a watch), `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_watch_free(watch: *mut nx_watch_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(watch) = handle::remove(watch)?.unforked() {
                watch.close();
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_checked() {
        assert_eq!(checked_ops(NX_OP_READ | NX_OP_WRITE), Ok(5));
        assert_eq!(checked_ops(2), Err(NX_EINVAL));
        assert_eq!(checked_ops(1 << 31), Err(NX_EINVAL));
    }
}
