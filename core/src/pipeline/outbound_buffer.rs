//! The head's outbound buffer (Netty's `ChannelOutboundBuffer`): written messages waiting
//! for a flush and for the transport, and the byte count that drives writability.
//!
//! Bytes are counted at the write call, from any thread (a write queued from another thread
//! counts at once, so `is_writable` answers for it at once), each message with a fixed
//! per-entry overhead. Crossing the high water mark upwards makes the channel unwritable at
//! once; dropping below the low mark makes it writable again; each crossing fires one
//! writability event, later, in order (the handler reads the writability of that moment).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::message::Message;
use crate::event_loop::Promise;

/// What each queued message counts for beyond its bytes (the entry's own memory).
pub const ENTRY_OVERHEAD: usize = 64;

/// One written message, its promise, and what it counts for.
pub(crate) struct Entry {
    pub(crate) msg: Message,
    pub(crate) promise: Option<Promise>,
    pub(crate) counted: usize,
}

/// Written messages in order: the first `flushed` of them are flushed (the transport takes
/// them), the rest wait for the next flush. Used on the channel's loop thread only.
///
/// The oldest entry is kept inline and only the ones behind it in a queue, so a channel that
/// has one message at a time in flight (a request-response protocol, an echo) never allocates
/// for its writes, and an idle channel holds no queue memory unless it once queued more than
/// one message.
#[derive(Default)]
pub(crate) struct OutboundBuffer {
    /// The oldest entry (`None`: the buffer is empty, and so is `rest`).
    first: Option<Entry>,
    /// The entries after `first`, in order.
    rest: VecDeque<Entry>,
    pub(crate) flushed: usize,
}

impl OutboundBuffer {
    pub(crate) fn add(&mut self, entry: Entry) {
        if self.first.is_none() {
            self.first = Some(entry);
        } else {
            self.rest.push_back(entry);
        }
    }

    /// How many entries are queued.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// The entries, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.first.iter().chain(self.rest.iter())
    }

    /// The oldest entry.
    pub(crate) fn front_mut(&mut self) -> Option<&mut Entry> {
        self.first.as_mut()
    }

    /// Marks everything written so far as flushed.
    pub(crate) fn add_flush(&mut self) {
        self.flushed = self.len();
    }

    /// Takes every entry out (the channel closes or its connection failed).
    pub(crate) fn take_all(&mut self) -> VecDeque<Entry> {
        self.flushed = 0;
        let mut all = std::mem::take(&mut self.rest);
        if let Some(first) = self.first.take() {
            all.push_front(first);
        }
        all
    }

    /// Takes the flushed entries out (the unflushed ones stay).
    pub(crate) fn take_flushed(&mut self) -> VecDeque<Entry> {
        let n = std::mem::take(&mut self.flushed);
        let mut taken = VecDeque::with_capacity(n);
        for _ in 0..n {
            match self.pop_front() {
                Some(entry) => taken.push_back(entry),
                None => break,
            }
        }
        taken
    }

    /// Takes the first flushed entry out.
    pub(crate) fn pop_flushed(&mut self) -> Option<Entry> {
        if self.flushed == 0 {
            return None;
        }
        self.flushed -= 1;
        self.pop_front()
    }

    fn pop_front(&mut self) -> Option<Entry> {
        let first = self.first.take();
        self.first = self.rest.pop_front();
        first
    }
}

/// A channel's count of queued outbound bytes and its writability. Thread-safe.
#[derive(Debug, Default)]
pub(crate) struct WriteBudget {
    bytes: AtomicUsize,
    unwritable: AtomicBool,
}

/// A crossing of a water mark that needs a writability event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Crossing {
    None,
    Changed,
}

impl WriteBudget {
    /// Queued bytes now.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    pub(crate) fn is_unwritable(&self) -> bool {
        self.unwritable.load(Ordering::Acquire)
    }

    /// Counts `n` more bytes; above `high` the channel becomes unwritable.
    pub(crate) fn add(&self, n: usize, high: usize) -> Crossing {
        let now = self.bytes.fetch_add(n, Ordering::AcqRel) + n;
        if now > high && !self.unwritable.swap(true, Ordering::AcqRel) {
            return Crossing::Changed;
        }
        Crossing::None
    }

    /// Counts `n` bytes less; below `low` the channel becomes writable again.
    pub(crate) fn sub(&self, n: usize, low: usize) -> Crossing {
        let now = self.bytes.fetch_sub(n, Ordering::AcqRel) - n;
        if now < low && self.unwritable.swap(false, Ordering::AcqRel) {
            return Crossing::Changed;
        }
        Crossing::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Entry {
        Entry {
            msg: Message::copy_from_slice(&vec![0; n]),
            promise: None,
            counted: n,
        }
    }

    #[test]
    fn entries_keep_their_order_and_one_at_a_time_takes_no_queue() {
        let mut buffer = OutboundBuffer::default();
        buffer.add(entry(1));
        buffer.add_flush();
        assert_eq!(buffer.pop_flushed().map(|e| e.counted), Some(1));
        assert_eq!(
            buffer.rest.capacity(),
            0,
            "one entry at a time stays inline"
        );
        for n in 1..=5 {
            buffer.add(entry(n));
        }
        assert_eq!(buffer.len(), 5);
        buffer.add_flush();
        buffer.add(entry(6));
        let order: Vec<usize> = buffer.iter().map(|e| e.counted).collect();
        assert_eq!(order, [1, 2, 3, 4, 5, 6]);
        assert_eq!(buffer.front_mut().map(|e| e.counted), Some(1));
        assert_eq!(buffer.pop_flushed().map(|e| e.counted), Some(1));
        let flushed: Vec<usize> = buffer.take_flushed().iter().map(|e| e.counted).collect();
        assert_eq!(flushed, [2, 3, 4, 5]);
        assert_eq!(
            buffer.pop_flushed().map(|e| e.counted),
            None,
            "6 is not flushed"
        );
        let all: Vec<usize> = buffer.take_all().iter().map(|e| e.counted).collect();
        assert_eq!(all, [6]);
        assert_eq!(buffer.len(), 0);
    }

    #[test]
    fn one_crossing_each_way() {
        let budget = WriteBudget::default();
        assert_eq!(budget.add(60, 64), Crossing::None);
        assert_eq!(budget.add(10, 64), Crossing::Changed);
        assert_eq!(budget.add(10, 64), Crossing::None);
        assert!(budget.is_unwritable());
        assert_eq!(budget.sub(40, 32), Crossing::None);
        assert_eq!(budget.sub(20, 32), Crossing::Changed);
        assert_eq!(budget.sub(20, 32), Crossing::None);
        assert_eq!(budget.bytes(), 0);
        assert!(!budget.is_unwritable());
    }
}
