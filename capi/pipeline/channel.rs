//! Pipeline channels in C: `nx_channel_*` over `nioxide_core::pipeline::Channel` (Netty's
//! `Channel`): state and queries, options, the attachment, and the operations that start at
//! the pipeline's tail (write, flush, read, close, shutdown of one side).
//!
//! A channel belongs to one loop for its whole life; its handlers run on that loop's thread.
//! Every function is safe from any thread: operations from other threads are queued to the
//! loop and keep their order; on the loop's thread they run inside the call.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use libc::{sockaddr_storage, socklen_t};
use nioxide_core::event_loop::Future;
use nioxide_core::pipeline::{Channel, ChannelAddress, ChannelKind, CloseWhen};

use super::config;
use super::{
    Ops, address_to, binding, channel_of, handle_of, message_of, promise_opt, write_copy,
    write_owned,
};
use crate::args::{OptOut, Out, code, predicate, status};
use crate::attachment::CAttachment;
use crate::error::{NX_EINVAL, NX_ENOTBOUND};
use crate::handle::{self, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{
    PromiseObject, nx_channel_t, nx_free_cb, nx_loop_t, nx_message_t, nx_promise_t,
};

/// `nx_channel_kind`: a TCP connection.
pub const NX_CHANNEL_TCP: c_int = 1;
/// A TCP listener.
pub const NX_CHANNEL_TCP_SERVER: c_int = 2;
/// An in-memory connection to a local server channel.
pub const NX_CHANNEL_LOCAL: c_int = 3;
/// An in-memory listener, bound to a name in the process-wide local registry. Its auto-read
/// gates accepting, as on TCP: with `NX_OPTION_AUTO_READ` off, new connections wait (their
/// clients are connected already) until `nx_channel_read`.
pub const NX_CHANNEL_LOCAL_SERVER: c_int = 4;
/// A channel with no I/O, for testing handlers (`nx_embedded_channel_new`).
pub const NX_CHANNEL_EMBEDDED: c_int = 5;

/// `nx_channel_close_when`: close whatever the outcome (Netty's
/// `ChannelFutureListener.CLOSE`).
pub const NX_CLOSE_ALWAYS: c_int = 1;
/// `nx_channel_close_when`: close only if the future failed (`CLOSE_ON_FAILURE`).
pub const NX_CLOSE_ON_FAILURE: c_int = 2;

/// A task run with its channel (`nx_channel_schedule`), on the channel's loop thread (an
/// embedded channel's: its virtual clock, in `nx_embedded_channel_advance_time`).
#[allow(non_camel_case_types)]
pub type nx_channel_task_cb =
    Option<unsafe extern "C" fn(channel: *mut nx_channel_t, attachment: *mut c_void)>;

/// The C number of a channel kind.
pub(crate) fn kind_number(kind: ChannelKind) -> c_int {
    match kind {
        ChannelKind::Tcp => NX_CHANNEL_TCP,
        ChannelKind::TcpServer => NX_CHANNEL_TCP_SERVER,
        ChannelKind::Local => NX_CHANNEL_LOCAL,
        ChannelKind::LocalServer => NX_CHANNEL_LOCAL_SERVER,
        ChannelKind::Embedded => NX_CHANNEL_EMBEDDED,
    }
}

/// Core's kind for a C number.
pub(crate) fn kind_of(number: c_int) -> Result<ChannelKind, c_int> {
    Ok(match number {
        NX_CHANNEL_TCP => ChannelKind::Tcp,
        NX_CHANNEL_TCP_SERVER => ChannelKind::TcpServer,
        NX_CHANNEL_LOCAL => ChannelKind::Local,
        NX_CHANNEL_LOCAL_SERVER => ChannelKind::LocalServer,
        _ => return Err(NX_EINVAL),
    })
}

/// Stores a new handle for a future nioxide completes in `out` (if not NULL); an unwanted
/// future is just dropped.
pub(crate) fn store_future(future: Future, out: *mut *mut nx_promise_t) -> Result<(), c_int> {
    if out.is_null() {
        return Ok(());
    }
    let ptr = handle::insert(Arc::new(PromiseObject::task(future)))?;
    OptOut::new(out).set(ptr);
    Ok(())
}

/// Stores a count of the channel's (`f`) in `*out`.
fn count_out(channel: *mut nx_channel_t, out: *mut usize, f: fn(&Channel) -> usize) -> c_int {
    status(|| {
        let out = Out::new(out)?;
        out.set(f(&channel_of(channel)?));
        Ok(())
    })
}

/// Runs `f` with the channel behind a C handle.
fn with_channel(
    channel: *mut nx_channel_t,
    f: impl FnOnce(&Channel) -> Result<(), c_int>,
) -> c_int {
    status(|| f(&channel_of(channel)?))
}

/// Stores the channel's id (unique in the process) in `*id_out`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_id(channel: *mut nx_channel_t, id_out: *mut u64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(id_out)?;
            out.set(channel_of(channel)?.id());
            Ok(())
        })
    }
}

