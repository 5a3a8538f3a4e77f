//! Checked arguments: out-parameters, core's errors as C codes and back, and times.
//!
//! Every `nx_*` function checks its pointers before it does anything, and writes its
//! out-parameters only once it has succeeded, so they are left unchanged on error
//! (the C API's convention). [`Out::new`] does the first half (NULL is `NX_EINVAL`),
//! [`Out::set`] the second. Bodies are written as closures returning `Result<(), c_int>` and
//! turned into the function's code by [`status`].

use std::ffi::c_int;
use std::time::Duration;

use crate::error::NX_EINVAL;

/// A checked, non-NULL out-parameter `*mut T`, written at most once.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `ptr`: NULL is `NX_EINVAL`.
    pub(crate) fn new(ptr: *mut T) -> Result<Out<T>, c_int> {
        if ptr.is_null() {
            Err(NX_EINVAL)
        } else {
            Ok(Out(ptr))
        }
    }

    /// Reads the value the caller passed in (for in/out parameters such as a cursor).
    ///
    /// # Safety
    /// The pointer must point to an initialized `T`.
    pub(crate) unsafe fn get(&self) -> T
    where
        T: Copy,
    {
        // SAFETY: non-NULL by construction, initialized by the caller's contract.
        unsafe { self.0.read() }
    }

    /// Stores `value` through the pointer (without reading or dropping what was there).
    pub(crate) fn set(self, value: T) {
        // SAFETY: non-NULL by construction; the caller of the `nx_*` function promised a valid,
        // writable, aligned `T`.
        unsafe { self.0.write(value) }
    }
}

/// An optional out-parameter: NULL means the caller does not want the value.
pub(crate) struct OptOut<T>(*mut T);

impl<T> OptOut<T> {
    /// Wraps `ptr`, which may be NULL.
    pub(crate) fn new(ptr: *mut T) -> OptOut<T> {
        OptOut(ptr)
    }

    /// Stores `value` unless the pointer is NULL.
    pub(crate) fn set(self, value: T) {
        if let Ok(out) = Out::new(self.0) {
            out.set(value);
        }
    }
}

/// The C code of a core error: `-errno` or an `NX_E*` code.
pub(crate) fn code(err: nioxide_core::Error) -> c_int {
    err.code()
}

/// Runs an `nx_*` function's body and returns its code: 0, or the error.
pub(crate) fn status(body: impl FnOnce() -> Result<(), c_int>) -> c_int {
    match body() {
        Ok(()) => 0,
        Err(code) => code,
    }
}

/// Runs the body of a predicate (`nx_*_is_*`): 1 for true, 0 for false, or the error.
pub(crate) fn predicate(body: impl FnOnce() -> Result<bool, c_int>) -> c_int {
    match body() {
        Ok(value) => c_int::from(value),
        Err(code) => code,
    }
}

/// The core error for a C error code returned by a user's callback (or passed to
/// `nx_promise_try_failure`): an `NX_E*` code becomes its kind, any other negative number
/// `-errno`, so [`code`] gives the same number back.
pub(crate) fn error_from_code(code: c_int) -> nioxide_core::Error {
    nioxide_core::ErrorKind::from_code(code).map_or_else(
        || nioxide_core::Error::Os(code.checked_neg().unwrap_or(c_int::MAX)),
        nioxide_core::Error::from,
    )
}

/// A C time in milliseconds where a wait is meant: negative is "forever" (`None`).
pub(crate) fn wait_millis(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}
