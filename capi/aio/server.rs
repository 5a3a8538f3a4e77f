//! Asynchronous listeners in C: `nx_aio_server_socket_*` over
//! `nioxide_core::aio::AsynchronousServerSocketChannel` (Java's
//! `AsynchronousServerSocketChannel`).
//!
//! A listener belongs to the loop the group gave it: calls from that loop's thread (its
//! handlers) check the handle with loads alone. An accepted connection is a new
//! `nx_aio_socket_t` the accept's handler (or the future's taker) owns.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use libc::{sockaddr, sockaddr_storage, socklen_t};
use nioxide_core::aio::{AsynchronousServerSocketChannel, AsynchronousSocketChannel};
use nioxide_core::event_loop::Outcome;

use crate::aio::{accept_handler, new_handle, nx_accept_handler_t, open_channel};
use crate::args::{Out, code, predicate, status};
use crate::channel::addr_in;
use crate::error::{NX_EALREADYDONE, NX_ECLOSED, NX_EINVAL, NX_ETIMEDOUT};
use crate::handle;
use crate::nx_ffi_boundary;
use crate::types::{
    PromiseObject, nx_aio_group_t, nx_aio_server_socket_t, nx_aio_socket_t, nx_promise_t,
};

/// Runs `f` with the listener behind a C handle, borrowed for the call.
fn with_server<R>(
    server: *mut nx_aio_server_socket_t,
    f: impl FnOnce(&AsynchronousServerSocketChannel) -> Result<R, c_int>,
) -> Result<R, c_int> {
    crate::aio::with_channel(server, f)
}

/// The listener, unless closed (`NX_ECLOSED`).
fn open(
    server: &AsynchronousServerSocketChannel,
) -> Result<&AsynchronousServerSocketChannel, c_int> {
    if server.is_open() {
        Ok(server)
    } else {
        Err(NX_ECLOSED)
    }
}

/// Opens an unbound listener in `group` (IPv6 dual-stack, or IPv4 where IPv6 is unavailable;
/// `SO_REUSEADDR` on), on the group's next loop, whose thread runs its handlers.
///
/// Ownership: on success `*server_out` is a new listener that the caller owns and must
/// release with `nx_aio_server_socket_free`. On error `*server_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EGROUPSHUTDOWN`, `NX_EREJECTED` (a borrowed loop is shutting
/// down), `NX_EBADHANDLE`, `NX_EFORKED`, `-EMFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_open(
    group: *mut nx_aio_group_t,
    server_out: *mut *mut nx_aio_server_socket_t,
) -> c_int {
    nx_ffi_boundary! { status(|| open_channel(group, None, server_out)) }
}

/// Opens an unbound listener of `family`, `AF_INET` or `AF_INET6`, in `group`, as
/// `nx_aio_server_socket_open`.
///
/// Ownership: on success `*server_out` is a new listener that the caller owns and must
/// release with `nx_aio_server_socket_free`. On error `*server_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_server_socket_open`; `NX_EINVAL` also for another family;
/// `-EAFNOSUPPORT` (no IPv6 on this host).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_open_family(
    group: *mut nx_aio_group_t,
    family: c_int,
    server_out: *mut *mut nx_aio_server_socket_t,
) -> c_int {
    nx_ffi_boundary! { status(|| open_channel(group, Some(family), server_out)) }
}

/// Binds the listener to `addr` (`AF_INET` or `AF_INET6`; port 0 picks a free port) and
/// listens with `backlog` pending connections (0 or less: the system default). `addr` is
/// only read during the call.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL, bad address), `NX_EALREADYBOUND`, `NX_ECLOSED`,
/// `NX_EBADHANDLE`, `NX_EFORKED`, `-EADDRINUSE`, `-EACCES`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_bind(
    server: *mut nx_aio_server_socket_t,
    addr: *const sockaddr,
    addrlen: socklen_t,
    backlog: c_int,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let addr = addr_in(addr, addrlen)?;
            with_server(server, |s| s.bind(addr, backlog).map_err(code))
        })
    }
}

/// Sets a socket option (`NX_SO_REUSEADDR`, `NX_SO_REUSEPORT`, `NX_SO_RCVBUF`,
/// `NX_IPV6_V6ONLY`: the numbers of `nioxide/channel.h`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown option or one a listener lacks, bad value), `NX_ECLOSED`,
/// `NX_EBADHANDLE`, `NX_EFORKED`, OS errors.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_set_option(
    server: *mut nx_aio_server_socket_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| crate::aio::set_option(server, option, value))
    }
}

/// Stores a socket option's value in `*value_out` (unchanged on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_server_socket_set_option`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_get_option(
    server: *mut nx_aio_server_socket_t,
    option: c_int,
    value_out: *mut i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| crate::aio::get_option(server, option, value_out))
    }
}

/// Stores the bound address (with the port the system chose) in `*addr_out` and its length
/// in `*addrlen_out` (both unchanged on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTBOUND`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_local_address(
    server: *mut nx_aio_server_socket_t,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| crate::aio::local_address(server, addr_out, addrlen_out))
    }
}

