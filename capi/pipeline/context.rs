//! Handler contexts in C: `nx_context_*` over `nioxide_core::pipeline::Context` (Netty's
//! `ChannelHandlerContext`).
//!
//! A context handle is what every callback of a C handler gets. Inbound events fired here go
//! to the next handler towards the tail; outbound operations started here go to the next
//! handler towards the head. On the channel's loop thread the next handler runs inside the
//! call; from any other thread the call is queued to the loop and keeps its order. The handle
//! belongs to nioxide: it works until the handler's `handler_removed` has returned and no
//! callback of that handler is on the stack any more (so a handler that removes itself in a
//! callback may still pass the event on), then calls return `NX_ECLOSED`, also once the
//! channel is torn down and the handle freed (a pointer that never was a context handle is
//! `NX_EBADHANDLE`).

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, c_int, c_void};

use libc::{sockaddr, socklen_t};
use nioxide_core::pipeline::Context;

use super::{
    Ops, address_in, context_of, failure, handle_of, message_event, message_of, promise_opt,
    with_context_object, write_copy, write_owned,
};
use crate::args::{Out, status};
use crate::error::NX_EINVAL;
use crate::nx_ffi_boundary;
use crate::types::{
    ContextObject, nx_channel_t, nx_context_t, nx_free_cb, nx_message_t, nx_promise_t,
};

/// Runs `f` with the context behind a C handle.
fn with_context(ctx: *mut nx_context_t, f: impl FnOnce(&Context) -> Result<(), c_int>) -> c_int {
    status(|| super::with_context_ref(ctx, f)?)
}

/// Stores the handle of the context's channel in `*channel_out`: the handle the user holds if
/// any, else one that belongs to nioxide until the channel is torn down (`nx_channel_retain`
/// makes it yours). On error `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED` (the handler was removed, or the channel is torn down),
/// `NX_EBADHANDLE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_channel(
    ctx: *mut nx_context_t,
    channel_out: *mut *mut nx_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            let ctx = context_of(ctx)?;
            out.set(handle_of(ctx.channel())?);
            Ok(())
        })
    }
}

/// Stores the context's name in its pipeline in `*name_out`: a NUL-terminated string that
/// stays valid while the handle does. On error `*name_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_name(ctx: *mut nx_context_t, name_out: *mut *const c_char) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(name_out)?;
            let name = with_context_object(ctx, |o: &ContextObject| {
                o.name.get().map(|n| n.as_ptr()).ok_or(crate::error::NX_EBADHANDLE)
            })?;
            out.set(name);
            Ok(())
        })
    }
}

/// Removes this context's handler from its pipeline (Netty's
/// `ctx.pipeline().remove(ctx.handler())`): its `handler_removed` runs (inside this call on the
/// loop thread, else queued) and no event reaches it afterwards.
///
/// Thread safety: safe from any thread, also from the handler's own callbacks.
///
/// Errors: `NX_EINVAL` (not in the pipeline any more), `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_remove(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| c.pipeline().remove_context(c).map_err(crate::args::code))
    }
}

/// Passes `channel_registered` to the next handler towards the tail.
///
/// Thread safety: safe from any thread (queued from other threads than the loop's).
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_channel_registered(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { c.fire_channel_registered(); Ok(()) }) }
}

/// Passes `channel_unregistered` on, as `nx_context_fire_channel_registered`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_channel_unregistered(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { c.fire_channel_unregistered(); Ok(()) }) }
}

/// Passes `channel_active` on, as `nx_context_fire_channel_registered`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_channel_active(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { c.fire_channel_active(); Ok(()) }) }
}

/// Passes `channel_inactive` on, as `nx_context_fire_channel_registered`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_channel_inactive(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { c.fire_channel_inactive(); Ok(()) }) }
}

/// Passes a read message on to the next handler towards the tail (Netty's
/// `ctx.fireChannelRead`). `msg` is not consumed: nioxide takes a reference of its own (bytes
/// are shared, not copied), so a lent handle stays the callback's and an owned one the
/// caller's to release.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or not a message), `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_channel_read(
    ctx: *mut nx_context_t,
    msg: *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| { c.fire_channel_read(message_of(msg)?); Ok(()) })
    }
}

/// Passes `channel_read_complete` on, as `nx_context_fire_channel_registered`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_channel_read_complete(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { c.fire_channel_read_complete(); Ok(()) }) }
}

/// Passes a user event on: a user message (`nx_message_new_user`; built-in events keep their
/// `NX_EVENT_*` meaning for the handlers after). `event` is not consumed.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (not a user message), `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_user_event(
    ctx: *mut nx_context_t,
    event: *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| { c.fire_user_event_triggered(message_event(message_of(event)?)?); Ok(()) })
    }
}

/// Passes `channel_writability_changed` on, as `nx_context_fire_channel_registered`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_channel_writability_changed(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { c.fire_channel_writability_changed(); Ok(()) }) }
}

