//! Locking shared by core, the C API and the Python module.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning.
///
/// nioxide's guarded state stays valid across a panic, and panics are caught and reported
/// where they happen (the C API's boundary, a loop's guard around each callback), so the
/// next holder of the lock goes on with what it finds.
#[inline]
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
