//! `nx_codec_line_based_frame_decoder` over core's `LineBasedFrameDecoder`.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::c_int;

use nioxide_core::pipeline::codec::LineBasedFrameDecoder;

use super::{flag, new_decoder, refused};
use crate::args::status;
use crate::nx_ffi_boundary;
use crate::types::nx_handler_t;

/// Makes a line decoder (Netty's `LineBasedFrameDecoder`), stored in `*out`: it splits the
/// bytes it reads at `\n` or `\r\n` into buffer messages, one per line, passed on in order.
/// A line split across reads is put together (copying only what spans reads).
///
/// - `max_frame_length`: a line's longest length, without its line end. A longer line is
///   discarded as it arrives (never held whole: memory stays bounded) and reported once to
///   the next handler's `exception_caught` as `NX_ETOOLONG`; the line after it decodes.
/// - `strip_delimiter` (nonzero: yes): frames exclude their line end.
/// - `fail_fast` (nonzero: yes): the error comes as soon as more than the maximum has arrived
///   without a line end; otherwise (Netty's default) once the long line has been skipped.
///
/// At the end of input a partial line is dropped. When the handler is removed, the bytes it
/// holds are passed on as one buffer.
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged and nothing was made.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, `max_frame_length` 0), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_line_based_frame_decoder(
    max_frame_length: usize,
    strip_delimiter: c_int,
    fail_fast: c_int,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let decoder = LineBasedFrameDecoder::new(max_frame_length)
                .map_err(refused)?
                .with_strip_delimiter(flag(strip_delimiter))
                .with_fail_fast(flag(fail_fast));
            new_decoder(decoder, out)
        })
    }
}
