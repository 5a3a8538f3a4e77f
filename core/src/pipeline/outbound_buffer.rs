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
#[derive(Default)]
pub(crate) struct OutboundBuffer {
    pub(crate) entries: VecDeque<Entry>,
    pub(crate) flushed: usize,
}

impl OutboundBuffer {
    pub(crate) fn add(&mut self, entry: Entry) {
        self.entries.push_back(entry);
    }

    /// Marks everything written so far as flushed.
    pub(crate) fn add_flush(&mut self) {
        self.flushed = self.entries.len();
    }

    /// Takes every entry out (the channel closes or its connection failed).
    pub(crate) fn take_all(&mut self) -> VecDeque<Entry> {
        self.flushed = 0;
        std::mem::take(&mut self.entries)
    }

    /// Takes the flushed entries out (the unflushed ones stay).
    pub(crate) fn take_flushed(&mut self) -> VecDeque<Entry> {
        let n = std::mem::take(&mut self.flushed);
        self.entries.drain(..n).collect()
    }

    /// Takes the first flushed entry out.
    pub(crate) fn pop_flushed(&mut self) -> Option<Entry> {
        if self.flushed == 0 {
            return None;
        }
        self.flushed -= 1;
        self.entries.pop_front()
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
