//! [`LengthFieldBasedFrameDecoder`] (frames whose header holds their length) and its encoder
//! [`LengthFieldPrepender`] (Netty's classes of the same names).

use bytes::Bytes;

use super::super::context::Context;
use super::super::handler::HandlerResult;
use super::super::message::{Buffer, Message};
use super::cumulation::Cumulation;
use super::decoder::Decoder;
use super::encoder::Encoder;
use super::{failure, invalid, too_long};
use crate::ErrorKind;
use crate::event_loop::Failure;

/// The byte order of a length field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Most significant byte first (network order; the default).
    #[default]
    BigEndian,
    /// Least significant byte first.
    LittleEndian,
}

/// Whether `size` is a length field size these codecs take.
fn check_field_size(size: usize) -> Result<(), Failure> {
    match size {
        1 | 2 | 3 | 4 | 8 => Ok(()),
        _ => Err(invalid(format!(
            "length_field_length must be 1, 2, 3, 4 or 8, not {size}"
        ))),
    }
}

/// Splits the input into frames by a length field in each frame's header.
///
/// A frame is `length_field_offset` bytes, the length field (`length_field_length` bytes:
/// 1, 2, 3, 4 or 8, big or little endian, unsigned; an 8-byte value of 2^63 or more is
/// negative), then the rest. The frame's whole length is the field's value plus
/// `length_adjustment` plus the header up to the end of the field. The first
/// `initial_bytes_to_strip` bytes of a frame are dropped from the message.
///
/// - A frame longer than `max_frame_length` (before stripping) is skipped without being held
///   (discard mode) and reported as `FrameTooLong`: at once with `fail_fast` (the default),
///   otherwise once skipped.
/// - A negative length field, a whole length shorter than the header up to the length field's
///   end, or one shorter than `initial_bytes_to_strip`, is `CorruptedFrame`: the bytes read
///   (the header, or the short frame) are skipped and decoding goes on.
///
/// Nothing is allocated from the field's value: a frame is only ever taken as a slice of
/// bytes already received.
#[derive(Clone, Debug)]
pub struct LengthFieldBasedFrameDecoder {
    max_frame_length: usize,
    length_field_offset: usize,
    length_field_length: usize,
    /// `length_field_offset + length_field_length`.
    length_field_end: usize,
    length_adjustment: i64,
    initial_bytes_to_strip: usize,
    byte_order: ByteOrder,
    fail_fast: bool,
    discarding: bool,
    /// The length of the frame being discarded.
    too_long_length: u128,
    /// Bytes of it still to drop.
    to_discard: u128,
    /// The whole length of the frame whose header was read, while its body is awaited (the
    /// header is not parsed again on each read).
    awaited: Option<usize>,
}

impl LengthFieldBasedFrameDecoder {
    /// A decoder with the given layout, big endian and fail-fast (see the type's docs).
    ///
    /// # Errors
    /// `InvalidArgument` if `max_frame_length` is 0, `length_field_length` is not 1, 2, 3, 4
    /// or 8, the length field does not fit in `max_frame_length`
    /// (`length_field_offset + length_field_length > max_frame_length`), or
    /// `initial_bytes_to_strip > max_frame_length` (no frame could be long enough).
    pub fn new(
        max_frame_length: usize,
        length_field_offset: usize,
        length_field_length: usize,
        length_adjustment: i64,
        initial_bytes_to_strip: usize,
    ) -> Result<LengthFieldBasedFrameDecoder, Failure> {
        if max_frame_length == 0 {
            return Err(invalid("max_frame_length must be greater than 0"));
        }
        check_field_size(length_field_length)?;
        let length_field_end = length_field_offset
            .checked_add(length_field_length)
            .filter(|end| *end <= max_frame_length)
            .ok_or_else(|| {
                invalid(format!(
                    "max_frame_length ({max_frame_length}) must be at least \
                     length_field_offset ({length_field_offset}) + length_field_length \
                     ({length_field_length})"
                ))
            })?;
        if initial_bytes_to_strip > max_frame_length {
            return Err(invalid(format!(
                "initial_bytes_to_strip ({initial_bytes_to_strip}) must not exceed \
                 max_frame_length ({max_frame_length})"
            )));
        }
        Ok(LengthFieldBasedFrameDecoder {
            max_frame_length,
            length_field_offset,
            length_field_length,
            length_field_end,
            length_adjustment,
            initial_bytes_to_strip,
            byte_order: ByteOrder::BigEndian,
            fail_fast: true,
            discarding: false,
            too_long_length: 0,
            to_discard: 0,
            awaited: None,
        })
    }

