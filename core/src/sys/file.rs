//! Regular-file system calls for the asynchronous file channel: open, positional read and
//! write, size, truncate, sync, and open-file-description record locks (`F_OFD_SETLK`: owned
//! by the open file description, so two descriptors opened separately conflict also within
//! one process, unlike classic POSIX locks).

use std::ffi::CString;
use std::os::fd::RawFd;
use std::path::Path;

use crate::{Error, ErrorKind, Result};

/// Runs a libc call; `-1` becomes the thread's `errno` as an [`Error`], `EINTR` is retried.
macro_rules! syscall_retry {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        loop {
            // SAFETY: the caller passes valid descriptors and buffers (checked at each use).
            #[allow(unused_unsafe)]
            let res = unsafe { libc::$fn($($arg),*) };
            if res == -1 {
                let err = $crate::Error::last_os_error();
                if err.is_os(libc::EINTR) {
                    continue;
                }
                break Err(err);
            }
            break Ok(res);
        }
    }};
}

/// Opens `path` with `flags` (`O_RDONLY`, `O_WRONLY` or `O_RDWR`, plus `O_CREAT`, `O_EXCL`,
/// `O_TRUNC`; `O_CLOEXEC` is always added) and mode 0o666 (less the umask) for a new file.
///
/// # Errors
/// `InvalidArgument` for a path with a NUL byte; OS errors such as `ENOENT`, `EACCES`.
pub fn open(path: &Path, flags: libc::c_int) -> Result<RawFd> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::from(ErrorKind::InvalidArgument))?;
    syscall_retry!(open(
        path.as_ptr(),
        flags | libc::O_CLOEXEC,
        0o666 as libc::c_uint
    ))
}

/// Reads at `offset` into `buf` (one `pread`): the count, 0 at or past the end.
pub fn pread(fd: RawFd, buf: &mut [u8], offset: u64) -> Result<usize> {
    let n = syscall_retry!(pread(
        fd,
        buf.as_mut_ptr().cast(),
        buf.len(),
        offset as libc::off_t
    ))?;
    Ok(n as usize)
}

/// Writes `buf` at `offset` (one `pwrite`): the count written.
pub fn pwrite(fd: RawFd, buf: &[u8], offset: u64) -> Result<usize> {
    let n = syscall_retry!(pwrite(
        fd,
        buf.as_ptr().cast(),
        buf.len(),
        offset as libc::off_t
    ))?;
    Ok(n as usize)
}

/// The file's size.
pub fn size(fd: RawFd) -> Result<u64> {
    // SAFETY: `stat` is plain data; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    syscall_retry!(fstat(fd, &mut st))?;
    Ok(st.st_size as u64)
}

/// Sets the file's size (`ftruncate`).
pub fn truncate(fd: RawFd, size: u64) -> Result<()> {
    syscall_retry!(ftruncate(fd, size as libc::off_t)).map(drop)
}

/// Flushes the file's data (`fdatasync`), or data and metadata (`fsync`).
pub fn sync(fd: RawFd, metadata: bool) -> Result<()> {
    if metadata {
        syscall_retry!(fsync(fd)).map(drop)
    } else {
        syscall_retry!(fdatasync(fd)).map(drop)
    }
}

/// The access mode the descriptor was opened with (`O_RDONLY`, `O_WRONLY`, `O_RDWR`).
pub fn access_mode(fd: RawFd) -> Result<libc::c_int> {
    Ok(syscall_retry!(fcntl(fd, libc::F_GETFL))? & libc::O_ACCMODE)
}

/// What one open-file-description lock request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// A read (shared) lock.
    Shared,
    /// A write (exclusive) lock.
    Exclusive,
    /// Releases the region.
    Unlock,
}

/// One non-blocking open-file-description lock request on `len` bytes at `start` (`len` 0 =
/// to the end of the file, however it grows): `Ok(true)` done, `Ok(false)` a conflicting
/// lock is held (by another open file description, also in this process).
pub fn ofd_lock(fd: RawFd, kind: LockKind, start: u64, len: u64) -> Result<bool> {
    // SAFETY: `flock` is plain data; `l_pid` must be 0 for OFD locks.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
        LockKind::Unlock => libc::F_UNLCK,
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start as libc::off_t;
    fl.l_len = len as libc::off_t;
    match syscall_retry!(fcntl(fd, libc::F_OFD_SETLK, &mut fl)) {
        Ok(_) => Ok(true),
        Err(e) if e.is_os(libc::EAGAIN) || e.is_os(libc::EACCES) => Ok(false),
        Err(e) => Err(e),
    }
}
