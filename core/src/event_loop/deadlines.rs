//! The deadlines of one event loop, in order: both timer heaps, under one lock. Scheduled
//! tasks ([`Timer`]) sit in a binary heap whose cancelled entries are removed lazily; reusable
//! timers ([`LoopTimer`]) in an indexed heap beside it ([`TimerHeap`]); [`Heap::pop_due`] takes
//! the earliest of both, and one sequence number orders ties across them.
//!
//! [`LoopTimer`]: super::LoopTimer

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use super::schedule::Timer;
use super::timer::{TimerHeap, TimerInner};

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
