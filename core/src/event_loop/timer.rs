//! Reusable timers on an event loop (libuv's `uv_timer_t`): made once with a callback, then
//! started, stopped and restarted as often as needed, with no allocation per start.
//!
//! A [`LoopTimer`] is armed in the loop's timer heap, beside the scheduled tasks'
//! ([`EventLoop::schedule`]): both fire in one deadline order (ties in the order they were
//! armed) and never early, measured on the monotonic clock when the timer was started. The
//! heap of reusable timers is indexed (each armed timer knows its place), so a stop takes the
//! timer out at once and a restart moves it: start and stop are one lock of the loop's timer
//! heap, a clock read and O(log n) moves, with no allocation, no promise and no wake-up on the
//! loop's own thread.
//!
//! # Semantics (libuv's)
//!
//! - [`LoopTimer::start`] arms the timer `timeout` from now; starting an active timer re-arms it.
//!   A `repeat` other than zero makes it fire again `repeat` after each expiry.
//! - When it fires, the timer is first stopped or, if it repeats, re-armed `repeat` after the
//!   turn's clock; then the callback runs on the loop's thread. The callback may stop, restart
//!   or close its own timer; a timer it restarts with no timeout fires on a later turn, so no
//!   turn runs forever.
//! - [`LoopTimer::again`] restarts a repeating timer with its repeat as the timeout (a
//!   non-repeating timer is left alone).
//! - An active, ref'd timer keeps a [`RunMode::Default`] run going; [`LoopTimer::set_ref`]
//!   changes that.
//! - [`LoopTimer::close`] stops the timer for good and drops its callback on the calling thread
//!   (or, if the callback is running, on the loop's thread once it returns). The loop's shutdown
//!   stops its timers (phase 1) and closes them when it terminates.
//!
//! # Ownership
//!
//! Cloning a [`LoopTimer`] gives another handle to the same timer; a handle keeps the loop's
//! memory alive (not the loop running: its shutdown closes the timer). An active timer is held
//! by its loop: it fires even if every handle was dropped (its callback gets one). A stopped
//! timer whose last handle is dropped is gone, and its callback with it.
//!
//! # Threads
//!
//! Every method may be called from any thread. A start wakes the loop when the new deadline
//! is the earliest and the loop is waiting; from the loop's callbacks it makes no system call.
//! A stop from another thread may find the timer already fired for this expiry (the callback
//! then still runs once); once a stop returns, no later expiry starts.
//!
//! [`EventLoop::schedule`]: super::EventLoop::schedule
//! [`RunMode::Default`]: super::RunMode::Default

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{EventLoop, LoopInner, OPEN, TERMINATED};
use crate::sync::lock;
use crate::sys::fork;
use crate::{ErrorKind, Result};

/// A timer callback: the loop and the timer that fired.
pub type TimerCallback = Box<dyn FnMut(&EventLoop, &LoopTimer) + Send>;

/// The place of a timer that is not armed.
const INACTIVE: usize = usize::MAX;

/// The longest repeat (a century): a longer one is as good as never, and a repeat is kept in
/// 64 bits of nanoseconds.
const MAX_REPEAT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A deadline no timer reaches: what a timeout beyond the monotonic clock's range (about 292
/// billion years) becomes. Added to any `Instant` of a running system, it cannot overflow.
const NEVER: Duration = Duration::from_secs(i64::MAX as u64 / 4);

/// `timeout` after `now`, exact as far as the clock goes; beyond it, [`NEVER`] after `now`.
fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout).unwrap_or(now + NEVER)
}

/// A reusable timer on an event loop (libuv's `uv_timer_t`); see the module docs. Thread-safe.
#[derive(Clone)]
pub struct LoopTimer {
    inner: Arc<TimerInner>,
    /// The timer's loop. Held here, not in [`TimerInner`], so an armed timer in the loop's heap
    /// makes no cycle with its loop (and a call needs no upgrade of a weak reference).
    event_loop: EventLoop,
}

