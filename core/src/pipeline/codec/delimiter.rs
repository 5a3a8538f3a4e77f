//! [`DelimiterBasedFrameDecoder`]: frames that end with one of several delimiters (Netty's
//! `DelimiterBasedFrameDecoder`).

use bytes::Bytes;

use super::super::context::Context;
use super::super::handler::HandlerResult;
use super::super::message::Message;
use super::cumulation::Cumulation;
use super::decoder::Decoder;
use super::invalid;
use super::line::LineBasedFrameDecoder;
use super::split::Splitter;
use crate::event_loop::Failure;

/// Splits the input at any of its delimiters into buffer messages; where several match, the
/// one that gives the shortest frame wins.
///
/// Options: `max_frame_length` (a frame's length without its delimiter), `strip_delimiter`
/// (default on), `fail_fast` (default on: a too-long frame is reported as soon as more than
/// the maximum has arrived without a delimiter; off: once it has been skipped).
///
/// Given exactly the two line ends `\n` and `\r\n`, it decodes as a
/// [`LineBasedFrameDecoder`] does (one scan for `\n`).
///
/// Each delimiter's search resumes where its last one stopped: where it was found beyond
/// the frame just taken, or, not found, less its length (so a delimiter split across reads
/// is found). Each received byte is searched about once per delimiter, also when a read
/// holds many small frames. While a too-long frame is discarded, the last bytes that may
/// start a delimiter are kept.
#[derive(Clone, Debug)]
pub struct DelimiterBasedFrameDecoder {
    delimiters: Vec<Bytes>,
    split: Splitter,
    /// The longest delimiter's length.
    longest: usize,
    /// Per delimiter, what the searches so far know of the input (indices into it).
    known: Vec<Known>,
    /// The line decoder used for exactly `\n` and `\r\n`.
    lines: Option<LineBasedFrameDecoder>,
}

impl DelimiterBasedFrameDecoder {
    /// A decoder of frames of at most `max_frame_length` bytes, each ending with one of
    /// `delimiters` (copied).
    ///
    /// # Errors
    /// `InvalidArgument` if `max_frame_length` is 0, `delimiters` is empty, or one of them is
    /// empty.
    pub fn new<D: AsRef<[u8]>>(
        max_frame_length: usize,
        delimiters: &[D],
    ) -> Result<DelimiterBasedFrameDecoder, Failure> {
        if max_frame_length == 0 {
            return Err(invalid("max_frame_length must be greater than 0"));
        }
        if delimiters.is_empty() {
            return Err(invalid("at least one delimiter is needed"));
        }
        if delimiters.iter().any(|d| d.as_ref().is_empty()) {
            return Err(invalid("a delimiter must not be empty"));
        }
        let delimiters: Vec<Bytes> = delimiters
            .iter()
            .map(|d| Bytes::copy_from_slice(d.as_ref()))
            .collect();
        let longest = delimiters.iter().map(Bytes::len).max().unwrap_or(1);
        let delimiters_len = delimiters.len();
        let is_lines = delimiters.len() == 2
            && delimiters.iter().any(|d| &d[..] == b"\n")
            && delimiters.iter().any(|d| &d[..] == b"\r\n");
        let lines = if is_lines {
            Some(LineBasedFrameDecoder::new(max_frame_length)?)
        } else {
            None
        };
        let mut decoder = DelimiterBasedFrameDecoder {
            delimiters,
            split: Splitter::new(max_frame_length, true, true),
            longest,
            known: vec![Known::Nothing; delimiters_len],
            lines,
        };
        decoder.configure_lines();
        Ok(decoder)
    }

    /// Whether frames exclude their delimiter (default `true`).
    pub fn with_strip_delimiter(mut self, strip_delimiter: bool) -> DelimiterBasedFrameDecoder {
        self.split.strip_delimiter = strip_delimiter;
        self.configure_lines();
        self
    }

    /// Whether a too-long frame is reported as soon as it is detected (default `true`).
    pub fn with_fail_fast(mut self, fail_fast: bool) -> DelimiterBasedFrameDecoder {
        self.split.fail_fast = fail_fast;
        self.configure_lines();
        self
    }

    /// The maximum frame length.
    pub fn max_frame_length(&self) -> usize {
        self.split.max_frame_length
    }

    /// The delimiters.
    pub fn delimiters(&self) -> &[Bytes] {
        &self.delimiters
    }

    /// Passes the options on to the line decoder, if one is used.
    fn configure_lines(&mut self) {
        if let Some(lines) = self.lines.take() {
            self.lines = Some(
                lines
                    .with_strip_delimiter(self.split.strip_delimiter)
                    .with_fail_fast(self.split.fail_fast),
            );
        }
    }

    /// The first delimiter in `input`: where it starts and its length (the shortest frame
    /// wins; the first listed on a tie). Records what each search found in `known`.
    fn find(&mut self, input: &Cumulation) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for (delimiter, known) in self.delimiters.iter().zip(self.known.iter_mut()) {
            let at = match *known {
                Known::At(at) => Some(at),
                Known::NoneBefore(from) => input.find(delimiter, from),
                Known::Nothing => input.find(delimiter, 0),
            };
            *known = match at {
                Some(at) => Known::At(at),
                // Not found: one that starts in its last `len - 1` bytes may be incomplete.
                None => Known::NoneBefore((input.len() + 1).saturating_sub(delimiter.len())),
            };
            if let Some(at) = at {
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, delimiter.len()));
                }
            }
        }
        best
    }

    /// `consumed` bytes left the front of the input: what `known` says moves with them
    /// (a delimiter found inside them is searched again).
    fn consumed(&mut self, consumed: usize) {
        if consumed == 0 {
            return;
        }
        for known in &mut self.known {
            *known = match *known {
                Known::At(at) if at >= consumed => Known::At(at - consumed),
                Known::NoneBefore(from) => Known::NoneBefore(from.saturating_sub(consumed)),
                _ => Known::Nothing,
            };
        }
    }
}

/// What the searches for one delimiter know of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    /// Nothing: search it all.
    Nothing,
    /// Its first occurrence starts here.
    At(usize),
    /// No occurrence starts before this index.
    NoneBefore(usize),
}

impl Decoder for DelimiterBasedFrameDecoder {
    fn decode(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        if let Some(lines) = self.lines.as_mut() {
            return lines.decode(ctx, input, out);
        }
        let before = input.len();
        let result = match self.find(input) {
            Some((at, delimiter)) => self.split.found(input, at, delimiter, out),
            // The last bytes may be the start of a delimiter: they do not count yet.
            None => self.split.missing(input, self.longest - 1),
        };
        self.consumed(before - input.len());
        result
    }

    fn reset(&mut self) {
        self.known.fill(Known::Nothing);
        self.split.reset();
        if let Some(lines) = self.lines.as_mut() {
            lines.reset();
        }
    }
}
