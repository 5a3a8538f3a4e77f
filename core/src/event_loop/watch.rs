//! Readiness watches on an event loop: a channel of the Selector model, or a raw descriptor
//! the user owns, with interest ops and a callback (like libuv's `uv_poll_t`).
//!
//! A watch is an [`IoHandle`](super::io::IoHandle) registered with the loop's own selector,
//! so channel watches are level-triggered with no system call per event (the readiness
//! cache), and raw descriptors are re-armed after each event. The registration holds the
//! watch, so an active watch is held by its loop (as an active timer is) even if every handle
//! was dropped; the watch ends when it is closed, when its channel closes (also from inside
//! the callback), or at the loop's shutdown. The callback runs on the loop's thread
//! with the ready ops; closing the watch (or the loop shutting down) drops the callback on the
//! thread that closes it. An active, ref'd watch keeps a [`RunMode::Default`] run going.
//!
//! [`RunMode::Default`]: super::RunMode::Default

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::io::{self, IoEvent, IoHandle};
use super::{EventLoop, WeakEventLoop};
use crate::channel::{Channel, FdChannel};
use crate::selector::SelectionKey;
use crate::sync::lock;
use crate::{ErrorKind, Result};

/// A watch callback: the loop, the watch, and the ready ops (`OP_*`).
pub type WatchCallback = Box<dyn FnMut(&EventLoop, &Watch, u32) + Send>;

/// A readiness watch. Cloning gives another handle to the same watch. Thread-safe.
#[derive(Clone)]
pub struct Watch {
    inner: Arc<WatchInner>,
}

struct WatchInner {
    key: SelectionKey,
    callback: Mutex<Option<WatchCallback>>,
    refd: AtomicBool,
    /// Whether the watch holds one of the loop's refs (active and ref'd).
    holds_ref: AtomicBool,
    /// Set by the `close` that wins, under the callback's lock, before it does the work.
    closed: AtomicBool,
    /// Cleared once that `close` has done it (the key cancelled, a raw descriptor out of the
    /// epoll set, the ref given back): what `is_active` reports.
    active: AtomicBool,
    event_loop: WeakEventLoop,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("key", &self.inner.key)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    /// Watches `channel` (non-blocking, not registered elsewhere) for `ops`; `callback` runs on
    /// the loop's thread while the channel is ready for one of them (level-triggered).
    ///
    /// # Errors
    /// As [`Selector::register`](crate::selector::Selector::register); `RegisteredElsewhere`
    /// also for a channel this loop already watches (decided under the channel's
    /// registration lock, so of two threads watching one channel at once, one fails);
    /// `Rejected` once the loop shuts down.
    pub fn watch(
        &self,
        channel: impl Into<Channel>,
        ops: u32,
        callback: WatchCallback,
    ) -> Result<Watch> {
        self.check()?;
        if self.is_shutting_down() {
            return Err(ErrorKind::Rejected.into());
        }
        // The watch's ref, taken before its registration can end it.
        self.add_ref(1);
        // Refused under the channel's registration lock if it has a key already (two threads
        // watching one channel at once must not share a key).
        let registered = io::register(self, channel.into(), ops, |key| {
            Arc::new(WatchInner {
                key,
                callback: Mutex::new(Some(callback)),
                refd: AtomicBool::new(true),
                holds_ref: AtomicBool::new(true),
                closed: AtomicBool::new(false),
                active: AtomicBool::new(true),
                event_loop: self.downgrade(),
            })
        });
        match registered {
            Ok(inner) => Ok(Watch { inner }),
            Err(e) => {
                self.add_ref(-1);
                // A Default run that saw the ref meanwhile must notice it may return.
                self.wake_if_idle();
                // The channel closed between its registration and the watch's start.
                Err(if e.kind() == Some(ErrorKind::CancelledKey) {
                    ErrorKind::Closed.into()
                } else {
                    e
                })
            }
        }
    }

    /// Watches a raw descriptor the user owns for `ops` (`OP_READ`, `OP_WRITE`), level-
    /// triggered: the watch is re-armed after each event (one `epoll_ctl`), so readiness the
    /// callback did not consume is reported again. nioxide never closes `fd`.
    pub fn watch_fd(
        &self,
        fd: std::os::fd::RawFd,
        ops: u32,
        callback: WatchCallback,
    ) -> Result<Watch> {
        self.watch(FdChannel::new(fd)?, ops, callback)
    }
}

impl Watch {
    /// The interest ops.
    pub fn interest(&self) -> Result<u32> {
        self.inner.key.interest_ops()
    }

