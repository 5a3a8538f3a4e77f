//! TCP channels in C: `nx_server_socket_channel_*` and `nx_socket_channel_*` over
//! `nioxide_core::channel::tcp` (Java's `ServerSocketChannel` and `SocketChannel`).
//!
//! Both are checked handles the caller owns, from open (or accept) until free. New and
//! accepted channels start in blocking mode, as in Java: switch them to non-blocking mode
//! before registering them with a selector. In blocking mode a call waits, and closing or
//! freeing the channel from another thread wakes it with `NX_EASYNCCLOSE`.
//!
//! The first blocking call that really waits on a thread gives that thread a wake-up eventfd
//! (one per thread, not per channel), closed when the thread exits.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};

use libc::{iovec, sockaddr, sockaddr_storage, socklen_t};

use crate::args::{Out, code, predicate, status};
use crate::channel::{
    self, AddrOut, ChannelObject, addr_in, channel_of, new_handle, read_buffer, with_read_iovecs,
    with_write_iovecs, write_buffer,
};
use crate::error::{NX_ENOTCONNECTED, NX_EOF};
use crate::nx_ffi_boundary;
use crate::types::{
    nx_free_cb, nx_selection_key_t, nx_selector_t, nx_server_socket_channel_t, nx_socket_channel_t,
};

/// Opens an unbound server channel in blocking mode: an IPv6 dual-stack socket (it accepts
/// IPv4 and IPv6 connections), or IPv4 where IPv6 is unavailable, with `SO_REUSEADDR` on.
///
/// On success `*channel_out` is a new channel that the caller owns and must release with
/// `nx_server_socket_channel_free`. On error it is left unchanged.
///
/// Thread safety: safe from any thread; the channel may be used from any thread.
///
/// Errors: `NX_EINVAL` (NULL `channel_out`), `-EMFILE`, `-ENFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_open(
    channel_out: *mut *mut nx_server_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::open(None, channel_out)) }
}

/// Opens an unbound server channel of `family`, `AF_INET` or `AF_INET6` (dual-stack until
/// `NX_IPV6_V6ONLY` is set), as `nx_server_socket_channel_open`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `channel_out`, another family), `-EAFNOSUPPORT`, `-EMFILE`,
/// `-ENFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_open_family(
    family: c_int,
    channel_out: *mut *mut nx_server_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::open(Some(family), channel_out)) }
}

/// Adopts `fd`, a TCP socket made elsewhere (a listener inherited from a service manager by
/// socket activation, or made by another library), as a server channel in blocking mode, like
/// libuv's `uv_tcp_open`. A listening socket is bound: accept at once. An unbound socket is
/// not: `nx_server_socket_channel_bind` binds and listens. A bound socket that does not listen
/// is refused (`NX_EINVAL`: the bind could not bind it again; listen on it first). The descriptor is made
/// non-blocking (on its open file description, which duplicates share) and close-on-exec.
///
/// On success the channel owns `fd` (closing the channel closes it; see
/// `nx_server_socket_channel_detach` to get it back) and `*channel_out` is a new channel that
/// the caller owns and must release with `nx_server_socket_channel_free`. On error the caller
/// still owns `fd`, which stays open with its flags as they were (also when no handle is left,
/// `-ENOMEM`), and `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `channel_out`, a negative `fd`, a connected socket, or not a TCP
/// socket of `AF_INET` or `AF_INET6`: UDP, Unix), `-ENOTSOCK`, `-EBADF` (not open),
/// `-ENOMEM`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_open_fd(
    fd: c_int,
    channel_out: *mut *mut nx_server_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::open_fd(fd, channel_out)) }
}

/// Binds the channel to `addr` and listens with `backlog` (0 or less: the system default).
/// Port 0 picks a free port; `nx_server_socket_channel_local_address` tells which.
///
/// `addr` (`addrlen` bytes, a `struct sockaddr_in` or `struct sockaddr_in6`) is only read
/// during the call. An IPv4 address on a dual-stack channel is bound as its IPv4-mapped IPv6
/// address.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or short `addr`, another family), `NX_EALREADYBOUND`,
/// `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, `-EADDRINUSE`, `-EACCES`, `-EAFNOSUPPORT` (an
/// IPv6 address on an `AF_INET` channel), other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_bind(
    channel: *mut nx_server_socket_channel_t,
    addr: *const sockaddr,
    addrlen: socklen_t,
    backlog: c_int,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let addr = addr_in(addr, addrlen)?;
            channel_of(channel)?.bind(addr, backlog).map_err(code)
        })
    }
}

