//! The poll backend: one epoll instance (through mio), its waker and its counters.
//!
//! A backend registers every descriptor once, edge-triggered, for both read and write
//! readiness; interest sets are applied in user space by its users (the selector), so
//! changing interest costs no system call. The counters make "no system call per event" a
//! tested fact: `waits` counts `epoll_wait` calls, `ctl` counts `epoll_ctl` calls and
//! `events` counts the events delivered.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::{ErrorKind, Result};

/// The token of the backend's own waker.
pub const WAKER_TOKEN: Token = Token(usize::MAX);

/// A snapshot of a backend's system-call and event counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `epoll_wait` calls.
    pub waits: u64,
    /// `epoll_ctl` calls (add, modify, delete).
    pub ctl: u64,
    /// Events delivered by `epoll_wait` (the waker's included).
    pub events: u64,
    /// `epoll_wait` calls that returned no event (timed out); a spinning loop shows here.
    pub empty_waits: u64,
}

/// An epoll instance with a waker and counters. Thread-safe: registration and waking may
/// happen from any thread while another waits. [`close`](Backend::close) releases its
/// descriptors once the calls in flight have left.
#[derive(Debug)]
pub struct Backend {
    /// The descriptors (the epoll instance, a duplicate of it to register from other threads
    /// while one waits, the waker's eventfd): each call holds the read lock, `close` takes
    /// them out under the write lock.
    parts: RwLock<Option<Parts>>,
    fd: RawFd,
    waits: AtomicU64,
    ctl: AtomicU64,
    events: AtomicU64,
    empty_waits: AtomicU64,
}

#[derive(Debug)]
struct Parts {
    poll: Mutex<Poll>,
    registry: Registry,
    waker: Waker,
}

