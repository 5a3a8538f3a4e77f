//! The deadlines of one event loop and their one owner: the loop's running thread.
//!
//! Scheduled tasks ([`Timer`]) sit in a binary heap whose cancelled entries are removed
//! lazily; reusable timers ([`LoopTimer`]) in an indexed heap beside it ([`TimerHeap`]);
//! [`Heap::pop_due`] takes the earliest of both, and one sequence number orders ties across
//! them.
//!
//! # Ownership
//!
//! The heaps take no lock: they live in a [`LoopCell`], which only the thread holding the
//! loop's run right ([`EventLoop::in_run`]) touches, through [`EventLoop::deadlines`]. A
//! thread that does not hold it either borrows the run right for one short call while no
//! thread runs the loop ([`EventLoop::borrow_deadlines`]: a caller-driven loop between runs,
//! from its owner or any other thread), or, while another thread runs the loop, hands its
//! change to the loop as an internal task. Every read or change of the heaps is in this
//! module's methods, called inside one of those two. The heap's reference to a reusable timer
//! it took out stays parked in the timer ([`park`]) for its next arming, so neither a start
//! nor a stop on the loop's thread touches a reference count.
//!
//! # Time
//!
//! Deadlines are nanoseconds of the monotonic clock (the one `Instant` reads), read with
//! [`clock_ns`]: a deadline is then one 64-bit word, compared and added without the
//! normalising arithmetic of `Instant`. One beyond 2^64 ns of the clock (584 years of uptime)
//! is kept as `u64::MAX`, which never comes due; what `due_in` reports keeps the exact value
//! ([`encode`]).
//!
//! # What other threads read
//!
//! What other threads read without the run right is published in atomics by the owner: the
//! next deadline and whether an armed reusable timer is ref'd (for `backend_timeout` and
//! `is_alive`), written at the end of every turn, of every borrow and of the shutdown's
//! drains. So they are exact while nobody runs the loop, and at most one turn old while a
//! thread runs it.
//!
//! [`LoopTimer`]: super::LoopTimer

use std::cell::UnsafeCell;
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::schedule::Timer;
use super::timer::{INACTIVE, TimerInner};
use super::{BORROWED, EventLoop, IDLE, RUNNING};

/// A value owned by the thread that holds its loop's run right (see the module docs): no lock,
/// no atomic read-modify-write.
///
/// Safety argument: the run right is held by at most one thread at a time (a run, a close or
/// a borrow first moves the loop's `running` state from idle, with acquire/release ordering,
/// so each holder sees what the previous one wrote). [`LoopCell::with`] is only called by
/// that holder, and the functions it runs call no user code (what they take out, such as a
/// timer whose last reference may drop its callback, is dropped by the caller afterwards), so
/// no second `with` starts while one runs on the same thread. Debug builds check both.
pub(super) struct LoopCell<T> {
    value: UnsafeCell<T>,
    /// Whether a [`with`](Self::with) is under way (debug builds: catches re-entry).
    #[cfg(debug_assertions)]
    borrowed: AtomicBool,
}

// SAFETY: the value is touched only by the run-right holder, one thread at a time (see the
// type's docs); `T: Send` lets it move between holders.
unsafe impl<T: Send> Sync for LoopCell<T> {}

impl<T: Default> Default for LoopCell<T> {
    fn default() -> Self {
        LoopCell {
            value: UnsafeCell::new(T::default()),
            #[cfg(debug_assertions)]
            borrowed: AtomicBool::new(false),
        }
    }
}

impl<T> LoopCell<T> {
    /// A cell holding `value`.
    pub(super) fn new(value: T) -> Self {
        LoopCell {
            value: UnsafeCell::new(value),
            #[cfg(debug_assertions)]
            borrowed: AtomicBool::new(false),
        }
    }

