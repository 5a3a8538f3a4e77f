//! Completion-handler AIO in C (Java NIO.2's model): `nx_aio_group_*`, `nx_aio_server_socket_*`,
//! `nx_aio_socket_*` and `nx_aio_file_*` over `nioxide_core::aio`, one file per core module.
//!
//! This file holds what every operation shares: the handler types, the raw handlers that call
//! them (core's `Handler::raw`: the two functions and the attachment are its three words, so
//! starting an operation allocates nothing), the user's memory as core's `IoBufs`, timeouts,
//! and reading a future's result.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod file;
pub mod group;
pub mod server;
pub mod socket;

use std::ffi::{c_int, c_void};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use libc::{iovec, sockaddr_storage, socklen_t};
use nioxide_core::Result as CoreResult;
use nioxide_core::aio::{
    AsynchronousServerSocketChannel, AsynchronousSocketChannel, FileLock, Handler, IoBuf, IoBufs,
    ReadOutcome,
};
use nioxide_core::channel::SocketOption;
use nioxide_core::event_loop::{Future, Outcome};

use crate::args::{Out, code, status};
use crate::channel::{AddrOut, checked_option};
use crate::error::{NX_EINVAL, NX_ENOTBOUND, NX_EOF, NX_ETIMEDOUT};
use crate::handle::{self, HandleType, Late};
use crate::nx_ffi_boundary;
use crate::types::{PromiseObject, nx_aio_socket_t, nx_promise_t};

/// A completion handler (Java's `CompletionHandler`): both functions are required.
/// `completed(result, attachment)` gets the operation's result: bytes read or written (≥ 0),
/// `NX_EOF` for a read at the end of the stream or file, 0 for a connect or a lock;
/// `failed(error, attachment)` gets the error (`NX_EASYNCCLOSE`, `NX_ETIMEDOUT`,
/// `NX_ECANCELLED`, `-ECONNRESET`, ...). Exactly one of them runs, exactly once, for every
/// operation whose call returned 0, on the channel's loop thread and never inside the call
/// that started it; for a call that returned an error, neither ever runs. `attachment` comes
/// back unchanged. nioxide never frees an operation's attachment: since its handler runs on
/// every path (close, timeout, cancel, shutdown), the handler frees it if it must, or passes
/// it on to the next operation (Java's handler chains). The table itself is copied at the
/// call: it may live on the stack. A handler must not `longjmp` or throw through nioxide.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nx_completion_handler_t {
    /// Called with the result (≥ 0, or `NX_EOF`).
    pub completed: Option<unsafe extern "C" fn(result: i64, attachment: *mut c_void)>,
    /// Called with the error code (negative).
    pub failed: Option<unsafe extern "C" fn(error: c_int, attachment: *mut c_void)>,
}

/// An accept's handler: as `nx_completion_handler_t`, but `completed(channel, attachment)`
/// gets the accepted connection, a new handle that the handler then owns (free it with
/// `nx_aio_socket_free`). The channel is on the group's next loop, ready for reads and
/// writes.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nx_accept_handler_t {
    /// Called with the accepted connection, which the handler owns from now on.
    pub completed:
        Option<unsafe extern "C" fn(channel: *mut nx_aio_socket_t, attachment: *mut c_void)>,
    /// Called with the error code (negative).
    pub failed: Option<unsafe extern "C" fn(error: c_int, attachment: *mut c_void)>,
}

type CompletedFn = unsafe extern "C" fn(i64, *mut c_void);
type AcceptedFn = unsafe extern "C" fn(*mut nx_aio_socket_t, *mut c_void);
type FailedFn = unsafe extern "C" fn(c_int, *mut c_void);

/// A C handler table: its two functions, each may be NULL.
trait HandlerTable: Copy {
    fn functions(&self) -> (Option<usize>, Option<FailedFn>);
}

impl HandlerTable for nx_completion_handler_t {
    fn functions(&self) -> (Option<usize>, Option<FailedFn>) {
        (self.completed.map(|f| f as usize), self.failed)
    }
}

impl HandlerTable for nx_accept_handler_t {
    fn functions(&self) -> (Option<usize>, Option<FailedFn>) {
        (self.completed.map(|f| f as usize), self.failed)
    }
}

