//! The user's pointers nioxide keeps past a call: [`CAttachment`], the one owner of a C
//! `void *` and its optional free function.
//!
//! Every `void *attachment` nioxide keeps (of a selection key, a watch, a timer, a task, a
//! listener) and every value a promise holds is a `CAttachment`. Core keeps it inside the key,
//! closure or promise it owns, so the free function runs exactly once, on the thread where
//! core drops that: which thread that is (the loop's after a task's run; for work that never
//! ran, the thread that shuts the loop down or waits for its termination; for a key, the
//! thread that cancels it) is each function's documented rule, and core keeps it.
//!
//! The C API's rule: if a call that takes an attachment fails,
//! nioxide keeps nothing and frees nothing. A `CAttachment` goes back to the caller unfreed in
//! one of three ways, by where it is when the call fails:
//!
//! - held by value: [`CAttachment::into_parts`] (or [`CAttachment::give_back_boxed`] for one
//!   core handed back as a key's attachment);
//! - inside something core hands back after a refusal (the closure of a rejected
//!   `try_execute`): dropped through [`give_back`];
//! - a promise's value, which core drops itself when the promise was already complete: made
//!   without its free function and [`arm`](CAttachment::arm)ed once it is in the promise.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::{Arc, OnceLock};

use nioxide_core::event_loop::EventLoop;
use nioxide_core::selector::Attachment;

use crate::args::{Out, code};
use crate::handle::{self, HandleType, Late, RawHandle};

/// The function that frees a user's pointer (`attachment_free`, `value_free`).
pub(crate) type FreeFn = unsafe extern "C" fn(*mut c_void);

thread_local! {
    /// Set while [`give_back`] drops what core handed back after a failed call.
    static GIVING_BACK: Cell<bool> = const { Cell::new(false) };
}

/// A user's `void *` that nioxide keeps past a call, with the function that frees it: [`Drop`]
/// calls it exactly once, on the thread that drops the value, unless the value is dropped
/// inside [`give_back`] or has no free function (none given, or not [`armed`](Self::arm)
/// yet).
pub(crate) struct CAttachment {
    ptr: *mut c_void,
    free: OnceLock<FreeFn>,
}

// SAFETY: nioxide never dereferences the pointer; handing it to another thread and calling
// `free` there is what the API documents for attachments and values.
unsafe impl Send for CAttachment {}
// SAFETY: as above; shared access reads the pointer value and sets the free function once.
unsafe impl Sync for CAttachment {}

impl CAttachment {
    /// Takes ownership of `ptr` (which may be NULL) and its free function (which may be NULL).
    pub(crate) fn new(ptr: *mut c_void, free: Option<FreeFn>) -> CAttachment {
        let attachment = CAttachment {
            ptr,
            free: OnceLock::new(),
        };
        if let Some(free) = free {
            attachment.arm(free);
        }
        attachment
    }

    /// A core attachment (of a selection key, or a promise's value) for a C pair; none when
    /// both are NULL.
    pub(crate) fn boxed(ptr: *mut c_void, free: Option<FreeFn>) -> Option<Attachment> {
        if ptr.is_null() && free.is_none() {
            return None;
        }
        Some(Box::new(CAttachment::new(ptr, free)))
    }

    /// The user's pointer, as given.
    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// The user's pointer in a core attachment or promise value (NULL for none).
    pub(crate) fn pointer(attachment: Option<&Attachment>) -> *mut c_void {
        attachment
            .and_then(|a| a.downcast_ref::<CAttachment>())
            .map_or(ptr::null_mut(), CAttachment::ptr)
    }

    /// Gives `free` to one made without a free function, from now on its owner's to call: for
    /// a value offered to a promise, once the promise holds it for good. Does nothing to one
    /// that has a free function already.
    pub(crate) fn arm(&self, free: FreeFn) {
        let _ = self.free.set(free);
    }

    /// Gives up ownership: the pointer and the free function, which is not called here.
    pub(crate) fn into_parts(self) -> (*mut c_void, Option<FreeFn>) {
        let mut parts = ManuallyDrop::new(self);
        (parts.ptr, parts.free.take())
    }

    /// Gives a core attachment back to the caller: its pointer (NULL for none); its free
    /// function is not called.
    pub(crate) fn give_back_boxed(attachment: Option<Attachment>) -> *mut c_void {
        match attachment.map(|a| a.downcast::<CAttachment>()) {
            Some(Ok(attachment)) => attachment.into_parts().0,
            _ => ptr::null_mut(),
        }
    }
}