pub(super) struct TimerInner {
    /// The fork generation at creation.
    generation: u64,
    /// The timer's index in the loop's [`TimerHeap`], or [`INACTIVE`]. Written only under the
    /// heap's lock; read without it as a hint (`is_active`, the stop of a stopped timer).
    pos: AtomicUsize,
    /// The repeat in nanoseconds (0: none).
    repeat: AtomicU64,
    /// Whether an active timer keeps the loop alive. Written under the heap's lock.
    refd: AtomicBool,
    /// Set under the callback's lock.
    closed: AtomicBool,
    callback: Mutex<Option<TimerCallback>>,
}

impl std::fmt::Debug for LoopTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopTimer")
            .field("active", &self.is_active())
            .field("repeat", &self.repeat())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TimerInner {
    fn repeat(&self) -> Duration {
        Duration::from_nanos(self.repeat.load(Ordering::Relaxed))
    }
}

/// One armed timer in the heap.
struct Armed {
    deadline: Instant,
    /// Ties go in the order timers were armed (one sequence with the scheduled tasks).
    seq: u64,
    timer: Arc<TimerInner>,
}

impl Armed {
    fn key(&self) -> (Instant, u64) {
        (self.deadline, self.seq)
    }
}

/// The armed reusable timers of one loop: a binary min-heap on (deadline, sequence) whose
/// entries record their index in their timer, so any timer can be moved or taken out in
/// O(log n). Lives inside the loop's timer lock (`timer::Heap`).
#[derive(Default)]
pub(super) struct TimerHeap {
    slots: Vec<Armed>,
    /// Armed timers that are ref'd: they keep a `Default` run going.
    pub(super) refd: usize,
}

impl TimerHeap {
    /// The earliest armed timer's deadline and sequence number.
    pub(super) fn peek(&self) -> Option<(Instant, u64)> {
        self.slots.first().map(Armed::key)
    }

    fn place(&self, i: usize) {
        self.slots[i].timer.pos.store(i, Ordering::Relaxed);
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.slots[i].key() >= self.slots[parent].key() {
                break;
            }
            self.slots.swap(i, parent);
            self.place(i);
            i = parent;
        }
        self.place(i);
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.slots.len();
        loop {
            let left = 2 * i + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.slots[right].key() < self.slots[left].key() {
                right
            } else {
                left
            };
            if self.slots[child].key() >= self.slots[i].key() {
                break;
            }
            self.slots.swap(i, child);
            self.place(i);
            i = child;
        }
        self.place(i);
    }

    /// Moves the entry at `i` to its place after its key changed.
    fn settle(&mut self, i: usize) {
        if i > 0 && self.slots[i].key() < self.slots[(i - 1) / 2].key() {
            self.sift_up(i);
        } else {
            self.sift_down(i);
        }
    }

    /// Arms `timer` at `deadline`: inserts it, or moves it if it is armed already.
    fn arm(&mut self, timer: &Arc<TimerInner>, deadline: Instant, seq: u64) {
        match timer.pos.load(Ordering::Relaxed) {
            INACTIVE => {
                if timer.refd.load(Ordering::Relaxed) {
                    self.refd += 1;
                }
                self.slots.push(Armed {
                    deadline,
                    seq,
                    timer: timer.clone(),
                });
                self.sift_up(self.slots.len() - 1);
            }
            pos => {
                let slot = &mut self.slots[pos];
                slot.deadline = deadline;
                slot.seq = seq;
                self.settle(pos);
            }
        }
    }

    /// Takes the entry at `pos` out; the timer is inactive.
    fn remove_at(&mut self, pos: usize) -> Arc<TimerInner> {
        let removed = self.slots.swap_remove(pos);
        removed.timer.pos.store(INACTIVE, Ordering::Relaxed);
        if removed.timer.refd.load(Ordering::Relaxed) {
            self.refd -= 1;
        }
        if pos < self.slots.len() {
            self.settle(pos);
        }
        removed.timer
    }

    /// Takes `timer` out if it is armed. The caller drops what it returns after the lock.
    fn disarm(&mut self, timer: &TimerInner) -> Option<Arc<TimerInner>> {
        match timer.pos.load(Ordering::Relaxed) {
            INACTIVE => None,
            pos => Some(self.remove_at(pos)),
        }
    }

    /// Fires the earliest timer: takes it out, or, if it repeats, re-arms it `repeat` after
    /// `now` with sequence number `seq` (libuv re-arms before the callback runs). Returns it,
    /// for its callback.
    pub(super) fn fire_first(&mut self, now: Instant, seq: u64) -> Arc<TimerInner> {
        let repeat = self.slots[0].timer.repeat();
        if repeat.is_zero() {
            return self.remove_at(0);
        }
        let first = &mut self.slots[0];
        first.deadline = deadline_after(now, repeat);
        first.seq = seq;
        let timer = first.timer.clone();
        self.sift_down(0);
        timer
    }

    /// Takes every timer out (shutdown). The caller drops them after the lock.
    pub(super) fn drain(&mut self) -> Vec<Arc<TimerInner>> {
        self.refd = 0;
        self.slots
            .drain(..)
            .map(|armed| {
                armed.timer.pos.store(INACTIVE, Ordering::Relaxed);
                armed.timer
            })
            .collect()
    }
}

