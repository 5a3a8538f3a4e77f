//! The memory an asynchronous operation borrows: raw regions that a binding pins
//! ([`IoBuf`], [`IoBufs`]) and a safe shared buffer for Rust callers ([`SharedBuf`]).
//!
//! An operation keeps its [`IoBufs`] until its outcome is decided, and lets go of them
//! (dropping the keep-alive owner) right before its handler starts or its future completes:
//! nioxide never touches the memory after that, also not after a timeout, a cancel or a close.

use std::any::Any;
use std::cell::UnsafeCell;
use std::io::{IoSlice, IoSliceMut};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{ErrorKind, Result};

/// One borrowed memory region: a pointer and a length. It says nothing of who owns the
/// memory; [`IoBufs`] carries the promise that it stays valid.
#[derive(Clone, Copy, Debug)]
pub struct IoBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: an `IoBuf` is an address and a length; whoever made the `IoBufs` holding it promised
// that the memory may be used from the loop's thread (`IoBufs::from_raw`).
unsafe impl Send for IoBuf {}
// SAFETY: as for `Send`: nioxide reads the fields only.
unsafe impl Sync for IoBuf {}

impl IoBuf {
    /// The region of `len` bytes at `ptr` (`ptr` may be null or dangling when `len` is 0).
    pub fn new(ptr: *mut u8, len: usize) -> IoBuf {
        IoBuf { ptr, len }
    }

    /// The region's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What one operation borrows: its regions, in order (one for a plain read or write, several
/// for a scattering read or gathering write), and an optional keep-alive owner (a binding's
/// pin of the memory: Python's buffer export, a Rust [`SharedBuf`] loan). The owner is
/// dropped exactly once, when the operation lets go of the memory: right before its handler
/// starts or its future completes (on the thread that runs the handler), or when the call
/// that would have started the operation fails (on the caller's thread).
pub struct IoBufs {
    regions: Regions,
    owner: Option<Box<dyn Any + Send>>,
}

enum Regions {
    One(IoBuf),
    Many(Vec<IoBuf>),
}

impl std::fmt::Debug for IoBufs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoBufs")
            .field("regions", &self.regions().len())
            .field("len", &self.total_len())
            .finish_non_exhaustive()
    }
}

impl IoBufs {
    /// Borrows one region for an operation, kept alive by `owner` (dropped when the operation
    /// lets go of the memory).
    ///
    /// # Safety
    /// Until `owner` is dropped (or, with no owner, until the operation's handler starts or
    /// its future completes), the region must stay valid, and nobody else may write it; for
    /// a read, nobody else may read it either. It may be used from another thread.
    pub unsafe fn from_raw(region: IoBuf, owner: Option<Box<dyn Any + Send>>) -> IoBufs {
        IoBufs {
            regions: Regions::One(region),
            owner,
        }
    }

    /// Borrows several regions, used in order (a scattering read fills them one after
    /// another; a gathering write sends them one after another). The list is copied.
    ///
    /// # Safety
    /// As [`from_raw`](Self::from_raw), for every region; regions must not overlap.
    pub unsafe fn from_raw_vectored(
        regions: &[IoBuf],
        owner: Option<Box<dyn Any + Send>>,
    ) -> IoBufs {
        let regions = match regions {
            [one] => Regions::One(*one),
            many => Regions::Many(many.to_vec()),
        };
        IoBufs { regions, owner }
    }

    /// The regions, in order.
    pub fn regions(&self) -> &[IoBuf] {
        match &self.regions {
            Regions::One(one) => std::slice::from_ref(one),
            Regions::Many(many) => many,
        }
    }

    /// The total length of the regions.
    #[inline]
    pub fn total_len(&self) -> usize {
        match &self.regions {
            Regions::One(one) => one.len,
            Regions::Many(many) => many.iter().map(|r| r.len).sum(),
        }
    }

    /// The regions as slices to read into. The caller must be the one operation that
    /// borrowed them, before it lets go of them.
    pub(crate) fn read_slices(&mut self) -> Vec<IoSliceMut<'_>> {
        self.regions()
            .iter()
            .filter(|r| r.len > 0)
            // SAFETY: `from_raw`'s contract: valid and not used by anyone else until the
            // operation lets go, which has not happened while it holds `self`.
            .map(|r| IoSliceMut::new(unsafe { std::slice::from_raw_parts_mut(r.ptr, r.len) }))
            .collect()
    }

    /// The only region as a slice to read into (`None` for several).
    pub(crate) fn read_slice(&mut self) -> Option<&mut [u8]> {
        match &self.regions {
            Regions::One(r) if r.len == 0 => Some(&mut []),
            // SAFETY: as in `read_slices`.
            Regions::One(r) => Some(unsafe { std::slice::from_raw_parts_mut(r.ptr, r.len) }),
            Regions::Many(_) => None,
        }
    }

    /// The only region as a slice to send (`None` for several).
    pub(crate) fn write_slice(&self) -> Option<&[u8]> {
        match &self.regions {
            Regions::One(r) if r.len == 0 => Some(&[]),
            // SAFETY: as in `read_slices`; for a write nobody else writes the memory.
            Regions::One(r) => Some(unsafe { std::slice::from_raw_parts(r.ptr, r.len) }),
            Regions::Many(_) => None,
        }
    }

    /// The bytes from `offset` on as slices to send, for at most `max` regions.
    pub(crate) fn write_slices_from(
        &self,
        offset: usize,
        max: usize,
        out: &mut Vec<IoSlice<'static>>,
    ) {
        let mut skip = offset;
        for r in self.regions() {
            if out.len() >= max {
                return;
            }
            if skip >= r.len {
                skip -= r.len;
                continue;
            }
            // SAFETY: as in `read_slices`; for a write nobody else writes the memory. The
            // 'static lifetime is the caller's to keep honest: the slices are dropped before
            // the operation lets go of its regions (they live only for one send).
            let bytes = unsafe { std::slice::from_raw_parts(r.ptr.add(skip), r.len - skip) };
            skip = 0;
            if !bytes.is_empty() {
                out.push(IoSlice::new(bytes));
            }
        }
    }

    /// Lets go of the memory: drops the keep-alive owner now.
    #[inline]
    pub(crate) fn release(self) {
        drop(self.owner);
    }
}

