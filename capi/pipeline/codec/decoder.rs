//! The user's own decoder in C: `nx_decoder_t` (a table with a `decode` callback over the
//! cumulated bytes) and `nx_codec_byte_to_message_decoder`, which runs it in core's
//! `ByteToMessageDecoder` (cumulation, decode while there is progress, the rest handed on at
//! removal, Netty's rules on re-entrancy and removal inside decode).

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::Arc;

use nioxide_core::pipeline::codec::{Cumulation, Decoder};
use nioxide_core::pipeline::{Context, HandlerResult, Message};

use super::{CCodec, new_user_codec};
use crate::args::status;
use crate::error::NX_EINVAL;
use crate::nx_ffi_boundary;
use crate::pipeline::handler::new_builtin;
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
/// A frame that is a run of the cumulated bytes needs no copy: instead of (or besides)
/// `*msg_out`, call `nx_decoder_frame(ctx, offset, frame_len)` during the call, once per
/// frame, as many times as there are frames; each becomes a buffer message that shares the
/// cumulation's memory (Netty's `in.readRetainedSlice(frame_len)`). The frames are passed on
/// in the order they were announced, before `*msg_out`, and must lie within the `*consumed`
/// bytes.
///
/// Return 0, or a negative code (`NX_ECORRUPTED`, ...) that goes to the next handler's
/// `exception_caught` after the produced messages; `*consumed`, the frames and `*msg_out`
/// count on error too (consume the bad bytes, so decoding goes on after them). A `*consumed`
/// beyond `len`, or one that ends before the last announced frame, is `NX_EINVAL` and
/// drops that call's messages and consumes nothing.
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
    /// Options: 0, or `NX_DECODER_SINGLE_DECODE` (at most one message per read: the rest
    /// waits for the next read or the end of input, for a protocol that changes its
    /// handlers after its first message; Netty's `setSingleDecode`). A table compiled before
    /// this field existed (a smaller `size`) has none.
    pub flags: usize,
}

/// `nx_decoder_t::flags`: decode at most one message per read.
pub const NX_DECODER_SINGLE_DECODE: usize = 1;

/// The frames one `decode` call announces with [`nx_decoder_frame`]: runs of its `data`,
/// in order. Lives on the stack of [`CDecoder::call`] while the callback runs.
struct Frames {
    /// The context the call was given (the only one `nx_decoder_frame` accepts).
    ctx: *mut nx_context_t,
    /// The length of the call's `data`.
    len: usize,
    /// Where the last announced frame ends (the next one starts there or later).
    end: usize,
    /// `(offset, length)` of each frame, in order.
    list: Vec<(usize, usize)>,
}

thread_local! {
    /// The frames of the `decode` call running on this thread (null outside one). A decode
    /// that drives another decoder (an embedded channel's) nests: each call restores the
    /// value it found.
    static CURRENT: Cell<*mut Frames> = const { Cell::new(ptr::null_mut()) };
}

/// Sets [`CURRENT`] for one call and restores the previous value when dropped.
struct Announcing(*mut Frames);

impl Announcing {
    fn start(frames: &mut Frames) -> Announcing {
        Announcing(CURRENT.replace(frames))
    }
}

impl Drop for Announcing {
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
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
        let mut frames = Frames {
            ctx: ctx_ptr,
            len: data.len(),
            end: 0,
            list: Vec::new(),
        };
        let announcing = Announcing::start(&mut frames);
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
        drop(announcing);
        let msg = if produced.is_null() {
            None
        } else {
            Some(take_owned_message(produced).map_err(failure)?)
        };
        if consumed > input.len() || frames.end > consumed {
            return Err(failure(NX_EINVAL));
        }
        let mut at = 0;
        for (offset, len) in frames.list {
            input.skip(offset - at);
            out.push(Message::Buffer(input.take(len)));
            at = offset + len;
        }
        input.skip(consumed - at);
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
/// Errors: `NX_EINVAL` (NULL `decoder` or `out`, `size` too small, a NULL `decode`, an
/// unknown flag), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_byte_to_message_decoder(
    decoder: *const nx_decoder_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let usable = |t: &nx_decoder_t| {
                t.size >= std::mem::offset_of!(nx_decoder_t, flags)
                    && t.decode.is_some()
                    && t.flags & !NX_DECODER_SINGLE_DECODE == 0
            };
            let make = |codec: Arc<CCodec<nx_decoder_t>>| {
                let single = codec.table.flags & NX_DECODER_SINGLE_DECODE != 0;
                let decoder = CDecoder { codec };
                new_builtin(
                    Box::new(move || {
                        decoder
                            .clone()
                            .into_handler()
                            .with_single_decode(single)
                            .boxed()
                    }),
                    out,
                )
            };
            // SAFETY: the table is pointer-wide fields; all zeros is a valid table.
            unsafe { new_user_codec(decoder, usable, attachment, attachment_free, make) }
        })
    }
}

/// Announces, from inside a `decode` callback (`nx_decode_cb`) given `ctx`, that the
/// `frame_len` bytes at `data + offset` of that call's `data` are a frame: after the call,
/// nioxide passes them on as a buffer message that shares the cumulation's memory (no copy;
/// Netty's `in.readRetainedSlice`). Call it once per frame, in order: a frame starts where
/// the previous one ended or later (the bytes between, a header for example, are dropped as
/// part of `*consumed`). The frames go to the next handler in that order, before the call's
/// `*msg_out`, and must lie within the bytes the call reports consumed (else the call is
/// `NX_EINVAL`, see `nx_decode_cb`). An empty frame is an empty buffer.
///
/// Ownership: nothing is transferred; the message is made and owned by nioxide.
///
/// Thread safety: only on the thread running that `decode` call (the channel's loop thread),
/// during the call.
///
/// Errors: `NX_EINVAL` (not inside a `decode` call given `ctx`; the frame extends past
/// `len`; it starts before the end of the previous frame), `-ENOMEM`. A refused frame is
/// not announced; the call goes on.
#[unsafe(no_mangle)]
pub extern "C" fn nx_decoder_frame(
    ctx: *mut nx_context_t,
    offset: usize,
    frame_len: usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let frames = CURRENT.get();
            // SAFETY: a non-null `CURRENT` points at the `Frames` on the stack of the decode
            // call running on this thread, which outlives this nested call.
            let Some(frames) = (unsafe { frames.as_mut() }) else {
                return Err(NX_EINVAL);
            };
            let end = offset.checked_add(frame_len).ok_or(NX_EINVAL)?;
            if ctx.is_null() || ctx != frames.ctx || offset < frames.end || end > frames.len {
                return Err(NX_EINVAL);
            }
            frames.list.try_reserve(1).map_err(|_| -libc::ENOMEM)?;
            frames.list.push((offset, frame_len));
            frames.end = end;
            Ok(())
        })
    }
}
