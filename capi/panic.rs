//! The panic boundary: no Rust panic ever unwinds into C.
//!
//! Since Rust 1.81 a panic that leaves an `extern "C"` function aborts the process, so every
//! `nx_*` function runs its body inside [`boundary`] (through the [`nx_ffi_boundary!`] macro),
//! which catches the unwind and returns a value instead: `NX_EPANIC` for functions that return
//! `int`, NULL for pointers, and so on ([`OnPanic`]). Functions whose documented contract rules
//! out the generic value (for example "never returns NULL") use [`boundary_or`] with their own.
//!
//! The panic message is printed by Rust's default panic hook (to standard error); no hook is
//! installed, so the application's own hook, if it set one through Rust, stays in charge. The
//! library is built with `panic = "unwind"` (see `Cargo.toml`); a panic while already
//! unwinding still aborts, as in any Rust program.
//!
//! A panic may leave the object the call was using half-updated. Objects guard their state
//! with locks whose poisoning is ignored, and a later call on them either works or reports an
//! error; it is never undefined behaviour.
//!
//! The house style of an `nx_*` function (the doc comment says what it does, ownership, what
//! is unchanged on error, thread safety and its errors):
//!
//! ```
//! use std::ffi::c_int;
//! use nioxide::error::NX_EINVAL;
//! use nioxide::panic::nx_ffi_boundary;
//!
//! /// Doubles `*value` in place.
//! ///
//! /// `value` is only read and written during the call. On error `*value` is left unchanged.
//! ///
//! /// Thread safety: safe from any thread.
//! ///
//! /// Errors: `NX_EINVAL` if `value` is NULL.
//! #[unsafe(no_mangle)]
//! pub extern "C" fn nx_example_double(value: *mut c_int) -> c_int {
//!     nx_ffi_boundary! {
//!         // SAFETY: the caller passes NULL or a valid, writable `int`.
//!         let Some(value) = (unsafe { value.as_mut() }) else { return NX_EINVAL };
//!         *value *= 2;
//!         0
//!     }
//! }
//!
//! let mut x = 21;
//! assert_eq!(nx_example_double(&mut x), 0);
//! assert_eq!(x, 42);
//! assert_eq!(nx_example_double(std::ptr::null_mut()), NX_EINVAL);
//! ```
//!
//! Write the boundary inside a plain `pub extern "C" fn`, never a macro that generates whole
//! functions: cbindgen cannot see those (it does not expand macros).

use std::ffi::{c_int, c_uint};
use std::panic::{UnwindSafe, catch_unwind};

use nioxide_core::ErrorKind;

/// The value an `nx_*` function returns when its body panicked.
pub trait OnPanic {
    /// The value to return in place of the panicked call's result.
    fn on_panic() -> Self;
}

/// `int` results are error codes: a panic is `NX_EPANIC` (core's code for it).
impl OnPanic for c_int {
    fn on_panic() -> c_int {
        ErrorKind::Panic.code()
    }
}

/// Unsigned results (versions, counts, flag sets) become 0.
impl OnPanic for c_uint {
    fn on_panic() -> c_uint {
        0
    }
}

/// `size_t` results (sizes, counts) become 0.
impl OnPanic for usize {
    fn on_panic() -> usize {
        0
    }
}

/// `bool` results (predicates) become `false`.
impl OnPanic for bool {
    fn on_panic() -> bool {
        false
    }
}

/// Functions without a result just return.
impl OnPanic for () {
    fn on_panic() {}
}

/// Pointer results become NULL.
impl<T> OnPanic for *const T {
    fn on_panic() -> *const T {
        std::ptr::null()
    }
}

/// Pointer results become NULL.
impl<T> OnPanic for *mut T {
    fn on_panic() -> *mut T {
        std::ptr::null_mut()
    }
}

/// Runs `f`, returning its result, or [`OnPanic::on_panic`] if it panicked.
///
/// Use it through [`nx_ffi_boundary!`], which wraps the body in `AssertUnwindSafe`.
#[inline(always)]
pub fn boundary<R: OnPanic>(f: impl FnOnce() -> R + UnwindSafe) -> R {
    boundary_or(R::on_panic(), f)
}

/// Runs `f`, returning its result, or `on_panic` if it panicked.
///
/// For functions whose contract rules out [`OnPanic`]'s value, for example `nx_strerror`,
/// which never returns NULL.
#[inline(always)]
pub fn boundary_or<R>(on_panic: R, f: impl FnOnce() -> R + UnwindSafe) -> R {
    // The payload is dropped here; the default hook has already printed the message.
    catch_unwind(f).unwrap_or(on_panic)
}

/// Runs the enclosed statements as the body of an `nx_*` function, catching any panic.
///
/// The block's value is the function's result; `return` inside it returns from the function.
/// A panic becomes the result type's [`OnPanic`] value (`NX_EPANIC` for `int`). See the
/// module documentation for a complete function in the house style.
#[macro_export]
macro_rules! nx_ffi_boundary {
    ($($body:tt)*) => {
        $crate::panic::boundary(::std::panic::AssertUnwindSafe(|| { $($body)* }))
    };
}
pub use crate::nx_ffi_boundary;

/// Panics inside the panic boundary, to show that a panic comes back as `NX_EPANIC`.
///
/// Only in builds with the `testing` feature (the library the C tests link); the header
/// declares it when `NX_TESTING` is defined. The panic message goes to standard error; the
/// process goes on.
///
/// Thread safety: safe from any thread.
///
/// Errors: always `NX_EPANIC`.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "C" fn nx_debug_panic() -> c_int {
    nx_ffi_boundary! {
        panic!("nx_debug_panic: a deliberate panic inside the boundary");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NX_EPANIC;
    use std::ptr;

    /// Silences the default hook's message for the duration of `f` (one test at a time, as
    /// the hook is process-wide).
    fn quietly<R>(f: impl FnOnce() -> R) -> R {
        static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _serial = nioxide_core::sync::lock(&HOOK);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let result = f();
        std::panic::set_hook(hook);
        result
    }

    #[test]
    fn values_pass_through() {
        let value: c_int = nx_ffi_boundary! { 7 };
        assert_eq!(value, 7);
    }

    #[test]
    fn panics_become_the_default_value() {
        quietly(|| {
            let code: c_int = nx_ffi_boundary! { panic!("boom") };
            assert_eq!(code, NX_EPANIC);
            let pointer: *const u8 = nx_ffi_boundary! { panic!("boom") };
            assert!(pointer.is_null());
            let count: usize = nx_ffi_boundary! { panic!("boom") };
            assert_eq!(count, 0);
            assert_eq!(boundary_or(c"x".as_ptr(), || panic!("boom")), c"x".as_ptr());
            assert_ne!(boundary_or(ptr::null(), || c"y".as_ptr()), ptr::null());
        });
    }

    #[cfg(feature = "testing")]
    #[test]
    fn debug_panic_returns_nx_epanic() {
        quietly(|| {
            assert_eq!(nx_debug_panic(), NX_EPANIC);
            assert_eq!(
                nx_debug_panic(),
                NX_EPANIC,
                "the process goes on and can panic again"
            );
        });
    }
}