/// The three words of a raw handler (completed, failed, attachment), read from the caller's
/// table (copied: it is read during the call only). A NULL table or function is `NX_EINVAL`.
fn words<T: HandlerTable>(table: *const T, attachment: *mut c_void) -> Result<[usize; 3], c_int> {
    if table.is_null() {
        return Err(NX_EINVAL);
    }
    // SAFETY: a non-NULL table the caller passes for the call.
    let (completed, failed) = unsafe { table.read() }.functions();
    let (completed, failed) = (completed.ok_or(NX_EINVAL)?, failed.ok_or(NX_EINVAL)?);
    Ok([completed, failed as usize, attachment as usize])
}

/// Runs the failed function of a raw handler's words.
///
/// # Safety
/// `data` must be the words [`words`] made.
unsafe fn fail(data: [usize; 3], error: nioxide_core::Error) {
    // SAFETY: `data[1]` is a `FailedFn` by `words`.
    let failed: FailedFn = unsafe { std::mem::transmute::<usize, FailedFn>(data[1]) };
    // SAFETY: the user gave us this function to call once with this attachment.
    unsafe { failed(code(error), data[2] as *mut c_void) }
}

/// Runs the completed function of a raw handler's words with `result`.
///
/// # Safety
/// `data` must be the words [`words`] made from a `CompletedFn`.
unsafe fn complete(data: [usize; 3], result: i64) {
    // SAFETY: `data[0]` is a `CompletedFn` by `handler`.
    let completed: CompletedFn = unsafe { std::mem::transmute::<usize, CompletedFn>(data[0]) };
    // SAFETY: the user gave us this function to call once with this attachment.
    unsafe { completed(result, data[2] as *mut c_void) }
}

/// A value of an operation as C's `completed` result.
trait CResult: Sized + Send + 'static {
    fn c_result(self) -> i64;
}

impl CResult for usize {
    fn c_result(self) -> i64 {
        i64::try_from(self).unwrap_or(i64::MAX)
    }
}

impl CResult for ReadOutcome {
    fn c_result(self) -> i64 {
        match self {
            ReadOutcome::Bytes(n) => n.c_result(),
            ReadOutcome::EndOfStream => i64::from(NX_EOF),
        }
    }
}

impl CResult for () {
    fn c_result(self) -> i64 {
        0
    }
}

/// The raw handler's call for an operation with a `CResult` value.
///
/// # Safety
/// As [`complete`] and [`fail`].
unsafe fn call_c<V: CResult>(data: [usize; 3], result: CoreResult<V>) {
    // SAFETY: forwarded contract.
    unsafe {
        match result {
            Ok(value) => complete(data, value.c_result()),
            Err(error) => fail(data, error),
        }
    }
}

/// Core's handler for a C completion handler (checked: a NULL table or function is
/// `NX_EINVAL`); no allocation.
fn handler<V: CResult>(
    table: *const nx_completion_handler_t,
    attachment: *mut c_void,
) -> Result<Handler<V>, c_int> {
    let data = words(table, attachment)?;
    // SAFETY: the words are plain function pointers and the user's attachment, which the
    // handler's docs let nioxide pass to the loop's thread and call once.
    Ok(unsafe { Handler::raw(call_c::<V>, data) })
}

/// The raw handler's call for an accept: the channel becomes a new handle the user owns.
///
/// # Safety
/// `data` must be words made from an `AcceptedFn`.
unsafe fn call_accept(data: [usize; 3], result: CoreResult<AsynchronousSocketChannel>) {
    let made = result.and_then(|channel| {
        new_handle::<nx_aio_socket_t>(channel.clone(), channel.event_loop()).map_err(|e| {
            channel.close();
            crate::args::error_from_code(e)
        })
    });
    match made {
        Ok(ptr) => {
            // SAFETY: `data[0]` is an `AcceptedFn` by `accept_handler`.
            let completed: AcceptedFn =
                unsafe { std::mem::transmute::<usize, AcceptedFn>(data[0]) };
            // SAFETY: the user's function, called once with its attachment.
            unsafe { completed(ptr, data[2] as *mut c_void) }
        }
        // SAFETY: forwarded contract.
        Err(error) => unsafe { fail(data, error) },
    }
}

/// Core's handler for a C accept handler (checked as [`handler`]).
fn accept_handler(
    table: *const nx_accept_handler_t,
    attachment: *mut c_void,
) -> Result<Handler<AsynchronousSocketChannel>, c_int> {
    let data = words(table, attachment)?;
    // SAFETY: as in `handler`.
    Ok(unsafe { Handler::raw(call_accept, data) })
}