    /// Runs `f` on the value.
    ///
    /// # Safety
    /// The calling thread holds the loop's run right (or has the loop to itself: it is being
    /// dropped), and `f` does not call `with` on this cell again.
    #[inline]
    pub(super) unsafe fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(debug_assertions)]
        assert!(
            !self.borrowed.swap(true, Ordering::Relaxed),
            "a loop cell is borrowed twice"
        );
        // SAFETY: the caller's contract: one holder, no re-entry.
        let result = f(unsafe { &mut *self.value.get() });
        #[cfg(debug_assertions)]
        self.borrowed.store(false, Ordering::Relaxed);
        result
    }
}

/// The value of [`Deadlines::next`] when no deadline is armed (the clock is past 0).
const NO_DEADLINE: u64 = 0;

/// A loop's deadline heaps and what it publishes of them for other threads.
#[derive(Default)]
pub(super) struct Deadlines {
    heap: LoopCell<Heap>,
    /// The earliest deadline, or [`NO_DEADLINE`]; published by the owner (see the module
    /// docs).
    next: AtomicU64,
    /// Whether an armed reusable timer is ref'd; published with `next`.
    refd: AtomicBool,
    /// Cancelled scheduled tasks still in the heap (a hint for [`Heap::purge`]): other
    /// threads add to it; the loop's thread reads it and resets it with plain stores, so a
    /// lost count only delays a purge.
    cancelled: AtomicUsize,
    /// Nanoseconds added to the monotonic clock for this loop's time
    /// ([`EventLoop::advance_clock`]): zero except on a loop whose clock a test moves.
    offset: AtomicU64,
}

/// The monotonic clock in nanoseconds: the loop's time, for deadlines.
#[inline]
pub(super) fn clock_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out pointer; CLOCK_MONOTONIC cannot fail on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Nanoseconds in `d`, as a deadline's offset: `u64::MAX` beyond.
#[inline]
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `timeout` after `now`, as a heap key (`u64::MAX`: never) and as [`encode`]d for reports.
#[inline]
pub(super) fn deadline_after(now: u64, timeout: Duration) -> (u64, u64) {
    let exact = u128::from(now) + timeout.as_nanos();
    if exact < PAYLOAD {
        return (exact as u64, exact as u64);
    }
    (u64::try_from(exact).unwrap_or(u64::MAX), encode(exact))
}

/// The largest payload of [`encode`] plus one.
const PAYLOAD: u128 = 1 << 62;

/// A deadline in nanoseconds of the clock, in one 64-bit word that keeps any deadline a timer
/// can have (a timeout is exact up to `i64::MAX` milliseconds): nanoseconds below 2^62 (146
/// years of uptime), then milliseconds, then seconds, rounded down, in the two top bits'
/// unit. Readers on other threads need it in one atomic word; what they read is a report
/// (`due_in`, a host's wait); the heap that fires keeps its own key.
pub(super) fn encode(ns: u128) -> u64 {
    if ns < PAYLOAD {
        return ns as u64;
    }
    let ms = ns / 1_000_000;
    if ms < PAYLOAD {
        return (1 << 62) | ms as u64;
    }
    (2 << 62) | ((ns / 1_000_000_000).min(PAYLOAD - 1) as u64)
}

/// The nanoseconds [`encode`] encoded.
pub(super) fn decode(code: u64) -> u128 {
    let payload = u128::from(code & ((1 << 62) - 1));
    match code >> 62 {
        0 => payload,
        1 => payload * 1_000_000,
        _ => payload * 1_000_000_000,
    }
}

/// The time from `now` to a deadline [`encode`]d as `code` (zero if it has passed).
pub(super) fn until(now: u64, code: u64) -> Duration {
    let ns = decode(code).saturating_sub(u128::from(now));
    Duration::new((ns / 1_000_000_000) as u64, (ns % 1_000_000_000) as u32)
}

pub(crate) struct Entry {
    /// On the clock of [`clock_ns`].
    pub(crate) deadline: u64,
    seq: u64,
    pub(crate) timer: Arc<Timer>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so the `BinaryHeap` (a max-heap) pops the earliest deadline first; ties go
    /// in scheduling order.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other
            .deadline
            .cmp(&self.deadline)
            .then(other.seq.cmp(&self.seq))
    }
}

