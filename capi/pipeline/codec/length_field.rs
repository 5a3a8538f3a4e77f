//! `nx_codec_length_field_based_frame_decoder` (its configuration in
//! `nx_length_field_config_t`) and `nx_codec_length_field_prepender`, over core's
//! `LengthFieldBasedFrameDecoder` and `LengthFieldPrepender`.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::c_int;
use std::mem::size_of;

use nioxide_core::pipeline::codec::{
    ByteOrder, LengthFieldBasedFrameDecoder, LengthFieldPrepender,
};

use super::{flag, new_decoder, new_encoder, refused};
use crate::args::status;
use crate::error::NX_EINVAL;
use crate::nx_ffi_boundary;
use crate::pipeline::handler::copy_sized;
use crate::types::nx_handler_t;

/// A length field's byte order: most significant byte first (network order).
pub const NX_BYTE_ORDER_BIG_ENDIAN: c_int = 0;
/// A length field's byte order: least significant byte first.
pub const NX_BYTE_ORDER_LITTLE_ENDIAN: c_int = 1;

/// A byte order from its C constant.
fn byte_order(order: c_int) -> Result<ByteOrder, c_int> {
    match order {
        NX_BYTE_ORDER_BIG_ENDIAN => Ok(ByteOrder::BigEndian),
        NX_BYTE_ORDER_LITTLE_ENDIAN => Ok(ByteOrder::LittleEndian),
        _ => Err(NX_EINVAL),
    }
}

/// The configuration of `nx_codec_length_field_based_frame_decoder` (Netty's constructor
/// arguments). Set `size` to `sizeof(nx_length_field_config_t)`; fill it with a designated
/// initializer (fields left out are zero). Only read during the call.
///
/// A frame is `length_field_offset` bytes, the length field, then the rest. Its whole length
/// is the field's value + `length_adjustment` + the header up to the end of the field.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct nx_length_field_config_t {
    /// `sizeof(nx_length_field_config_t)` as the caller was compiled.
    pub size: usize,
    /// A frame's longest whole length (header included, before stripping); more than 0.
    /// Longer frames are discarded without being held and reported as `NX_ETOOLONG`.
    pub max_frame_length: usize,
    /// Where the length field starts in a frame.
    pub length_field_offset: usize,
    /// The length field's size in bytes: 1, 2, 3, 4 or 8 (an 8-byte value of 2^63 or more is
    /// negative: `NX_ECORRUPTED`).
    pub length_field_length: usize,
    /// Added to the field's value (negative when the field counts the header too).
    pub length_adjustment: i64,
    /// Bytes dropped from the front of each frame before it is passed on (e.g. the header).
    pub initial_bytes_to_strip: usize,
    /// `NX_BYTE_ORDER_BIG_ENDIAN` (0) or `NX_BYTE_ORDER_LITTLE_ENDIAN`.
    pub byte_order: c_int,
    /// Nonzero (Netty's default): a too-long frame is reported as soon as its header is read;
    /// zero: once it has been skipped.
    pub fail_fast: c_int,
}

/// Makes a length-field decoder (Netty's `LengthFieldBasedFrameDecoder`) configured by
/// `*config` (borrowed during the call), stored in `*out`: it splits the bytes it reads into
/// frames by the length field in each frame's header, each passed on as a buffer message
/// (without its first `initial_bytes_to_strip` bytes), however the reads cut them.
///
/// Errors in the stream go to the next handler's `exception_caught`, and decoding goes on
/// with what follows: `NX_ETOOLONG` for a frame over `max_frame_length` (skipped as it
/// arrives: a length of 2^31 − 1 with a small maximum allocates nothing), `NX_ECORRUPTED` for
/// a negative field, a whole length shorter than the header up to the field's end, or one
/// shorter than `initial_bytes_to_strip` (the header, or the frame, is skipped).
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged and nothing was made.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `config` or `out`, `size` smaller than this library's
/// `nx_length_field_config_t`, `max_frame_length` 0, a field size not 1/2/3/4/8, a field that
/// does not fit in `max_frame_length`, `initial_bytes_to_strip` over `max_frame_length`, an
/// unknown byte order), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_length_field_based_frame_decoder(
    config: *const nx_length_field_config_t,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            // SAFETY: the struct is pointer-wide fields and a pair of ints; all zeros is a
            // valid value. The caller passes `size` readable bytes.
            let c = unsafe { copy_sized(config) }?;
            if c.size < size_of::<nx_length_field_config_t>() {
                return Err(NX_EINVAL);
            }
            let decoder = LengthFieldBasedFrameDecoder::new(
                c.max_frame_length,
                c.length_field_offset,
                c.length_field_length,
                c.length_adjustment,
                c.initial_bytes_to_strip,
            )
            .map_err(refused)?
            .with_byte_order(byte_order(c.byte_order)?)
            .with_fail_fast(flag(c.fail_fast));
            new_decoder(decoder, out)
        })
    }
}

/// Makes a length-field prepender (Netty's `LengthFieldPrepender`), stored in `*out`: each
/// buffer message written through it goes out after a length field of `length_field_length`
/// bytes (1, 2, 3, 4 or 8) in `byte_order`, holding the message's length +
/// `length_adjustment` (+ the field's own length if `length_includes_length_field_length` is
/// nonzero). The header is a small buffer of its own; the message is not copied; both go
/// with the write's promise. Other messages pass by. A length that is negative or does not
/// fit in the field fails the write (its promise, or the exception event) with `NX_EINVAL`.
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged and nothing was made.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, a field size not 1/2/3/4/8, an unknown byte order),
/// `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_length_field_prepender(
    length_field_length: usize,
    byte_order: c_int,
    length_adjustment: i64,
    length_includes_length_field_length: c_int,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let prepender = LengthFieldPrepender::new(length_field_length)
                .map_err(refused)?
                .with_byte_order(self::byte_order(byte_order)?)
                .with_length_adjustment(length_adjustment)
                .with_length_includes_length_field_length(flag(
                    length_includes_length_field_length,
                ));
            new_encoder(prepender, out)
        })
    }
}
