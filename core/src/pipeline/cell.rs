//! [`LoopCell`]: state that only its channel's loop thread touches (Netty's fields without
//! `volatile`), so the hot path takes no lock.

use std::cell::UnsafeCell;

/// A value that only one thread at a time uses: the loop thread of the channel that owns
/// it (or, once that loop has terminated, the one thread that tears the channel down).
///
/// Access goes through [`with`](Self::with), whose closure must not reach code that uses the
/// same cell again (it never calls a handler): the pipeline's code keeps to that, and a
/// nested use panics instead of aliasing.
pub(crate) struct LoopCell<T> {
    value: UnsafeCell<T>,
    borrowed: std::cell::Cell<bool>,
}

// SAFETY: every access happens on the owning loop's thread (the callers check
// `in_event_loop` or run as a task of that loop), one at a time (`borrowed`).
unsafe impl<T: Send> Sync for LoopCell<T> {}
// SAFETY: moving the cell moves the value; `T: Send`.
unsafe impl<T: Send> Send for LoopCell<T> {}

impl<T> LoopCell<T> {
    pub(crate) fn new(value: T) -> LoopCell<T> {
        LoopCell {
            value: UnsafeCell::new(value),
            borrowed: std::cell::Cell::new(false),
        }
    }

    /// Runs `f` with the value. On the owning loop's thread only; `f` must not use this cell.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        assert!(!self.borrowed.replace(true), "LoopCell used re-entrantly");
        struct Release<'a>(&'a std::cell::Cell<bool>);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _release = Release(&self.borrowed);
        // SAFETY: one thread (the loop's), one borrow at a time (checked above).
        f(unsafe { &mut *self.value.get() })
    }
}

impl<T> LoopCell<T> {
    /// A shared reference to the value, for a walk that only reads (the pipeline's search
    /// for the next handler).
    ///
    /// # Safety
    /// On the owning loop's thread, and nothing may change the value while the reference
    /// lives (the caller calls no handler and no `with` on this cell meanwhile).
    #[inline]
    pub(crate) unsafe fn peek(&self) -> &T {
        // SAFETY: the caller's promise.
        unsafe { &*self.value.get() }
    }
}

impl<T: Clone> LoopCell<T> {
    /// A copy of the value (on the owning loop's thread only).
    #[inline]
    pub(crate) fn get(&self) -> T {
        self.with(|v| v.clone())
    }

    /// Replaces the value, returning the old one (on the owning loop's thread only).
    #[inline]
    pub(crate) fn replace(&self, value: T) -> T {
        self.with(|v| std::mem::replace(v, value))
    }
}