impl Drop for CAttachment {
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
/// rejected `try_execute`), without calling the free functions of the [`CAttachment`]s inside
/// it: when a call that takes an attachment fails, the C caller keeps it and nioxide frees
/// nothing. Only what `value` owns is dropped here; nothing else runs meanwhile.
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
/// handle and the user's attachment (a watch, a timer): makes the handle (a [`Late`], owned by
/// the loop `owner`, so its calls on that loop's running thread take the fast path), then
/// calls `make` with it and the attachment, shared so that if core refuses the object (and
/// drops the callback) the attachment goes back to the caller unfreed; then, once the handle
/// names the object, `start` (so a callback can never run while its own handle does not work
/// yet: make the object inert, start it there). On success stores the handle in `out`; on
/// error nothing is kept and nothing freed.
pub(crate) fn new_late<H, T>(
    out: Out<*mut H>,
    owner: &EventLoop,
    attachment: CAttachment,
    make: impl FnOnce(RawHandle, Arc<CAttachment>) -> nioxide_core::Result<T>,
    start: impl FnOnce(&T),
) -> Result<(), c_int>
where
    H: HandleType<Object = Late<T>>,
{
    let object = Arc::new(Late::new());
    let ptr: *mut H = match handle::insert_owned(object.clone(), owner) {
        Ok(ptr) => ptr,
        Err(e) => {
            let _ = attachment.into_parts(); // no handle left: the caller keeps its attachment
            return Err(e);
        }
    };
    let attachment = Arc::new(attachment);
    let kept = attachment.clone();
    match make(RawHandle::from_ptr(ptr), attachment) {
        Ok(value) => {
            // The callback holds the attachment now: let go of this copy at once, so that
            // whoever ends the object frees it on the thread the docs name.
            drop(kept);
            object.set(value);
            if let Some(value) = object.unforked() {
                start(value);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A free function that counts its calls in the `AtomicUsize` it is given.
    unsafe extern "C" fn count(ptr: *mut c_void) {
        // SAFETY: every test passes a live `AtomicUsize`.
        unsafe { &*ptr.cast::<AtomicUsize>() }.fetch_add(1, Ordering::SeqCst);
    }

    fn counter(frees: &AtomicUsize) -> *mut c_void {
        ptr::from_ref(frees).cast_mut().cast()
    }

    #[test]
    fn dropping_frees_once() {
        let frees = AtomicUsize::new(0);
        let attachment = CAttachment::new(counter(&frees), Some(count));
        assert_eq!(attachment.ptr(), counter(&frees));
        drop(attachment);
        assert_eq!(frees.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn given_back_is_not_freed() {
        let frees = AtomicUsize::new(0);
        let (ptr, free) = CAttachment::new(counter(&frees), Some(count)).into_parts();
        assert_eq!(ptr, counter(&frees));
        assert!(free.is_some());
        let held = CAttachment::new(counter(&frees), Some(count));
        let task: Box<dyn FnOnce() -> *mut c_void> = Box::new(move || held.ptr());
        give_back(task); // dropped unrun, as a refused task
        let boxed = CAttachment::boxed(counter(&frees), Some(count));
        assert_eq!(CAttachment::give_back_boxed(boxed), counter(&frees));
        assert_eq!(frees.load(Ordering::SeqCst), 0);
        drop(CAttachment::new(counter(&frees), Some(count)));
        assert_eq!(frees.load(Ordering::SeqCst), 1, "give_back left no mark");
    }

    #[test]
    fn frees_only_once_armed() {
        let frees = AtomicUsize::new(0);
        drop(CAttachment::new(counter(&frees), None));
        assert_eq!(frees.load(Ordering::SeqCst), 0);
        let value = CAttachment::new(counter(&frees), None);
        value.arm(count);
        value.arm(count);
        drop(value);
        assert_eq!(frees.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_null_pair_is_no_attachment() {
        assert!(CAttachment::boxed(ptr::null_mut(), None).is_none());
        assert!(CAttachment::pointer(None).is_null());
        let boxed = CAttachment::boxed(ptr::null_mut(), Some(count));
        assert!(
            boxed.is_some(),
            "a free function alone is kept (and called with NULL)"
        );
        assert_eq!(CAttachment::give_back_boxed(boxed), ptr::null_mut());
    }
}
