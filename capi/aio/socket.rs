//! Asynchronous TCP connections in C: `nx_aio_socket_*` over
//! `nioxide_core::aio::AsynchronousSocketChannel` (Java's `AsynchronousSocketChannel`), with
//! `write_all`, the write queue Java never gave its users.
//!
//! A connection belongs to the loop the group gave it: calls from that loop's thread (its
//! handlers) check the handle with loads alone, and a read or write started there costs no
//! allocation. Memory given to an operation is borrowed until its handler starts (or its
//! future completes) and never touched after, also after a timeout, cancel or close.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};

use libc::{iovec, sockaddr, sockaddr_storage, socklen_t};
use nioxide_core::aio::{AsynchronousSocketChannel, Handler, IoBufs, QueueFullPolicy};

use crate::aio::{
    CResult, handler, iov_bufs, nx_completion_handler_t, one_buf, open_channel, store_future,
    timeout,
};
use crate::args::{Out, code, predicate, status};
use crate::channel::{AddrOut, addr_in};
use crate::error::{NX_EINVAL, NX_ENOTCONNECTED};
use crate::handle;
use crate::nx_ffi_boundary;
use crate::types::{nx_aio_group_t, nx_aio_socket_t, nx_promise_t};

/// Policy of `nx_aio_socket_set_write_queue_cap`: a write that would take the queue past
/// its cap fails at the call with `NX_EQUEUEFULL`; the channel and what is queued are
/// untouched (the default).
pub const NX_QUEUE_FAIL_NEW_CALL: c_int = 1;
/// Policy of `nx_aio_socket_set_write_queue_cap`: a write that would take the queue past
/// its cap closes the channel (what is queued fails with `NX_EASYNCCLOSE`) and fails at the
/// call with `NX_ECLOSED`: a peer that does not read is dropped.
pub const NX_QUEUE_CLOSE: c_int = 2;

/// Runs `f` with the connection behind a C handle, borrowed for the call.
fn with_socket<R>(
    channel: *mut nx_aio_socket_t,
    f: impl FnOnce(&AsynchronousSocketChannel) -> Result<R, c_int>,
) -> Result<R, c_int> {
    crate::aio::with_channel(channel, f)
}

/// Starts an operation with a future and stores its handle in `future_out`.
fn with_future(
    channel: *mut nx_aio_socket_t,
    future_out: *mut *mut nx_promise_t,
    start: impl FnOnce(
        &AsynchronousSocketChannel,
    ) -> nioxide_core::Result<nioxide_core::event_loop::Future>,
) -> Result<(), c_int> {
    let out = Out::new(future_out)?;
    let future = with_socket(channel, |c| start(c).map_err(code))?;
    store_future(future, out)
}

/// Starts an operation over `bufs` with a C handler (checked first: a refused call keeps
/// nothing and calls nothing).
fn start<V: CResult>(
    channel: *mut nx_aio_socket_t,
    bufs: Result<IoBufs, c_int>,
    attachment: *mut c_void,
    table: *const nx_completion_handler_t,
    op: impl FnOnce(&AsynchronousSocketChannel, IoBufs, Handler<V>) -> nioxide_core::Result<()>,
) -> Result<(), c_int> {
    let handler = handler(table, attachment)?;
    let bufs = bufs?;
    with_socket(channel, |c| op(c, bufs, handler).map_err(code))
}

/// Opens an unconnected connection in `group` (IPv6 dual-stack, or IPv4 where IPv6 is
/// unavailable), on the group's next loop, whose thread runs its handlers.
///
/// Ownership: on success `*channel_out` is a new channel that the caller owns and must
/// release with `nx_aio_socket_free`. On error `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EGROUPSHUTDOWN`, `NX_EREJECTED` (a borrowed loop is shutting
/// down), `NX_EBADHANDLE`, `NX_EFORKED`, `-EMFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_open(
    group: *mut nx_aio_group_t,
    channel_out: *mut *mut nx_aio_socket_t,
) -> c_int {
    nx_ffi_boundary! { status(|| open_channel(group, None, channel_out)) }
}

