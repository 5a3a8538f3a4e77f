//! The frame the core-only benchmark servers (`pipeline_echo_server`, `aio_echo_server`)
//! share with the C servers of `bench/`: the report signals and the line `bench/run.sh`
//! reads. Not an example of its own (Cargo builds `examples/*.rs`, and this directory has no
//! `main.rs`); each server includes it as a module.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bytes the server echoed, reported with its CPU time.
pub static BYTES: AtomicU64 = AtomicU64::new(0);

/// Blocks SIGUSR1, SIGTERM and SIGINT in the calling thread (call it before any other thread
/// starts, so the loop threads inherit the mask) and returns the set for [`serve_signals`].
pub fn block_report_signals() -> libc::sigset_t {
    // SAFETY: signal-mask calls on a set of our own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGUSR1, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Prints `listening on ADDR` (what `bench/run.sh` waits for).
pub fn listening(addr: std::net::SocketAddr) {
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
}

/// Waits for the signals of `set` for good: on each, prints
/// `rusage user_us=U sys_us=S bytes=B`; SIGTERM and SIGINT then end the process.
pub fn serve_signals(set: libc::sigset_t) -> ! {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: waits for one of the blocked signals of `set`.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        // SAFETY: getrusage fills the struct we pass.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru);
            ru
        };
        let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        println!(
            "rusage user_us={} sys_us={} bytes={}",
            us(ru.ru_utime),
            us(ru.ru_stime),
            BYTES.load(Ordering::Relaxed)
        );
        let _ = std::io::stdout().flush();
        if sig != libc::SIGUSR1 {
            std::process::exit(0);
        }
    }
}