/// The min-heaps of deadlines: scheduled tasks and reusable timers.
#[derive(Default)]
pub(super) struct Heap {
    heap: BinaryHeap<Entry>,
    /// The sequence number of the last entry armed, in either heap.
    seq: u64,
    /// The armed reusable timers.
    handles: TimerHeap,
}

/// What [`Heap::pop_due`] found due.
pub(super) enum Due {
    /// A scheduled task's entry, out of the heap.
    Task(Entry),
    /// A reusable timer to fire, already taken out or re-armed for its repeat.
    Timer(Arc<TimerInner>),
    /// A reusable timer taken out without firing: another thread started or stopped it since
    /// it was armed (its operation, queued or done, decides what comes next). Holds the
    /// heap's reference when no handle is left, for the caller to drop.
    Stale(Option<Arc<TimerInner>>),
}

impl Heap {
    /// A sequence number for the next entry armed (ties fire in arming order).
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The sequence number of the last entry armed.
    pub(super) fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Adds `timer` at `deadline`; returns whether it is now the earliest.
    pub(super) fn push(&mut self, deadline: u64, timer: Arc<Timer>) -> bool {
        let earliest = self.next_deadline().is_none_or(|next| deadline < next);
        let seq = self.next_seq();
        self.heap.push(Entry {
            deadline,
            seq,
            timer,
        });
        earliest
    }

    /// The earliest deadline, if any.
    pub(super) fn next_deadline(&self) -> Option<u64> {
        let task = self.heap.peek().map(|e| e.deadline);
        let timer = self.handles.peek().map(|(deadline, _)| deadline);
        match (task, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether an armed reusable timer is ref'd (it keeps a `Default` run going).
    pub(super) fn has_refd_timer(&self) -> bool {
        self.handles.refd > 0
    }

    /// Removes and returns the earliest entry if it is due at `now`. Entries armed after
    /// sequence number `armed_by` wait for the next call: a timer its callback restarts with
    /// no timeout, a task scheduled from a callback, and the next run of a periodic task
    /// (whose runs, if each takes longer than its period, would otherwise pile up in one call)
    /// fire on a later turn, so no turn runs forever. A due reusable timer is taken out, or
    /// re-armed for its repeat with the next sequence number.
    pub(super) fn pop_due(&mut self, now: u64, armed_by: u64) -> Option<Due> {
        let task = self
            .heap
            .peek()
            .filter(|e| e.deadline <= now && e.seq <= armed_by)
            .map(|e| (e.deadline, e.seq));
        let timer = self
            .handles
            .peek()
            .filter(|&(deadline, seq)| deadline <= now && seq <= armed_by);
        match (task, timer) {
            (Some(task), Some(timer)) if task < timer => self.heap.pop().map(Due::Task),
            (_, Some(_)) => {
                if self.handles.first_is_stale() {
                    return Some(Due::Stale(park(self.handles.remove_at(0))));
                }
                let seq = self.next_seq();
                Some(Due::Timer(self.handles.fire_first(now, seq)))
            }
            (Some(_), None) => self.heap.pop().map(Due::Task),
            (None, None) => None,
        }
    }

    /// Takes cancelled entries out once they are most of the heap and returns them, so the
    /// caller drops them (and their tasks) outside the heap.
    pub(super) fn purge(&mut self, cancelled: usize) -> Option<Vec<Entry>> {
        if cancelled > 64 && cancelled * 2 > self.heap.len() {
            let (done, keep): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.heap)
                .into_vec()
                .into_iter()
                .partition(|e| e.timer.future.is_done());
            self.heap = keep.into();
            return Some(done);
        }
        None
    }

    /// Removes every scheduled task's entry.
    pub(super) fn drain_tasks(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.heap).into_vec()
    }