/// A heap buffer that safe Rust code lends to asynchronous operations: [`lend`](Self::lend)
/// marks it lent and makes the [`IoBufs`] an operation borrows; the loan ends when the
/// operation lets go of the memory (right before its handler starts or its future
/// completes). While lent, [`with`](Self::with) returns `None` instead of touching the bytes,
/// so no access ever races with the operation. Cloning gives another handle to the same
/// buffer. Thread-safe.
#[derive(Clone)]
pub struct SharedBuf {
    inner: Arc<SharedInner>,
}

struct SharedInner {
    bytes: UnsafeCell<Box<[u8]>>,
    /// The bytes' length (read without touching the bytes, which a loan may be using).
    len: usize,
    /// Whether a loan or a `with` call holds the bytes now.
    lent: AtomicBool,
}

// SAFETY: the bytes are touched only by the holder of `lent` (a `with` call, or the one
// operation a loan went to), which is taken with an acquiring compare-and-swap and given back
// with a releasing store.
unsafe impl Sync for SharedInner {}

impl std::fmt::Debug for SharedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBuf")
            .field("len", &self.len())
            .field("lent", &self.is_lent())
            .finish()
    }
}

/// A loan of a [`SharedBuf`]: given back when dropped.
struct Loan(Arc<SharedInner>);

impl Drop for Loan {
    fn drop(&mut self) {
        self.0.lent.store(false, Ordering::Release);
    }
}

impl SharedBuf {
    /// A buffer of `len` zero bytes.
    pub fn new(len: usize) -> SharedBuf {
        SharedBuf::from_vec(vec![0; len])
    }

    /// A buffer holding `bytes`.
    pub fn from_vec(bytes: Vec<u8>) -> SharedBuf {
        SharedBuf {
            inner: Arc::new(SharedInner {
                len: bytes.len(),
                bytes: UnsafeCell::new(bytes.into_boxed_slice()),
                lent: AtomicBool::new(false),
            }),
        }
    }

    /// The buffer's length.
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether an operation (or a `with` call) holds the bytes now.
    pub fn is_lent(&self) -> bool {
        self.inner.lent.load(Ordering::Acquire)
    }

    fn take(&self) -> Option<Loan> {
        self.inner
            .lent
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Loan(self.inner.clone()))
    }

    /// Runs `f` on the bytes, unless they are lent (`None`).
    pub fn with<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        let _loan = self.take()?;
        // SAFETY: holding `lent`, this call is the only user of the bytes.
        Some(f(unsafe { &mut *self.inner.bytes.get() }))
    }

    /// A copy of `range` of the bytes, unless they are lent.
    pub fn to_vec(&self, range: Range<usize>) -> Option<Vec<u8>> {
        self.with(|b| b[range].to_vec())
    }

    /// Lends `range` of the buffer to one operation.
    ///
    /// # Errors
    /// `InvalidArgument` if the range is out of bounds or the buffer is lent already.
    pub fn lend(&self, range: Range<usize>) -> Result<IoBufs> {
        if range.start > range.end || range.end > self.len() {
            return Err(ErrorKind::InvalidArgument.into());
        }
        let loan = self.take().ok_or(ErrorKind::InvalidArgument)?;
        let region = self.region(range);
        // SAFETY: the region lies in this buffer, whose loan the owner holds: valid, and
        // touched by nobody else until the owner is dropped.
        Ok(unsafe { IoBufs::from_raw(region, Some(Box::new(loan))) })
    }

    /// The region `range` of the bytes (checked by the caller), while a loan is held.
    fn region(&self, range: Range<usize>) -> IoBuf {
        // SAFETY: only the pointer is taken; the `Arc` in the loan keeps the box alive.
        let base = unsafe { (&mut *self.inner.bytes.get()).as_mut_ptr() };
        IoBuf::new(base.wrapping_add(range.start), range.end - range.start)
    }

    /// Lends ranges of several distinct buffers to one scattering or gathering operation, in
    /// order.
    ///
    /// # Errors
    /// `InvalidArgument` if a range is out of bounds, a buffer appears twice or is lent
    /// already (nothing is lent then).
    pub fn lend_vectored(parts: &[(&SharedBuf, Range<usize>)]) -> Result<IoBufs> {
        let mut loans = Vec::with_capacity(parts.len());
        let mut regions = Vec::with_capacity(parts.len());
        for (buf, range) in parts {
            if range.start > range.end || range.end > buf.len() {
                return Err(ErrorKind::InvalidArgument.into());
            }
            let Some(loan) = buf.take() else {
                return Err(ErrorKind::InvalidArgument.into());
            };
            regions.push(buf.region(range.clone()));
            loans.push(loan);
        }
        // SAFETY: each region lies in a buffer whose loan the owner holds: valid, and touched
        // by nobody else until the owner is dropped.
        Ok(unsafe { IoBufs::from_raw_vectored(&regions, Some(Box::new(loans))) })
    }
}