/// The channel's kind: `NX_CHANNEL_TCP`, `NX_CHANNEL_TCP_SERVER`, `NX_CHANNEL_LOCAL`,
/// `NX_CHANNEL_LOCAL_SERVER` or `NX_CHANNEL_EMBEDDED` (positive), or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_kind(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        channel_of(channel).map_or_else(|e| e, |c| kind_number(c.kind()))
    }
}

/// Stores in `*parent_out` the server channel that accepted this one (its handle belongs to
/// nioxide unless you hold it), or NULL if it has none.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED` (the parent is torn down), `NX_EBADHANDLE`,
/// `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_parent(
    channel: *mut nx_channel_t,
    parent_out: *mut *mut nx_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(parent_out)?;
            let channel = channel_of(channel)?;
            out.set(match channel.parent() {
                Some(parent) => handle_of(parent)?,
                None => std::ptr::null_mut(),
            });
            Ok(())
        })
    }
}

/// Stores in `*loop_out` the event loop the channel belongs to, where its handlers run
/// (Netty's `channel.eventLoop()`): a handle that belongs to nioxide, the same for every call
/// on this channel, valid until the channel is torn down (its close future completed). Never
/// free it (`nx_loop_free` refuses it); tasks, timers and promises work on it as on any loop
/// handle, and so does `nx_loop_close`, which closes the loop itself (with every channel on
/// it). An embedded channel's loop is its own, which the thread driving the channel runs
/// (`nx_embedded_channel_run_pending_tasks`). On error `*loop_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED` (the channel is torn down), `NX_EBADHANDLE`,
/// `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_event_loop(
    channel: *mut nx_channel_t,
    loop_out: *mut *mut nx_loop_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(loop_out)?;
            let channel = channel_of(channel)?;
            out.set(binding(&channel).loop_handle(&channel)?.as_ptr());
            Ok(())
        })
    }
}

/// Whether the channel is open (not closed yet): 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_is_open(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! { predicate(|| Ok(channel_of(channel)?.is_open())) }
}

/// Whether the channel is active (connected, bound for a server, and open): 1 or 0, or a
/// negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_is_active(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! { predicate(|| Ok(channel_of(channel)?.is_active())) }
}

/// Whether a write now would be queued within the high water mark: 0 from the write that
/// passes the high mark until the queued bytes drop below the low mark (the
/// `channel_writability_changed` event follows each change later, one per crossing), and once
/// the channel is closed. 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_is_writable(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! { predicate(|| Ok(channel_of(channel)?.is_writable())) }
}

/// Stores how many bytes may be queued before the channel becomes unwritable (0 if it is)
/// in `*bytes_out`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_bytes_before_unwritable(
    channel: *mut nx_channel_t,
    bytes_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! { count_out(channel, bytes_out, Channel::bytes_before_unwritable) }
}

/// Stores how many queued bytes must drain before the channel becomes writable (0 if it is)
/// in `*bytes_out`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_bytes_before_writable(
    channel: *mut nx_channel_t,
    bytes_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! { count_out(channel, bytes_out, Channel::bytes_before_writable) }
}

/// Stores the bytes queued for writing now (each message with a fixed per-entry overhead)
/// in `*bytes_out`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_queued_bytes(
    channel: *mut nx_channel_t,
    bytes_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! { count_out(channel, bytes_out, Channel::queued_bytes) }
}

/// Stores an address in `*addr_out`/`*len_out` (`AF_UNIX` with the name for a local
/// channel).
fn address_out(
    address: Option<ChannelAddress>,
    addr_out: *mut sockaddr_storage,
    len_out: *mut socklen_t,
) -> Result<(), c_int> {
    let (addr, len) = (Out::new(addr_out)?, Out::new(len_out)?);
    let address = address.ok_or(NX_ENOTBOUND)?;
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: sockaddr_storage = unsafe { std::mem::zeroed() };
    len.set(address_to(&address, &mut storage));
    addr.set(storage);
    Ok(())
}

/// Stores the channel's local address in `*addr_out` and its length in `*len_out`
/// (`AF_UNIX` with the registry name in `sun_path` for a local channel). On error both are
/// unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_ENOTBOUND` (none yet, or closed), `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_local_address(
    channel: *mut nx_channel_t,
    addr_out: *mut sockaddr_storage,
    len_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| address_out(channel_of(channel)?.local_address(), addr_out, len_out))
    }
}

/// Stores the peer's address, as `nx_channel_local_address`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_ENOTBOUND` (not connected), `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_remote_address(
    channel: *mut nx_channel_t,
    addr_out: *mut sockaddr_storage,
    len_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| address_out(channel_of(channel)?.remote_address(), addr_out, len_out))
    }
}

