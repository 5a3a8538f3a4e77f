//! The timer heap of one event loop: deadlines in order, cancelled entries removed lazily.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::EventLoop;
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
    /// Whether the timer keeps the loop alive (libuv's ref).
    pub(crate) refd: AtomicBool,
    /// Whether the timer currently holds one of the loop's refs.
    pub(crate) holds_ref: AtomicBool,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("repeat", &self.repeat)
            .finish_non_exhaustive()
    }
}

impl Timer {
    pub(crate) fn take_task(&self) -> Option<TimerTask> {
        lock(&self.task).take()
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

/// A min-heap of deadlines.
#[derive(Default)]
pub(crate) struct Heap {
    heap: BinaryHeap<Entry>,
    seq: u64,
    /// Cancelled entries still in the heap.
    pub(crate) cancelled: usize,
}

impl Heap {
    /// Adds `timer` at `deadline`; returns whether it is now the earliest.
    pub(crate) fn push(&mut self, deadline: Instant, timer: Arc<Timer>) -> bool {
        self.seq += 1;
        let earliest = self.heap.peek().is_none_or(|e| deadline < e.deadline);
        self.heap.push(Entry {
            deadline,
            seq: self.seq,
            timer,
        });
        earliest
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.deadline)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        if self.heap.peek().is_some_and(|e| e.deadline <= now) {
            self.heap.pop()
        } else {
            None
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

    /// Removes every entry.
    pub(crate) fn drain(&mut self) -> Vec<Entry> {
        self.cancelled = 0;
        std::mem::take(&mut self.heap).into_vec()
    }
}
