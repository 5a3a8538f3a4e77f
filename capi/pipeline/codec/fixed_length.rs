//! `nx_codec_fixed_length_frame_decoder` over core's `FixedLengthFrameDecoder`.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::c_int;

use nioxide_core::pipeline::codec::FixedLengthFrameDecoder;

use super::{new_decoder, refused};
use crate::args::status;
use crate::nx_ffi_boundary;
use crate::types::nx_handler_t;

/// Makes a fixed-length decoder (Netty's `FixedLengthFrameDecoder`), stored in `*out`: it
/// splits the bytes it reads into buffer messages of `frame_length` bytes each, however the
/// reads cut them; a partial frame waits for more (and is dropped at the end of input).
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged and nothing was made.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, `frame_length` 0), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_fixed_length_frame_decoder(
    frame_length: usize,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let decoder = FixedLengthFrameDecoder::new(frame_length).map_err(refused)?;
            new_decoder(decoder, out)
        })
    }
}
