//! The adaptive read size (Netty's `AdaptiveRecvByteBufAllocator`) and the loop thread's
//! read buffer.
//!
//! The size grows at once after a read that filled its buffer (streaming: it reaches 64 KiB
//! within a batch or two) and shrinks one step after two batches in a row that would have
//! fit the next smaller size. Reads go into one buffer per loop thread: each read's bytes are
//! split off it as a [`Bytes`] (no copy), and the space is reused once the handlers have
//! released what they were given, so an idle connection holds no read buffer and a steady
//! echo allocates nothing.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// The read sizes: powers of two from 64 bytes to 64 KiB.
const MIN_SHIFT: u32 = 6;
const MAX_SHIFT: u32 = 16;
/// The first read's size (Netty's initial 2048).
const INITIAL_SHIFT: u32 = 11;

/// A connection's read size. Used on its loop's thread.
#[derive(Debug)]
pub(crate) struct AdaptiveRecvAllocator {
    shift: u32,
    /// A batch would have fit the next smaller size last time too.
    shrink_next: bool,
}

impl Default for AdaptiveRecvAllocator {
    fn default() -> Self {
        AdaptiveRecvAllocator {
            shift: INITIAL_SHIFT,
            shrink_next: false,
        }
    }
}

impl AdaptiveRecvAllocator {
    /// How many bytes the next read asks for.
    pub(crate) fn guess(&self) -> usize {
        1 << self.shift
    }

    /// A read returned `n` bytes of the `asked`: a full one grows the size (by four steps,
    /// as Netty's index jump).
    pub(crate) fn record_read(&mut self, n: usize, asked: usize) {
        if n >= asked && self.shift < MAX_SHIFT {
            self.shift = (self.shift + 2).min(MAX_SHIFT);
            self.shrink_next = false;
        }
    }

    /// A batch ended having read `total` bytes.
    pub(crate) fn record_batch(&mut self, total: usize) {
        if self.shift > MIN_SHIFT && total < (1 << (self.shift - 1)) {
            if self.shrink_next {
                self.shift -= 1;
                self.shrink_next = false;
            } else {
                self.shrink_next = true;
            }
        } else {
            self.shrink_next = false;
        }
    }
}

thread_local! {
    /// The loop thread's read buffer (see the module docs).
    static READ_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Reads at most `len` bytes with `read` (which fills the spare memory it is given and says
/// how much it filled) into the thread's read buffer, and hands back what was read as
/// `Bytes` sharing that buffer. `read`'s `None` (nothing there) and errors come back as
/// they are.
pub(crate) fn read_into<E>(
    len: usize,
    read: impl FnOnce(&mut [std::mem::MaybeUninit<u8>]) -> Result<Option<usize>, E>,
) -> Result<Option<Bytes>, E> {
    READ_BUFFER.with(|cell| {
        let mut buffer = cell.borrow_mut();
        buffer.clear();
        // Reclaims the space in place when the bytes split off it earlier were released.
        buffer.reserve(len);
        let spare = &mut buffer.spare_capacity_mut()[..len];
        match read(spare)? {
            Some(n) => {
                // SAFETY: `read` initialised the first `n` bytes of the spare capacity.
                unsafe { buffer.set_len(n) };
                Ok(Some(buffer.split().freeze()))
            }
            None => Ok(None),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_grows_to_64_kib_and_idle_shrinks() {
        let mut a = AdaptiveRecvAllocator::default();
        for _ in 0..4 {
            let asked = a.guess();
            a.record_read(asked, asked);
        }
        assert_eq!(a.guess(), 64 * 1024);
        for _ in 0..20 {
            a.record_batch(10);
        }
        assert_eq!(a.guess(), 64);
    }

    #[test]
    fn the_read_buffer_is_reused_once_released() {
        let read_one = |value: u8| {
            read_into::<()>(1024, |spare| {
                spare[0].write(value);
                Ok(Some(1))
            })
            .unwrap()
            .unwrap()
        };
        let first = read_one(7);
        assert_eq!(&first[..], [7]);
        let start = first.as_ptr() as usize;
        drop(first);
        // Released reads leave the space to the next ones: a thousand reads stay inside the
        // first allocation.
        for i in 0..1000 {
            let bytes = read_one(i as u8);
            let at = bytes.as_ptr() as usize;
            assert!(at >= start && at < start + 4096, "read {i} allocated anew");
        }
        // A read kept alive keeps its memory; the next read goes elsewhere.
        let kept = read_one(1);
        let next = read_one(2);
        assert_ne!(kept.as_ptr(), next.as_ptr());
    }
}
