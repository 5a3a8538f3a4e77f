//! Threads the library starts: named, with asynchronous signals blocked so signals reach the
//! application's own threads.

use std::thread::JoinHandle;

use crate::Result;

/// Spawns a thread named `name` running `f`, with every asynchronous signal blocked in it
/// (synchronous ones such as `SIGSEGV` cannot be blocked and stay deliverable).
///
/// # Errors
/// OS errors from thread creation.
pub fn spawn_with_signals_blocked(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>> {
    // SAFETY: plain signal-mask calls on valid sigset_t values; the new thread inherits the
    // mask in force when it is created, and ours is restored right after.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let spawned = std::thread::Builder::new().name(name).spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        Ok(spawned?)
    }
}