/// Accepts a connection. On success `*channel_out` is either a new connected socket channel
/// in blocking mode, which the caller owns and must release with `nx_socket_channel_free`, or
/// NULL when the channel is non-blocking and no connection is waiting. A blocking channel
/// waits for one. On error `*channel_out` is unchanged.
///
/// When the process is out of descriptors the call fails with `-EMFILE` (or `-ENFILE`), and
/// the channel's accept readiness is held back until nioxide closes a descriptor or about
/// 100 ms pass, so a select loop does not spin on the waiting connection. When no handle is
/// left (`-ENOMEM`, 2^24 live handles) the connection was already accepted and is closed
/// (the peer sees a reset).
///
/// Thread safety: safe from any thread; accepts are serialized. `nx_server_socket_channel_close`
/// (or free) from another thread wakes a blocked accept with `NX_EASYNCCLOSE`.
///
/// Errors: `NX_EINVAL`, `NX_ENOTBOUND`, `NX_ECLOSED`, `NX_EASYNCCLOSE`, `NX_EBADHANDLE`,
/// `NX_EFORKED`, `-EMFILE`, `-ENFILE`, `-ENOBUFS`, `-ENOMEM`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_accept(
    channel: *mut nx_server_socket_channel_t,
    channel_out: *mut *mut nx_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            let accepted = channel_of(channel)?.accept().map_err(code)?;
            out.set(match accepted {
                Some(socket) => new_handle::<nx_socket_channel_t>(socket)?,
                None => std::ptr::null_mut(),
            });
            Ok(())
        })
    }
}

/// Stores the bound address (with the chosen port) in `*addr_out` (a `struct sockaddr_in` or
/// `struct sockaddr_in6`) and its length in `*addrlen_out`. IPv4-mapped IPv6 addresses come
/// back as IPv4 ones. On error both are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTBOUND` (before bind), `NX_ECLOSED`, `NX_EBADHANDLE`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_local_address(
    channel: *mut nx_server_socket_channel_t,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::local_address(channel, addr_out, addrlen_out)) }
}

/// Switches the channel to blocking (`block` non-zero) or non-blocking (0) mode. The first
/// blocking call that really waits on a thread gives that thread one wake-up eventfd (so that
/// close from another thread can wake it), closed when the thread exits.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBLOCKINGMODE` (blocking mode while registered with a selector),
/// `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_configure_blocking(
    channel: *mut nx_server_socket_channel_t,
    block: c_int,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::configure_blocking(channel, block)) }
}

/// Whether the channel is in blocking mode: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_is_blocking(
    channel: *mut nx_server_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { predicate(|| channel::is_blocking(channel)) }
}

/// Whether the channel is open: 1, or 0 once it is closed, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_is_open(
    channel: *mut nx_server_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { predicate(|| channel::is_open(channel)) }
}

/// Sets socket option `option` (`NX_SO_*`, `NX_IPV6_V6ONLY`) to `value`. A server channel
/// supports `NX_SO_REUSEADDR`, `NX_SO_REUSEPORT`, `NX_SO_RCVBUF` (inherited by accepted
/// channels) and `NX_IPV6_V6ONLY` (before bind).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown option, a size <= 0), `NX_ENOOPT` (an option this channel
/// does not support), `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_set_option(
    channel: *mut nx_server_socket_channel_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::set_option(channel, option, value)) }
}

/// Stores the value of socket option `option` in `*value_out` (unchanged on error). Linux
/// reports `NX_SO_RCVBUF` doubled.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOOPT`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_get_option(
    channel: *mut nx_server_socket_channel_t,
    option: c_int,
    value_out: *mut i64,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::get_option(channel, option, value_out)) }
}

/// Lists the options a server channel supports: the first `capacity` option numbers go to
/// `options_out` (which may be NULL when `capacity` is 0), and their total count to
/// `*count_out`, so a call with `capacity` 0 asks for the size. On error nothing is written.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_supported_options(
    channel: *mut nx_server_socket_channel_t,
    options_out: *mut c_int,
    capacity: usize,
    count_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| channel::supported_options(channel, options_out, capacity, count_out))
    }
}

