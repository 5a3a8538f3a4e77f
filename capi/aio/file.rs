//! Asynchronous file channels in C: `nx_aio_file_*` over
//! `nioxide_core::aio::AsynchronousFileChannel` (Java's `AsynchronousFileChannel`).
//!
//! Reads and writes at a position run on the group's small pool of blocking threads; their
//! handlers run on the channel's loop thread. `size`, `truncate`, `force` and `try_lock` run
//! on the calling thread, as Java's do. Locks are open-file-description locks (two channels
//! of one process conflict); C names a lock by its region (`nx_aio_file_unlock`).

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use nioxide_core::aio::{AsynchronousFileChannel, FileLock, Handler, OpenOptions};
use nioxide_core::event_loop::{Failure, Promise};
use nioxide_core::sync::lock;

use crate::aio::group::with_group;
use crate::aio::{
    lock_handler, new_handle, nx_completion_handler_t, one_buf, position, store_future,
};
use crate::args::{Out, code, predicate, status};
use crate::error::NX_EINVAL;
use crate::handle::{self, Late};
use crate::nx_ffi_boundary;
use crate::types::{FileObject, nx_aio_file_t, nx_aio_group_t, nx_promise_t};

/// `nx_aio_file_open` option: open for reading.
pub const NX_FILE_READ: c_int = 1;
/// `nx_aio_file_open` option: open for writing.
pub const NX_FILE_WRITE: c_int = 2;
/// `nx_aio_file_open` option: create the file if it does not exist (needs `NX_FILE_WRITE`).
pub const NX_FILE_CREATE: c_int = 4;
/// `nx_aio_file_open` option: create the file, failing with `-EEXIST` if it exists (needs
/// `NX_FILE_WRITE`).
pub const NX_FILE_CREATE_NEW: c_int = 8;
/// `nx_aio_file_open` option: truncate an existing file to 0 bytes (needs `NX_FILE_WRITE`).
pub const NX_FILE_TRUNCATE: c_int = 16;

/// Every option bit.
const ALL_OPTIONS: c_int =
    NX_FILE_READ | NX_FILE_WRITE | NX_FILE_CREATE | NX_FILE_CREATE_NEW | NX_FILE_TRUNCATE;

/// Core's options for C's bits; unknown bits are `NX_EINVAL` (core checks the combinations).
fn options(bits: c_int) -> Result<OpenOptions, c_int> {
    if bits & !ALL_OPTIONS != 0 {
        return Err(NX_EINVAL);
    }
    Ok(OpenOptions {
        read: bits & NX_FILE_READ != 0,
        write: bits & NX_FILE_WRITE != 0,
        create: bits & NX_FILE_CREATE != 0,
        create_new: bits & NX_FILE_CREATE_NEW != 0,
        truncate: bits & NX_FILE_TRUNCATE != 0,
    })
}

/// Runs `f` with the file channel behind a C handle, borrowed for the call.
fn with_file<R>(
    file: *mut nx_aio_file_t,
    f: impl FnOnce(&FileObject) -> Result<R, c_int>,
) -> Result<R, c_int> {
    handle::with(file, |late| f(late.get()?))?
}

/// A lock's region: position and size (0: to the end of the file), neither negative.
fn region(offset: i64, size: i64) -> Result<(u64, u64), c_int> {
    Ok((position(offset)?, position(size)?))
}

/// Takes the lock held through `file` on exactly `size` bytes at `at` out of its list
/// (`NX_EINVAL` if there is none).
fn take_region(file: &FileObject, at: u64, size: u64) -> Result<FileLock, c_int> {
    let mut locks = lock(&file.locks);
    let index = locks
        .iter()
        .position(|l| l.is_valid() && l.position() == at && l.size() == size)
        .ok_or(NX_EINVAL)?;
    Ok(locks.swap_remove(index))
}

