//! [`Cumulation`]: the bytes a decoder has received and not yet consumed.
//!
//! Two representations, chosen per read:
//!
//! - **shared**: the cumulation is one read buffer's [`Bytes`], taken over without a copy
//!   when a read arrives while the cumulation is empty (the common case: whole frames in one
//!   read). Frames taken out are slices of the read buffer.
//! - **merged**: a [`BytesMut`] that bytes spanning reads are copied into: a leftover plus the
//!   next read. Frames taken out split off its front and share its memory; its consumed front
//!   is reclaimed as the next read is appended (Netty's `discardSomeReadBytes`), so a
//!   cumulation holds at most its readable bytes plus what a reallocation rounds up.
//!
//! Memory: once everything is consumed, a merged storage larger than
//! [`KEEP_CAPACITY`] is given back, so one large frame does not pin its memory for the life of
//! the connection.

use bytes::{Buf, Bytes, BytesMut};

use super::super::message::Buffer;

/// The merged storage a drained cumulation keeps for reuse; more is released.
pub const KEEP_CAPACITY: usize = 64 * 1024;

/// A decoder's input: the received bytes not consumed yet, readable as one contiguous slice.
///
/// Ownership: it owns its bytes; [`take`](Self::take) hands a part out as a [`Buffer`] that
/// shares them (no copy). Not thread-safe by itself (`Send`): the decoder handler that owns it
/// uses it on its channel's loop thread only.
#[derive(Default)]
pub struct Cumulation {
    /// The readable bytes while they lie in one read buffer.
    shared: Bytes,
    /// The readable bytes once they span reads (then `shared` is empty).
    merged: BytesMut,
    /// Whether `merged` holds the readable bytes.
    is_merged: bool,
}

impl Cumulation {
    /// An empty cumulation.
    pub fn new() -> Cumulation {
        Cumulation::default()
    }

    /// The number of readable bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether no bytes are readable.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The readable bytes, in order, as one slice.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        if self.is_merged {
            &self.merged
        } else {
            &self.shared
        }
    }

    /// The memory this cumulation holds: the merged storage's capacity plus the readable
    /// bytes of a shared read buffer (the rest of that buffer belongs to the read that made
    /// it). Tests use it to check that discarding keeps memory bounded.
    pub fn capacity(&self) -> usize {
        self.merged.capacity() + self.shared.len()
    }

    /// Appends the bytes of `buffer`. Into an empty cumulation it is taken over without a
    /// copy; otherwise its bytes are copied behind the readable ones (the consumed front of
    /// the storage is reused first).
    pub fn append(&mut self, buffer: Buffer) {
        self.append_bytes(buffer.into_bytes());
    }

    /// [`append`](Self::append) for [`Bytes`].
    pub fn append_bytes(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if self.is_empty() {
            self.release_merged();
            self.shared = bytes;
            return;
        }
        if !self.is_merged {
            // The leftover of the last read and the new read: both copied once into the
            // merged storage, which keeps growing in place from now on.
            let leftover = std::mem::take(&mut self.shared);
            self.merged.clear();
            self.merged.reserve(leftover.len() + bytes.len());
            self.merged.extend_from_slice(&leftover);
            self.is_merged = true;
        }
        // `reserve` moves the readable bytes to the front of the storage when the consumed
        // front is large enough, instead of growing it.
        self.merged.reserve(bytes.len());
        self.merged.extend_from_slice(&bytes);
    }

    /// Copies readable bytes that still lie in a read buffer into the cumulation's own
    /// storage, so that a partial frame waiting for its next read does not keep the whole
    /// read buffer (the loop's shared receive memory) alive. The copy is the one the next
    /// read's append would make anyway; it only happens earlier.
    pub fn unshare(&mut self) {
        if self.is_merged || self.shared.is_empty() {
            return;
        }
        let leftover = std::mem::take(&mut self.shared);
        self.merged.clear();
        self.merged.extend_from_slice(&leftover);
        self.is_merged = true;
    }

    /// Takes the first `n` readable bytes out as a buffer that shares them (no copy).
    ///
    /// # Panics
    /// If `n` is more than [`len`](Self::len) (a decoder's bug, as slicing out of bounds).
    pub fn take(&mut self, n: usize) -> Buffer {
        assert!(
            n <= self.len(),
            "take({n}) past the {} readable bytes",
            self.len()
        );
        let bytes = if self.is_merged {
            self.merged.split_to(n).freeze()
        } else {
            self.shared.split_to(n)
        };
        self.after_consume();
        Buffer::from_bytes(bytes)
    }

    /// Takes every readable byte out as one buffer (no copy), leaving the cumulation empty.
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
        if self.is_merged {
            self.merged.advance(n);
        } else {
            self.shared.advance(n);
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
        let data = self.as_slice();
        let rest = data.get(from..)?;
        memchr::memchr(byte, rest).map(|at| at + from)
    }

    /// The index of the first occurrence of `needle` that starts at or after `from`.
    /// An empty needle is found at `from`.
    pub fn find(&self, needle: &[u8], from: usize) -> Option<usize> {
        let data = self.as_slice();
        let rest = data.get(from..)?;
        memchr::memmem::find(rest, needle).map(|at| at + from)
    }

    /// The readable byte at `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<u8> {
        self.as_slice().get(index).copied()
    }

    /// After bytes were consumed: a drained cumulation gives large storage back.
    fn after_consume(&mut self) {
        if self.is_merged && self.merged.is_empty() {
            self.release_merged();
        }
    }

    /// Leaves the merged representation, keeping its storage for reuse only while small.
    fn release_merged(&mut self) {
        self.is_merged = false;
        if self.merged.capacity() > KEEP_CAPACITY {
            self.merged = BytesMut::new();
        } else {
            self.merged.clear();
        }
    }
}

impl std::fmt::Debug for Cumulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cumulation")
            .field("len", &self.len())
            .field("merged", &self.is_merged)
            .field("capacity", &self.capacity())
            .finish()
    }
}