/// Stores the channel's descriptor in `*fd_out` (unchanged on error). nioxide owns it: do not
/// close it; it is valid while the channel is open.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_fd(
    channel: *mut nx_server_socket_channel_t,
    fd_out: *mut c_int,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::fd(channel, fd_out)) }
}

/// Hands the descriptor over: closes the channel without closing its descriptor and stores
/// the descriptor in `*fd_out`. The caller owns it from then on. It comes back in the
/// channel's blocking mode (`O_NONBLOCK` set only if the channel was non-blocking) and
/// close-on-exec. A blocked accept on another thread returns `NX_EASYNCCLOSE`; the call
/// returns once no call uses the descriptor any more. The handle stays valid (closed) until
/// `nx_server_socket_channel_free`. On error `*fd_out` is unchanged and nothing changes.
///
/// Refused while the channel is registered with a selector or watched by a loop: cancel its
/// key (or close the watch) first; a cancelled key is no obstacle, also before the
/// selector's next select.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EREGISTERED` (registered or watched), `NX_ECLOSED` (closed or
/// detached already), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_detach(
    channel: *mut nx_server_socket_channel_t,
    fd_out: *mut c_int,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::detach(channel, fd_out)) }
}

/// Registers the channel, which must be non-blocking, with `selector` for `ops`
/// (`NX_OP_ACCEPT` or 0) with an attachment; or, if it is registered there already, updates
/// the key's interest ops and replaces its attachment (the old attachment's `attachment_free`
/// runs, on this thread). A channel is registered with one selector at a time.
///
/// On success `*key_out` (if `key_out` is not NULL) is the channel's key: owned by the
/// selector, never freed by the caller, the same handle every time. The key owns `attachment`
/// (which may be NULL): `attachment_free(attachment)` (if not NULL) runs exactly once, when
/// the attachment is replaced by a register, or the key is cancelled, the channel closed or the
/// selector closed or freed, on the thread that makes that call. On error nioxide keeps
/// nothing and frees nothing: `attachment_free` is not called and `*key_out` is unchanged.
///
/// Thread safety: safe from any thread, also while another thread selects (the registration
/// is seen by that select when it next looks).
///
/// Errors: `NX_EINVAL` (NULL or wrong handles, unknown op bits), `NX_EOPS` (ops a server
/// channel does not support), `NX_EBLOCKINGMODE` (the channel is in blocking mode),
/// `NX_ECLOSED` (channel or selector closed), `NX_EREGISTERED` (registered with another
/// selector), `NX_ECANCELLEDKEY` (its key here was cancelled and the selector has not selected
/// since), `NX_EBADHANDLE`, `NX_EFORKED`, `-errno` from `epoll_ctl`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_register(
    channel: *mut nx_server_socket_channel_t,
    selector: *mut nx_selector_t,
    ops: u32,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    key_out: *mut *mut nx_selection_key_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            channel::register(channel, selector, ops, attachment, attachment_free, key_out)
        })
    }
}

/// Closes the channel: its key is cancelled (the attachment's `attachment_free` runs on this
/// thread), a blocked accept in another thread returns `NX_EASYNCCLOSE`, and the descriptor
/// is closed once no call uses it any more. Idempotent: returns 0 every time, also in a forked
/// child (where nothing of the parent's epoll set is touched). Later calls other than close
/// and free return `NX_ECLOSED`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or not a server channel), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_close(
    channel: *mut nx_server_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::close(channel)) }
}

/// Frees the channel: closes it if needed (as `nx_server_socket_channel_close`), then
/// invalidates the handle; every later call with it returns `NX_EBADHANDLE`. Allowed in a
/// forked child.
///
/// Thread safety: safe from any thread; a blocked accept in another thread returns
/// `NX_EASYNCCLOSE`.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_server_socket_channel_free(channel: *mut nx_server_socket_channel_t) -> c_int {
    nx_ffi_boundary! { status(|| channel::free(channel)) }
}

/// Opens an unconnected socket channel in blocking mode: an IPv6 dual-stack socket (it
/// connects to IPv4 and IPv6 addresses alike), or IPv4 where IPv6 is unavailable.
///
/// On success `*channel_out` is a new channel that the caller owns and must release with
/// `nx_socket_channel_free`. On error it is left unchanged.
///
/// Thread safety: safe from any thread; the channel may be used from any thread (reads are
/// serialized with reads, writes with writes).
///
/// Errors: `NX_EINVAL` (NULL `channel_out`), `-EMFILE`, `-ENFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_open(channel_out: *mut *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! { status(|| channel::open(None, channel_out)) }
}