/// Opens an unconnected connection of `family`, `AF_INET` or `AF_INET6`, in `group`, as
/// `nx_aio_socket_open`.
///
/// Ownership: on success `*channel_out` is a new channel that the caller owns and must
/// release with `nx_aio_socket_free`. On error `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_socket_open`; `NX_EINVAL` also for another family;
/// `-EAFNOSUPPORT` (no IPv6 on this host).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_open_family(
    group: *mut nx_aio_group_t,
    family: c_int,
    channel_out: *mut *mut nx_aio_socket_t,
) -> c_int {
    nx_ffi_boundary! { status(|| open_channel(group, Some(family), channel_out)) }
}

/// Binds the local side to `addr` before connecting (only read during the call).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EALREADYBOUND`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-EADDRINUSE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_bind(
    channel: *mut nx_aio_socket_t,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let addr = addr_in(addr, addrlen)?;
            with_socket(channel, |c| c.bind(addr).map_err(code))
        })
    }
}

/// Connects to `addr` (only read during the call): `handler->completed(0, attachment)` once
/// connected, or `handler->failed(error, attachment)` (`-ECONNREFUSED`, `NX_ETIMEDOUT`,
/// `NX_EASYNCCLOSE`, ...), on the channel's loop thread, never inside this call. With
/// `timeout_ms` > 0, a connect still pending then fails with `NX_ETIMEDOUT` (≤ 0: no
/// timeout; beyond Java). A failed connect closes the channel, as in Java. The handler table
/// is copied; nioxide never frees `attachment` (see `nx_completion_handler_t`).
///
/// Thread safety: safe from any thread.
///
/// Errors (the handler is never called): `NX_EINVAL` (NULL handler or function, bad
/// address), `NX_EISCONNECTED`, `NX_ECONNPENDING`, `NX_ECLOSED`, `NX_EREJECTED`,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_connect(
    channel: *mut nx_aio_socket_t,
    addr: *const sockaddr,
    addrlen: socklen_t,
    timeout_ms: i64,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let addr = addr_in(addr, addrlen)?;
            let handler = crate::aio::handler::<()>(handler, attachment)?;
            with_socket(channel, |c| c.connect(addr, timeout(timeout_ms), handler).map_err(code))
        })
    }
}

/// `nx_aio_socket_connect` with a future (`nx_aio_result` gives 0 once connected);
/// cancelling it fails the connect with `NX_ECANCELLED` and closes the channel.
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_socket_connect`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_connect_future(
    channel: *mut nx_aio_socket_t,
    addr: *const sockaddr,
    addrlen: socklen_t,
    timeout_ms: i64,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let addr = addr_in(addr, addrlen)?;
            with_future(channel, future_out, |c| c.connect_future(addr, timeout(timeout_ms)))
        })
    }
}

/// Reads into `buf` (`len` bytes; NULL only with 0): `handler->completed(n, attachment)`
/// with the bytes read (1 to `len`; 0 for `len` 0), or `NX_EOF` at the end of the stream,
/// or `handler->failed(error, attachment)`, on the channel's loop thread, never inside this
/// call. One read may be pending at a time. With `timeout_ms` > 0 a read still pending then
/// fails with `NX_ETIMEDOUT`, having read nothing, and later reads fail at the call with
/// `NX_EDISABLED` (Java's rule). `buf` is borrowed until the handler starts: keep it valid
/// and untouched until then; nioxide never touches it after, also after a timeout or close.
/// The handler table is copied; nioxide never frees `attachment`.
///
/// Thread safety: safe from any thread; reads are serialized with reads.
///
/// Errors (the handler is never called): `NX_EINVAL` (NULL handler or function, NULL `buf`
/// with a length), `NX_EREADPENDING`, `NX_EDISABLED`, `NX_ENOTCONNECTED`, `NX_ECLOSED`,
/// `NX_EREJECTED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_read(
    channel: *mut nx_aio_socket_t,
    buf: *mut c_void,
    len: usize,
    timeout_ms: i64,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| start(channel, one_buf(buf, len), attachment, handler, |c, b, h| c.read(b, timeout(timeout_ms), h)))
    }
}