/// Releases a lock whose future nobody wants any more (cancelled).
fn release_region(file: &Late<FileObject>, at: u64, size: u64) {
    if let Ok(held) = file.get().and_then(|f| take_region(f, at, size)) {
        let _ = held.release();
    }
}

/// Opens the file at `path` (a NUL-terminated path, read during the call) with `options`
/// (`NX_FILE_*` bits: at least one of read and write) in `group`; its handlers run on the
/// group's next loop.
///
/// Ownership: on success `*file_out` is a new channel that the caller owns and must release
/// with `nx_aio_file_free`. On error `*file_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL, unknown bits, neither read nor write, create or truncate
/// without write), `NX_EGROUPSHUTDOWN`, `NX_EBADHANDLE`, `NX_EFORKED`, OS errors (`-ENOENT`,
/// `-EEXIST`, `-EACCES`, ...).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_open(
    group: *mut nx_aio_group_t,
    path: *const c_char,
    options_bits: c_int,
    file_out: *mut *mut nx_aio_file_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(file_out)?;
            if path.is_null() {
                return Err(NX_EINVAL);
            }
            let options = options(options_bits)?;
            // SAFETY: a NUL-terminated string the caller passes for the call.
            let path = Path::new(std::ffi::OsStr::from_bytes(unsafe { CStr::from_ptr(path) }.to_bytes()));
            let file = with_group(group, |g| AsynchronousFileChannel::open(g, path, options).map_err(code))?;
            let object = FileObject { file: file.clone(), locks: Mutex::new(Vec::new()) };
            match new_handle::<nx_aio_file_t>(object, file.event_loop()) {
                Ok(ptr) => {
                    out.set(ptr);
                    Ok(())
                }
                Err(e) => {
                    file.close();
                    Err(e)
                }
            }
        })
    }
}

/// Reads into `buf` (`len` bytes; NULL only with 0) from `position`:
/// `handler->completed(n, attachment)` with the count, or `NX_EOF` at or past the end of the
/// file, or `handler->failed(error, attachment)`, on the channel's loop thread, never inside
/// this call. Any number of operations may be pending. `buf` is borrowed until the handler
/// starts. The handler table is copied; nioxide never frees `attachment` (see
/// `nx_completion_handler_t`).
///
/// Thread safety: safe from any thread.
///
/// Errors (the handler is never called): `NX_EINVAL` (negative position, NULL handler or
/// function, NULL `buf` with a length), `NX_ECLOSED`, `NX_EGROUPSHUTDOWN`, `NX_EBADHANDLE`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_read(
    file: *mut nx_aio_file_t,
    buf: *mut c_void,
    len: usize,
    position: i64,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let at = crate::aio::position(position)?;
            let handler = crate::aio::handler(handler, attachment)?;
            let bufs = one_buf(buf, len)?;
            with_file(file, |f| f.file.read(bufs, at, handler).map_err(code))
        })
    }
}

/// `nx_aio_file_read` with a future (`nx_aio_result` gives the count or `NX_EOF`).
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_file_read`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_read_future(
    file: *mut nx_aio_file_t,
    buf: *mut c_void,
    len: usize,
    position: i64,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(future_out)?;
            let at = crate::aio::position(position)?;
            let bufs = one_buf(buf, len)?;
            let future = with_file(file, |f| f.file.read_future(bufs, at).map_err(code))?;
            store_future(future, out)
        })
    }
}

/// Writes `buf` (`len` bytes) at `position` (past the end, the gap reads as zeros):
/// `handler->completed(n, attachment)` with the count written, or
/// `handler->failed(error, attachment)` (`-EBADF` for a channel not opened for writing,
/// `-ENOSPC` on a full disk), on the channel's loop thread, never inside this call. `buf` is
/// borrowed until the handler starts.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_file_read`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_write(
    file: *mut nx_aio_file_t,
    buf: *const c_void,
    len: usize,
    position: i64,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let at = crate::aio::position(position)?;
            let handler = crate::aio::handler(handler, attachment)?;
            let bufs = one_buf(buf.cast_mut(), len)?;
            with_file(file, |f| f.file.write(bufs, at, handler).map_err(code))
        })
    }
}