/// Opens an unconnected socket channel of `family`, `AF_INET` or `AF_INET6`, as
/// `nx_socket_channel_open`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `channel_out`, another family), `-EAFNOSUPPORT`, `-EMFILE`,
/// `-ENFILE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_open_family(
    family: c_int,
    channel_out: *mut *mut nx_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::open(Some(family), channel_out)) }
}

/// Adopts `fd`, a TCP socket made elsewhere (by another library, inherited from a service
/// manager, or taken from a language runtime), as a socket channel in blocking mode, like
/// libuv's `uv_tcp_open`. Its state is found out: connected if it has a peer, connecting if
/// its connect is still in progress (finish it with `nx_socket_channel_finish_connect`), else
/// unconnected, bound or not. The descriptor is made non-blocking (on its open file
/// description, which duplicates share) and close-on-exec.
///
/// On success the channel owns `fd` (closing the channel closes it; see
/// `nx_socket_channel_detach` to get it back) and `*channel_out` is a new channel that the
/// caller owns and must release with `nx_socket_channel_free`. On error the caller still owns
/// `fd`, which stays open with its flags as they were (also when no handle is left,
/// `-ENOMEM`), and `*channel_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `channel_out`, a negative `fd`, a listening socket, or not a TCP
/// socket of `AF_INET` or `AF_INET6`: UDP, Unix), `-ENOTSOCK`, `-EBADF` (not open),
/// `-ENOMEM`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_open_fd(
    fd: c_int,
    channel_out: *mut *mut nx_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::open_fd(fd, channel_out)) }
}

/// Binds the local side before connecting (optional). `addr` (`addrlen` bytes) is only read
/// during the call.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or short `addr`, another family), `NX_EALREADYBOUND` (bound
/// already, by a bind or a connect), `NX_ECONNECTIONPENDING`, `NX_ECLOSED`, `NX_EBADHANDLE`,
/// `NX_EFORKED`, `-EADDRINUSE`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_bind(
    channel: *mut nx_socket_channel_t,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let addr = addr_in(addr, addrlen)?;
            channel_of(channel)?.bind(addr).map_err(code)
        })
    }
}

/// Connects to `addr` (`addrlen` bytes, only read during the call). Returns 0 once connected.
/// In non-blocking mode it may return `-EINPROGRESS` instead: the connect is pending; select
/// for `NX_OP_CONNECT`, then call `nx_socket_channel_finish_connect`. In blocking mode it
/// waits for the outcome.
///
/// As in Java, a connect that fails closes the channel (later calls: `NX_ECLOSED`).
///
/// Thread safety: safe from any thread; close or free from another thread wakes a blocked
/// connect with `NX_EASYNCCLOSE`.
///
/// Errors: `-EINPROGRESS` (pending, non-blocking mode), `NX_EINVAL`, `NX_EISCONNECTED`,
/// `NX_ECONNPENDING`, `NX_ECLOSED`, `NX_EASYNCCLOSE`, `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-ECONNREFUSED`, `-ENETUNREACH`, `-EAFNOSUPPORT`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_connect(
    channel: *mut nx_socket_channel_t,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let addr = addr_in(addr, addrlen)?;
            match channel_of(channel)?.connect(addr).map_err(code)? {
                true => Ok(()),
                false => Err(-libc::EINPROGRESS),
            }
        })
    }
}

/// Completes a pending connect: returns 0 once connected, `-EINPROGRESS` while it is still
/// in progress (non-blocking mode; blocking mode waits), or the connect's error, such as
/// `-ECONNREFUSED` (the channel is then closed, as in Java). 0 on a connected channel.
///
/// Thread safety: safe from any thread.
///
/// Errors: `-EINPROGRESS`, `NX_ENOCONNPENDING` (no connect was started), `NX_EINVAL`,
/// `NX_ECLOSED`, `NX_EASYNCCLOSE`, `NX_EBADHANDLE`, `NX_EFORKED`, `-ECONNREFUSED`,
/// `-ETIMEDOUT`, `-EHOSTUNREACH`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_finish_connect(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! {
        status(|| match channel_of(channel)?.finish_connect().map_err(code)? {
            true => Ok(()),
            false => Err(-libc::EINPROGRESS),
        })
    }
}

