//! `nx_codec_delimiter_based_frame_decoder` over core's `DelimiterBasedFrameDecoder`.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::c_int;

use libc::iovec;
use nioxide_core::pipeline::codec::DelimiterBasedFrameDecoder;

use super::{flag, new_decoder, refused};
use crate::args::status;
use crate::error::NX_EINVAL;
use crate::nx_ffi_boundary;
use crate::pipeline::message::c_bytes;
use crate::types::nx_handler_t;

/// Makes a delimiter decoder (Netty's `DelimiterBasedFrameDecoder`), stored in `*out`: it
/// splits the bytes it reads at any of `count` delimiters into buffer messages; where
/// several match, the one giving the shortest frame wins. `delimiters` is an array of
/// `count` (pointer, length) pairs, each a non-empty byte string, copied during the call (so
/// only borrowed). Exactly `\n` and `\r\n` decode as `nx_codec_line_based_frame_decoder`.
///
/// - `max_frame_length`: a frame's longest length, without its delimiter. A longer frame is
///   discarded as it arrives (memory stays bounded) and reported once as `NX_ETOOLONG` to the
///   next handler's `exception_caught`; the frame after it decodes.
/// - `strip_delimiter` (nonzero: yes): frames exclude their delimiter.
/// - `fail_fast` (nonzero: yes, Netty's default here): the error comes as soon as more than
///   the maximum has arrived without a delimiter; otherwise once the frame has been skipped.
///
/// At the end of input a partial frame is dropped; at removal the held bytes are passed on.
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged and nothing was made.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, `max_frame_length` 0, no delimiters, an empty one, a
/// NULL pointer with a length), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_delimiter_based_frame_decoder(
    max_frame_length: usize,
    delimiters: *const iovec,
    count: usize,
    strip_delimiter: c_int,
    fail_fast: c_int,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if delimiters.is_null() && count > 0 {
                return Err(NX_EINVAL);
            }
            let pairs: &[iovec] = if count == 0 {
                &[]
            } else {
                // SAFETY: the caller passes `count` readable pairs, read during the call.
                unsafe { std::slice::from_raw_parts(delimiters, count) }
            };
            let parts = pairs
                .iter()
                // SAFETY: each pair names `iov_len` readable bytes, read during the call.
                .map(|d| unsafe { c_bytes(d.iov_base, d.iov_len) })
                .collect::<Result<Vec<&[u8]>, c_int>>()?;
            let decoder = DelimiterBasedFrameDecoder::new(max_frame_length, &parts)
                .map_err(refused)?
                .with_strip_delimiter(flag(strip_delimiter))
                .with_fail_fast(flag(fail_fast));
            new_decoder(decoder, out)
        })
    }
}
