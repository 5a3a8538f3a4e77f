//! The write queue of an asynchronous socket channel (`write_all`): writes that leave in
//! order, batched into one `sendmsg` each time the socket can take bytes, each completing
//! once with its full length. Java leaves this to its users (its `WritePendingException`
//! forces every AIO server to build one); nioxide keeps it, with a cap on the bytes queued.
//!
//! The queue is plain data under the socket's write lock; `socket.rs` drives it from the
//! loop's thread.

use std::collections::VecDeque;
use std::io::IoSlice;

use super::Op;

/// The most slices one `sendmsg` of the queue gathers (Linux's `IOV_MAX` is 1024; a few
/// dozen already fill a socket's send buffer).
pub(crate) const MAX_BATCH_SLICES: usize = 64;

/// The default cap of bytes queued per channel (64 MiB).
pub(crate) const DEFAULT_CAP: usize = 64 << 20;

/// What a `write_all` that would take the queue past its cap does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueFullPolicy {
    /// The call fails with [`ErrorKind::QueueFull`](crate::ErrorKind::QueueFull); the
    /// channel and what is queued are untouched (the default).
    FailNewCall,
    /// The channel is closed (what is queued fails with `AsyncClose`) and the call fails with
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed): a peer that does not read is dropped.
    Close,
}

/// One queued write: its operation and how much of it has been sent.
pub(crate) struct Queued {
    pub(crate) op: Op<usize>,
    pub(crate) total: usize,
    pub(crate) sent: usize,
}

/// The queued writes, in order, and their unsent bytes.
pub(crate) struct WriteQueue {
    entries: VecDeque<Queued>,
    /// Unsent bytes of every entry.
    bytes: usize,
    pub(crate) cap: usize,
    pub(crate) policy: QueueFullPolicy,
}

impl WriteQueue {
    pub(crate) fn new() -> WriteQueue {
        WriteQueue {
            entries: VecDeque::new(),
            bytes: 0,
            cap: DEFAULT_CAP,
            policy: QueueFullPolicy::FailNewCall,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Unsent bytes queued.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `len` more bytes fit under the cap. A write larger than the cap still fits
    /// into an empty queue (it could never be queued otherwise).
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.entries.is_empty() || self.bytes.saturating_add(len) <= self.cap
    }

    pub(crate) fn push(&mut self, op: Op<usize>, total: usize) {
        self.bytes += total;
        self.entries.push_back(Queued { op, total, sent: 0 });
    }

    /// The unsent bytes of the first entries as slices for one `sendmsg` (at most
    /// [`MAX_BATCH_SLICES`]). The slices point into memory the entries borrow: they must be
    /// dropped before [`advance`](Self::advance) can finish an entry.
    pub(crate) fn gather(&self, out: &mut Vec<IoSlice<'static>>) {
        for entry in &self.entries {
            if out.len() >= MAX_BATCH_SLICES {
                return;
            }
            if let Some(bufs) = entry.op.bufs.as_ref() {
                bufs.write_slices_from(entry.sent, MAX_BATCH_SLICES, out);
            }
        }
    }

    /// The unsent bytes when one entry of one region is queued: sent with a plain `send`,
    /// with no slice list.
    pub(crate) fn single(&self) -> Option<&[u8]> {
        if self.entries.len() != 1 {
            return None;
        }
        let entry = self.entries.front()?;
        let bytes = entry.op.bufs.as_ref()?.write_slice()?;
        bytes.get(entry.sent..)
    }

    /// Accounts `n` sent bytes; the entries sent in full go to `done`, with their length, in
    /// order.
    pub(crate) fn advance(&mut self, mut n: usize, done: &mut dyn FnMut(Op<usize>, usize)) {
        self.bytes -= n.min(self.bytes);
        while n > 0 || self.entries.front().is_some_and(|e| e.sent == e.total) {
            let Some(front) = self.entries.front_mut() else {
                return;
            };
            let take = n.min(front.total - front.sent);
            front.sent += take;
            n -= take;
            if front.sent < front.total {
                return;
            }
            if let Some(entry) = self.entries.pop_front() {
                done(entry.op, entry.total);
            }
        }
    }

    /// Takes every entry out, in order (a send error or a close fails them all).
    pub(crate) fn take_all(&mut self) -> Vec<Op<usize>> {
        self.bytes = 0;
        self.entries.drain(..).map(|e| e.op).collect()
    }
}