/// `nx_aio_file_write` with a future (`nx_aio_result` gives the count).
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: as `nx_aio_file_write`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_write_future(
    file: *mut nx_aio_file_t,
    buf: *const c_void,
    len: usize,
    position: i64,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(future_out)?;
            let at = crate::aio::position(position)?;
            let bufs = one_buf(buf.cast_mut(), len)?;
            let future = with_file(file, |f| f.file.write_future(bufs, at).map_err(code))?;
            store_future(future, out)
        })
    }
}

/// Stores the file's size in `*size_out` (unchanged on error). On the calling thread.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, OS errors.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_size(file: *mut nx_aio_file_t, size_out: *mut i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(size_out)?;
            let size = with_file(file, |f| f.file.size().map_err(code))?;
            out.set(i64::try_from(size).unwrap_or(i64::MAX));
            Ok(())
        })
    }
}

/// Truncates the file to `size` bytes if it is longer (Java's `truncate`: a larger size
/// changes nothing). On the calling thread.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (negative size; `-EINVAL` for a channel not opened for writing),
/// `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, OS errors.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_truncate(file: *mut nx_aio_file_t, size: i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let size = position(size)?;
            with_file(file, |f| f.file.truncate(size).map_err(code))
        })
    }
}

/// Flushes the file's data to the device (`fdatasync`), and its metadata too if `metadata`
/// is non-zero (`fsync`). On the calling thread.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_ECLOSED`, `NX_EBADHANDLE`, `NX_EFORKED`, OS errors.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_force(file: *mut nx_aio_file_t, metadata: c_int) -> c_int {
    nx_ffi_boundary! {
        status(|| with_file(file, |f| f.file.force(metadata != 0).map_err(code)))
    }
}

/// Takes a lock on `size` bytes at `position` (`size` 0: to the end of the file, however it
/// grows), shared if `shared` is non-zero, else exclusive: `handler->completed(0,
/// attachment)` once it is held, waiting as long as another open file description (another
/// channel, another process) holds a conflicting lock (retried on the loop, never occupying a
/// pool thread), or `handler->failed(NX_EASYNCCLOSE, attachment)` if the channel closes
/// first. Release it with `nx_aio_file_unlock` (or by closing the channel).
///
/// Thread safety: safe from any thread.
///
/// Errors (the handler is never called): `NX_EINVAL` (negative position or size, NULL
/// handler or function), `NX_EOVERLAPPINGLOCK` (a lock held or waited for through this
/// channel overlaps the region: Java's rule; the kernel would merge them), `NX_ECLOSED`,
/// `NX_EREJECTED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_lock(
    file: *mut nx_aio_file_t,
    position: i64,
    size: i64,
    shared: c_int,
    attachment: *mut c_void,
    handler: *const nx_completion_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (at, size) = region(position, size)?;
            let object: Arc<Late<FileObject>> = handle::get(file)?;
            let handler = lock_handler(handler, attachment, object.clone())?;
            object.get()?.file.lock(at, size, shared != 0, handler).map_err(code)
        })
    }
}

