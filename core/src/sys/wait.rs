//! Blocking waits on one descriptor that another thread can cut short.
//!
//! Blocking-mode channels keep their descriptors non-blocking and wait in `poll(2)` here.
//! A waiting thread also polls its own wake-up eventfd (one per thread, made on first use,
//! never one per channel), listed in the channel's [`Waiters`] while it waits, so `close()`
//! on another thread can wake it. If the thread cannot get an eventfd (a full descriptor
//! table), it waits in short slices and checks the closed flag between them.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering, fence};
use std::time::{Duration, Instant};

use crate::sync::lock;
use crate::{Error, ErrorKind, Result};

/// How waiting calls on this thread react to signals: `hook` runs after every `EINTR` and,
/// when `slice` is set, at least that often; if it fails, the wait fails with its error.
/// Without an installed `Interrupt` (the default, and what C callers get) `EINTR` is simply
/// retried with the remaining time. The Python module installs one that checks signals.
pub struct Interrupt {
    /// Called on `EINTR` (and every `slice`); an error ends the wait.
    pub hook: Box<dyn FnMut() -> Result<()>>,
    /// Longest single wait between two calls of `hook`.
    pub slice: Option<Duration>,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("slice", &self.slice)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static INTERRUPT: RefCell<Option<Interrupt>> = const { RefCell::new(None) };
}

/// Runs `f` with `interrupt` installed for every wait `f` makes on this thread.
pub fn with_interrupt<R>(interrupt: Interrupt, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Interrupt>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            let _ = INTERRUPT.try_with(|i| *i.borrow_mut() = prev);
        }
    }
    let prev = INTERRUPT.with(|i| i.borrow_mut().replace(interrupt));
    let _restore = Restore(prev);
    f()
}

/// Runs this thread's interrupt hook, if one is installed. The hook is taken out while it
/// runs, so code it runs (a Python signal handler) may make waiting calls of its own, which
/// install their own hook; it is put back afterwards.
pub fn check_interrupt() -> Result<()> {
    let Some(interrupt) = INTERRUPT.with(|i| i.borrow_mut().take()) else {
        return Ok(());
    };
    /// Puts the hook back, also when it panics.
    struct PutBack(Option<Interrupt>);
    impl Drop for PutBack {
        fn drop(&mut self) {
            let interrupt = self.0.take();
            let _ = INTERRUPT.try_with(|i| {
                let mut slot = i.borrow_mut();
                if slot.is_none() {
                    *slot = interrupt;
                }
            });
        }
    }
    let mut taken = PutBack(Some(interrupt));
    let hook = &mut taken.0.as_mut().expect("taken above").hook;
    hook()
}

/// The longest wait allowed before the interrupt hook must run again.
pub fn interrupt_slice() -> Option<Duration> {
    INTERRUPT.with(|i| i.borrow().as_ref().and_then(|i| i.slice))
}

/// The wake-up descriptors of the threads blocked on one object: one word, the list being
/// allocated by the first thread that blocks on the object (and freed with it), so an object
/// nobody blocks on (a channel used with a selector) pays no more.
///
/// A closing thread marks the object closed and then calls [`wake_all`](Self::wake_all); a
/// waiter adds itself and then checks whether the object is closed. A sequentially consistent
/// fence on each side, between the two steps, makes sure that one of them sees the other: the
/// closer finds the waiter in the list, or the waiter finds the object closed.
#[derive(Debug, Default)]
pub struct Waiters {
    list: AtomicPtr<Mutex<Vec<RawFd>>>,
}