/// A scattering read (`readv`): as `nx_aio_socket_read`, filling `iov[0]`, then `iov[1]`,
/// and so on. The array (1 to `IOV_MAX` entries) is copied at the call; the memory it names
/// is borrowed until the handler starts.
///
/// Thread safety: as `nx_aio_socket_read`.
///
/// Errors: as `nx_aio_socket_read`; `NX_EINVAL` also for NULL `iov` or a count out of range.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_read_vec(
    channel: *mut nx_aio_socket_t,
    iov: *const iovec,
    iovcnt: c_int,
    timeout_ms: i64,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| start(channel, iov_bufs(iov, iovcnt), attachment, handler, |c, b, h| c.read(b, timeout(timeout_ms), h)))
    }
}

/// `nx_aio_socket_read` with a future (`nx_aio_result` gives the count or `NX_EOF`);
/// cancelling it fails the read with `NX_ECANCELLED` (it read nothing) and disables reads.
/// `buf` is borrowed until the future completes.
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: as `nx_aio_socket_read`.
///
/// Errors: as `nx_aio_socket_read`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_read_future(
    channel: *mut nx_aio_socket_t,
    buf: *mut c_void,
    len: usize,
    timeout_ms: i64,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let bufs = one_buf(buf, len)?;
            with_future(channel, future_out, |c| c.read_future(bufs, timeout(timeout_ms)))
        })
    }
}

/// `nx_aio_socket_read_vec` with a future (`nx_aio_result` gives the count or `NX_EOF`); as
/// `nx_aio_socket_read_future` says.
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: as `nx_aio_socket_read`.
///
/// Errors: as `nx_aio_socket_read_vec`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_read_vec_future(
    channel: *mut nx_aio_socket_t,
    iov: *const iovec,
    iovcnt: c_int,
    timeout_ms: i64,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let bufs = iov_bufs(iov, iovcnt)?;
            with_future(channel, future_out, |c| c.read_future(bufs, timeout(timeout_ms)))
        })
    }
}

/// Writes from `buf` what the socket takes now: `handler->completed(n, attachment)` with the
/// count, which may be short of `len`, or `handler->failed(error, attachment)`, on the
/// channel's loop thread, never inside this call. One raw write may be pending at a time,
/// and none while `nx_aio_socket_write_all` writes are queued. With `timeout_ms` > 0 a write
/// still pending then fails with `NX_ETIMEDOUT`, having written nothing, and later writes
/// fail at the call with `NX_EDISABLED`. Never raises `SIGPIPE`. `buf` is borrowed until the
/// handler starts. The handler table is copied; nioxide never frees `attachment`.
///
/// Thread safety: safe from any thread; writes are serialized with writes.
///
/// Errors (the handler is never called): `NX_EINVAL`, `NX_EWRITEPENDING`, `NX_EDISABLED`,
/// `NX_ESHUTDOWN`, the send error that failed an earlier write (`-ECONNRESET`, `-EPIPE`),
/// `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EREJECTED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_write(
    channel: *mut nx_aio_socket_t,
    buf: *const c_void,
    len: usize,
    timeout_ms: i64,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| start(channel, one_buf(buf.cast_mut(), len), attachment, handler, |c, b, h| c.write(b, timeout(timeout_ms), h)))
    }
}

/// A gathering write (`writev`): as `nx_aio_socket_write`, sending `iov[0]`, then `iov[1]`,
/// and so on (one `sendmsg`). The array (1 to `IOV_MAX` entries) is copied at the call; the
/// memory it names is borrowed until the handler starts.
///
/// Thread safety: as `nx_aio_socket_write`.
///
/// Errors: as `nx_aio_socket_write`; `NX_EINVAL` also for NULL `iov` or a count out of range.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_write_vec(
    channel: *mut nx_aio_socket_t,
    iov: *const iovec,
    iovcnt: c_int,
    timeout_ms: i64,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| start(channel, iov_bufs(iov, iovcnt), attachment, handler, |c, b, h| c.write(b, timeout(timeout_ms), h)))
    }
}

