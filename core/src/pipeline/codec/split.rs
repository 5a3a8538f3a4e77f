//! [`Splitter`]: what the line and delimiter decoders share once they searched for a
//! delimiter: take the frame or skip a too-long one, and discard mode with its error rule.

use super::super::handler::HandlerResult;
use super::super::message::Message;
use super::cumulation::Cumulation;
use super::too_long;

/// The frame rules of a delimiter-ended frame: maximum, delimiter stripping, fail-fast
/// reporting, and the state of a too-long frame being discarded.
#[derive(Clone, Debug)]
pub(super) struct Splitter {
    pub(super) max_frame_length: usize,
    pub(super) strip_delimiter: bool,
    pub(super) fail_fast: bool,
    /// Discarding a frame that is too long.
    discarding: bool,
    /// Bytes of the too-long frame dropped so far.
    discarded: u128,
}

impl Splitter {
    pub(super) fn new(max_frame_length: usize, strip_delimiter: bool, fail_fast: bool) -> Self {
        Splitter {
            max_frame_length,
            strip_delimiter,
            fail_fast,
            discarding: false,
            discarded: 0,
        }
    }

    /// A delimiter of `delimiter` bytes starts at `at`: the frame before it goes to `out`,
    /// or, too long or the end of a discarded frame, is skipped (and reported when due).
    pub(super) fn found(
        &mut self,
        input: &mut Cumulation,
        at: usize,
        delimiter: usize,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        if self.discarding {
            let length = self.discarded + at as u128;
            input.skip(at + delimiter);
            self.discarding = false;
            self.discarded = 0;
            if !self.fail_fast {
                return Err(too_long(Some(length), self.max_frame_length));
            }
            return Ok(());
        }
        if at > self.max_frame_length {
            input.skip(at + delimiter);
            return Err(too_long(Some(at as u128), self.max_frame_length));
        }
        let frame = if self.strip_delimiter {
            let frame = input.take(at);
            input.skip(delimiter);
            frame
        } else {
            input.take(at + delimiter)
        };
        out.push(Message::Buffer(frame));
        Ok(())
    }

    /// Forgets a frame being discarded (its bytes were released).
    pub(super) fn reset(&mut self) {
        self.discarding = false;
        self.discarded = 0;
    }

    /// No delimiter in `input`; its last `undecided` bytes may start one. Past the maximum
    /// (not counting those) the frame is discarded as it arrives, keeping them.
    pub(super) fn missing(&mut self, input: &mut Cumulation, undecided: usize) -> HandlerResult {
        let content = input.len().saturating_sub(undecided);
        let starts = !self.discarding;
        if starts {
            if content <= self.max_frame_length {
                return Ok(());
            }
            self.discarding = true;
            self.discarded = 0;
        }
        self.discarded += content as u128;
        input.skip(content);
        if starts && self.fail_fast {
            return Err(too_long(None, self.max_frame_length));
        }
        Ok(())
    }
}