/// A handler for a lock: the lock is kept in the file's object (released by region from C),
/// then `completed(0)` runs. One allocation (a lock is no hot path).
fn lock_handler(
    table: *const nx_completion_handler_t,
    attachment: *mut c_void,
    file: Arc<Late<crate::types::FileObject>>,
) -> Result<Handler<FileLock>, c_int> {
    let data = words(table, attachment)?;
    Ok(Handler::new(
        move |result: CoreResult<FileLock>| match result {
            Ok(held) => {
                if let Ok(object) = file.get() {
                    nioxide_core::sync::lock(&object.locks).push(held);
                }
                // SAFETY: the words `words` made from the user's table.
                unsafe { complete(data, 0) }
            }
            // SAFETY: as above.
            Err(error) => unsafe { fail(data, error) },
        },
    ))
}

/// A new loop-owned handle for an object made by nioxide.
fn new_handle<H>(
    value: <H::Object as Settable>::Value,
    owner: &nioxide_core::event_loop::EventLoop,
) -> Result<*mut H, c_int>
where
    H: HandleType,
    H::Object: Settable,
{
    let object = Arc::new(<H::Object as Settable>::make(value));
    handle::insert_owned::<H>(object, owner)
}

/// The two socket channel types the `nx_aio_*_open` functions open.
trait Openable: Clone + Send + Sync + 'static {
    /// Opens one in `group`, of `family` if given (else dual-stack IPv6, or IPv4).
    fn open_in(
        group: &nioxide_core::aio::AsynchronousChannelGroup,
        family: Option<nioxide_core::channel::Family>,
    ) -> CoreResult<Self>;
    fn event_loop(&self) -> &nioxide_core::event_loop::EventLoop;
    fn close(&self);
}

macro_rules! openable {
    ($type:ty) => {
        impl Openable for $type {
            fn open_in(
                group: &nioxide_core::aio::AsynchronousChannelGroup,
                family: Option<nioxide_core::channel::Family>,
            ) -> CoreResult<Self> {
                match family {
                    None => <$type>::open(group),
                    Some(family) => <$type>::open_family(group, family),
                }
            }
            fn event_loop(&self) -> &nioxide_core::event_loop::EventLoop {
                <$type>::event_loop(self)
            }
            fn close(&self) {
                <$type>::close(self)
            }
        }
    };
}

openable!(AsynchronousSocketChannel);
openable!(AsynchronousServerSocketChannel);

/// Body of the `nx_aio_*_open` functions: opens a channel in `group` (of `family`,
/// `AF_INET` or `AF_INET6`, if given) and stores its new handle in `*out`; the channel is
/// closed again if no handle is left.
fn open_channel<H>(
    group: *mut crate::types::nx_aio_group_t,
    family: Option<c_int>,
    out: *mut *mut H,
) -> Result<(), c_int>
where
    H: HandleType,
    H::Object: Settable,
    <H::Object as Settable>::Value: Openable,
{
    let out = Out::new(out)?;
    let family = family.map(crate::channel::checked_family).transpose()?;
    let channel = group::with_group(group, |g| {
        <<H::Object as Settable>::Value as Openable>::open_in(g, family).map_err(code)
    })?;
    match new_handle::<H>(channel.clone(), channel.event_loop()) {
        Ok(ptr) => {
            out.set(ptr);
            Ok(())
        }
        Err(e) => {
            channel.close();
            Err(e)
        }
    }
}

/// A `Late` made with its value (the AIO objects need no handle before they exist).
trait Settable {
    type Value;
    fn make(value: Self::Value) -> Self;
}

impl<T> Settable for Late<T> {
    type Value = T;
    fn make(value: T) -> Late<T> {
        let late = Late::new();
        late.set(value);
        late
    }
}

/// What listeners and connections both have, for the C functions of both.
trait AioChannel: Send + Sync + 'static {
    fn set_option(&self, option: SocketOption, value: i64) -> CoreResult<()>;
    fn get_option(&self, option: SocketOption) -> CoreResult<i64>;
    fn local_address(&self) -> CoreResult<Option<SocketAddr>>;
}

