//! Handlers nioxide ships, in C (over `nioxide_core::pipeline::codec`): constructors named
//! `nx_codec_*` that check their configuration and return an `nx_handler_t`, a built-in
//! handler the caller adds with `nx_pipeline_add_handler` (or frees unadded with
//! `nx_handler_free`). A built-in handler runs in Rust: its events never call into C.
//!
//! Adding a new kind of built-in handler takes a constructor here that validates its
//! arguments (`NX_EINVAL` for bad ones, before anything is made) and ends with
//! `handler::new_builtin`, given a closure that makes the core handler from the checked
//! configuration; the pipeline functions do the rest. Built-in user events such a handler
//! fires get reserved (negative) `NX_EVENT_*` tags, mapped in `pipeline/mod.rs`'s
//! `event_message` and `message_event`.

pub mod idle;
