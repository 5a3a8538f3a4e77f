//! [`LineBasedFrameDecoder`]: frames that end with `\n` or `\r\n` (Netty's
//! `LineBasedFrameDecoder`).

use super::super::context::Context;
use super::super::handler::HandlerResult;
use super::super::message::Message;
use super::cumulation::Cumulation;
use super::decoder::Decoder;
use super::invalid;
use super::split::Splitter;
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
#[derive(Clone, Debug)]
pub struct LineBasedFrameDecoder {
    split: Splitter,
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
            split: Splitter::new(max_frame_length, true, false),
            offset: 0,
        })
    }

    /// Whether frames exclude their line end (default `true`).
    pub fn with_strip_delimiter(mut self, strip_delimiter: bool) -> LineBasedFrameDecoder {
        self.split.strip_delimiter = strip_delimiter;
        self
    }

    /// Whether a too-long line is reported as soon as it is detected (default `false`).
    pub fn with_fail_fast(mut self, fail_fast: bool) -> LineBasedFrameDecoder {
        self.split.fail_fast = fail_fast;
        self
    }

    /// The maximum line length.
    pub fn max_frame_length(&self) -> usize {
        self.split.max_frame_length
    }
}

impl Decoder for LineBasedFrameDecoder {
    fn decode(
        &mut self,
        _ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        match input.find_byte(b'\n', self.offset) {
            Some(at) => {
                self.offset = 0;
                if at > 0 && input.get(at - 1) == Some(b'\r') {
                    self.split.found(input, at - 1, 2, out)
                } else {
                    self.split.found(input, at, 1, out)
                }
            }
            None => {
                // A `\r` at the end may start the line end: it does not count yet.
                let last = input.len().checked_sub(1).and_then(|i| input.get(i));
                let undecided = usize::from(last == Some(b'\r'));
                let result = self.split.missing(input, undecided);
                self.offset = input.len();
                result
            }
        }
    }

    fn reset(&mut self) {
        self.offset = 0;
        self.split.reset();
    }
}