/// Accepts a connection: `handler->completed(channel, attachment)` gets the new connection
/// (a handle it owns; the channel is on the group's next loop), or `handler->failed(error,
/// attachment)` the error, on the listener's loop thread, never inside this call. One accept
/// may be pending at a time. The handler table is copied; see `nx_completion_handler_t` for
/// the attachment (nioxide never frees it). A connection no handler can take (the listener
/// closed, the group shut down) is closed.
///
/// Thread safety: safe from any thread, also from a handler.
///
/// Errors (the handler is never called): `NX_EINVAL` (NULL handler or function),
/// `NX_EACCEPTPENDING`, `NX_ENOTBOUND`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_accept(
    server: *mut nx_aio_server_socket_t,
    attachment: *mut c_void,
    handler: *const nx_accept_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let handler = accept_handler(handler, attachment)?;
            with_server(server, |s| s.accept(handler).map_err(code))
        })
    }
}

/// Accepts a connection with a future: once it succeeded, take the connection with
/// `nx_aio_server_socket_accept_take`. Cancelling the future (`nx_promise_cancel`) fails the
/// accept with `NX_ECANCELLED`.
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. Freeing its last handle cancels a pending accept and
/// closes a connection never taken. On error `*future_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_server_socket_accept`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_accept_future(
    server: *mut nx_aio_server_socket_t,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(future_out)?;
            let future = with_server(server, |s| s.accept_future().map_err(code))?;
            let mut object = PromiseObject::task(future.clone());
            object.keep = Some(Arc::new(Untaken(future)));
            out.set(handle::insert(Arc::new(object))?);
            Ok(())
        })
    }
}

/// Marks an accepted channel as handed to C, once.
#[derive(Debug)]
struct Taken;

/// Goes with the last handle of an accept's future: cancels the accept if it is still
/// pending, and closes the connection it yielded if C never took it (nobody could take it any
/// more, and it would stay open in its group).
struct Untaken(nioxide_core::event_loop::Future);

impl Drop for Untaken {
    fn drop(&mut self) {
        if self.0.cancel() {
            return;
        }
        self.0.with_outcome(|outcome| {
            if let Some(Outcome::Success(value)) = outcome {
                if let Some(channel) = value
                    .as_deref()
                    .and_then(|v| v.downcast_ref::<AsynchronousSocketChannel>())
                {
                    if channel.with_binding(|bound| bound.is_none()) {
                        channel.close();
                    }
                }
            }
        });
    }
}

/// Takes the connection of an accept future that succeeded: `*channel_out` is a new handle
/// that the caller owns (free it with `nx_aio_socket_free`). Only one take succeeds per
/// connection. It does not wait. On error `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_ETIMEDOUT` (not complete yet), the accept's error if it failed
/// (`NX_ECANCELLED`, `NX_EASYNCCLOSE`, ...), `NX_EALREADYDONE` (taken before), `NX_EINVAL`
/// (NULL, or not an accept's future), `NX_EBADHANDLE`, `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_accept_take(
    future: *mut nx_promise_t,
    channel_out: *mut *mut nx_aio_socket_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            let object = handle::get(future)?;
            let channel = object.promise()?.with_outcome(|outcome| match outcome {
                None => Err(NX_ETIMEDOUT),
                Some(Outcome::Failure(f)) => Err(f.error.code()),
                Some(Outcome::Success(value)) => value
                    .as_deref()
                    .and_then(|v| v.downcast_ref::<AsynchronousSocketChannel>())
                    .cloned()
                    .ok_or(NX_EINVAL),
            })?;
            // The binding slot says whether C has this channel already (under its lock, so
            // two takes cannot both win).
            let first = channel.with_binding(|bound| bound.is_none());
            if !first {
                return Err(NX_EALREADYDONE);
            }
            channel.set_binding(Box::new(Taken));
            let ptr = new_handle::<nx_aio_socket_t>(channel.clone(), channel.event_loop())?;
            out.set(ptr);
            Ok(())
        })
    }
}

/// Whether the listener is open: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_is_open(server: *mut nx_aio_server_socket_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_server(server, |s| Ok(open(s).is_ok())))
    }
}

/// Closes the listener (idempotent, returns 0 every time; a request, like `uv_close`): a
/// pending accept fails with `NX_EASYNCCLOSE` on the loop's thread, once; connections not
/// yet accepted are closed. The handle stays valid until `nx_aio_server_socket_free`.
///
/// Thread safety: safe from any thread, also from a handler.
///
/// Errors: `NX_EINVAL` (NULL or not a listener), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_close(server: *mut nx_aio_server_socket_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(s) = handle::get(server)?.unforked() {
                s.close();
            }
            Ok(())
        })
    }
}

/// Frees the listener: closes it if needed (as `nx_aio_server_socket_close`), then
/// invalidates the handle; every later call with it returns `NX_EBADHANDLE`. A pending
/// accept's handler still runs (with `NX_EASYNCCLOSE`).
///
/// Thread safety: safe from any thread, also from a handler.
///
/// Errors: `NX_EINVAL` (NULL or not a listener), `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_server_socket_free(server: *mut nx_aio_server_socket_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(s) = handle::remove(server)?.unforked() {
                s.close();
            }
            Ok(())
        })
    }
}