/// `nx_aio_socket_write` with a future (`nx_aio_result` gives the count); cancelling it
/// fails the write with `NX_ECANCELLED` (it wrote nothing) and disables writes. `buf` is
/// borrowed until the future completes.
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: as `nx_aio_socket_write`.
///
/// Errors: as `nx_aio_socket_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_write_future(
    channel: *mut nx_aio_socket_t,
    buf: *const c_void,
    len: usize,
    timeout_ms: i64,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let bufs = one_buf(buf.cast_mut(), len)?;
            with_future(channel, future_out, |c| c.write_future(bufs, timeout(timeout_ms)))
        })
    }
}

/// `nx_aio_socket_write_vec` with a future (`nx_aio_result` gives the count); as
/// `nx_aio_socket_write_future` says.
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: as `nx_aio_socket_write`.
///
/// Errors: as `nx_aio_socket_write_vec`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_write_vec_future(
    channel: *mut nx_aio_socket_t,
    iov: *const iovec,
    iovcnt: c_int,
    timeout_ms: i64,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let bufs = iov_bufs(iov, iovcnt)?;
            with_future(channel, future_out, |c| c.write_future(bufs, timeout(timeout_ms)))
        })
    }
}

/// Queues `buf` to be written in full (the write queue Java never gave its users), after
/// every write queued before: `handler->completed(len, attachment)` once its last byte has
/// left, or `handler->failed(error, attachment)`. Any number may be queued; they leave in
/// order, several per `sendmsg`. A send error fails the write being sent and every queued
/// one, once each, in order; later writes fail at the call. Queued bytes are capped
/// (`nx_aio_socket_set_write_queue_cap`). `buf` is borrowed until the handler starts.
///
/// Thread safety: safe from any thread; writes are serialized with writes.
///
/// Errors (the handler is never called): `NX_EINVAL`, `NX_EQUEUEFULL` (policy
/// `NX_QUEUE_FAIL_NEW_CALL`), `NX_ECLOSED` (also: policy `NX_QUEUE_CLOSE` closed the channel),
/// `NX_EDISABLED`, `NX_ESHUTDOWN`, an earlier send error, `NX_ENOTCONNECTED`, `NX_EBADHANDLE`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_write_all(
    channel: *mut nx_aio_socket_t,
    buf: *const c_void,
    len: usize,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| start(channel, one_buf(buf.cast_mut(), len), attachment, handler, |c, b, h| c.write_all(b, h)))
    }
}

/// `nx_aio_socket_write_all` of several regions, sent in order as one queued write (the array
/// is copied at the call; the memory it names is borrowed until the handler starts).
///
/// Thread safety: as `nx_aio_socket_write_all`.
///
/// Errors: as `nx_aio_socket_write_all`; `NX_EINVAL` also for NULL `iov` or a count out of
/// range.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_write_all_vec(
    channel: *mut nx_aio_socket_t,
    iov: *const iovec,
    iovcnt: c_int,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| start(channel, iov_bufs(iov, iovcnt), attachment, handler, |c, b, h| c.write_all(b, h)))
    }
}

/// `nx_aio_socket_write_all` with a future (`nx_aio_result` gives `len`). A queued write's
/// future cannot be cancelled (its bytes may be on their way).
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: as `nx_aio_socket_write_all`.
///
/// Errors: as `nx_aio_socket_write_all`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_write_all_future(
    channel: *mut nx_aio_socket_t,
    buf: *const c_void,
    len: usize,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let bufs = one_buf(buf.cast_mut(), len)?;
            with_future(channel, future_out, |c| c.write_all_future(bufs))
        })
    }
}

/// Sets the cap on bytes queued by `nx_aio_socket_write_all` and not yet sent, and what a
/// write that would pass it does (`NX_QUEUE_FAIL_NEW_CALL` or `NX_QUEUE_CLOSE`). The default
/// is 64 MiB with `NX_QUEUE_FAIL_NEW_CALL`. A write larger than the cap is taken into an
/// empty queue.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown policy), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_set_write_queue_cap(
    channel: *mut nx_aio_socket_t,
    cap: usize,
    policy: c_int,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let policy = match policy {
                NX_QUEUE_FAIL_NEW_CALL => QueueFullPolicy::FailNewCall,
                NX_QUEUE_CLOSE => QueueFullPolicy::Close,
                _ => return Err(NX_EINVAL),
            };
            with_socket(channel, |c| {
                c.set_write_queue_cap(cap, policy);
                Ok(())
            })
        })
    }
}

