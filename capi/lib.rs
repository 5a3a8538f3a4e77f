//! The C API of nioxide (`nx_*`), a thin layer over `nioxide-core`.
//!
//! Each module mirrors a core module and holds its `extern "C"` functions; `build.rs` runs
//! cbindgen over it to produce the headers: `include/nioxide/<module>.h` for each module with
//! functions, `include/nioxide/common.h` for the foundation, and the umbrella
//! `include/nioxide.h` that includes them. The foundation every module uses:
//!
//! - [`error`]: `NX_OK`, the `NX_E*` codes (the C spelling of `nioxide_core::ErrorKind`),
//!   `nx_strerror()` and `nx_err_name()`;
//! - [`handle`]: checked handles, so that NULL, wrong-type, freed and stale handles are errors,
//!   never undefined behaviour;
//! - [`mod@panic`]: the `nx_ffi_boundary!` every function body runs in, so a panic returns
//!   `NX_EPANIC` instead of aborting the host;
//! - [`types`]: every opaque handle type (`nx_*_t`) with its [`handle::HandleType`], and the
//!   objects the C layer defines for them;
//! - [`version`]: `NX_VERSION_*`, `nx_version()` and `nx_version_string()`.
//!
//! Crate-private, beside them: `args` (out-parameters, codes, times) and `attachment` (the
//! one owner of a user's `void *` and its free function, and the rule that a failed call
//! gives it back unfreed).
//!
//! # Adding a module
//!
//! Add `pub mod <name>;` below in data-flow order (version, errors, selector, loop, channels,
//! pipeline, aio), and its handle types to [`types`]: modules take each other's handle types
//! from there, so the modules form no cycle (the foundation, then each module over those
//! before it). Add it to `HEADERS` in build.rs too, with the headers whose types it uses and
//! a short overview for C users: that makes its header, which the umbrella includes in that
//! list's order. Name every exported
//! item with the `nx_`/`NX_` prefix (cbindgen does not understand Rust's module system; two
//! items with one name give unspecified output), and keep Rust-only constants `pub(crate)` or
//! private: cbindgen copies every `pub const` into the header. Take integers, never Rust
//! enums, from C, and convert them with a checked `TryFrom` that returns `NX_EINVAL`. Write
//! each `extern "C" fn` in the house style shown in [`mod@panic`], with the doc sections of
//! rustls-ffi's `rustls_client_connection_new` (what, ownership, unchanged on error, borrowed
//! inputs, thread safety, callbacks, errors).
#![deny(missing_docs, missing_debug_implementations)]

pub mod version;

pub mod error;

pub mod panic;

pub mod handle;

pub mod types;

mod args;

mod attachment;

pub mod selector;

pub mod event_loop;

pub mod channel;

pub mod pipeline;

pub mod aio;