/// Passes an exception on: `error` is a negative code (`-errno` or `NX_E*`). What reaches the
/// tail is reported (standard error and `nx_pipeline_unhandled_exceptions`); the channel
/// stays open.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (also a non-negative `error`), `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_fire_exception_caught(ctx: *mut nx_context_t, error: c_int) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| {
            if error >= 0 {
                return Err(NX_EINVAL);
            }
            { c.fire_exception_caught(failure(error)); Ok(()) }
        })
    }
}

/// Binds to `local` (borrowed during the call; `AF_INET`/`AF_INET6`, or `AF_UNIX` naming a
/// local channel), through the handlers towards the head. `promise` (NULL for none, which
/// fires the exception event on failure) is completed when done; nioxide takes a reference,
/// the caller keeps its handle.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (a bad address, or a promise that is not `nx_promise_new`'s),
/// `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_bind(
    ctx: *mut nx_context_t,
    local: *const sockaddr,
    local_len: socklen_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| {
            let (local, promise) = (address_in(local, local_len)?, promise_opt(promise)?);
            { Ops::bind(c, local, promise); Ok(()) }
        })
    }
}

/// Connects to `remote` (from `local`, if not NULL; both borrowed during the call), through
/// the handlers towards the head; `promise` as `nx_context_bind`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_context_bind`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_connect(
    ctx: *mut nx_context_t,
    remote: *const sockaddr,
    remote_len: socklen_t,
    local: *const sockaddr,
    local_len: socklen_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| {
            let remote = address_in(remote, remote_len)?;
            let local = if local.is_null() { None } else { Some(address_in(local, local_len)?) };
            { Ops::connect(c, remote, local, promise_opt(promise)?); Ok(()) }
        })
    }
}

/// Disconnects (a TCP channel closes), through the handlers towards the head; `promise` as
/// `nx_context_bind`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_disconnect(
    ctx: *mut nx_context_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| { Ops::disconnect(c, promise_opt(promise)?); Ok(()) })
    }
}

/// Closes the channel, through the handlers towards the head. Safe anywhere, inside any
/// callback too; idempotent (a later close's promise completes with the first). `promise` as
/// `nx_context_bind`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_close(ctx: *mut nx_context_t, promise: *mut nx_promise_t) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| { Ops::close(c, promise_opt(promise)?); Ok(()) })
    }
}

/// Asks for a read batch, through the handlers towards the head (with auto-read off, each
/// read allows one batch; calls before it is served coalesce).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_read(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { Ops::read(c); Ok(()) }) }
}

/// Writes `msg` through the handlers towards the head; it waits in the channel's outbound
/// buffer until a flush. `msg` is not consumed (nioxide takes a reference). `promise` (NULL:
/// none, Netty's void promise) completes once the bytes went to the kernel, or fails once
/// (`NX_ECLOSED` on close, the OS error on a reset, `-ENOBUFS` past the hard cap, `NX_EINVAL`
/// for a message a TCP channel cannot write); a failed write without a promise fires the
/// exception event. Bytes count against the water marks at this call, from any thread.
///
/// Thread safety: safe from any thread; writes from one thread keep their order.
///
/// Errors: `NX_EINVAL` (NULL or not a message; a promise that is not `nx_promise_new`'s),
/// `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_write(
    ctx: *mut nx_context_t,
    msg: *mut nx_message_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| { Ops::write(c, message_of(msg)?, promise_opt(promise)?); Ok(()) })
    }
}

/// Writes a copy of `len` bytes at `data` (read during the call only), as `nx_context_write`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_context_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_write_bytes(
    ctx: *mut nx_context_t,
    data: *const c_void,
    len: usize,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| write_copy(c, data, len, promise))
    }
}

/// Writes `len` bytes at `data` without a copy, as `nx_context_write`: the memory is
/// nioxide's to read until it calls `release(data)` (if not NULL), exactly once, once the
/// write is done or failed, on the thread that drops it. On error nioxide keeps nothing and
/// calls nothing.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_context_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_write_owned(
    ctx: *mut nx_context_t,
    data: *const c_void,
    len: usize,
    release: nx_free_cb,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| write_owned(c, data, len, release, promise))
    }
}

/// Flushes what was written, through the handlers towards the head.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_flush(ctx: *mut nx_context_t) -> c_int {
    nx_ffi_boundary! { with_context(ctx, |c| { Ops::flush(c); Ok(()) }) }
}

/// `nx_context_write`, then `nx_context_flush`.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_context_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_context_write_and_flush(
    ctx: *mut nx_context_t,
    msg: *mut nx_message_t,
    promise: *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        with_context(ctx, |c| {
            Ops::write(c, message_of(msg)?, promise_opt(promise)?);
            { Ops::flush(c); Ok(()) }
        })
    }
}
