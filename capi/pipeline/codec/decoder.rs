//! The user's own decoder in C: `nx_decoder_t` (a table with a `decode` callback over the
//! cumulated bytes) and `nx_codec_byte_to_message_decoder`, which runs it in core's
//! `ByteToMessageDecoder` (cumulation, decode while there is progress, the rest handed on at
//! removal, Netty's rules on re-entrancy and removal inside decode).

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::mem::size_of;
use std::ptr;
use std::sync::Arc;

use nioxide_core::pipeline::codec::{Cumulation, Decoder};
use nioxide_core::pipeline::{Context, HandlerResult, Message};

use super::{CCodec, new_decoder, new_user_codec};
use crate::args::status;
use crate::error::NX_EINVAL;
use crate::nx_ffi_boundary;
use crate::pipeline::{context_handle, failure, take_owned_message};
use crate::types::{nx_context_t, nx_free_cb, nx_handler_t, nx_message_t};

/// A decode callback: decodes what it can from the start of the `len` cumulated bytes at
/// `data` (borrowed for the call; they do not change during it), and reports
/// - in `*consumed` (0 on entry) how many of them it used up: they are dropped from the
///   front; the rest stays for the next call (with more bytes appended when they arrive);
/// - in `*msg_out` (NULL on entry) the message it produced, if any: an owned handle
///   (`nx_message_new_bytes`, `nx_message_new_string`, `nx_message_retain`, ...) that nioxide
///   takes over (do not release it); it is passed to the next handler right after the call.
///
/// `last` is 1 for the one call at the end of input (the channel went inactive or its input
/// was shut down), when the bytes left will never be completed; what that call leaves is
/// dropped. Otherwise 0.
///
/// Return 0, or a negative code (`NX_ECORRUPTED`, ...) that goes to the next handler's
/// `exception_caught` after the produced message; `*consumed` and `*msg_out` count on error
/// too (consume the bad bytes, so decoding goes on after them).
#[allow(non_camel_case_types)]
pub type nx_decode_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut nx_context_t,
        data: *const u8,
        len: usize,
        last: c_int,
        consumed: *mut usize,
        msg_out: *mut *mut nx_message_t,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// The user's decoder (the part of Netty's `ByteToMessageDecoder` a subclass writes). Set
/// `size` to `sizeof(nx_decoder_t)`; nioxide copies the table.
///
/// nioxide calls `decode` on the channel's loop thread while it makes progress (it consumed
/// bytes or produced a message), one call at a time (a read fired into the pipeline from
/// inside it is appended after the call). A call that produces a message without consuming
/// anything is a bug of the decoder: the next handler's `exception_caught` gets `NX_EINVAL`
/// and decoding stops until the next read. Removing or replacing the decoder's handler from
/// inside `decode` (`nx_pipeline_remove`, `nx_pipeline_replace_handler`) takes effect after
/// the call: its message is passed on, the bytes left go to the next handler (the
/// replacement) as one buffer, and `decode` is not called again.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct nx_decoder_t {
    /// `sizeof(nx_decoder_t)` as the caller was compiled.
    pub size: usize,
    /// The decode step (required).
    pub decode: nx_decode_cb,
}

/// The core decoder over a C table. Runs on the channel's loop thread only.
#[derive(Clone)]
struct CDecoder {
    codec: Arc<CCodec<nx_decoder_t>>,
}

impl CDecoder {
    /// One `decode` call over `input` (none for an empty one at the end of input).
    fn call(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
        last: bool,
    ) -> HandlerResult {
        let Some(decode) = self.codec.table.decode else {
            return Err(failure(NX_EINVAL));
        };
        if last && input.is_empty() {
            return Ok(());
        }
        let data = input.as_slice();
        let ctx_ptr = context_handle(ctx).map_or(ptr::null_mut(), |raw| raw.as_ptr());
        let mut consumed = 0usize;
        let mut produced: *mut nx_message_t = ptr::null_mut();
        // SAFETY: the user gave us this function to call with its attachment on the loop
        // thread; `data` stays valid and unchanged during the call (the cumulation is not
        // touched while it runs), and the out-parameters point at locals.
        let rc = unsafe {
            decode(
                ctx_ptr,
                data.as_ptr(),
                data.len(),
                c_int::from(last),
                &mut consumed,
                &mut produced,
                self.codec.attachment.ptr(),
            )
        };
        let msg = if produced.is_null() {
            None
        } else {
            Some(take_owned_message(produced).map_err(failure)?)
        };
        if consumed > input.len() {
            return Err(failure(NX_EINVAL));
        }
        input.skip(consumed);
        out.extend(msg);
        if rc < 0 { Err(failure(rc)) } else { Ok(()) }
    }
}

impl Decoder for CDecoder {
    fn decode(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        self.call(ctx, input, out, false)
    }

    fn decode_last(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        self.call(ctx, input, out, true)
    }
}

/// Makes a byte-to-message decoder (Netty's `ByteToMessageDecoder`) that runs the user's
/// `decoder->decode` (see `nx_decoder_t`, `nx_decode_cb`), stored in `*out`. It cumulates the
/// bytes it reads (without a copy when whole frames arrive in one read), calls `decode` while
/// it makes progress, and passes each produced message on; non-buffer messages pass by. At
/// the end of input it calls `decode` with `last` = 1 once if bytes are left; when the
/// handler is removed, the bytes left are passed on as one buffer.
///
/// Ownership: nioxide copies `*decoder` (borrowed during the call). The handler owns
/// `attachment` once this call succeeds: `attachment_free(attachment)` (if not NULL) runs
/// exactly once, when the handler is gone: when `nx_handler_free` frees it unadded (on that
/// thread), or after its pipeline dropped it (on the channel's loop thread, after
/// `handler_removed`). `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it; a failed add leaves it and its attachment to the caller. On
/// error `*out` is unchanged, nothing was made and nothing freed.
///
/// Thread safety: safe from any thread; `decode` runs on the channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `decoder` or `out`, `size` too small, a NULL `decode`),
/// `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_byte_to_message_decoder(
    decoder: *const nx_decoder_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let usable =
                |t: &nx_decoder_t| t.size >= size_of::<nx_decoder_t>() && t.decode.is_some();
            let make = |codec| new_decoder(CDecoder { codec }, out);
            // SAFETY: the table is pointer-wide fields; all zeros is a valid table.
            unsafe { new_user_codec(decoder, usable, attachment, attachment_free, make) }
        })
    }
}