/// Whether a non-blocking connect is in progress: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_is_connection_pending(
    channel: *mut nx_socket_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let channel = channel_of(channel)?;
            channel.check_usable().map_err(code)?;
            Ok(channel.is_connection_pending())
        })
    }
}

/// Whether the channel is connected: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_is_connected(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let channel = channel_of(channel)?;
            channel.check_usable().map_err(code)?;
            Ok(channel.is_connected())
        })
    }
}

/// Whether the input side is shut down (by `nx_socket_channel_shutdown_input`): 1 or 0, or a
/// negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_is_input_shutdown(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let channel = channel_of(channel)?;
            channel.check_usable().map_err(code)?;
            Ok(channel.is_input_shutdown())
        })
    }
}

/// Whether the output side is shut down (by `nx_socket_channel_shutdown_output`): 1 or 0, or
/// a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_is_output_shutdown(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let channel = channel_of(channel)?;
            channel.check_usable().map_err(code)?;
            Ok(channel.is_output_shutdown())
        })
    }
}

/// Turns core's read result into the C convention: `NX_EOF` for end of stream (a read of
/// zero bytes into a non-empty buffer), else the count, 0 meaning "would block".
fn read_count(result: Option<usize>, wanted: usize) -> Result<usize, c_int> {
    match result {
        Some(0) if wanted > 0 => Err(NX_EOF),
        Some(n) => Ok(n),
        None => Ok(0),
    }
}

/// Reads up to `len` bytes into `buf` and stores the count in `*count_out`: 0 means the
/// channel is non-blocking and no data is available now; a blocking channel waits for at
/// least one byte. Returns `NX_EOF` at end of stream (the peer shut down its output, or
/// `nx_socket_channel_shutdown_input` was called). `buf` (NULL only with `len` 0) is only
/// written during the call. On error `*count_out` is unchanged.
///
/// Thread safety: safe from any thread; reads are serialized with reads. Close or free from
/// another thread wakes a blocked read with `NX_EASYNCCLOSE`.
///
/// Errors: `NX_EOF`, `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EASYNCCLOSE`,
/// `NX_EBADHANDLE`, `NX_EFORKED`, `-ECONNRESET` (the peer reset the connection: every later
/// read says so too, as in Java), `-ETIMEDOUT`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_read(
    channel: *mut nx_socket_channel_t,
    buf: *mut c_void,
    len: usize,
    count_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(count_out)?;
            // SAFETY: the caller passes `len` writable bytes at `buf`.
            let buf = unsafe { read_buffer(buf, len)? };
            let result = channel_of(channel)?.read(buf).map_err(code)?;
            out.set(read_count(result, len)?);
            Ok(())
        })
    }
}

/// Scattering read: fills the `iovcnt` buffers of `iov` in order, with the results of
/// `nx_socket_channel_read` (`NX_EOF` at end of stream, count 0 when it would block). The
/// buffers must not overlap; they are only written during the call. Up to 16 buffers cost no
/// allocation.
///
/// Thread safety: as `nx_socket_channel_read`.
///
/// Errors: as `nx_socket_channel_read`; `NX_EINVAL` also for `iovcnt` < 0, a NULL `iov` with
/// `iovcnt` > 0, or a NULL buffer with a non-zero length; `-EINVAL` for more than `IOV_MAX`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_readv(
    channel: *mut nx_socket_channel_t,
    iov: *const iovec,
    iovcnt: c_int,
    count_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(count_out)?;
            let channel = channel_of(channel)?;
            // SAFETY: the caller passes `iovcnt` iovecs naming writable, disjoint buffers.
            let (result, wanted) = unsafe {
                with_read_iovecs(iov, iovcnt, |bufs| {
                    let wanted: usize = bufs.iter().map(|b| b.len()).sum();
                    (channel.read_vectored(bufs), wanted)
                })?
            };
            out.set(read_count(result.map_err(code)?, wanted)?);
            Ok(())
        })
    }
}