/// Every timer made on a loop (weakly), so that the loop's termination can close them.
#[derive(Default)]
pub(super) struct Registry {
    timers: Vec<Weak<TimerInner>>,
    /// The length at which closed and dropped timers are swept out next.
    sweep_at: usize,
}

impl Registry {
    /// Adds `timer`, sweeping out closed and dropped timers now and then. Returns the
    /// references the sweep took, for the caller to drop after the registry's lock: one may
    /// be the last, and dropping a timer drops its callback.
    fn add(&mut self, timer: &Arc<TimerInner>) -> Vec<Arc<TimerInner>> {
        let mut seen = Vec::new();
        if self.timers.len() >= self.sweep_at {
            self.timers.retain(|weak| match weak.upgrade() {
                Some(t) => {
                    let open = !t.closed.load(Ordering::Acquire);
                    seen.push(t);
                    open
                }
                None => false,
            });
            self.sweep_at = (self.timers.len() * 2).max(16);
        }
        self.timers.push(Arc::downgrade(timer));
        seen
    }

    /// Takes the live timers of `event_loop` out, for its termination to close them.
    pub(super) fn take(&mut self, event_loop: &EventLoop) -> Vec<LoopTimer> {
        self.sweep_at = 0;
        std::mem::take(&mut self.timers)
            .iter()
            .filter_map(Weak::upgrade)
            .map(|inner| LoopTimer {
                inner,
                event_loop: event_loop.clone(),
            })
            .collect()
    }
}

/// Runs the callback of a timer [`TimerHeap::fire_first`] returned, on the loop's thread.
pub(super) fn fire(event_loop: &EventLoop, timer: Arc<TimerInner>) {
    let Some(mut callback) = lock(&timer.callback).take() else {
        return; // closed
    };
    event_loop
        .inner
        .counters
        .timers_fired
        .fetch_add(1, Ordering::Relaxed);
    let timer = LoopTimer {
        inner: timer,
        event_loop: event_loop.clone(),
    };
    event_loop.guard(|| callback(event_loop, &timer));
    let mut slot = lock(&timer.inner.callback);
    if !timer.inner.closed.load(Ordering::Acquire) && slot.is_none() {
        *slot = Some(callback);
        return;
    }
    drop(slot);
    drop(callback); // closed while it ran: dropped here, on the loop's thread
}

