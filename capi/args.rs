//! Checked arguments: out-parameters, core's errors as C codes and back, times, and the
//! user's pointers nioxide keeps ([`COwned`]).
//!
//! Every `nx_*` function checks its pointers before it does anything, and writes its
//! out-parameters only once it has succeeded, so they are left unchanged on error
//! (DESIGN.md, "C API conventions"). [`Out::new`] does the first half (NULL is `NX_EINVAL`),
//! [`Out::set`] the second. Bodies are written as closures returning `Result<(), c_int>` and
//! turned into the function's code by [`status`].

use std::any::Any;
use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{NX_EBADHANDLE, NX_EINVAL};
use crate::handle::{self, HANDLES, HandleType, Late, RawHandle};

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

/// The C handle recorded in a core object's binding slot, if it still names a live object of
/// type `H`: how a key gives back the very handle the user registered.
///
/// Errors: `NX_EBADHANDLE` when there is none, or the user has freed it.
pub(crate) fn live_handle<H: HandleType>(raw: Option<RawHandle>) -> Result<*mut H, c_int> {
    let raw = raw.ok_or(NX_EBADHANDLE)?;
    HANDLES.get::<H::Object>(raw, H::KIND)?;
    Ok(raw.as_ptr())
}

/// The [`RawHandle`] a binding slot holds, if any.
pub(crate) fn bound_raw(binding: Option<&(dyn Any + Send + Sync)>) -> Option<RawHandle> {
    binding.and_then(|b| b.downcast_ref::<RawHandle>()).copied()
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

thread_local! {
    /// Set while [`give_back`] drops what core handed back after a failed call.
    static GIVING_BACK: Cell<bool> = const { Cell::new(false) };
}

/// A user's `void *` that nioxide keeps past a call (an attachment, a value), with the
/// optional function that frees it: [`Drop`] calls it exactly once, on the thread that drops
/// the value, unless the value is dropped inside [`give_back`].
///
/// Core keeps these inside the tasks, timers, listeners and callbacks it owns, so the
/// attachment is freed exactly when core drops them (after the last run, or when never run,
/// on the thread that shuts down or awaits the loop).
pub(crate) struct COwned {
    ptr: *mut c_void,
    free: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: nioxide never dereferences the pointer; handing it to another thread and calling
// `free` there is what the API documents for attachments and values.
unsafe impl Send for COwned {}
// SAFETY: as above; shared access only reads the pointer value.
unsafe impl Sync for COwned {}

impl COwned {
    /// Takes ownership of `ptr` (which may be NULL) and its free function (which may be NULL).
    pub(crate) fn new(ptr: *mut c_void, free: Option<unsafe extern "C" fn(*mut c_void)>) -> COwned {
        COwned { ptr, free }
    }

    /// The user's pointer, as given.
    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// Gives up ownership: the pointer and free function, which is not called here.
    pub(crate) fn into_parts(self) -> (*mut c_void, Option<unsafe extern "C" fn(*mut c_void)>) {
        let parts = std::mem::ManuallyDrop::new(self);
        (parts.ptr, parts.free)
    }
}

impl Drop for COwned {
    fn drop(&mut self) {
        if let Some(free) = self.free.take() {
            if !GIVING_BACK.with(Cell::get) {
                // SAFETY: the user gave us this function for this pointer, to be called once.
                unsafe { free(self.ptr) }
            }
        }
    }
}

/// Drops `value`, something core handed back after a failed call (the `Option<Task>` of a
/// rejected `try_execute`), without calling the free functions of the [`COwned`] values
/// inside it: when a call that takes an attachment fails, the C caller keeps it and nioxide
/// frees nothing. Only what `value` owns is dropped here; nothing else runs meanwhile.
pub(crate) fn give_back<T>(value: T) {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GIVING_BACK.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GIVING_BACK.with(|g| g.replace(true)));
    drop(value);
}

/// The body of an `nx_*` function that makes an object whose callback gets the object's own
/// handle and the user's attachment (a watch, a timer): makes the handle (a [`Late`]), then
/// calls `make` with it and the attachment, shared so that if core refuses the object (and
/// drops the callback) the attachment goes back to the caller unfreed; then, once the handle
/// names the object, `start` (so a callback can never run while its own handle does not work
/// yet: make the object inert, start it there). On success stores the handle in `out`; on
/// error nothing is kept and nothing freed.
pub(crate) fn new_late<H, T>(
    out: Out<*mut H>,
    attachment: COwned,
    make: impl FnOnce(RawHandle, Arc<COwned>) -> nioxide_core::Result<T>,
    start: impl FnOnce(&T),
) -> Result<(), c_int>
where
    H: HandleType<Object = Late<T>>,
{
    let object = Arc::new(Late::new());
    let ptr: *mut H = match handle::insert(object.clone()) {
        Ok(ptr) => ptr,
        Err(e) => {
            give_back(attachment); // no handle left: the caller keeps its attachment
            return Err(e);
        }
    };
    let attachment = Arc::new(attachment);
    let kept = attachment.clone();
    match make(RawHandle::from_ptr(ptr), attachment) {
        Ok(value) => {
            object.set(value);
            if let Some(value) = object.unforked() {
                start(value);
            }
            drop(kept); // the callback holds the attachment now
            out.set(ptr);
            Ok(())
        }
        Err(e) => {
            let _ = handle::remove(ptr);
            give_back(kept); // the last reference: the caller keeps its attachment
            Err(code(e))
        }
    }
}