/// Stores in `*future_out` a new handle for the channel's close future, which completes
/// (successfully, once) after the channel is closed and torn down: after
/// `channel_unregistered` and every `handler_removed`. The handle is the caller's
/// (`nx_promise_free`); only nioxide completes the future.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_close_future(
    channel: *mut nx_channel_t,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            Out::new(future_out)?;
            store_future(channel_of(channel)?.close_future(), future_out)
        })
    }
}

/// Sets an option (`NX_OPTION_*`, see there for the values). Switching `NX_OPTION_AUTO_READ`
/// on asks for a read; off, reading stops after the current batch.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown option, value out of range), `NX_ENOOPT` (a
/// socket option on a channel without a socket), OS errors, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_set_option(
    channel: *mut nx_channel_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            let option = config::option(option, value, ch.water_marks())?;
            ch.set_option(option).map_err(code)
        })
    }
}

/// Stores an option's value in `*value_out` (booleans as 0 or 1; see `NX_OPTION_*`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown or set-only option), `NX_ENOOPT`, OS errors,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_option(
    channel: *mut nx_channel_t,
    option: c_int,
    value_out: *mut i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(value_out)?;
            out.set(config::value(&channel_of(channel)?, option)?);
            Ok(())
        })
    }
}

/// Sets the channel's attachment (NULL for none), replacing the previous one, whose
/// `attachment_free` runs now, on this thread. The channel owns `attachment`:
/// `attachment_free(attachment)` (if not NULL) runs exactly once: when it is replaced, or on
/// the channel's loop thread once the channel is torn down.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED` (nothing is kept then).
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_set_attachment(
    channel: *mut nx_channel_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            let old = binding(ch).set_attachment(Some(CAttachment::new(attachment, attachment_free)));
            drop(old);
            Ok(())
        })
    }
}

/// Stores the channel's attachment in `*attachment_out` (NULL if none); it stays the
/// channel's.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_attachment(
    channel: *mut nx_channel_t,
    attachment_out: *mut *mut c_void,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(attachment_out)?;
            out.set(binding(&channel_of(channel)?).attachment());
            Ok(())
        })
    }
}

/// Writes `msg` from the pipeline's tail (see `nx_context_write`: `msg` is not consumed;
/// `promise`, NULL for none, completes when the bytes went to the kernel or fails once).
///
/// Thread safety: safe from any thread; writes from one thread keep their order.
///
/// Errors: `NX_EINVAL` (NULL or not a message; a promise that is not `nx_promise_new`'s),
/// `NX_EBADHANDLE`, `NX_EFORKED`. Failures of the write itself go to its promise.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_write(
    channel: *mut nx_channel_t,
    msg: *mut nx_message_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            let (msg, promise) = (message_of(msg)?, promise_opt(promise)?);
            ch.write(msg, promise);
            Ok(())
        })
    }
}

/// Writes a copy of `len` bytes at `data` (read during the call only), as
/// `nx_channel_write`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_channel_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_write_bytes(
    channel: *mut nx_channel_t,
    data: *const c_void,
    len: usize,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| write_copy(&ch.pipeline(), data, len, promise))
    }
}

/// Writes `len` bytes at `data` without a copy, as `nx_channel_write`: the memory is
/// nioxide's to read until it calls `release(data)` (if not NULL), exactly once, once the
/// write is done or failed, on the thread that lets go of it. On error nioxide keeps nothing
/// and calls nothing.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_channel_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_write_owned(
    channel: *mut nx_channel_t,
    data: *const c_void,
    len: usize,
    release: nx_free_cb,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| write_owned(&ch.pipeline(), data, len, release, promise))
    }
}

/// Flushes what was written, from the pipeline's tail.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_flush(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            ch.flush();
            Ok(())
        })
    }
}

/// `nx_channel_write`, then `nx_channel_flush`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_channel_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_write_and_flush(
    channel: *mut nx_channel_t,
    msg: *mut nx_message_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            ch.write_and_flush(message_of(msg)?, promise_opt(promise)?);
            Ok(())
        })
    }
}

/// Asks for a read batch from the pipeline's tail (with auto-read off, each call allows one
/// batch; calls before it is served coalesce).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_read(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            ch.read();
            Ok(())
        })
    }
}

/// Closes the channel from the pipeline's tail: a request (returns 0 every time, also on a
/// closed channel). Queued writes fail with `NX_ECLOSED`; on a later turn come
/// `channel_inactive` (if it was active), `channel_unregistered`, each handler's
/// `handler_removed` and the close future. `promise` (NULL for none) completes after that.
/// Safe from anywhere, inside any callback too.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (a promise that is not `nx_promise_new`'s), `NX_EBADHANDLE`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_close(
    channel: *mut nx_channel_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            Ops::close(&ch.pipeline(), promise_opt(promise)?);
            Ok(())
        })
    }
}