/// Writes from `buf` (`len` bytes, NULL only with `len` 0; only read during the call) and
/// stores the count written in `*count_out`: in non-blocking mode what fits now (0 if nothing
/// does), in blocking mode all of it. Never raises `SIGPIPE`: a reset or closed peer gives
/// `-EPIPE` or `-ECONNRESET`. On error `*count_out` is unchanged.
///
/// Thread safety: safe from any thread; writes are serialized with writes, so blocking writes
/// never interleave. Close or free from another thread wakes a blocked write with
/// `NX_EASYNCCLOSE`.
///
/// Errors: `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ESHUTDOWN` (after
/// `nx_socket_channel_shutdown_output`), `NX_ECLOSED`, `NX_EASYNCCLOSE`, `NX_EBADHANDLE`,
/// `NX_EFORKED`, `-EPIPE`, `-ECONNRESET`, other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_write(
    channel: *mut nx_socket_channel_t,
    buf: *const c_void,
    len: usize,
    count_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(count_out)?;
            // SAFETY: the caller passes `len` readable bytes at `buf`.
            let buf = unsafe { write_buffer(buf, len)? };
            out.set(channel_of(channel)?.write(buf).map_err(code)?);
            Ok(())
        })
    }
}

/// Gathering write from the `iovcnt` buffers of `iov`, in order (one `sendmsg` with
/// `MSG_NOSIGNAL`, never `SIGPIPE`), with the results of `nx_socket_channel_write`. The
/// buffers are only read during the call. Up to 16 buffers cost no allocation.
///
/// Thread safety: as `nx_socket_channel_write`.
///
/// Errors: as `nx_socket_channel_write`; `NX_EINVAL` also for `iovcnt` < 0, a NULL `iov` with
/// `iovcnt` > 0, or a NULL buffer with a non-zero length; `-EMSGSIZE` for more than `IOV_MAX`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_writev(
    channel: *mut nx_socket_channel_t,
    iov: *const iovec,
    iovcnt: c_int,
    count_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(count_out)?;
            let channel = channel_of(channel)?;
            // SAFETY: the caller passes `iovcnt` iovecs naming readable buffers.
            let written =
                unsafe { with_write_iovecs(iov, iovcnt, |bufs| channel.write_vectored(bufs))? };
            out.set(written.map_err(code)?);
            Ok(())
        })
    }
}

/// Shuts down the input side: later reads return `NX_EOF`. Idempotent.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_shutdown_input(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! { status(|| channel_of(channel)?.shutdown_input().map_err(code)) }
}

/// Shuts down the output side (half-close): the peer reads end of stream once it has read
/// what was sent; later writes fail with `NX_ESHUTDOWN`. The input side stays open.
/// Idempotent.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_shutdown_output(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! { status(|| channel_of(channel)?.shutdown_output().map_err(code)) }
}

/// Stores the local address in `*addr_out` and its length in `*addrlen_out`, as
/// `nx_server_socket_channel_local_address`. On error both are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTBOUND` (neither bound nor connected), `NX_ECLOSED`,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_local_address(
    channel: *mut nx_socket_channel_t,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::local_address(channel, addr_out, addrlen_out)) }
}

/// Stores the peer's address in `*addr_out` and its length in `*addrlen_out`
/// (IPv4-mapped addresses as IPv4). On error both are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOTCONNECTED`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`,
/// `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_remote_address(
    channel: *mut nx_socket_channel_t,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = AddrOut::new(addr_out, addrlen_out)?;
            let address = channel_of(channel)?.remote_address().map_err(code)?;
            out.set(address.ok_or(NX_ENOTCONNECTED)?);
            Ok(())
        })
    }
}

/// Switches the channel to blocking (`block` non-zero) or non-blocking (0) mode. The first
/// blocking call that really waits on a thread gives that thread one wake-up eventfd (so that
/// close from another thread can wake it), closed when the thread exits.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBLOCKINGMODE` (blocking mode while registered with a selector),
/// `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_configure_blocking(
    channel: *mut nx_socket_channel_t,
    block: c_int,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::configure_blocking(channel, block)) }
}

/// Whether the channel is in blocking mode: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_is_blocking(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! { predicate(|| channel::is_blocking(channel)) }
}

/// Whether the channel is open: 1, or 0 once it is closed (also by a failed connect), or a
/// negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_is_open(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! { predicate(|| channel::is_open(channel)) }
}

