//! [`FixedLengthFrameDecoder`]: frames of one fixed length (Netty's
//! `FixedLengthFrameDecoder`).

use super::super::context::Context;
use super::super::handler::HandlerResult;
use super::super::message::Message;
use super::cumulation::Cumulation;
use super::decoder::Decoder;
use super::invalid;
use crate::event_loop::Failure;

/// Splits the input into buffer messages of `frame_length` bytes each; a partial frame waits
/// for more input (and is released at the end of input).
#[derive(Clone, Debug)]
pub struct FixedLengthFrameDecoder {
    frame_length: usize,
}

impl FixedLengthFrameDecoder {
    /// A decoder of `frame_length`-byte frames.
    ///
    /// # Errors
    /// `InvalidArgument` if `frame_length` is 0.
    pub fn new(frame_length: usize) -> Result<FixedLengthFrameDecoder, Failure> {
        if frame_length == 0 {
            return Err(invalid("frame_length must be greater than 0"));
        }
        Ok(FixedLengthFrameDecoder { frame_length })
    }

    /// The frame length.
    pub fn frame_length(&self) -> usize {
        self.frame_length
    }
}

impl Decoder for FixedLengthFrameDecoder {
    fn decode(
        &mut self,
        _ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        if input.len() >= self.frame_length {
            out.push(Message::Buffer(input.take(self.frame_length)));
        }
        Ok(())
    }
}
