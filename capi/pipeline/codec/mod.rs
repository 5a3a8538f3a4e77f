//! Handlers nioxide ships, in C (over `nioxide_core::pipeline::codec`): constructors named
//! `nx_codec_*` that check their configuration and return an `nx_handler_t`, a built-in
//! handler the caller adds with `nx_pipeline_add_handler` (or frees unadded with
//! `nx_handler_free`). A built-in handler runs in Rust: its events never call into C, except
//! the user's own codecs' `decode` and `encode` callbacks.
//!
//! Files mirror core's: [`line`], [`delimiter`], [`length_field`] (the decoder and the
//! prepender), [`fixed_length`], [`string`] (with the string message type), [`decoder`]
//! (`nx_codec_byte_to_message_decoder` over a C decode callback), [`encoder`]
//! (`nx_codec_message_to_byte_encoder` over a C encode callback and its byte sink), [`idle`].
//!
//! Adding a new kind of built-in handler takes a constructor here that validates its
//! arguments (`NX_EINVAL` for bad ones, before anything is made) and ends with
//! `handler::new_builtin`, given a closure that makes the core handler from the checked
//! configuration; the pipeline functions do the rest. Built-in user events such a handler
//! fires get reserved (negative) `NX_EVENT_*` tags, mapped in `pipeline/mod.rs`'s
//! `event_message` and `message_event`.
//!
//! Errors in the stream reach the next handler's `exception_caught` as `NX_ETOOLONG` (a
//! frame over its decoder's maximum, discarded), `NX_ECORRUPTED` (a length field that is
//! negative or shorter than its header) and `NX_EMALFORMED` (invalid UTF-8 in a strict
//! string decoder).

pub mod decoder;
pub mod delimiter;
pub mod encoder;
pub mod fixed_length;
pub mod idle;
pub mod length_field;
pub mod line;
pub mod string;

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use nioxide_core::event_loop::Failure;
use nioxide_core::pipeline::codec::{Decoder, Encoder};

use crate::attachment::CAttachment;
use crate::error::NX_EINVAL;
use crate::pipeline::handler::{copy_sized, new_builtin};
use crate::types::{nx_free_cb, nx_handler_t};

/// A C codec's table (`nx_decoder_t`, `nx_encoder_t`) and its attachment, shared by the
/// handler and the `nx_handler_t` that makes it (so a failed add keeps the attachment);
/// the attachment is freed with the last of them.
pub(crate) struct CCodec<T> {
    pub(crate) table: T,
    pub(crate) attachment: CAttachment,
}

/// What the constructors of the user's codecs share: copies the caller's table, refuses it
/// (`NX_EINVAL`) unless `usable`, makes the handler with `make` over the shared table and
/// attachment, and arms the attachment's free only once that succeeded (a failed call frees
/// nothing).
///
/// # Safety
/// As [`copy_sized`] for `T` and `table`.
pub(crate) unsafe fn new_user_codec<T: Copy>(
    table: *const T,
    usable: impl FnOnce(&T) -> bool,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    make: impl FnOnce(Arc<CCodec<T>>) -> Result<(), c_int>,
) -> Result<(), c_int> {
    // SAFETY: this function's contract.
    let table = unsafe { copy_sized(table) }?;
    if !usable(&table) {
        return Err(NX_EINVAL);
    }
    let codec = Arc::new(CCodec {
        table,
        attachment: CAttachment::new(attachment, None),
    });
    make(codec.clone())?;
    if let Some(free) = attachment_free {
        codec.attachment.arm(free);
    }
    Ok(())
}

/// The code of a refused configuration (core says `InvalidArgument`: `NX_EINVAL`).
pub(crate) fn refused(failure: Failure) -> c_int {
    failure.error.code()
}

/// A C flag: nonzero is true.
pub(crate) fn flag(value: c_int) -> bool {
    value != 0
}

/// A new built-in handler running a copy of `decoder` (a checked, fresh one) in a
/// `ByteToMessageDecoder`, stored in `*out`.
pub(crate) fn new_decoder<D: Decoder + Clone + Sync>(
    decoder: D,
    out: *mut *mut nx_handler_t,
) -> Result<(), c_int> {
    new_builtin(
        Box::new(move || decoder.clone().into_handler().boxed()),
        out,
    )
}

/// A new built-in handler running a copy of `encoder` in a `MessageToByteEncoder`, stored in
/// `*out`.
pub(crate) fn new_encoder<E: Encoder + Clone + Sync>(
    encoder: E,
    out: *mut *mut nx_handler_t,
) -> Result<(), c_int> {
    new_builtin(
        Box::new(move || encoder.clone().into_handler().boxed()),
        out,
    )
}