impl Backend {
    /// Creates the epoll instance (close-on-exec) and its waker.
    pub fn new() -> Result<Backend> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        let fd = poll.as_raw_fd();
        Ok(Backend {
            parts: RwLock::new(Some(Parts {
                poll: Mutex::new(poll),
                registry,
                waker,
            })),
            fd,
            waits: AtomicU64::new(0),
            ctl: AtomicU64::new(1),
            events: AtomicU64::new(0),
            empty_waits: AtomicU64::new(0),
        })
    }

    /// The descriptors, for one call; `Closed` once closed.
    fn parts(&self) -> Result<RwLockReadGuard<'_, Option<Parts>>> {
        let parts = self.parts.read().unwrap_or_else(|e| e.into_inner());
        if parts.is_none() {
            return Err(ErrorKind::Closed.into());
        }
        Ok(parts)
    }

    /// The epoll descriptor, for a host loop to poll (readable when a wait would return); -1
    /// once closed.
    pub fn fd(&self) -> RawFd {
        if self.is_closed() { -1 } else { self.fd }
    }

    fn is_closed(&self) -> bool {
        self.parts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Closes the descriptors (idempotent): a wait in progress is woken first, and the
    /// descriptors close once the calls in flight have left; later calls fail with `Closed`.
    ///
    /// In a forked child (`forked`) nothing is woken (the waker is the parent's too), and a
    /// call a parent's thread was making at the fork never leaves: if one was, the child's
    /// copies of the descriptors close when the backend is dropped instead of now.
    pub fn close(&self, forked: bool) {
        if forked {
            if let Ok(mut parts) = self.parts.try_write() {
                drop(parts.take());
            }
            return;
        }
        let _ = self.wake();
        let parts = self.parts.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(parts);
    }

    /// Registers `fd` under `token` for read and write readiness, edge-triggered.
    pub fn register(&self, fd: RawFd, token: usize) -> Result<()> {
        let parts = self.parts()?;
        self.ctl.fetch_add(1, Ordering::Relaxed);
        parts.as_ref().expect("open").registry.register(
            &mut SourceFd(&fd),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(())
    }

    /// Re-arms `fd` (`EPOLL_CTL_MOD`): epoll checks its readiness again and reports an edge
    /// if it is still ready. Level-triggered watches of raw descriptors use it after each event.
    pub fn reregister(&self, fd: RawFd, token: usize) -> Result<()> {
        let parts = self.parts()?;
        self.ctl.fetch_add(1, Ordering::Relaxed);
        parts.as_ref().expect("open").registry.reregister(
            &mut SourceFd(&fd),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(())
    }

    /// Removes `fd` from the epoll set. Never call it in a forked child.
    pub fn deregister(&self, fd: RawFd) -> Result<()> {
        let parts = self.parts()?;
        self.ctl.fetch_add(1, Ordering::Relaxed);
        parts
            .as_ref()
            .expect("open")
            .registry
            .deregister(&mut SourceFd(&fd))?;
        Ok(())
    }

    /// Makes a current or the next [`wait`](Self::wait) return.
    pub fn wake(&self) -> Result<()> {
        self.parts()?.as_ref().expect("open").waker.wake()?;
        Ok(())
    }

    /// One `epoll_wait` with `timeout` (`None` = forever). `EINTR` is returned as an error
    /// for the caller to handle.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> Result<()> {
        let parts = self.parts()?;
        let mut poll = parts
            .as_ref()
            .expect("open")
            .poll
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.waits.fetch_add(1, Ordering::Relaxed);
        let res = poll.poll(events, timeout);
        drop(poll);
        drop(parts);
        res?;
        let n = events.iter().count() as u64;
        self.events.fetch_add(n, Ordering::Relaxed);
        if n == 0 {
            self.empty_waits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        Counters {
            waits: self.waits.load(Ordering::Relaxed),
            ctl: self.ctl.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            empty_waits: self.empty_waits.load(Ordering::Relaxed),
        }
    }
}

/// Readiness bit: readable.
pub const READABLE: u32 = 1;
/// Readiness bit: writable.
pub const WRITABLE: u32 = 2;
/// Readiness bit (sticky): the peer closed its side; reads return end of stream.
pub const READ_CLOSED: u32 = 4;
/// Readiness bit (sticky): error or hang-up; every interest op is reported.
pub const ERROR: u32 = 8;
const FLAGS: u32 = 0xff;
const TICK_ONE: u32 = 0x100;

/// The readiness bits an event carries.
pub fn event_bits(event: &mio::event::Event) -> u32 {
    let mut bits = 0;
    if event.is_readable() {
        bits |= READABLE;
    }
    if event.is_writable() {
        bits |= WRITABLE;
    }
    if event.is_read_closed() {
        bits |= READ_CLOSED;
    }
    if event.is_error() || (event.is_read_closed() && event.is_write_closed()) {
        bits |= ERROR;
    }
    bits
}

/// A readiness cache set by the backend's edges and cleared by nioxide's own I/O.
///
/// The low 8 bits are readiness flags, the rest a tick bumped by every [`set`](Self::set);
/// [`clear`](Self::clear) only clears if no edge arrived since the caller's snapshot, so an
/// edge that races with a would-block result is never lost (tokio's `ScheduledIo` reasons
/// the same way).
#[derive(Debug, Default)]
pub struct Readiness(AtomicU32);

impl Readiness {
    /// The flags and tick now.
    #[inline]
    pub fn snapshot(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }

    /// The flags of a snapshot.
    #[inline]
    pub fn flags(snapshot: u32) -> u32 {
        snapshot & FLAGS
    }

    /// Adds `bits` (from an edge) and bumps the tick.
    #[inline]
    pub fn set(&self, bits: u32) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let next = (cur & !FLAGS).wrapping_add(TICK_ONE) | (cur & FLAGS) | bits;
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Clears `bits` if no edge arrived since `snapshot` was taken.
    #[inline]
    pub fn clear(&self, snapshot: u32, bits: u32) {
        let mut cur = snapshot;
        loop {
            if (cur & !FLAGS) != (snapshot & !FLAGS) || cur & bits == 0 {
                return;
            }
            match self.0.compare_exchange_weak(
                cur,
                cur & !bits,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Clears every flag and bumps the tick (so a clear from an older snapshot does nothing):
    /// what edges said so far is stale (a new registration starts unknown; a socket that
    /// connects or listens changes state; a raw descriptor's readiness is not tracked).
    pub fn forget(&self) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let next = (cur & !FLAGS).wrapping_add(TICK_ONE);
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_loses_to_a_newer_edge() {
        let r = Readiness::default();
        r.set(READABLE);
        let snap = r.snapshot();
        r.set(READABLE);
        r.clear(snap, READABLE);
        assert_eq!(Readiness::flags(r.snapshot()) & READABLE, READABLE);
        let snap = r.snapshot();
        r.clear(snap, READABLE);
        assert_eq!(Readiness::flags(r.snapshot()) & READABLE, 0);
    }
}