    /// Takes every reusable timer out (shutdown); the caller drops what it returns afterwards.
    pub(super) fn drain_timers(&mut self) -> Vec<Arc<TimerInner>> {
        self.handles.drain()
    }

    /// Gives back the heap's reference that reusable timer `timer` keeps while not armed (see
    /// [`park`]), for the caller to drop afterwards: its last handle is gone, or it is closed.
    pub(super) fn release(&mut self, timer: &TimerInner) -> Option<Arc<TimerInner>> {
        if timer.pos.load(Ordering::Relaxed) != INACTIVE {
            return None; // an armed timer is held by its loop until it is taken out
        }
        // SAFETY: heap methods run on the run-right holder (`EventLoop::deadlines`).
        unsafe { timer.keep.with(Option::take) }
    }

    /// Arms reusable timer `timer` at `deadline` (a key and its report, as
    /// [`deadline_after`] makes them; moves it if it is armed already) for an operation with
    /// `ticket` (see [`TimerInner`]'s `ops`), and publishes its deadline in it.
    #[inline]
    pub(super) fn arm(&mut self, timer: &Arc<TimerInner>, deadline: (u64, u64), ticket: u64) {
        let seq = self.next_seq();
        self.handles.arm(timer, deadline, seq, ticket);
        timer.due.store(deadline.1, Ordering::Relaxed);
    }

    /// Takes reusable timer `timer` out if it is armed and `keep` does not keep its arming
    /// (`keep(ticket)` gets the ticket it was armed with). Returns the heap's reference if no
    /// handle is left (else it is parked in the timer, see [`park`]), for the caller to drop
    /// afterwards, and whether that left no ref'd timer armed while this one was ref'd.
    #[inline]
    pub(super) fn disarm(
        &mut self,
        timer: &TimerInner,
        keep: impl FnOnce(u64) -> bool,
    ) -> Option<(Option<Arc<TimerInner>>, bool)> {
        match timer.pos.load(Ordering::Relaxed) {
            INACTIVE => None,
            pos => {
                let slot = &self.handles.slots[pos];
                if keep(slot.ticket) {
                    return None;
                }
                let was_refd = slot.refd;
                let removed = park(self.handles.remove_at(pos));
                timer.due.store(INACTIVE_DUE, Ordering::Relaxed);
                Some((removed, was_refd && self.handles.refd == 0))
            }
        }
    }

    /// Publishes reusable timer `timer`'s deadline in it as the heap has it (or that it is not
    /// armed).
    pub(super) fn publish_due(&self, timer: &TimerInner) {
        let due = match timer.pos.load(Ordering::Relaxed) {
            INACTIVE => INACTIVE_DUE,
            pos => self.handles.slots[pos].due,
        };
        timer.due.store(due, Ordering::Relaxed);
    }

    /// Applies reusable timer `timer`'s wanted ref to its arming, if it is armed. Returns
    /// whether that left no ref'd timer armed.
    pub(super) fn apply_ref(&mut self, timer: &TimerInner) -> bool {
        let refd = timer.refd.load(Ordering::Relaxed);
        match timer.pos.load(Ordering::Relaxed) {
            INACTIVE => false,
            pos => {
                let slot = &mut self.handles.slots[pos];
                if slot.refd == refd {
                    return false;
                }
                slot.refd = refd;
                if refd {
                    self.handles.refd += 1;
                    false
                } else {
                    self.handles.refd -= 1;
                    self.handles.refd == 0
                }
            }
        }
    }
}