    /// The length field's byte order (default big endian).
    pub fn with_byte_order(mut self, byte_order: ByteOrder) -> LengthFieldBasedFrameDecoder {
        self.byte_order = byte_order;
        self
    }

    /// Whether a too-long frame is reported as soon as its length is read (default `true`).
    pub fn with_fail_fast(mut self, fail_fast: bool) -> LengthFieldBasedFrameDecoder {
        self.fail_fast = fail_fast;
        self
    }

    /// The maximum frame length.
    pub fn max_frame_length(&self) -> usize {
        self.max_frame_length
    }

    /// The length field's size in bytes.
    pub fn length_field_length(&self) -> usize {
        self.length_field_length
    }

    /// The length field's value, signed (an 8-byte field of 2^63 or more is negative).
    fn field_value(&self, field: &[u8]) -> i128 {
        let mut value: u64 = 0;
        match self.byte_order {
            ByteOrder::BigEndian => {
                for &b in field {
                    value = (value << 8) | u64::from(b);
                }
            }
            ByteOrder::LittleEndian => {
                for &b in field.iter().rev() {
                    value = (value << 8) | u64::from(b);
                }
            }
        }
        if field.len() == 8 {
            i128::from(value as i64)
        } else {
            i128::from(value)
        }
    }

    /// Drops what arrived of a frame being discarded; reports it when done (not fail fast).
    fn discard_more(&mut self, input: &mut Cumulation) -> HandlerResult {
        let drop = self.to_discard.min(input.len() as u128) as usize;
        input.skip(drop);
        self.to_discard -= drop as u128;
        self.after_discard(false)
    }

    /// Ends discard mode when the frame is gone, and reports the frame when due.
    fn after_discard(&mut self, first: bool) -> HandlerResult {
        let length = self.too_long_length;
        if self.to_discard == 0 {
            self.discarding = false;
            self.too_long_length = 0;
            if !self.fail_fast || first {
                return Err(too_long(Some(length), self.max_frame_length));
            }
        } else if self.fail_fast && first {
            return Err(too_long(Some(length), self.max_frame_length));
        }
        Ok(())
    }
}

impl Decoder for LengthFieldBasedFrameDecoder {
    fn decode(
        &mut self,
        _ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        if self.discarding {
            return self.discard_more(input);
        }
        let length = match self.awaited {
            Some(length) => length,
            None => match self.read_header(input)? {
                Some(length) => length,
                None => return Ok(()),
            },
        };
        if input.len() < length {
            self.awaited = Some(length);
            return Ok(());
        }
        self.awaited = None;
        if self.initial_bytes_to_strip > length {
            input.skip(length);
            return Err(failure(
                ErrorKind::CorruptedFrame,
                format!(
                    "frame length ({length}) is less than initial_bytes_to_strip ({})",
                    self.initial_bytes_to_strip
                ),
            ));
        }
        input.skip(self.initial_bytes_to_strip);
        out.push(Message::Buffer(
            input.take(length - self.initial_bytes_to_strip),
        ));
        Ok(())
    }

    fn reset(&mut self) {
        self.awaited = None;
        self.discarding = false;
        self.too_long_length = 0;
        self.to_discard = 0;
    }
}

impl LengthFieldBasedFrameDecoder {
    /// Reads a frame's header: its whole length if it is acceptable, `None` if the header
    /// has not fully arrived or the frame is too long (then it is being discarded).
    ///
    /// # Errors
    /// `CorruptedFrame` (the header is skipped), `FrameTooLong` (fail fast, or a too-long
    /// frame that arrived whole).
    fn read_header(&mut self, input: &mut Cumulation) -> Result<Option<usize>, Failure> {
        if input.len() < self.length_field_end {
            return Ok(None);
        }
        let mut field = [0u8; 8];
        let field = &mut field[..self.length_field_length];
        input.copy_out(self.length_field_offset, field);
        let value = self.field_value(field);
        let end = self.length_field_end as i128;
        if value < 0 {
            input.skip(self.length_field_end);
            return Err(failure(
                ErrorKind::CorruptedFrame,
                format!("negative length field: {value}"),
            ));
        }
        let length = value + i128::from(self.length_adjustment) + end;
        if length < end {
            input.skip(self.length_field_end);
            return Err(failure(
                ErrorKind::CorruptedFrame,
                format!(
                    "adjusted frame length ({length}) is less than the length field's end \
                     ({end})"
                ),
            ));
        }
        // Positive and at least `end` from here on.
        let length = length as u128;
        if length > self.max_frame_length as u128 {
            let available = input.len() as u128;
            self.too_long_length = length;
            if length <= available {
                input.skip(length as usize);
                self.to_discard = 0;
            } else {
                input.clear();
                self.to_discard = length - available;
                self.discarding = true;
            }
            self.after_discard(true)?;
            return Ok(None);
        }
        Ok(Some(length as usize))
    }
}

