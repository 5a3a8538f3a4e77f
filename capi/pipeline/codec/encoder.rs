//! The user's own encoder in C: `nx_encoder_t` (a table with an `encode` callback) and
//! `nx_codec_message_to_byte_encoder`, which runs it in core's `MessageToByteEncoder`; the
//! callback appends its bytes to a lent byte sink (`nx_byte_sink_append`,
//! `nx_byte_sink_append_message`).

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::mem::size_of;
use std::ptr;
use std::sync::Arc;

use nioxide_core::event_loop::Failure;
use nioxide_core::pipeline::codec::Encoder;
use nioxide_core::pipeline::{Buffer, Context, HandlerResult, Message};
use nioxide_core::sync::lock;

use super::{CCodec, new_encoder, new_user_codec};
use crate::args::status;
use crate::error::NX_EINVAL;
use crate::handle;
use crate::nx_ffi_boundary;
use crate::pipeline::message::c_bytes;
use crate::pipeline::{context_handle, failure, lend_message, message_of};
use crate::types::{
    ByteSinkObject, ByteSinkParts, nx_byte_sink_t, nx_context_t, nx_free_cb, nx_handler_t,
    nx_message_t,
};

/// What an encode callback returns for a message it does not encode: the message passes by
/// to the next outbound handler, unchanged (what it appended is dropped).
pub const NX_CODEC_PASS: c_int = 1;

/// An encode callback: encodes `msg` (lent for the call, as in `channel_read`) by appending
/// bytes to `sink` (lent for the call) with `nx_byte_sink_append` (copies) or
/// `nx_byte_sink_append_message` (shares a buffer message's bytes), and returns 0; or returns
/// `NX_CODEC_PASS` for a message it does not take; or a negative code, which fails the
/// write (its promise, or the exception event) and drops what was appended. What was
/// appended is written as one write per buffer with the message's promise (nothing appended:
/// an empty write, so the promise still completes).
#[allow(non_camel_case_types)]
pub type nx_encode_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut nx_context_t,
        msg: *mut nx_message_t,
        sink: *mut nx_byte_sink_t,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// The user's encoder (the part of Netty's `MessageToByteEncoder` a subclass writes). Set
/// `size` to `sizeof(nx_encoder_t)`; nioxide copies the table. `encode` runs on the channel's
/// loop thread for each message written through the handler; a write made from inside it
/// through the same handler fails with `NX_EINVAL` (no re-entrant encoding).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct nx_encoder_t {
    /// `sizeof(nx_encoder_t)` as the caller was compiled.
    pub size: usize,
    /// The encode step (required).
    pub encode: nx_encode_cb,
}

/// The core encoder over a C table. Runs on the channel's loop thread only.
#[derive(Clone)]
struct CEncoder {
    codec: Arc<CCodec<nx_encoder_t>>,
}

impl ByteSinkParts {
    /// Makes the copied bytes since the last buffer a buffer of their own.
    fn seal(&mut self) {
        if !self.pending.is_empty() {
            let bytes = self.pending.split().freeze();
            self.buffers.push(Buffer::from_bytes(bytes));
        }
    }
}

impl Encoder for CEncoder {
    fn encode(&mut self, ctx: &Context, msg: Message, out: &mut Vec<Buffer>) -> HandlerResult {
        self.encode_or_pass(ctx, msg, out).map(|_| ())
    }

    fn encode_or_pass(
        &mut self,
        ctx: &Context,
        msg: Message,
        out: &mut Vec<Buffer>,
    ) -> Result<Option<Message>, Failure> {
        let Some(encode) = self.codec.table.encode else {
            return Err(failure(NX_EINVAL));
        };
        let sink = Arc::new(ByteSinkObject::default());
        let sink_ptr: *mut nx_byte_sink_t = handle::insert(sink.clone()).map_err(failure)?;
        let ctx_ptr = context_handle(ctx).map_or(ptr::null_mut(), |raw| raw.as_ptr());
        let attachment = self.codec.attachment.ptr();
        // SAFETY: the user gave us this function to call with its attachment on the loop
        // thread; the message and sink handles are valid during the call.
        let rc = lend_message(msg.clone(), |m| unsafe {
            encode(ctx_ptr, m, sink_ptr, attachment)
        });
        let _ = handle::remove(sink_ptr);
        let rc = rc.map_err(failure)?;
        match rc {
            NX_CODEC_PASS => Ok(Some(msg)),
            0 => {
                let mut parts = lock(&sink.parts);
                parts.seal();
                out.append(&mut parts.buffers);
                Ok(None)
            }
            rc if rc < 0 => Err(failure(rc)),
            _ => Err(failure(NX_EINVAL)),
        }
    }
}

/// Makes a message-to-byte encoder (Netty's `MessageToByteEncoder`) that runs the user's
/// `encoder->encode` (see `nx_encoder_t`, `nx_encode_cb`) on each message written through
/// it, stored in `*out`.
///
/// Ownership: nioxide copies `*encoder` (borrowed during the call). The handler owns
/// `attachment` once this call succeeds: `attachment_free(attachment)` (if not NULL) runs
/// exactly once, when the handler is gone (freed unadded by `nx_handler_free`, on that
/// thread, or dropped by its pipeline, on the channel's loop thread). `*out` is the caller's
/// until `nx_pipeline_add_handler` takes it or `nx_handler_free` frees it. On error `*out` is
/// unchanged, nothing was made and nothing freed.
///
/// Thread safety: safe from any thread; `encode` runs on the channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `encoder` or `out`, `size` too small, a NULL `encode`),
/// `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_message_to_byte_encoder(
    encoder: *const nx_encoder_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let usable =
                |t: &nx_encoder_t| t.size >= size_of::<nx_encoder_t>() && t.encode.is_some();
            let make = |codec| new_encoder(CEncoder { codec }, out);
            // SAFETY: the table is pointer-wide fields; all zeros is a valid table.
            unsafe { new_user_codec(encoder, usable, attachment, attachment_free, make) }
        })
    }
}

/// Appends a copy of the `len` bytes at `data` (only read during the call; NULL with 0 is
/// nothing) to the encoding under way. Consecutive appends make one buffer.
///
/// Thread safety: call it from the encode callback the sink was lent to (its loop thread);
/// the handle is closed once the callback returns.
///
/// Errors: `NX_EINVAL` (NULL or not a sink, NULL `data` with a length), `NX_EBADHANDLE` (the
/// callback returned), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_byte_sink_append(
    sink: *mut nx_byte_sink_t,
    data: *const c_void,
    len: usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            // SAFETY: the caller passes `len` readable bytes at `data`.
            let bytes = unsafe { c_bytes(data, len) }?;
            handle::with(sink, |o: &ByteSinkObject| {
                lock(&o.parts).pending.extend_from_slice(bytes);
            })
        })
    }
}

/// Appends the bytes of the buffer message `msg` to the encoding under way, as a buffer of
/// its own that shares them (no copy; `msg` stays the caller's, lent or owned, and keeps its
/// own reference).
///
/// Thread safety: as `nx_byte_sink_append`.
///
/// Errors: `NX_EINVAL` (NULL or not a sink or a message, a message that is not a buffer),
/// `NX_EBADHANDLE` (the callback returned, or a freed message), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_byte_sink_append_message(
    sink: *mut nx_byte_sink_t,
    msg: *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let Message::Buffer(buffer) = message_of(msg)? else {
                return Err(NX_EINVAL);
            };
            handle::with(sink, |o: &ByteSinkObject| {
                let mut parts = lock(&o.parts);
                parts.seal();
                parts.buffers.push(buffer);
            })
        })
    }
}