impl EventLoop {
    /// Makes a reusable timer (libuv's `uv_timer_init`): stopped until
    /// [`LoopTimer::start`]; `callback` runs on the loop's thread each time it fires.
    ///
    /// # Errors
    /// `Rejected` (shutting down, from another thread; or terminated), `Forked`. The callback
    /// is dropped.
    pub fn timer(
        &self,
        callback: impl FnMut(&EventLoop, &LoopTimer) + Send + 'static,
    ) -> Result<LoopTimer> {
        self.check()?;
        let timer = LoopTimer {
            event_loop: self.clone(),
            inner: Arc::new(TimerInner {
                generation: self.inner.generation,
                pos: AtomicUsize::new(INACTIVE),
                repeat: AtomicU64::new(0),
                refd: AtomicBool::new(true),
                closed: AtomicBool::new(false),
                callback: Mutex::new(Some(Box::new(callback))),
            }),
        };
        let swept = {
            // Under the registry's lock, so a termination either sees the timer or is seen.
            let mut registry = lock(&self.inner.loop_timers);
            if !accepts(&self.inner) {
                return Err(ErrorKind::Rejected.into());
            }
            registry.add(&timer.inner)
        };
        drop(swept);
        Ok(timer)
    }
}

/// Wakes `lp` if it may be waiting with a deadline or a ref that the caller has just changed in
/// the timer heap. The loop sets its `idle` flag before it reads the heap, under the heap's
/// lock, to decide how long to wait (and whether anything keeps it alive); the caller changed
/// the heap under that lock. So either the loop's read comes later and sees the change, or the
/// caller sees `idle` set: a plain load is enough, and a start from the loop's callbacks (idle
/// clear) costs no locked instruction.
fn wake_if_waiting(lp: &EventLoop) {
    if lp.inner.idle.load(Ordering::Relaxed) {
        lp.wake_if_idle();
    }
}

/// Whether the loop takes timer starts (and new timers) from the calling thread: open, or
/// shutting down and called from its own thread.
fn accepts(lp: &Arc<LoopInner>) -> bool {
    match lp.state.load(Ordering::Acquire) {
        OPEN => true,
        TERMINATED => false,
        _ => EventLoop::in_loop(lp),
    }
}

