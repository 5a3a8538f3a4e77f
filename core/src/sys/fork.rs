//! Fork detection: a generation counter bumped in the child of every `fork()`.
//!
//! Objects record [`generation`] when created and compare it on every call (one atomic
//! load, no `getpid`). A mismatch means the object was created before a fork and the
//! caller is the child: the call fails with [`ErrorKind::Forked`](crate::ErrorKind::Forked),
//! and dropping the object closes its descriptors without touching the parent's epoll set.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The current fork generation: 0 in the original process, bumped in each forked child.
///
/// The first call installs the `pthread_atfork` child handler; nioxide calls it whenever it
/// creates an object, so every object is covered.
pub fn generation() -> u64 {
    INSTALL.call_once(|| {
        // SAFETY: registers a plain function that only touches an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
    GENERATION.load(Ordering::Relaxed)
}

/// Runs `hook` in the child of every later `fork()`, after the generation is bumped. The hook
/// runs in a process with one thread, where another thread's lock may be held forever: it must
/// take no lock and allocate nothing.
pub fn on_child(hook: unsafe extern "C" fn()) {
    generation();
    // SAFETY: registers a plain function; its contract is the caller's (see above).
    unsafe { libc::pthread_atfork(None, None, Some(hook)) };
}

/// Whether an object created in `created` generation lives in a forked child now.
#[inline]
pub fn is_forked(created: u64) -> bool {
    GENERATION.load(Ordering::Relaxed) != created
}

/// Fails with [`ErrorKind::Forked`](crate::ErrorKind::Forked) when `created` is not the
/// current generation.
#[inline]
pub fn check(created: u64) -> crate::Result<()> {
    if is_forked(created) {
        Err(crate::ErrorKind::Forked.into())
    } else {
        Ok(())
    }
}