/// `nx_aio_file_lock` with a future (`nx_aio_result` gives 0 once the lock is held; release
/// it with `nx_aio_file_unlock`). Cancelling the future fails it with `NX_ECANCELLED` at once;
/// the channel goes on waiting for the lock, and releases it as soon as it gets it.
///
/// Ownership: on success `*future_out` is a new promise handle the caller owns and must
/// release with `nx_promise_free`. On error it is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (negative position or size), `NX_EOVERLAPPINGLOCK`, `NX_ECLOSED`,
/// `NX_EREJECTED`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_lock_future(
    file: *mut nx_aio_file_t,
    position: i64,
    size: i64,
    shared: c_int,
    future_out: *mut *mut nx_promise_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(future_out)?;
            let (at, size) = region(position, size)?;
            let object: Arc<Late<FileObject>> = handle::get(file)?;
            let channel = &object.get()?.file;
            let promise = Promise::new(Some(channel.event_loop()));
            let completing = promise.clone();
            let keeper = object.clone();
            let handler = Handler::new(move |result: nioxide_core::Result<FileLock>| match result {
                Ok(held) => {
                    // The lock is recorded before the future says it is held.
                    let kept = keeper.get().map(|o| lock(&o.locks).push(held)).is_ok();
                    if !kept || !completing.try_success(Some(Box::new(()))) {
                        release_region(&keeper, at, size);
                    }
                }
                Err(error) => {
                    completing.try_failure(Failure::new(error));
                }
            });
            channel.lock(at, size, shared != 0, handler).map_err(code)?;
            store_future(promise, out)
        })
    }
}

/// Tries to take a lock at once, on the calling thread (as `nx_aio_file_lock` says): returns
/// 1 if it is held now, 0 if another open file description holds a conflicting lock, or a
/// negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EOVERLAPPINGLOCK` (as `nx_aio_file_lock` says), `NX_ECLOSED`,
/// `NX_EBADHANDLE`, `NX_EFORKED`, OS errors.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_try_lock(
    file: *mut nx_aio_file_t,
    position: i64,
    size: i64,
    shared: c_int,
) -> c_int {
    nx_ffi_boundary! {
        predicate(|| {
            let (at, size) = region(position, size)?;
            with_file(file, |f| match f.file.try_lock(at, size, shared != 0).map_err(code)? {
                Some(held) => {
                    lock(&f.locks).push(held);
                    Ok(true)
                }
                None => Ok(false),
            })
        })
    }
}

/// Releases the lock this channel took on exactly `size` bytes at `position` (as given to
/// `nx_aio_file_lock` or `nx_aio_file_try_lock`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (no such lock held through this channel), `NX_ECLOSED`,
/// `NX_EBADHANDLE`, `NX_EFORKED`, OS errors.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_unlock(file: *mut nx_aio_file_t, position: i64, size: i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (at, size) = region(position, size)?;
            with_file(file, |f| take_region(f, at, size)?.release().map_err(code))
        })
    }
}

/// Whether the channel is open: 1 or 0, or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_is_open(file: *mut nx_aio_file_t) -> c_int {
    nx_ffi_boundary! {
        predicate(|| with_file(file, |f| Ok(f.file.is_open())))
    }
}

/// Closes the channel (idempotent, returns 0 every time): pending operations, waiting locks
/// included, fail with `NX_EASYNCCLOSE`, once each, on the loop's thread; it returns once no
/// system call of a pending operation uses its memory. The descriptor closes (releasing the
/// locks) once no call uses it. The handle stays valid until `nx_aio_file_free`.
///
/// Thread safety: safe from any thread, also from a handler.
///
/// Errors: `NX_EINVAL` (NULL or not a file channel), `NX_EBADHANDLE` (freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_close(file: *mut nx_aio_file_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(f) = handle::get(file)?.unforked() {
                f.file.close();
            }
            Ok(())
        })
    }
}

/// Frees the channel: closes it if needed (as `nx_aio_file_close`), then invalidates the
/// handle; every later call with it returns `NX_EBADHANDLE`.
///
/// Thread safety: safe from any thread, also from a handler.
///
/// Errors: `NX_EINVAL` (NULL or not a file channel), `NX_EBADHANDLE` (already freed).
#[unsafe(no_mangle)]
pub extern "C" fn nx_aio_file_free(file: *mut nx_aio_file_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if let Some(f) = handle::remove(file)?.unforked() {
                f.file.close();
            }
            Ok(())
        })
    }
}