/// Keeps the heap's reference to a reusable timer just taken out in the timer itself while it
/// has handles, so that its next arming takes it back ([`unpark`]) instead of cloning it: a
/// start and a stop on the loop's thread then make no atomic read-modify-write. Returns the
/// reference instead when no handle is left, for the caller to drop outside the heap. The
/// parked reference is given back when the last handle goes ([`Heap::release`]), when the
/// timer is closed, or when its loop is dropped.
fn park(timer: Arc<TimerInner>) -> Option<Arc<TimerInner>> {
    if timer.handles.load(Ordering::Acquire) == 0 {
        return Some(timer);
    }
    let cell: *const LoopCell<Option<Arc<TimerInner>>> = &timer.keep;
    // SAFETY: heap methods run on the run-right holder (`EventLoop::deadlines`); `cell` is
    // the timer's, which the reference moved into it keeps alive. An armed timer has nothing
    // parked, so nothing is dropped in there.
    unsafe { (*cell).with(move |kept| *kept = Some(timer)) };
    None
}

/// The heap's reference to `timer` for a new arming: the parked one, else a new one.
#[inline]
fn unpark(timer: &Arc<TimerInner>) -> Arc<TimerInner> {
    // SAFETY: as in `park`.
    unsafe { timer.keep.with(Option::take) }.unwrap_or_else(|| timer.clone())
}

/// Gives back the reference parked in `timer` (see [`park`]) when its loop is dropped.
///
/// # Safety
/// The caller has the loop to itself (it is being dropped: no handle of it is left).
pub(super) unsafe fn take_parked(timer: &TimerInner) -> Option<Arc<TimerInner>> {
    // SAFETY: the caller's contract.
    unsafe { timer.keep.with(Option::take) }
}

/// A reusable timer's published deadline while it is not active.
pub(super) const INACTIVE_DUE: u64 = u64::MAX;

/// One armed timer in the heap.
struct Armed {
    /// The heap's key: on the clock of [`clock_ns`], `u64::MAX` for never.
    deadline: u64,
    /// The deadline as [`encode`]d, for reports.
    due: u64,
    /// Ties go in the order timers were armed (one sequence with the scheduled tasks).
    seq: u64,
    /// The timer's operation count when this arming was made: if other threads' operations
    /// moved it on since, the arming does not fire.
    ticket: u64,
    /// Whether this arming counts in [`TimerHeap::refd`].
    refd: bool,
    timer: Arc<TimerInner>,
}

impl Armed {
    fn key(&self) -> (u64, u64) {
        (self.deadline, self.seq)
    }
}

/// The armed reusable timers of one loop: a binary min-heap on (deadline, sequence) whose
/// entries record their index in their timer, so any timer can be moved or taken out in
/// O(log n).
#[derive(Default)]
struct TimerHeap {
    slots: Vec<Armed>,
    /// Armed timers that are ref'd: they keep a `Default` run going.
    refd: usize,
}

