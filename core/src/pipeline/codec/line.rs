//! [`LineBasedFrameDecoder`]: frames that end with `\n` or `\r\n` (Netty's
//! `LineBasedFrameDecoder`).

use super::super::context::Context;
use super::super::handler::HandlerResult;
use super::super::message::Message;
use super::cumulation::Cumulation;
use super::decoder::Decoder;
use super::{invalid, too_long};
use crate::event_loop::Failure;

/// Splits the input at line ends (`\n` or `\r\n`) into buffer messages.
///
/// Options: `max_frame_length` (a line's length without its delimiter; longer lines are
/// discarded and reported as `FrameTooLong`), `strip_delimiter` (default on: frames exclude
/// the line end), `fail_fast` (default off: the error comes once the long line has been
/// skipped; on: as soon as more than the maximum has arrived without a line end).
///
/// Scanning resumes where the last search stopped, so a long line arriving in pieces is
/// scanned once. A frame is a slice of the received bytes (no copy when it lies in one read).
#[derive(Debug)]
pub struct LineBasedFrameDecoder {
    max_frame_length: usize,
    strip_delimiter: bool,
    fail_fast: bool,
    /// Discarding a line that is too long.
    discarding: bool,
    /// Bytes of the too-long line dropped so far.
    discarded: u128,
    /// Where the next search for `\n` starts (bytes before it hold none).
    offset: usize,
}

impl LineBasedFrameDecoder {
    /// A decoder of lines of at most `max_frame_length` bytes.
    ///
    /// # Errors
    /// `InvalidArgument` if `max_frame_length` is 0.
    pub fn new(max_frame_length: usize) -> Result<LineBasedFrameDecoder, Failure> {
        if max_frame_length == 0 {
            return Err(invalid("max_frame_length must be greater than 0"));
        }
        Ok(LineBasedFrameDecoder {
            max_frame_length,
            strip_delimiter: true,
            fail_fast: false,
            discarding: false,
            discarded: 0,
            offset: 0,
        })
    }

    /// Whether frames exclude their line end (default `true`).
    pub fn with_strip_delimiter(mut self, strip_delimiter: bool) -> LineBasedFrameDecoder {
        self.strip_delimiter = strip_delimiter;
        self
    }

    /// Whether a too-long line is reported as soon as it is detected (default `false`).
    pub fn with_fail_fast(mut self, fail_fast: bool) -> LineBasedFrameDecoder {
        self.fail_fast = fail_fast;
        self
    }

    /// The maximum line length.
    pub fn max_frame_length(&self) -> usize {
        self.max_frame_length
    }

    /// The index of the next line end (of its `\r` for `\r\n`) and the delimiter's length.
    fn find_end_of_line(&mut self, input: &Cumulation) -> Option<(usize, usize)> {
        match input.find_byte(b'\n', self.offset) {
            Some(at) => {
                self.offset = 0;
                if at > 0 && input.get(at - 1) == Some(b'\r') {
                    Some((at - 1, 2))
                } else {
                    Some((at, 1))
                }
            }
            None => {
                self.offset = input.len();
                None
            }
        }
    }
}

impl Decoder for LineBasedFrameDecoder {
    fn decode(
        &mut self,
        _ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        let eol = self.find_end_of_line(input);
        if self.discarding {
            match eol {
                Some((at, delimiter)) => {
                    let length = self.discarded + at as u128;
                    input.skip(at + delimiter);
                    self.discarded = 0;
                    self.discarding = false;
                    if !self.fail_fast {
                        return Err(too_long(Some(length), self.max_frame_length));
                    }
                }
                None => {
                    self.discarded += input.len() as u128;
                    input.clear();
                    self.offset = 0;
                }
            }
            return Ok(());
        }
        match eol {
            Some((at, delimiter)) => {
                if at > self.max_frame_length {
                    input.skip(at + delimiter);
                    return Err(too_long(Some(at as u128), self.max_frame_length));
                }
                if self.strip_delimiter {
                    let frame = input.take(at);
                    input.skip(delimiter);
                    out.push(Message::Buffer(frame));
                } else {
                    out.push(Message::Buffer(input.take(at + delimiter)));
                }
            }
            None => {
                let length = input.len();
                // A `\r` at the end may start the line end: it does not count yet.
                let content = if input.as_slice().last() == Some(&b'\r') {
                    length - 1
                } else {
                    length
                };
                if content > self.max_frame_length {
                    self.discarded = length as u128;
                    input.clear();
                    self.discarding = true;
                    self.offset = 0;
                    if self.fail_fast {
                        return Err(too_long(None, self.max_frame_length));
                    }
                }
            }
        }
        Ok(())
    }
}
