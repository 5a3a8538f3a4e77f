//! Reports on standard error that can neither kill nor fail the application.
//!
//! nioxide reports what it cannot return (a task's failure, a callback's panic) on standard
//! error. Written with `eprintln!`, a report to a pipe nobody reads would raise `SIGPIPE` in
//! the calling thread, which kills a C program that keeps the default action (nioxide never
//! raises `SIGPIPE`), and would then panic on the error. Here `SIGPIPE` is blocked around the
//! write, and one it raised is taken back before the signal mask is restored (the technique
//! libraries that write to pipes on the application's behalf use).

use std::mem::MaybeUninit;

/// Writes `line` and a newline to standard error, in one `write(2)` where it fits. A report
/// that cannot be written is lost. Thread safety: safe from any thread (the signal mask is the
/// calling thread's).
pub fn report(line: &str) {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    // SAFETY: plain libc calls on local, initialized signal sets and a live buffer.
    unsafe {
        let mut pipe = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(pipe.as_mut_ptr());
        libc::sigaddset(pipe.as_mut_ptr(), libc::SIGPIPE);
        let pipe = pipe.assume_init();
        let mut saved = MaybeUninit::<libc::sigset_t>::uninit();
        if libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, saved.as_mut_ptr()) != 0 {
            return;
        }
        let saved = saved.assume_init();
        let pending_before = sigpipe_pending();
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            let n = libc::write(libc::STDERR_FILENO, rest.as_ptr().cast(), rest.len());
            if n > 0 {
                rest = &rest[n as usize..];
            } else if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            } else {
                break;
            }
        }
        if !pending_before && sigpipe_pending() {
            // Raised by this write: take it back, so it is never delivered.
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut());
    }
}

/// Whether `SIGPIPE` is pending for this thread (or the process).
fn sigpipe_pending() -> bool {
    // SAFETY: `sigpending` fills the local set.
    unsafe {
        let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(pending.as_mut_ptr());
        if libc::sigpending(pending.as_mut_ptr()) != 0 {
            return false;
        }
        libc::sigismember(pending.as_ptr(), libc::SIGPIPE) == 1
    }
}