impl TimerHeap {
    /// The earliest armed timer's deadline and sequence number.
    fn peek(&self) -> Option<(u64, u64)> {
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
    #[inline]
    fn arm(&mut self, timer: &Arc<TimerInner>, (deadline, due): (u64, u64), seq: u64, ticket: u64) {
        match timer.pos.load(Ordering::Relaxed) {
            INACTIVE => {
                let refd = timer.refd.load(Ordering::Relaxed);
                self.refd += usize::from(refd);
                self.slots.push(Armed {
                    deadline,
                    due,
                    seq,
                    ticket,
                    refd,
                    timer: unpark(timer),
                });
                self.sift_up(self.slots.len() - 1);
            }
            pos => {
                let slot = &mut self.slots[pos];
                slot.deadline = deadline;
                slot.due = due;
                slot.seq = seq;
                slot.ticket = ticket;
                self.settle(pos);
            }
        }
    }

    /// Takes the entry at `pos` out; the timer is inactive.
    fn remove_at(&mut self, pos: usize) -> Arc<TimerInner> {
        let removed = self.slots.swap_remove(pos);
        removed.timer.pos.store(INACTIVE, Ordering::Relaxed);
        self.refd -= usize::from(removed.refd);
        if pos < self.slots.len() {
            self.settle(pos);
        }
        removed.timer
    }

    /// Whether other threads' operations moved the earliest timer on since it was armed.
    fn first_is_stale(&self) -> bool {
        let first = &self.slots[0];
        first.timer.ops.load(Ordering::Acquire) != first.ticket
    }

    /// Fires the earliest timer: takes it out, or, if it repeats, re-arms it `repeat` after
    /// `now` with sequence number `seq` (libuv re-arms before the callback runs). Returns it,
    /// for its callback.
    fn fire_first(&mut self, now: u64, seq: u64) -> Arc<TimerInner> {
        let repeat = self.slots[0].timer.repeat();
        if repeat.is_zero() {
            let timer = self.remove_at(0);
            timer.due.store(INACTIVE_DUE, Ordering::Relaxed);
            if timer.handles.load(Ordering::Acquire) == 0 {
                return timer;
            }
            let for_callback = timer.clone();
            // Not the last reference (`for_callback` is one) if its last handle just went.
            drop(park(timer));
            return for_callback;
        }
        let first = &mut self.slots[0];
        (first.deadline, first.due) = deadline_after(now, repeat);
        first.seq = seq;
        first.timer.due.store(first.due, Ordering::Relaxed);
        let timer = first.timer.clone();
        self.sift_down(0);
        timer
    }

    /// Takes every timer out (shutdown), parking the references of those with handles;
    /// returns the others.
    fn drain(&mut self) -> Vec<Arc<TimerInner>> {
        self.refd = 0;
        let armed: Vec<Arc<TimerInner>> = self
            .slots
            .drain(..)
            .map(|armed| {
                armed.timer.pos.store(INACTIVE, Ordering::Relaxed);
                armed.timer.due.store(INACTIVE_DUE, Ordering::Relaxed);
                armed.timer
            })
            .collect();
        armed.into_iter().filter_map(park).collect()
    }
}

impl EventLoop {
    /// The loop's clock in nanoseconds, on which its deadlines are: the monotonic clock
    /// ([`clock_ns`]) plus what [`advance_clock`](Self::advance_clock) moved it by (zero on
    /// every loop but an embedded channel's).
    #[inline]
    pub(super) fn clock(&self) -> u64 {
        clock_ns().saturating_add(self.inner.deadlines.offset.load(Ordering::Relaxed))
    }

    /// Moves the loop's clock forward by `by` (Netty's `EmbeddedEventLoop.advanceTimeBy`):
    /// scheduled tasks and timers whose deadline it passes are due, and run in the loop's
    /// next turn. For a loop that a test drives (an embedded channel's); real time goes on
    /// as well.
    pub(crate) fn advance_clock(&self, by: Duration) {
        // Saturating: the clock stops at its end instead of wrapping to the past.
        let by = nanos(by);
        let _ = self.inner.deadlines.offset.fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |offset| Some(offset.saturating_add(by)),
        );
    }

    /// How far [`advance_clock`](Self::advance_clock) moved the loop's clock.
    pub(super) fn clock_offset(&self) -> Duration {
        Duration::from_nanos(self.inner.deadlines.offset.load(Ordering::Relaxed))
    }

    /// Runs `f` on the deadline heaps, on the thread that holds the loop's run right (see the
    /// module docs). `f` must call no user code.
    #[inline]
    pub(super) fn deadlines<R>(&self, f: impl FnOnce(&mut Heap) -> R) -> R {
        debug_assert!(
            self.in_run(),
            "the deadline heaps are touched only by the thread running the loop"
        );
        // SAFETY: this thread holds the run right (checked in debug builds; every caller
        // checks `in_run` or holds it through a run, a close or a borrow), and `f` calls no
        // user code, so it does not come back here.
        unsafe { self.inner.deadlines.heap.with(f) }
    }

    /// From a thread that does not hold the run right: if no thread runs the loop, takes the
    /// right for this one call, runs `f` on the heaps, publishes them and gives the right
    /// back; returns `None` without calling `f` while a thread runs the loop (the caller then
    /// queues its work to the loop). Waits while another thread borrows (a few instructions).
    pub(super) fn borrow_deadlines<R>(&self, f: impl FnOnce(&mut Heap) -> R) -> Option<R> {
        if !self.enter(BORROWED) {
            return None;
        }
        let held = self.inner.run_right.hold();
        let result = self.deadlines(f);
        self.publish_deadlines();
        drop(held);
        self.inner.running.store(IDLE, Ordering::Release);
        Some(result)
    }