macro_rules! aio_channel {
    ($type:ty) => {
        impl AioChannel for $type {
            fn set_option(&self, option: SocketOption, value: i64) -> CoreResult<()> {
                <$type>::set_option(self, option, value)
            }
            fn get_option(&self, option: SocketOption) -> CoreResult<i64> {
                <$type>::get_option(self, option)
            }
            fn local_address(&self) -> CoreResult<Option<SocketAddr>> {
                <$type>::local_address(self)
            }
        }
    };
}

aio_channel!(AsynchronousSocketChannel);
aio_channel!(AsynchronousServerSocketChannel);

/// Runs `f` with the channel behind a C handle, borrowed for the call (on the channel's loop
/// thread, with loads alone).
fn with_channel<H, T, R>(ptr: *mut H, f: impl FnOnce(&T) -> Result<R, c_int>) -> Result<R, c_int>
where
    H: HandleType<Object = Late<T>>,
    T: Send + Sync + 'static,
{
    handle::with(ptr, |late| f(late.get()?))?
}

/// Body of `nx_aio_*_set_option`.
fn set_option<H, T>(ptr: *mut H, option: c_int, value: i64) -> Result<(), c_int>
where
    H: HandleType<Object = Late<T>>,
    T: AioChannel,
{
    let option = checked_option(option)?;
    with_channel(ptr, |c: &T| c.set_option(option, value).map_err(code))
}

/// Body of `nx_aio_*_get_option`.
fn get_option<H, T>(ptr: *mut H, option: c_int, value_out: *mut i64) -> Result<(), c_int>
where
    H: HandleType<Object = Late<T>>,
    T: AioChannel,
{
    let out = Out::new(value_out)?;
    let option = checked_option(option)?;
    out.set(with_channel(ptr, |c: &T| {
        c.get_option(option).map_err(code)
    })?);
    Ok(())
}