/// Closes the channel once `future` completes (Netty's `ChannelFutureListener.CLOSE` with
/// `NX_CLOSE_ALWAYS`, `CLOSE_ON_FAILURE` with `NX_CLOSE_ON_FAILURE`): typically a write's
/// promise. The close runs on the future's loop on a later turn, never inside this call.
/// `future` is only read during the call; the caller keeps its handle.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL, or `when` is neither constant), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_close_when(
    channel: *mut nx_channel_t,
    future: *mut nx_promise_t,
    when: c_int,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            let when = match when {
                NX_CLOSE_ALWAYS => CloseWhen::Always,
                NX_CLOSE_ON_FAILURE => CloseWhen::OnFailure,
                _ => return Err(NX_EINVAL),
            };
            let future = handle::with(future, |o: &PromiseObject| o.promise().cloned())??;
            ch.close_when(&future, when);
            Ok(())
        })
    }
}

/// Shuts the output down (TCP: a half-close, the peer reads end of stream) and fires
/// `NX_EVENT_OUTPUT_SHUTDOWN`; queued writes fail with `NX_ESHUTDOWN`. If `future_out` is not
/// NULL, `*future_out` is a new handle (the caller's) for the outcome.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`, `-ENOMEM`; the shutdown's own
/// failure goes to the future.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_shutdown_output(
    channel: *mut nx_channel_t,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| store_future(ch.shutdown_output(), future_out))
    }
}

/// Shuts the input down (reading stops) and fires `NX_EVENT_INPUT_SHUTDOWN`; `future_out` as
/// `nx_channel_shutdown_output`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_channel_shutdown_output`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_shutdown_input(
    channel: *mut nx_channel_t,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| store_future(ch.shutdown_input(), future_out))
    }
}

/// Runs `task(channel, attachment)` after `delay_ms` milliseconds (negative: 0) on the
/// channel's loop thread; an embedded channel's on its virtual clock. If `future_out` is not
/// NULL, `*future_out` is a new handle (the caller's) whose cancel stops the task.
///
/// Ownership: the task owns `attachment`: `attachment_free(attachment)` (if not NULL) runs
/// exactly once, after the task ran (on that thread), or when it is dropped unrun (cancelled,
/// or the loop shut down). On error nioxide keeps nothing and frees nothing.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL task), `NX_EREJECTED` (the loop shuts down), `NX_EBADHANDLE`,
/// `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_schedule(
    channel: *mut nx_channel_t,
    delay_ms: i64,
    task: nx_channel_task_cb,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| {
            let task = task.ok_or(NX_EINVAL)?;
            let raw = RawHandle::from_ptr(handle_of(ch)?);
            let attachment = Arc::new(CAttachment::new(attachment, None));
            let held = attachment.clone();
            let delay = Duration::from_millis(u64::try_from(delay_ms).unwrap_or(0));
            let future = ch
                .schedule(delay, Box::new(move |_: &Channel| {
                    // SAFETY: the user gave us this function to call with this attachment.
                    unsafe { task(raw.as_ptr(), held.ptr()) };
                    drop(held);
                }))
                .map_err(code)?;
            if let Some(free) = attachment_free {
                attachment.arm(free);
            }
            drop(attachment);
            store_future(future, future_out)
        })
    }
}

/// Makes a channel handle that nioxide owns (an accepted channel's, as a callback got it)
/// the caller's: it stays valid after the channel is torn down, until `nx_channel_free`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (already the caller's), `NX_EBADHANDLE` (freed, or the channel was
/// torn down and nioxide freed it), `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_retain(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        with_channel(channel, |ch| binding(ch).retain(RawHandle::from_ptr(channel)))
    }
}

/// Frees the caller's channel handle (from a bootstrap, `nx_embedded_channel_new` or
/// `nx_channel_retain`): closes the channel first if it is open (as `nx_channel_close`; its
/// handlers still get their last events on the loop), then invalidates the handle; later
/// calls with it return `NX_EBADHANDLE`. An embedded channel is closed and its pending work
/// run here, on this thread.
///
/// Thread safety: safe from any thread, also from the channel's own callbacks (not an
/// embedded channel's).
///
/// Errors: `NX_EINVAL` (NULL, not a channel, or a handle nioxide owns), `NX_EBADHANDLE`
/// (freed already).
#[unsafe(no_mangle)]
pub extern "C" fn nx_channel_free(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let ch = handle::with(channel, |o| o.channel.clone())?;
            binding(&ch).release(RawHandle::from_ptr(channel))?;
            let object = handle::remove(channel)?;
            let embedded = nioxide_core::sync::lock(&object.embedded).take();
            let _ = ch.close();
            drop(embedded);
            Ok(())
        })
    }
}