impl LoopTimer {
    fn check(&self) -> Result<()> {
        fork::check(self.inner.generation)?;
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(ErrorKind::Closed.into());
        }
        Ok(())
    }

    /// Arms the timer to fire `timeout` from now (zero: on the next turn), never earlier;
    /// then every `repeat` after each expiry unless `repeat` is zero (libuv's
    /// `uv_timer_start`). Starting an active timer re-arms it with the new values. The
    /// timeout is kept exact however long (one beyond the monotonic clock's range, about 292
    /// billion years, never fires); a repeat longer than a century is a century.
    ///
    /// # Errors
    /// `Closed` (the timer is closed), `Rejected` (the loop is shutting
    /// down and this is not its thread, or it terminated), `Forked`.
    pub fn start(&self, timeout: Duration, repeat: Duration) -> Result<()> {
        fork::check(self.inner.generation)?;
        let lp = &self.event_loop;
        let deadline = deadline_after(Instant::now(), timeout);
        let earliest = {
            let mut timers = lock(&lp.inner.timers);
            // Checked under the lock that `close` and the shutdown take to disarm.
            if self.inner.closed.load(Ordering::Acquire) {
                return Err(ErrorKind::Closed.into());
            }
            if !accepts(&lp.inner) {
                return Err(ErrorKind::Rejected.into());
            }
            let repeat = repeat.min(MAX_REPEAT).as_nanos() as u64;
            self.inner.repeat.store(repeat, Ordering::Relaxed);
            let seq = timers.next_seq();
            timers.handles.arm(&self.inner, deadline, seq);
            timers.next_deadline() == Some(deadline)
        };
        if earliest {
            wake_if_waiting(lp);
        }
        Ok(())
    }

    /// Disarms the timer (libuv's `uv_timer_stop`); stopping a stopped timer does nothing.
    ///
    /// # Errors
    /// `Closed`, `Forked`.
    pub fn stop(&self) -> Result<()> {
        self.check()?;
        if self.inner.pos.load(Ordering::Relaxed) == INACTIVE {
            return Ok(());
        }
        self.disarm();
        Ok(())
    }

    /// Takes the timer out of `lp`'s heap; wakes the loop if that left it with no ref'd timer
    /// and it is waiting (a `Default` run may be waiting for that timer only; a loop running
    /// callbacks checks what keeps it alive before it waits again).
    fn disarm(&self) {
        let lp = &self.event_loop;
        let (removed, unrefd) = {
            let mut timers = lock(&lp.inner.timers);
            let removed = timers.handles.disarm(&self.inner);
            let unrefd = removed.is_some()
                && self.inner.refd.load(Ordering::Relaxed)
                && timers.handles.refd == 0;
            (removed, unrefd)
        };
        drop(removed);
        if unrefd {
            wake_if_waiting(lp);
        }
    }

    /// Restarts a repeating timer with its repeat as the timeout (libuv's `uv_timer_again`);
    /// does nothing to a timer whose repeat is zero.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn again(&self) -> Result<()> {
        self.check()?;
        let repeat = self.repeat();
        if repeat.is_zero() {
            return Ok(());
        }
        self.start(repeat, repeat)
    }

    /// Sets the repeat (zero: none) used from the next expiry on, or by
    /// [`again`](Self::again) (libuv's `uv_timer_set_repeat`). A repeat longer than a century
    /// is a century (as good as never; [`repeat`](Self::repeat) then says so).
    ///
    /// # Errors
    /// `Closed`, `Forked`.
    pub fn set_repeat(&self, repeat: Duration) -> Result<()> {
        self.check()?;
        let repeat = repeat.min(MAX_REPEAT).as_nanos() as u64;
        self.inner.repeat.store(repeat, Ordering::Relaxed);
        Ok(())
    }

    /// The repeat (zero: none).
    pub fn repeat(&self) -> Duration {
        self.inner.repeat()
    }

    /// How long until the timer fires (zero if it is due), or `None` if it is not active.
    pub fn due_in(&self) -> Option<Duration> {
        if fork::is_forked(self.inner.generation) {
            return None; // the parent's loop: its lock is left alone
        }
        let lp = &self.event_loop;
        let deadline = {
            let timers = lock(&lp.inner.timers);
            match self.inner.pos.load(Ordering::Relaxed) {
                INACTIVE => return None,
                pos => timers.handles.slots[pos].deadline,
            }
        };
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    /// Whether the timer is armed (started and not yet stopped or expired without repeat).
    pub fn is_active(&self) -> bool {
        self.inner.pos.load(Ordering::Relaxed) != INACTIVE
    }

    /// Makes the timer stop (`false`) or start again (`true`, the default) keeping a
    /// [`RunMode::Default`](super::RunMode::Default) run going while it is active (libuv's
    /// `uv_unref`/`uv_ref`).
    pub fn set_ref(&self, refd: bool) {
        if fork::is_forked(self.inner.generation) {
            return; // the parent's loop: its lock is left alone
        }
        let lp = &self.event_loop;
        let unrefd = {
            let mut timers = lock(&lp.inner.timers);
            let changed = self.inner.refd.swap(refd, Ordering::Relaxed) != refd;
            if changed && self.inner.pos.load(Ordering::Relaxed) != INACTIVE {
                if refd {
                    timers.handles.refd += 1;
                } else {
                    timers.handles.refd -= 1;
                }
            }
            changed && !refd && timers.handles.refd == 0
        };
        if unrefd {
            wake_if_waiting(lp);
        }
    }

    /// Whether the timer keeps a `Default` run going while active (see
    /// [`set_ref`](Self::set_ref); libuv's `uv_has_ref`).
    pub fn has_ref(&self) -> bool {
        self.inner.refd.load(Ordering::Relaxed)
    }

    /// Stops the timer for good and drops its callback on this thread, or, if the callback is
    /// running now, on the loop's thread once it returns. Idempotent. Every later call but
    /// the queries fails with `Closed`.
    pub fn close(&self) {
        let callback = {
            let mut slot = lock(&self.inner.callback);
            if self.inner.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            slot.take()
        };
        self.disarm();
        drop(callback);
    }

    /// Whether the timer is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Whether both values are the same timer.
    pub fn same(&self, other: &LoopTimer) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