/// Sets socket option `option` to `value`. A socket channel supports every `NX_SO_*`,
/// `NX_TCP_NODELAY`, the keep-alive tuning `NX_TCP_KEEPIDLE`, `NX_TCP_KEEPINTVL` and
/// `NX_TCP_KEEPCNT`, and `NX_IPV6_V6ONLY` (IPv6 channels, before connect). `NX_SO_LINGER` and
/// the keep-alive times are in seconds; `NX_SO_LINGER` negative for off.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (unknown option, a size or keep-alive value <= 0 or above `INT_MAX`),
/// `NX_ENOOPT`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, `-EINVAL` (a keep-alive value
/// above the kernel's bound), other `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_set_option(
    channel: *mut nx_socket_channel_t,
    option: c_int,
    value: i64,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::set_option(channel, option, value)) }
}

/// Stores the value of socket option `option` in `*value_out` (unchanged on error). Linux
/// reports `NX_SO_RCVBUF` and `NX_SO_SNDBUF` doubled; `NX_SO_LINGER` is -1 when off.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ENOOPT`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_get_option(
    channel: *mut nx_socket_channel_t,
    option: c_int,
    value_out: *mut i64,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::get_option(channel, option, value_out)) }
}

/// Lists the options a socket channel supports, as
/// `nx_server_socket_channel_supported_options`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_supported_options(
    channel: *mut nx_socket_channel_t,
    options_out: *mut c_int,
    capacity: usize,
    count_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| channel::supported_options(channel, options_out, capacity, count_out))
    }
}

/// Stores the channel's descriptor in `*fd_out` (unchanged on error). nioxide owns it: do not
/// close it; it is valid while the channel is open.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_fd(
    channel: *mut nx_socket_channel_t,
    fd_out: *mut c_int,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::fd(channel, fd_out)) }
}

/// Hands the descriptor over, as `nx_server_socket_channel_detach`: the channel is closed
/// without closing its descriptor, which goes to `*fd_out` (unchanged on error) in the
/// channel's blocking mode, close-on-exec, owned by the caller from then on (to close, or to
/// give to another library such as a TLS one). Blocked reads, writes and connects on other
/// threads return `NX_EASYNCCLOSE`; the call returns once no call uses the descriptor any
/// more. The handle stays valid (closed) until `nx_socket_channel_free`.
///
/// Refused while registered with a selector or watched by a loop (cancel the key or close the
/// watch first).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EREGISTERED`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_detach(
    channel: *mut nx_socket_channel_t,
    fd_out: *mut c_int,
) -> c_int {
    nx_ffi_boundary! { status(|| channel::detach(channel, fd_out)) }
}

/// Registers the channel, which must be non-blocking, with `selector` for `ops` (a
/// combination of `NX_OP_READ`, `NX_OP_WRITE` and `NX_OP_CONNECT`, or 0), with an attachment;
/// everything else as `nx_server_socket_channel_register`, whose ownership rules apply.
///
/// Thread safety: safe from any thread, also while another thread selects.
///
/// Errors: `NX_EINVAL`, `NX_EOPS` (`NX_OP_ACCEPT`), `NX_EBLOCKINGMODE`, `NX_ECLOSED`,
/// `NX_EREGISTERED`, `NX_ECANCELLEDKEY`, `NX_EBADHANDLE`, `NX_EFORKED`, `-errno`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_register(
    channel: *mut nx_socket_channel_t,
    selector: *mut nx_selector_t,
    ops: u32,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    key_out: *mut *mut nx_selection_key_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            channel::register(channel, selector, ops, attachment, attachment_free, key_out)
        })
    }
}

/// Closes the channel: its key is cancelled (the attachment's `attachment_free` runs on this
/// thread), blocked calls in other threads return `NX_EASYNCCLOSE`, and the descriptor is
/// closed once no call uses it any more. Idempotent: returns 0 every time, also in a forked
/// child. Later calls other than close and free return `NX_ECLOSED`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or not a socket channel), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_close(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! { status(|| channel::close(channel)) }
}

/// Frees the channel: closes it if needed (as `nx_socket_channel_close`), then invalidates
/// the handle; every later call with it returns `NX_EBADHANDLE`. Allowed in a forked child.
///
/// Thread safety: safe from any thread; blocked calls in other threads return
/// `NX_EASYNCCLOSE`.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_socket_channel_free(channel: *mut nx_socket_channel_t) -> c_int {
    nx_ffi_boundary! { status(|| channel::free(channel)) }
}
