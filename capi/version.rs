//! The library's version: `NX_VERSION_*` macros for compile time, `nx_version()` and
//! `nx_version_string()` for run time.
//!
//! The constants are literals because cbindgen copies literals into `nioxide.h`. They are
//! checked against `Cargo.toml` at compile time (a bump of the package version without a bump
//! here fails the build) and, in the committed header, by `tests/header.rs`.

use std::ffi::{CStr, c_char, c_uint};

use crate::panic::{boundary_or, nx_ffi_boundary};

/// The major version.
///
/// From 1.0 on, libuv's promise holds: "Versions with the same major number are ABI stable.
/// API is allowed to evolve between minor releases, but only in a backwards compatible way."
/// While the major version is 0 the ABI is unstable: any minor release may break it. The
/// shared library's soname is `libnioxide.so.<major>` (`libnioxide.so.0` for all of 0.x), so
/// rebuild programs against each new 0.x release.
pub const NX_VERSION_MAJOR: c_uint = 0;

/// The minor version: new features (and, while the major version is 0, possibly ABI changes).
pub const NX_VERSION_MINOR: c_uint = 1;

/// The patch version: bug fixes only.
pub const NX_VERSION_PATCH: c_uint = 0;

/// The whole version as one number, `(MAJOR << 16) | (MINOR << 8) | PATCH`, for comparisons
/// such as `#if NX_VERSION_HEX >= 0x000200`. `nx_version()` returns the same number for the
/// library that is actually loaded.
pub const NX_VERSION_HEX: c_uint =
    (NX_VERSION_MAJOR << 16) | (NX_VERSION_MINOR << 8) | NX_VERSION_PATCH;

const _: () = assert!(
    NX_VERSION_MAJOR == parse_decimal(env!("CARGO_PKG_VERSION_MAJOR"))
        && NX_VERSION_MINOR == parse_decimal(env!("CARGO_PKG_VERSION_MINOR"))
        && NX_VERSION_PATCH == parse_decimal(env!("CARGO_PKG_VERSION_PATCH")),
    "capi/version.rs must follow the version in Cargo.toml"
);

/// The version as `"MAJOR.MINOR.PATCH"`, NUL-terminated, from `Cargo.toml`.
const VERSION_STRING: &CStr = match CStr::from_bytes_with_nul(
    concat!(
        env!("CARGO_PKG_VERSION_MAJOR"),
        ".",
        env!("CARGO_PKG_VERSION_MINOR"),
        ".",
        env!("CARGO_PKG_VERSION_PATCH"),
        "\0"
    )
    .as_bytes(),
) {
    Ok(version) => version,
    Err(_) => panic!("version string with a NUL byte"),
};

/// Parses a decimal number at compile time (Cargo's version parts).
const fn parse_decimal(text: &str) -> c_uint {
    let bytes = text.as_bytes();
    let mut value: c_uint = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "not a decimal number");
        value = value * 10 + (bytes[i] - b'0') as c_uint;
        i += 1;
    }
    value
}

/// Returns the version of the loaded library as `NX_VERSION_HEX` spells it:
/// `(major << 16) | (minor << 8) | patch`.
///
/// Compare it with the `NX_VERSION_HEX` the program was compiled against to detect a header
/// and library mismatch.
///
/// Thread safety: safe to call from any thread at any time.
///
/// Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn nx_version() -> c_uint {
    nx_ffi_boundary! { NX_VERSION_HEX }
}

/// Returns the version of the loaded library as a string, `"MAJOR.MINOR.PATCH"` (for example
/// `"0.1.0"`).
///
/// Ownership: the string is static; never free or modify it. It is never NULL.
///
/// Thread safety: safe to call from any thread at any time.
///
/// Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn nx_version_string() -> *const c_char {
    boundary_or(VERSION_STRING.as_ptr(), || VERSION_STRING.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_match_constants() {
        assert_eq!(nx_version(), NX_VERSION_HEX);
        // SAFETY: nx_version_string returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(nx_version_string()) }
            .to_str()
            .unwrap();
        assert_eq!(text, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            text,
            format!("{NX_VERSION_MAJOR}.{NX_VERSION_MINOR}.{NX_VERSION_PATCH}")
        );
    }

    #[test]
    fn parses_decimals() {
        assert_eq!(parse_decimal("0"), 0);
        assert_eq!(parse_decimal("17"), 17);
        assert_eq!(parse_decimal("250"), 250);
    }
}