    /// Replaces the interest ops; takes effect at the next turn. A loop waiting in its
    /// backend is woken, so readiness it has already seen (data that arrived while the watch
    /// had no read interest) is served without waiting for a new event.
    pub fn set_interest(&self, ops: u32) -> Result<()> {
        self.inner.key.set_interest_ops(ops)?;
        if let Some(lp) = self.inner.event_loop.upgrade() {
            lp.wake_if_idle();
        }
        Ok(())
    }

    /// The watched channel.
    pub fn channel(&self) -> Channel {
        self.inner.key.channel()
    }

    /// Whether the watch is active: not closed, or its close is still under way (once this
    /// says `false`, the descriptor may be watched again).
    pub fn is_active(&self) -> bool {
        self.inner.active.load(Ordering::Acquire)
    }

    /// Makes the watch stop (`false`) or start again (`true`) keeping a `Default` run alive.
    pub fn set_ref(&self, refd: bool) {
        // Decided under the callback's lock, which `close` holds while it gives up the ref,
        // so a set_ref racing a close can never leave a closed watch holding a ref.
        let delta = {
            let _guard = lock(&self.inner.callback);
            self.inner.refd.store(refd, Ordering::Release);
            if self.inner.closed.load(Ordering::Acquire)
                || self.inner.holds_ref.swap(refd, Ordering::AcqRel) == refd
            {
                return;
            }
            if refd { 1 } else { -1 }
        };
        if let Some(lp) = self.inner.event_loop.upgrade() {
            lp.add_ref(delta);
            if delta < 0 {
                // A Default run waiting only for this watch must notice it may return.
                lp.wake_if_idle();
            }
        }
    }

    /// Whether the watch keeps a `Default` run alive (see [`set_ref`](Self::set_ref); libuv's
    /// `uv_has_ref`).
    pub fn has_ref(&self) -> bool {
        self.inner.refd.load(Ordering::Acquire)
    }

    /// Stops watching (idempotent): the key is cancelled and the descriptor leaves the epoll
    /// set at once (so it may be watched again as soon as `is_active` says `false`), the
    /// callback is dropped on this thread. A channel watch leaves the channel open (close it
    /// yourself); a raw descriptor is never closed.
    pub fn close(&self) {
        let held = {
            // Under the callback's lock: a dispatch running the callback now sees `closed`
            // before it puts the callback back (and drops it instead), and a racing set_ref
            // sees it before it takes a ref.
            let _callback = lock(&self.inner.callback);
            if self.inner.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            self.inner.holds_ref.swap(false, Ordering::AcqRel)
        };
        self.inner.key.cancel_now();
        if let Channel::Fd(fd) = self.inner.key.channel() {
            fd.close();
        }
        if held {
            if let Some(lp) = self.inner.event_loop.upgrade() {
                lp.add_ref(-1);
                // A Default run waiting only for this watch must notice it may return.
                lp.wake_if_idle();
            }
        }
        self.inner.active.store(false, Ordering::Release);
        let callback = lock(&self.inner.callback).take();
        drop(callback);
    }

    /// Whether both values are the same watch.
    pub fn same(&self, other: &Watch) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl IoHandle for WatchInner {
    /// Runs the callback with the ready ops. A panic is passed on to the loop (which reports
    /// it) after the callback is put back: the watch goes on.
    fn handle(self: Arc<Self>, event_loop: &EventLoop, _: &SelectionKey, event: IoEvent) {
        let IoEvent::Ready(ready) = event;
        let Some(mut callback) = lock(&self.callback).take() else {
            return;
        };
        let watch = Watch { inner: self };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            callback(event_loop, &watch, ready)
        }));
        {
            let mut slot = lock(&watch.inner.callback);
            // `close` sets `closed` under this lock: checked here, it cannot change under us.
            if !watch.inner.closed.load(Ordering::Acquire) && slot.is_none() {
                *slot = Some(callback);
                drop(slot);
                resume_panic(outcome);
                return;
            }
        }
        drop(callback);
        resume_panic(outcome);
    }

    /// At the loop's shutdown: closes the watch and the channel it watches (never a raw
    /// descriptor, which is its user's).
    fn close(self: Arc<Self>, _event_loop: &EventLoop) {
        let channel = self.key.channel();
        Watch { inner: self }.close();
        match channel {
            Channel::Fd(fd) => fd.close(),
            other => other.close(),
        }
    }

    /// The registration ended (the watched channel closed, also from inside the callback):
    /// the watch ends as a `close` ends it.
    fn deregistered(self: Arc<Self>) {
        Watch { inner: self }.close();
    }
}

/// Passes a callback's panic on, once the callback is back in its slot (or dropped).
fn resume_panic(outcome: std::thread::Result<()>) {
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