/// Body of `nx_aio_*_local_address`: `NX_ENOTBOUND` before bind (or connect).
fn local_address<H, T>(
    ptr: *mut H,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> Result<(), c_int>
where
    H: HandleType<Object = Late<T>>,
    T: AioChannel,
{
    let out = AddrOut::new(addr_out, addrlen_out)?;
    let address = with_channel(ptr, |c: &T| c.local_address().map_err(code))?;
    out.set(address.ok_or(NX_ENOTBOUND)?);
    Ok(())
}

/// One region of the user's memory, borrowed by an operation until its handler starts: NULL
/// is allowed only with length 0.
fn one_buf(buf: *mut c_void, len: usize) -> Result<IoBufs, c_int> {
    if len > isize::MAX as usize || (buf.is_null() && len > 0) {
        return Err(NX_EINVAL);
    }
    let ptr = if buf.is_null() {
        std::ptr::NonNull::dangling().as_ptr()
    } else {
        buf.cast()
    };
    // SAFETY: the function's documented contract: the memory stays valid and untouched by
    // others until the handler starts (or the future completes).
    Ok(unsafe { IoBufs::from_raw(IoBuf::new(ptr, len), None) })
}

/// Linux's limit on the regions of one `readv`/`sendmsg` (`IOV_MAX` of `<limits.h>`).
const IOV_MAX: usize = 1024;

/// The regions of `iov` (copied now), borrowed like [`one_buf`]'s; `iovcnt` from 1 to
/// `IOV_MAX`.
fn iov_bufs(iov: *const iovec, iovcnt: c_int) -> Result<IoBufs, c_int> {
    let count = usize::try_from(iovcnt).map_err(|_| NX_EINVAL)?;
    if iov.is_null() || count == 0 || count > IOV_MAX {
        return Err(NX_EINVAL);
    }
    // SAFETY: the caller passes `iovcnt` readable entries, read during the call only.
    let entries = unsafe { std::slice::from_raw_parts(iov, count) };
    let mut regions = Vec::with_capacity(count);
    let mut total: usize = 0;
    for entry in entries {
        if entry.iov_base.is_null() && entry.iov_len > 0 {
            return Err(NX_EINVAL);
        }
        total = total.checked_add(entry.iov_len).ok_or(NX_EINVAL)?;
        let ptr = if entry.iov_base.is_null() {
            std::ptr::NonNull::dangling().as_ptr()
        } else {
            entry.iov_base.cast()
        };
        regions.push(IoBuf::new(ptr, entry.iov_len));
    }
    if total > isize::MAX as usize {
        return Err(NX_EINVAL);
    }
    // SAFETY: as in `one_buf`, for every region.
    Ok(unsafe { IoBufs::from_raw_vectored(&regions, None) })
}

/// An operation's timeout in milliseconds: ≤ 0 is none.
fn timeout(timeout_ms: i64) -> Option<Duration> {
    u64::try_from(timeout_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// A file position: negative is `NX_EINVAL`.
fn position(position: i64) -> Result<u64, c_int> {
    u64::try_from(position).map_err(|_| NX_EINVAL)
}

/// Stores a new handle for an operation's future in `*out` (not NULL: checked before the
/// operation starts).
fn store_future(future: Future, out: Out<*mut nx_promise_t>) -> Result<(), c_int> {
    let ptr = handle::insert(Arc::new(PromiseObject::task(future)))?;
    out.set(ptr);
    Ok(())
}

/// Stores the result of a completed AIO operation's future in `*result_out`, as a
/// completion handler's `completed` would get it: bytes read or written (≥ 0), `NX_EOF` at
/// the end of the stream or file, 0 for a connect or a lock. It does not wait (wait with
/// `nx_promise_wait` or a listener first). On error `*result_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_ETIMEDOUT` (not complete yet), the operation's error if it failed
/// (`NX_ECANCELLED` if cancelled, `NX_EASYNCCLOSE`, `NX_ETIMEDOUT`, `-ECONNRESET`, ...),
/// `NX_EINVAL` (NULL, not a promise, or the future of something else, such as an accept),
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_result(future: *mut nx_promise_t, result_out: *mut i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(result_out)?;
            let object = handle::get(future)?;
            if nioxide_core::sys::fork::is_forked(object.generation) {
                return Err(crate::error::NX_EFORKED);
            }
            let result = object.promise()?.with_outcome(|outcome| match outcome {
                None => Err(NX_ETIMEDOUT),
                Some(Outcome::Failure(f)) => Err(f.error.code()),
                Some(Outcome::Success(value)) => {
                    let value = value.as_deref().ok_or(NX_EINVAL)?;
                    if let Some(n) = value.downcast_ref::<usize>() {
                        Ok(n.c_result())
                    } else if let Some(read) = value.downcast_ref::<ReadOutcome>() {
                        Ok(read.c_result())
                    } else if value.is::<()>() || value.is::<FileLock>() {
                        Ok(0)
                    } else {
                        Err(NX_EINVAL)
                    }
                }
            })?;
            out.set(result);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_positions_are_checked() {
        assert_eq!(timeout(0), None);
        assert_eq!(timeout(-5), None);
        assert_eq!(timeout(7), Some(Duration::from_millis(7)));
        assert_eq!(position(0), Ok(0));
        assert_eq!(position(-1), Err(NX_EINVAL));
    }

    #[test]
    fn buffers_are_checked() {
        assert!(one_buf(std::ptr::null_mut(), 0).is_ok());
        assert_eq!(one_buf(std::ptr::null_mut(), 1).err(), Some(NX_EINVAL));
        let mut a = [0u8; 4];
        let iov = [iovec {
            iov_base: a.as_mut_ptr().cast(),
            iov_len: 4,
        }];
        assert_eq!(iov_bufs(iov.as_ptr(), 1).map(|b| b.total_len()), Ok(4));
        assert_eq!(iov_bufs(iov.as_ptr(), 0).err(), Some(NX_EINVAL));
        assert_eq!(iov_bufs(iov.as_ptr(), -1).err(), Some(NX_EINVAL));
        assert_eq!(iov_bufs(std::ptr::null(), 1).err(), Some(NX_EINVAL));
        let bad = [iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 1,
        }];
        assert_eq!(iov_bufs(bad.as_ptr(), 1).err(), Some(NX_EINVAL));
    }

    #[test]
    fn handler_tables_need_both_functions() {
        unsafe extern "C" fn completed(_: i64, _: *mut c_void) {}
        unsafe extern "C" fn failed(_: c_int, _: *mut c_void) {}
        let full = nx_completion_handler_t {
            completed: Some(completed),
            failed: Some(failed),
        };
        let half = nx_completion_handler_t {
            completed: Some(completed),
            failed: None,
        };
        assert!(words(&full, std::ptr::null_mut()).is_ok());
        assert_eq!(words(&half, std::ptr::null_mut()).err(), Some(NX_EINVAL));
        assert_eq!(
            words::<nx_completion_handler_t>(std::ptr::null(), std::ptr::null_mut()).err(),
            Some(NX_EINVAL)
        );
    }
}
