//! Strings in C: `nx_codec_string_decoder` and `nx_codec_string_encoder` over core's
//! `StringDecoder` and `StringEncoder`, and the string message (`NX_MESSAGE_STRING`:
//! `nx_message_string`, `nx_message_new_string`) over core's `Text`.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, c_int};

use bytes::Bytes;
use nioxide_core::pipeline::Message;
use nioxide_core::pipeline::codec::{StringDecoder, StringEncoder, Text};

use super::{flag, new_encoder};
use crate::args::{Out, status};
use crate::error::NX_EMALFORMED;
use crate::nx_ffi_boundary;
use crate::pipeline::handler::new_builtin;
use crate::pipeline::message::{c_bytes, read_slice};
use crate::pipeline::owned_message;
use crate::types::{nx_handler_t, nx_message_t};

/// Makes a string decoder (Netty's `StringDecoder`, UTF-8), stored in `*out`: each buffer
/// message it reads goes on as a string message (`NX_MESSAGE_STRING`, read with
/// `nx_message_string`); other messages pass by. Put it after a framing decoder, so a
/// multi-byte character is never split between two messages. Malformed UTF-8 (an overlong
/// form, a lone continuation byte, a sequence cut short at the end, a surrogate) becomes
/// U+FFFD when `strict` is 0; when it is nonzero the frame is dropped and the next handler's
/// `exception_caught` gets `NX_EMALFORMED`. Valid input is not copied.
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged and nothing was made.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_string_decoder(strict: c_int, out: *mut *mut nx_handler_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let decoder = StringDecoder::with_strict(flag(strict));
            new_builtin(Box::new(move || Box::new(decoder.clone())), out)
        })
    }
}

/// Makes a string encoder (Netty's `StringEncoder`, UTF-8), stored in `*out`: each string
/// message written through it (`nx_message_new_string`, or one a decoder made) goes out as
/// its UTF-8 bytes (not copied), with the write's promise; other messages pass by.
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged and nothing was made.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_string_encoder(out: *mut *mut nx_handler_t) -> c_int {
    nx_ffi_boundary! {
        status(|| new_encoder(StringEncoder::new(), out))
    }
}

/// The text of a string message (`NX_MESSAGE_STRING`): `*data_out` points at its UTF-8
/// bytes, `*len_out` is their number. The text is NOT NUL-terminated (and may contain NUL
/// bytes): use the length. The bytes are read-only and stay valid while the handle does (a
/// lent handle: until the callback returns; an owned one: until `nx_message_release`). On
/// error the out-parameters are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or not a message, NULL out-parameters, a message that is not a
/// string), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_string(
    msg: *mut nx_message_t,
    data_out: *mut *const c_char,
    len_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| read_slice(msg, data_out, len_out, |m| m.as_str().map(str::as_bytes)))
    }
}

/// Makes a string message holding a copy of the `len` UTF-8 bytes at `data` (only read
/// during the call; no NUL terminator needed, and a NUL byte is text like any other; NULL
/// with 0 is the empty string). Write it through `nx_codec_string_encoder`. On success
/// `*msg_out` is an owned handle: release it with `nx_message_release`. On error it is
/// unchanged and nothing was made.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EMALFORMED` (the bytes are not valid UTF-8), `NX_EINVAL` (NULL `msg_out`, NULL
/// `data` with a length), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_new_string(
    data: *const c_char,
    len: usize,
    msg_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(msg_out)?;
            // SAFETY: the caller passes `len` readable bytes at `data`.
            let bytes = unsafe { c_bytes(data.cast(), len) }?;
            let text = Text::from_utf8(Bytes::copy_from_slice(bytes)).map_err(|_| NX_EMALFORMED)?;
            out.set(owned_message(Message::text(text))?);
            Ok(())
        })
    }
}