    /// Moves the loop's `running` state from idle to `to` (a run or a borrow): waits while a
    /// borrow is under way; `false` if a run is.
    pub(super) fn enter(&self, to: u8) -> bool {
        let running = &self.inner.running;
        loop {
            match running.compare_exchange_weak(IDLE, to, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(RUNNING) => return false,
                Err(BORROWED) => std::thread::yield_now(),
                Err(_) => std::hint::spin_loop(),
            }
        }
    }

    /// Publishes the next deadline and the timers' ref for other threads (see the module
    /// docs). On the run-right holder.
    pub(super) fn publish_deadlines(&self) {
        let (next, refd) = self.deadlines(|heap| (heap.next_deadline(), heap.has_refd_timer()));
        let d = &self.inner.deadlines;
        d.next.store(next.unwrap_or(NO_DEADLINE), Ordering::Release);
        d.refd.store(refd, Ordering::Release);
    }

    /// The earliest deadline (on the clock of [`clock_ns`]): from the heaps on the run-right
    /// holder, else as last published.
    pub(super) fn next_deadline(&self) -> Option<u64> {
        if self.in_run() {
            return self.deadlines(|heap| heap.next_deadline());
        }
        match self.inner.deadlines.next.load(Ordering::Acquire) {
            NO_DEADLINE => None,
            next => Some(next),
        }
    }

    /// How long until the earliest deadline (zero if it has passed), if there is one.
    pub(super) fn until_next_deadline(&self) -> Option<Duration> {
        let next = self.next_deadline()?;
        Some(Duration::from_nanos(next.saturating_sub(self.clock())))
    }

    /// Whether an armed reusable timer is ref'd: from the heaps on the run-right holder, else
    /// as last published.
    pub(super) fn has_refd_timer(&self) -> bool {
        if self.in_run() {
            return self.deadlines(|heap| heap.has_refd_timer());
        }
        self.inner.deadlines.refd.load(Ordering::Acquire)
    }

    /// On the run-right holder (shutdown): takes every scheduled task's entry and every armed
    /// reusable timer out, for the caller to cancel and drop, and publishes the empty heaps.
    pub(super) fn drain_deadlines(&self) -> (Vec<Entry>, Vec<Arc<TimerInner>>) {
        let drained = self.deadlines(|heap| (heap.drain_tasks(), heap.drain_timers()));
        self.inner.deadlines.cancelled.store(0, Ordering::Relaxed);
        self.publish_deadlines();
        drained
    }

    /// Counts a cancelled scheduled task (from any thread).
    pub(super) fn count_cancelled(&self) {
        let cancelled = &self.inner.deadlines.cancelled;
        if self.in_run() {
            cancelled.store(cancelled.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        } else {
            cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// On the run-right holder: the cancelled entries, once they are most of the heap.
    pub(super) fn purge_cancelled(&self) -> Option<Vec<Entry>> {
        let cancelled = &self.inner.deadlines.cancelled;
        let count = cancelled.load(Ordering::Relaxed);
        let purged = self.deadlines(|heap| heap.purge(count));
        if purged.is_some() {
            cancelled.store(0, Ordering::Relaxed);
        }
        purged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_survives_encoding_rounded_down_to_its_unit() {
        let now = u128::from(clock_ns());
        for since in [
            0,
            1,
            60_000_000_000,
            146 * 365 * 24 * 3600 * 1_000_000_000,
            u128::from(i64::MAX as u64) * 1_000_000,
        ] {
            let at = now + since;
            let back = decode(encode(at));
            assert!(back <= at, "never later: {since}");
            assert!(at - back < 1_000_000_000, "{since}");
        }
    }
}