/// An encoder that writes a length field before each buffer message (the decoder's
/// counterpart): the header is a small buffer of its own, the message follows unchanged (no
/// copy); both are written with the message's promise.
///
/// The length written is the message's length plus `length_adjustment`, plus the field's own
/// length with `length_includes_length_field_length`. A length that is negative or does not
/// fit in the field fails the write with `InvalidArgument`. Messages that are not buffers
/// pass by.
#[derive(Clone, Debug)]
pub struct LengthFieldPrepender {
    length_field_length: usize,
    byte_order: ByteOrder,
    length_adjustment: i64,
    includes_field: bool,
}

impl LengthFieldPrepender {
    /// A prepender of a big-endian length field of `length_field_length` bytes.
    ///
    /// # Errors
    /// `InvalidArgument` if `length_field_length` is not 1, 2, 3, 4 or 8.
    pub fn new(length_field_length: usize) -> Result<LengthFieldPrepender, Failure> {
        check_field_size(length_field_length)?;
        Ok(LengthFieldPrepender {
            length_field_length,
            byte_order: ByteOrder::BigEndian,
            length_adjustment: 0,
            includes_field: false,
        })
    }

    /// The field's byte order (default big endian).
    pub fn with_byte_order(mut self, byte_order: ByteOrder) -> LengthFieldPrepender {
        self.byte_order = byte_order;
        self
    }

    /// Added to each length written (default 0).
    pub fn with_length_adjustment(mut self, length_adjustment: i64) -> LengthFieldPrepender {
        self.length_adjustment = length_adjustment;
        self
    }

    /// Whether the length written counts the field itself (default `false`).
    pub fn with_length_includes_length_field_length(
        mut self,
        includes: bool,
    ) -> LengthFieldPrepender {
        self.includes_field = includes;
        self
    }

    /// The header for a message of `len` bytes.
    ///
    /// # Errors
    /// `InvalidArgument` if the adjusted length is negative or does not fit in the field.
    pub fn header(&self, len: usize) -> Result<Bytes, Failure> {
        let mut length = len as i128 + i128::from(self.length_adjustment);
        if self.includes_field {
            length += self.length_field_length as i128;
        }
        if length < 0 {
            return Err(invalid(format!(
                "adjusted frame length ({length}) is less than zero"
            )));
        }
        let bits = 8 * self.length_field_length as u32;
        let limit: i128 = if bits == 64 {
            i128::from(i64::MAX)
        } else {
            (1 << bits) - 1
        };
        if length > limit {
            return Err(invalid(format!(
                "length {length} does not fit in a {}-byte length field",
                self.length_field_length
            )));
        }
        let value = length as u64;
        let mut header = [0u8; 8];
        let n = self.length_field_length;
        let field = &mut header[..n];
        match self.byte_order {
            ByteOrder::BigEndian => field.copy_from_slice(&value.to_be_bytes()[8 - n..]),
            ByteOrder::LittleEndian => field.copy_from_slice(&value.to_le_bytes()[..n]),
        }
        Ok(Bytes::copy_from_slice(field))
    }
}

impl Encoder for LengthFieldPrepender {
    fn accepts(&self, msg: &Message) -> bool {
        msg.as_buffer().is_some()
    }

    fn encode(&mut self, _ctx: &Context, msg: Message, out: &mut Vec<Buffer>) -> HandlerResult {
        let Message::Buffer(buffer) = msg else {
            return Err(invalid("LengthFieldPrepender encodes buffers only"));
        };
        out.push(Buffer::from_bytes(self.header(buffer.len())?));
        out.push(buffer);
        Ok(())
    }
}