impl Waiters {
    /// Wakes every thread blocked on this object.
    pub fn wake_all(&self) {
        fence(Ordering::SeqCst);
        // SAFETY: a list, once published, lives as long as `self`.
        let Some(list) = (unsafe { self.list.load(Ordering::Acquire).as_ref() }) else {
            return;
        };
        for &fd in lock(list).iter() {
            let one: u64 = 1;
            // SAFETY: `fd` is a live eventfd owned by a thread that is still waiting (it
            // removes itself under this lock before its thread-local closes it).
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }

    /// The list, made on first use.
    fn list(&self) -> &Mutex<Vec<RawFd>> {
        let mut list = self.list.load(Ordering::Acquire);
        if list.is_null() {
            let made = Box::into_raw(Box::default());
            list = match self.list.compare_exchange(
                ptr::null_mut(),
                made,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => made,
                Err(theirs) => {
                    // SAFETY: ours, never published.
                    drop(unsafe { Box::from_raw(made) });
                    theirs
                }
            };
        }
        // SAFETY: published lists live as long as `self`.
        unsafe { &*list }
    }

    /// Adds a waiter; the caller checks whether the object closed after this.
    fn add(&self, fd: RawFd) {
        lock(self.list()).push(fd);
        fence(Ordering::SeqCst);
    }

    fn remove(&self, fd: RawFd) {
        let mut fds = lock(self.list());
        if let Some(at) = fds.iter().position(|&f| f == fd) {
            fds.swap_remove(at);
        }
    }
}

impl Drop for Waiters {
    fn drop(&mut self) {
        let list = *self.list.get_mut();
        if !list.is_null() {
            // SAFETY: made by `Box::into_raw` in `list`; nobody else refers to it any more.
            drop(unsafe { Box::from_raw(list) });
        }
    }
}

struct ThreadWake(Cell<RawFd>);

impl Drop for ThreadWake {
    fn drop(&mut self) {
        if self.0.get() >= 0 {
            // SAFETY: the eventfd belongs to this thread-local alone.
            unsafe { libc::close(self.0.get()) };
        }
    }
}

thread_local! {
    static WAKE: ThreadWake = const { ThreadWake(Cell::new(-1)) };
}

/// This thread's wake-up eventfd, made on first use; `None` if none can be made.
fn thread_wake_fd() -> Option<RawFd> {
    WAKE.try_with(|w| {
        if w.0.get() < 0 {
            // SAFETY: plain system call.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            w.0.set(fd);
        }
        (w.0.get() >= 0).then(|| w.0.get())
    })
    .ok()
    .flatten()
}

/// Wait slice used when the thread has no wake-up descriptor.
const FALLBACK_SLICE: Duration = Duration::from_millis(50);

/// Milliseconds for `poll(2)` until `deadline`, capped by `cap`; -1 means forever.
pub(crate) fn poll_timeout_ms(deadline: Option<Instant>, cap: Option<Duration>) -> i32 {
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let wait = match (left, cap) {
        (Some(l), Some(c)) => Some(l.min(c)),
        (l, c) => l.or(c),
    };
    match wait {
        None => -1,
        // Round up so a wait never ends before its deadline.
        Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
    }
}

/// Waits until `fd` is ready for `events` (`POLLIN`/`POLLOUT`), `deadline` passes (returns
/// `Ok(false)`), or another thread closes the object (`closed()` turns true: fails with
/// [`ErrorKind::AsyncClose`]). Error and hang-up conditions count as ready.
pub fn wait_fd(
    fd: RawFd,
    events: libc::c_short,
    waiters: &Waiters,
    closed: &dyn Fn() -> bool,
    deadline: Option<Instant>,
) -> Result<bool> {
    let wake = thread_wake_fd();
    if let Some(w) = wake {
        waiters.add(w);
    }
    struct Leave<'a>(&'a Waiters, Option<RawFd>);
    impl Drop for Leave<'_> {
        fn drop(&mut self) {
            if let Some(w) = self.1 {
                self.0.remove(w);
            }
        }
    }
    let _leave = Leave(waiters, wake);
    let cap = match (wake, interrupt_slice()) {
        (None, Some(s)) => Some(s.min(FALLBACK_SLICE)),
        (None, None) => Some(FALLBACK_SLICE),
        (Some(_), s) => s,
    };
    loop {
        if closed() {
            return Err(ErrorKind::AsyncClose.into());
        }
        let mut pfds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = poll_timeout_ms(deadline, cap);
        // SAFETY: `pfds` is a valid array of two pollfd; a negative fd is ignored by poll.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, timeout) };
        if n < 0 {
            let err = Error::last_os_error();
            if err.is_os(libc::EINTR) {
                check_interrupt()?;
                continue;
            }
            return Err(err);
        }
        if pfds[1].revents != 0 {
            let mut buf = 0u64;
            // SAFETY: draining our own eventfd into an 8-byte buffer.
            unsafe { libc::read(pfds[1].fd, (&mut buf as *mut u64).cast(), 8) };
        }
        if closed() {
            return Err(ErrorKind::AsyncClose.into());
        }
        if pfds[0].revents != 0 {
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        if n == 0 {
            check_interrupt()?;
        }
    }
}

#[cfg(test)]
mod interrupt_tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    #[test]
    fn a_hook_may_make_waiting_calls_of_its_own_and_is_kept() {
        let nested = Rc::new(Cell::new(0));
        let n = nested.clone();
        let outer = Interrupt {
            hook: Box::new(move || {
                // What a Python signal handler making a blocking call does.
                let inner = Interrupt {
                    hook: Box::new(|| Ok(())),
                    slice: None,
                };
                with_interrupt(inner, check_interrupt)?;
                n.set(n.get() + 1);
                Ok(())
            }),
            slice: Some(Duration::from_millis(7)),
        };
        with_interrupt(outer, || {
            check_interrupt().unwrap();
            check_interrupt().unwrap();
            assert_eq!(
                interrupt_slice(),
                Some(Duration::from_millis(7)),
                "put back"
            );
        });
        assert_eq!(nested.get(), 2);
        assert_eq!(interrupt_slice(), None);
    }
}