/// Stores in `*bytes_out` the bytes queued by `nx_aio_socket_write_all` and not yet sent.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_queued_bytes(
    channel: *mut nx_aio_socket_t,
    bytes_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(bytes_out)?;
            out.set(with_socket(channel, |c| Ok(c.queued_bytes()))?);
            Ok(())
        })
    }
}

/// Shuts down the input side: a pending read and later reads complete with `NX_EOF`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_shutdown_input(channel: *mut nx_aio_socket_t) -> c_int {
    nx_ffi_boundary! {
        status(|| with_socket(channel, |c| c.shutdown_input().map_err(code)))
    }
}

/// Shuts down the output side: the peer reads the end of the stream once the pending raw
/// write and the queued writes have left; later writes fail at the call with
/// `NX_ESHUTDOWN`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_shutdown_output(channel: *mut nx_aio_socket_t) -> c_int {
    nx_ffi_boundary! {
        status(|| with_socket(channel, |c| c.shutdown_output().map_err(code)))
    }
}

/// Sets a socket option (the `NX_SO_*`/`NX_TCP_*` numbers of `nioxide/channel.h`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown option, bad value), `NX_ECLOSED`, `NX_EBADHANDLE`,
/// `NX_EFORKED`, OS errors.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_set_option(
    channel: *mut nx_aio_socket_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| crate::aio::set_option(channel, option, value))
    }
}

/// Stores a socket option's value in `*value_out` (unchanged on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_socket_set_option`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_get_option(
    channel: *mut nx_aio_socket_t,
    option: c_int,
    value_out: *mut i64,
) -> c_int {
    nx_ffi_boundary! {
        status(|| crate::aio::get_option(channel, option, value_out))
    }
}

/// Stores the local address in `*addr_out` and its length in `*addrlen_out` (both unchanged
/// on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTBOUND` (neither bound nor connected), `NX_ECLOSED`,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_local_address(
    channel: *mut nx_aio_socket_t,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| crate::aio::local_address(channel, addr_out, addrlen_out))
    }
}

/// Stores the peer's address in `*addr_out` and its length in `*addrlen_out` (both unchanged
/// on error).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_remote_address(
    channel: *mut nx_aio_socket_t,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = AddrOut::new(addr_out, addrlen_out)?;
            let address = with_socket(channel, |c| c.remote_address().map_err(code))?;
            out.set(address.ok_or(NX_ENOTCONNECTED)?);
            Ok(())
        })
    }
}

/// Whether the channel is open: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_is_open(channel: *mut nx_aio_socket_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_socket(channel, |c| Ok(c.is_open())))
    }
}

/// Closes the channel (idempotent, returns 0 every time; a request, like `uv_close`): the
/// descriptor leaves the loop at once, and every pending operation fails with
/// `NX_EASYNCCLOSE`, once, on the loop's thread, never inside this call. Memory they
/// borrowed may be reused once their handlers started. Later calls but close and free return
/// `NX_ECLOSED`. The handle stays valid until `nx_aio_socket_free`.
///
/// Thread safety: safe from any thread, also from a handler.
///
/// Errors: `NX_EINVAL` (NULL or not a channel), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_close(channel: *mut nx_aio_socket_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(c) = handle::get(channel)?.unforked() {
                c.close();
            }
            Ok(())
        })
    }
}

/// Frees the channel: closes it if needed (as `nx_aio_socket_close`; pending handlers still
/// run, with `NX_EASYNCCLOSE`), then invalidates the handle; every later call with it returns
/// `NX_EBADHANDLE`.
///
/// Thread safety: safe from any thread, also from a handler.
///
/// Errors: `NX_EINVAL` (NULL or not a channel), `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_socket_free(channel: *mut nx_aio_socket_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(c) = handle::remove(channel)?.unforked() {
                c.close();
            }
            Ok(())
        })
    }
}
