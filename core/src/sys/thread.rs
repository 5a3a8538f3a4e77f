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

/// A number naming the calling thread among the live threads of the process: its thread
/// pointer (the address of its thread control block). Cheap enough for every call on a hot
/// path: one instruction on x86-64 and AArch64 (a `thread_local!` in a shared library goes
/// through `__tls_get_addr`), a call of `pthread_self` elsewhere. Never 0. A thread that has
/// exited may pass its number on to a new thread, so compare it only with values stored by
/// threads that are still running (a loop's run-right holder clears its own).
#[inline]
pub fn token() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let tp: usize;
        // SAFETY: the x86-64 TLS ABI puts the thread pointer's own address in the first word
        // of the thread control block, at %fs:0; the load has no side effect.
        unsafe {
            std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
                options(nostack, readonly, preserves_flags));
        }
        tp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let tp: usize;
        // SAFETY: reads the thread pointer register, which the C library sets per thread.
        unsafe {
            std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp,
                options(nomem, nostack, preserves_flags));
        }
        tp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        // SAFETY: no preconditions.
        unsafe { libc::pthread_self() as usize }
    }
}

#[cfg(test)]
mod tests {
    use super::token;

    #[test]
    fn each_live_thread_has_its_own_token() {
        let here = token();
        assert_ne!(here, 0);
        assert_eq!(here, token());
        let there = std::thread::spawn(token).join().unwrap();
        assert_ne!(here, there);
        #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
        {
            // SAFETY: no preconditions.
            let pthread = unsafe { libc::pthread_self() } as usize;
            assert_eq!(
                here, pthread,
                "on x86-64 the thread pointer is glibc's pthread_t"
            );
        }
    }
}
