//! A descriptor that is closed only after the last call using it has left.
//!
//! Every operation on a channel [`enter`](GuardedFd::enter)s the descriptor and holds the
//! returned [`FdGuard`] for the length of its system calls. [`close`](GuardedFd::close) marks
//! the descriptor closed at once (new calls fail with `Closed`) but the `close(2)` itself runs
//! when the last guard drops, so a stale call can never hit a reused descriptor number.
//! [`detach`](GuardedFd::detach) closes it the same way but hands the descriptor back instead
//! of closing it, once no call uses it any more.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

const CLOSED: u64 = 1 << 63;
/// Set once `close(2)` ran, so it runs exactly once whoever gets there last.
const DONE: u64 = 1 << 62;
/// Set with `CLOSED` by `detach`: the descriptor belongs to the caller, `close(2)` never runs.
const DETACHED: u64 = 1 << 61;
/// The in-flight call count (the bits below the flags).
const CALLS: u64 = DETACHED - 1;

/// Counts descriptors closed by nioxide; accept back-off ends when it moves.
pub(crate) static CLOSE_EPOCH: AtomicU64 = AtomicU64::new(0);

/// An owned descriptor with an in-flight call count and a closed flag.
#[derive(Debug)]
pub struct GuardedFd {
    fd: RawFd,
    /// Whether nioxide owns the descriptor (a user's raw fd is never closed by nioxide).
    owned: bool,
    /// Bit 63: closed; bit 62: descriptor released; bit 61: detached; low bits: calls in
    /// flight.
    state: AtomicU64,
}

/// Proof that a call is in flight on a [`GuardedFd`]; the descriptor stays open while it lives.
#[derive(Debug)]
pub struct FdGuard<'a> {
    owner: &'a GuardedFd,
}

impl GuardedFd {
    /// Takes ownership of `fd`.
    pub fn new(fd: RawFd) -> GuardedFd {
        GuardedFd {
            fd,
            owned: true,
            state: AtomicU64::new(0),
        }
    }

    /// Borrows `fd`, which the user owns: "closing" only stops nioxide from using it.
    pub fn borrowed(fd: RawFd) -> GuardedFd {
        GuardedFd {
            fd,
            owned: false,
            state: AtomicU64::new(0),
        }
    }

    /// The descriptor number, for display and for `fileno()`; valid while the object is open.
    pub fn raw(&self) -> RawFd {
        self.fd
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Starts a call: `None` once the descriptor was closed.
    #[inline]
    pub fn enter(&self) -> Option<FdGuard<'_>> {
        let prev = self.state.fetch_add(1, Ordering::Acquire);
        if prev & CLOSED != 0 {
            self.leave();
            return None;
        }
        Some(FdGuard { owner: self })
    }

    #[inline]
    fn leave(&self) {
        let prev = self.state.fetch_sub(1, Ordering::AcqRel);
        if prev & !DONE == CLOSED | 1 {
            self.close_now();
        }
    }

    /// Marks the descriptor closed; `close(2)` runs now or when the last call leaves.
    /// Returns whether this call was the one that closed it.
    pub fn close(&self) -> bool {
        let prev = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if prev & CLOSED != 0 {
            return false;
        }
        if prev == 0 {
            self.close_now();
        }
        true
    }

    /// Marks the descriptor closed without closing it: new calls fail as after
    /// [`close`](Self::close), and `close(2)` never runs. Returns the descriptor, or `None` if
    /// it was closed (or detached) already. The calls in flight may still use it: wait for
    /// them (see [`is_busy`](Self::is_busy)) before handing it on.
    pub fn detach(&self) -> Option<RawFd> {
        // Only an open descriptor is detached: one a close came to first stays that close's
        // (its `close(2)` still runs when the last call leaves).
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state & CLOSED == 0).then_some(state | CLOSED | DETACHED)
            })
            .ok()
            .map(|_| self.fd)
    }

    /// Whether a call is in flight.
    pub fn is_busy(&self) -> bool {
        self.state.load(Ordering::Acquire) & CALLS != 0
    }

    fn close_now(&self) {
        if self.state.fetch_or(DONE, Ordering::AcqRel) & (DONE | DETACHED) != 0 || !self.owned {
            return;
        }
        // SAFETY: we own `fd`; the state machine reaches "closed with no calls" exactly once.
        unsafe { libc::close(self.fd) };
        CLOSE_EPOCH.fetch_add(1, Ordering::Release);
    }
}

impl Drop for GuardedFd {
    fn drop(&mut self) {
        self.close();
    }
}

impl FdGuard<'_> {
    /// The descriptor, open for as long as the guard lives.
    #[inline]
    pub fn fd(&self) -> RawFd {
        self.owner.fd
    }
}

impl Drop for FdGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.owner.leave();
    }
}

/// A descriptor that never becomes ready: an empty epoll instance (close-on-exec). What an
/// object a loop serves without a descriptor of its own (the pipeline's local channels)
/// registers, so that the loop's shutdown reaches it.
///
/// # Errors
/// OS errors such as `EMFILE`.
pub fn never_ready() -> crate::Result<std::os::fd::OwnedFd> {
    // SAFETY: a plain system call with a flag argument.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(crate::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_open(fd: RawFd) -> bool {
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    /// What `fd` refers to now (device and inode), if open. Other tests of this binary make
    /// descriptors in parallel, so a closed number may already name something else.
    fn identity(fd: RawFd) -> Option<(u64, u64)> {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
    }

    #[test]
    fn a_detach_refused_after_a_close_leaves_the_close_to_the_last_call() {
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        let before = identity(fd);
        let g = GuardedFd::new(fd);
        let call = g.enter().unwrap();
        assert!(g.close());
        assert_eq!(g.detach(), None, "closed already: nothing to detach");
        assert_eq!(identity(fd), before);
        drop(call);
        assert_ne!(identity(fd), before, "the last call closed it");
    }

    #[test]
    fn close_waits_for_the_last_call() {
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        let before = identity(fd);
        let g = GuardedFd::new(fd);
        let call = g.enter().unwrap();
        assert!(g.close());
        assert!(!g.close(), "second close is a no-op");
        assert!(g.enter().is_none());
        assert_eq!(identity(fd), before, "open while a call is in flight");
        drop(call);
        assert_ne!(identity(fd), before, "closed by the last call");
        // The number is free again (unless a parallel test took it): a refused call on the
        // closed guard never closes what now has that number.
        let other = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(g.enter().is_none());
        assert!(is_open(other));
        unsafe { libc::close(other) };
    }
}
