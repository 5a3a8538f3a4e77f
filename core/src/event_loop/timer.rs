//! The timer heap of one event loop: deadlines in order. Scheduled tasks sit in a binary heap
//! whose cancelled entries are removed lazily; reusable timers ([`LoopTimer`]) in an indexed
//! heap beside it ([`TimerHeap`]); [`Heap::pop_due`] takes the earliest of both.
//!
//! [`LoopTimer`]: super::LoopTimer

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use super::EventLoop;
use super::loop_timer::{TimerHeap, TimerInner};
use super::promise::Promise;
use crate::channel::lock;

/// What a scheduled task runs: `Ok` to go on (periodic tasks are rescheduled), `Err` to fail
/// the task's future and stop.
pub type TimerTask = Box<
    dyn FnMut(&EventLoop) -> Result<Option<super::promise::Value>, super::promise::Failure> + Send,
>;

/// How a periodic task repeats (Java's `ScheduledExecutorService` semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Runs once.
    Once,
    /// Runs every period after the first deadline; a late run does not shift later ones
    /// (runs never overlap: a run that took longer than the period starts the next late).
    FixedRate(Duration),
    /// Runs again the given delay after each run ends.
    FixedDelay(Duration),
}

/// One scheduled task.
pub(crate) struct Timer {
    pub(crate) future: Promise,
    pub(crate) task: std::sync::Mutex<Option<TimerTask>>,
    pub(crate) repeat: Repeat,
    /// [`REFD`] (the timer keeps the loop alive, libuv's ref) and [`HOLDS`] (it is still
    /// pending, so its ref counts in the loop's refs) in one word, so that a ref change racing
    /// the timer's end moves the loop's count exactly once.
    ref_state: AtomicU8,
}

/// A [`Timer`] is ref'd.
const REFD: u8 = 1;
/// A [`Timer`] is pending: while [`REFD`] too, it holds one of the loop's refs.
const HOLDS: u8 = 2;

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("repeat", &self.repeat)
            .finish_non_exhaustive()
    }
}

impl Timer {
    /// A pending, ref'd timer for `task`: it holds one of the loop's refs, which the caller
    /// adds.
    pub(crate) fn new(future: Promise, task: TimerTask, repeat: Repeat) -> Timer {
        Timer {
            future,
            task: std::sync::Mutex::new(Some(task)),
            repeat,
            ref_state: AtomicU8::new(REFD | HOLDS),
        }
    }

    pub(crate) fn take_task(&self) -> Option<TimerTask> {
        lock(&self.task).take()
    }

    /// Whether the timer keeps the loop alive while pending.
    pub(crate) fn is_refd(&self) -> bool {
        self.ref_state.load(AtomicOrdering::Acquire) & REFD != 0
    }

    /// Sets the ref; returns how the loop's ref count must change (-1, 0 or 1): only a pending
    /// timer's change counts.
    pub(crate) fn set_refd(&self, refd: bool) -> isize {
        let before = if refd {
            self.ref_state.fetch_or(REFD, AtomicOrdering::AcqRel)
        } else {
            self.ref_state.fetch_and(!REFD, AtomicOrdering::AcqRel)
        };
        match (before & HOLDS != 0, before & REFD != 0, refd) {
            (true, false, true) => 1,
            (true, true, false) => -1,
            _ => 0,
        }
    }

    /// Ends the timer's hold on the loop (it fired for good, was cancelled or dropped);
    /// returns whether it held a ref, which the caller gives back. Only the first call can.
    pub(crate) fn release(&self) -> bool {
        let before = self.ref_state.fetch_and(!HOLDS, AtomicOrdering::AcqRel);
        before & (HOLDS | REFD) == HOLDS | REFD
    }
}

pub(crate) struct Entry {
    pub(crate) deadline: Instant,
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
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so the `BinaryHeap` (a max-heap) pops the earliest deadline first; ties go
    /// in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .deadline
            .cmp(&self.deadline)
            .then(other.seq.cmp(&self.seq))
    }
}

/// The min-heaps of deadlines: scheduled tasks and reusable timers.
#[derive(Default)]
pub(crate) struct Heap {
    heap: BinaryHeap<Entry>,
    /// The sequence number of the last entry armed, in either heap.
    seq: u64,
    /// Cancelled entries still in the heap.
    pub(crate) cancelled: usize,
    /// The armed reusable timers.
    pub(crate) handles: TimerHeap,
}

/// What [`Heap::pop_due`] found due.
pub(crate) enum Due {
    /// A scheduled task's entry, out of the heap.
    Task(Entry),
    /// A reusable timer, already taken out or re-armed for its repeat.
    Timer(Arc<TimerInner>),
}

impl Heap {
    /// A sequence number for the next entry armed (ties fire in arming order).
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The sequence number of the last entry armed.
    pub(crate) fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Adds `timer` at `deadline`; returns whether it is now the earliest.
    pub(crate) fn push(&mut self, deadline: Instant, timer: Arc<Timer>) -> bool {
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
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let task = self.heap.peek().map(|e| e.deadline);
        let timer = self.handles.peek().map(|(deadline, _)| deadline);
        match (task, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`. Entries armed after
    /// sequence number `armed_by` wait for the next call: a timer its callback restarts with
    /// no timeout, a task scheduled from a callback, and the next run of a periodic task
    /// (whose runs, if each takes longer than its period, would otherwise pile up in one call)
    /// fire on a later turn, so no turn runs forever. A due reusable timer is taken out, or
    /// re-armed for its repeat with the next sequence number.
    pub(crate) fn pop_due(&mut self, now: Instant, armed_by: u64) -> Option<Due> {
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
                let seq = self.next_seq();
                Some(Due::Timer(self.handles.fire_first(now, seq)))
            }
            (Some(_), None) => self.heap.pop().map(Due::Task),
            (None, None) => None,
        }
    }

    /// Takes cancelled entries out once they are most of the heap and returns them, so the
    /// caller drops them (and their tasks) outside the heap's lock.
    pub(crate) fn purge(&mut self) -> Vec<Entry> {
        if self.cancelled > 64 && self.cancelled * 2 > self.heap.len() {
            self.cancelled = 0;
            let (done, keep): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.heap)
                .into_vec()
                .into_iter()
                .partition(|e| e.timer.future.is_done());
            self.heap = keep.into();
            return done;
        }
        Vec::new()
    }

    /// Removes every scheduled task's entry (the reusable timers have
    /// [`TimerHeap::drain`]).
    pub(crate) fn drain(&mut self) -> Vec<Entry> {
        self.cancelled = 0;
        std::mem::take(&mut self.heap).into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> Timer {
        Timer::new(Promise::new(None), Box::new(|_| Ok(None)), Repeat::Once)
    }

    #[test]
    fn a_pending_timer_moves_the_count_on_each_ref_change() {
        let t = timer();
        assert!(t.is_refd());
        assert_eq!(t.set_refd(true), 0, "already ref'd");
        assert_eq!(t.set_refd(false), -1);
        assert_eq!(t.set_refd(false), 0, "already unref'd");
        assert_eq!(t.set_refd(true), 1);
    }

    #[test]
    fn only_the_first_release_of_a_refd_timer_gives_a_ref_back() {
        let t = timer();
        assert!(t.release());
        assert!(!t.release());
        assert_eq!(t.set_refd(false), 0, "an ended timer holds no ref");
        assert_eq!(t.set_refd(true), 0);
        let unrefd = timer();
        assert_eq!(unrefd.set_refd(false), -1);
        assert!(
            !unrefd.release(),
            "its ref was given back when it was unref'd"
        );
    }
}
