//! [`Cumulation`]: the bytes a decoder has received and not yet consumed.
//!
//! Two segments: `tail`, the newest read's [`Bytes`] (shared with the read buffer, never
//! copied on arrival), and in front of it `head`, a [`BytesMut`] holding the bytes of earlier
//! reads that were still unconsumed when a newer read arrived (the leftover, copied once).
//!
//! - A frame that lies in the newest read is a slice of it (no copy); one in the leftover is
//!   split off `head` (shared, no copy); only a frame spanning both is copied, and then only
//!   the newest read's part of it is, appended behind the leftover.
//! - [`as_slice`](Cumulation::as_slice) gives one slice; when both segments hold bytes it
//!   first appends the newest read to the leftover (the cost of a decoder that needs one
//!   slice); the search and peek methods work across the two without copying.
//! - Discarding: `head`'s consumed front is reclaimed as bytes are appended
//!   (`BytesMut::reserve` moves the readable bytes down instead of growing: Netty's
//!   `discardSomeReadBytes`), and once `head` is drained, storage beyond [`KEEP_CAPACITY`] is
//!   given back, so one large frame does not pin its memory for the life of the connection.

use bytes::{Buf, Bytes, BytesMut};

use super::super::message::Buffer;

#[cfg(test)]
thread_local! {
    /// The bytes [`Cumulation::find`] searched on this thread (tests check that a decoder
    /// does not search the same bytes over and over).
    pub(super) static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The leftover storage a drained cumulation keeps for reuse; more is released.
pub const KEEP_CAPACITY: usize = 64 * 1024;

/// A decoder's input: the received bytes not consumed yet, in order.
///
/// Ownership: it owns its bytes; [`take`](Self::take) hands a part out as a [`Buffer`] that
/// shares them (no copy unless the part spans the leftover and the newest read). Not
/// thread-safe by itself (`Send`): the decoder handler that owns it uses it on its channel's
/// loop thread only.
#[derive(Default)]
pub struct Cumulation {
    /// Bytes of earlier reads (copied), in front of `tail`.
    head: BytesMut,
    /// The newest read's bytes (shared with the read buffer).
    tail: Bytes,
}

impl Cumulation {
    /// An empty cumulation.
    pub fn new() -> Cumulation {
        Cumulation::default()
    }

    /// The number of readable bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether no bytes are readable.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.is_empty() && self.tail.is_empty()
    }

    /// The readable bytes, in order, as one slice. When they span the leftover and the
    /// newest read, the read's bytes are appended to the leftover first (one copy of them).
    #[inline]
    pub fn as_slice(&mut self) -> &[u8] {
        if self.head.is_empty() {
            return &self.tail;
        }
        if !self.tail.is_empty() {
            self.head.extend_from_slice(&self.tail);
            self.tail = Bytes::new();
        }
        &self.head
    }

    /// The readable bytes as two slices, in order (the leftover, then the newest read's
    /// bytes; either may be empty), without copying.
    #[inline]
    pub fn slices(&self) -> (&[u8], &[u8]) {
        (&self.head, &self.tail)
    }

    /// The memory this cumulation holds: the leftover storage's capacity plus the readable
    /// bytes of the newest read (the rest of that buffer belongs to the read that made it).
    /// Tests use it to check that discarding keeps memory bounded.
    pub fn capacity(&self) -> usize {
        self.head.capacity() + self.tail.len()
    }

    /// Appends the bytes of `buffer` (no copy: it becomes the newest read; what was
    /// unconsumed of the previous one is copied behind the leftover).
    pub fn append(&mut self, buffer: Buffer) {
        self.append_bytes(buffer.into_bytes());
    }

    /// [`append`](Self::append) for [`Bytes`].
    pub fn append_bytes(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if !self.tail.is_empty() {
            // `reserve` moves the readable bytes to the front of the storage when the
            // consumed front is large enough, instead of growing it.
            self.head.reserve(self.tail.len());
            self.head.extend_from_slice(&self.tail);
        }
        self.tail = bytes;
    }

    /// Copies the unconsumed part of the newest read behind the leftover, so that a partial
    /// frame waiting for its next read does not keep the whole read buffer (the loop's shared
    /// receive memory) alive. The copy is the one the next read's append would make anyway;
    /// it only happens earlier.
    pub fn unshare(&mut self) {
        if self.tail.is_empty() {
            return;
        }
        self.head.reserve(self.tail.len());
        self.head.extend_from_slice(&self.tail);
        self.tail = Bytes::new();
    }

    /// Takes the first `n` readable bytes out as a buffer that shares them (copied only if
    /// they span the leftover and the newest read).
    ///
    /// # Panics
    /// If `n` is more than [`len`](Self::len) (a decoder's bug, as slicing out of bounds).
    pub fn take(&mut self, n: usize) -> Buffer {
        assert!(
            n <= self.len(),
            "take({n}) past the {} readable bytes",
            self.len()
        );
        let in_head = self.head.len();
        let bytes = if in_head == 0 {
            self.tail.split_to(n)
        } else if n <= in_head {
            self.head.split_to(n).freeze()
        } else {
            let from_tail = n - in_head;
            self.head.extend_from_slice(&self.tail[..from_tail]);
            self.tail.advance(from_tail);
            self.head.split().freeze()
        };
        self.after_consume();
        Buffer::from_bytes(bytes)
    }

    /// Takes every readable byte out as one buffer, leaving the cumulation empty.
    pub fn take_all(&mut self) -> Buffer {
        self.take(self.len())
    }

    /// Drops the first `n` readable bytes.
    ///
    /// # Panics
    /// If `n` is more than [`len`](Self::len).
    pub fn skip(&mut self, n: usize) {
        assert!(
            n <= self.len(),
            "skip({n}) past the {} readable bytes",
            self.len()
        );
        let in_head = self.head.len();
        if n <= in_head {
            self.head.advance(n);
        } else {
            self.head.clear();
            self.tail.advance(n - in_head);
        }
        self.after_consume();
    }

    /// Drops every readable byte.
    pub fn clear(&mut self) {
        self.skip(self.len());
    }

    /// The index of the first `byte` at or after `from` among the readable bytes.
    #[inline]
    pub fn find_byte(&self, byte: u8, from: usize) -> Option<usize> {
        let in_head = self.head.len();
        if from < in_head {
            if let Some(at) = memchr::memchr(byte, &self.head[from..]) {
                return Some(from + at);
            }
        }
        let start = from.max(in_head) - in_head;
        let rest = self.tail.get(start..)?;
        memchr::memchr(byte, rest).map(|at| in_head + start + at)
    }

    /// The index of the first occurrence of `needle` that starts at or after `from`, also
    /// one that spans the leftover and the newest read. An empty needle is found at `from`
    /// (if `from` is at most [`len`](Self::len)).
    pub fn find(&self, needle: &[u8], from: usize) -> Option<usize> {
        let found = self.find_from(needle, from);
        #[cfg(test)]
        SCANNED.with(|scanned| {
            let end = found.map_or(self.len(), |at| at + needle.len());
            scanned.set(scanned.get() + end.saturating_sub(from));
        });
        found
    }

    /// [`find`](Self::find)'s search.
    fn find_from(&self, needle: &[u8], from: usize) -> Option<usize> {
        if from > self.len() {
            return None;
        }
        let in_head = self.head.len();
        if from < in_head {
            if let Some(at) = memchr::memmem::find(&self.head[from..], needle) {
                return Some(from + at);
            }
            // Starts in the leftover that run into the newest read.
            let first = from.max((in_head + 1).saturating_sub(needle.len()));
            for start in first..in_head {
                if needle
                    .iter()
                    .enumerate()
                    .all(|(k, b)| self.get(start + k) == Some(*b))
                {
                    return Some(start);
                }
            }
        }
        let start = from.max(in_head) - in_head;
        memchr::memmem::find(&self.tail[start..], needle).map(|at| in_head + start + at)
    }

    /// The readable byte at `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<u8> {
        match self.head.get(index) {
            Some(b) => Some(*b),
            None => self.tail.get(index - self.head.len()).copied(),
        }
    }

    /// Copies the readable bytes from `at` into `dst` (all of it); `false` if fewer than
    /// `at + dst.len()` bytes are readable (then `dst` is unchanged).
    pub fn copy_out(&self, at: usize, dst: &mut [u8]) -> bool {
        let Some(end) = at.checked_add(dst.len()).filter(|end| *end <= self.len()) else {
            return false;
        };
        let in_head = self.head.len();
        let from_head: &[u8] = if at < in_head {
            &self.head[at..end.min(in_head)]
        } else {
            &[]
        };
        let n = from_head.len();
        dst[..n].copy_from_slice(from_head);
        let rest = dst.len() - n;
        if rest > 0 {
            // The rest starts at or after the leftover's end.
            let tail_at = at + n - in_head;
            dst[n..].copy_from_slice(&self.tail[tail_at..tail_at + rest]);
        }
        true
    }

    /// After bytes were consumed: a drained leftover gives large storage back.
    fn after_consume(&mut self) {
        if self.head.is_empty() && self.head.capacity() > KEEP_CAPACITY {
            self.head = BytesMut::new();
        }
    }
}

impl std::fmt::Debug for Cumulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cumulation")
            .field("leftover", &self.head.len())
            .field("newest", &self.tail.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
