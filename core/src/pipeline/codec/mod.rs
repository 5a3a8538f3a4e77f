//! Codecs: handlers that turn the bytes TCP delivers into messages and back (Netty's
//! codec-base).
//!
//! - Bases for writing one's own codec: [`Decoder`] + [`ByteToMessageDecoder`] (cumulate,
//!   decode while there is progress, hand the rest on at removal or end of input) over a
//!   [`Cumulation`]; [`Encoder`] + [`MessageToByteEncoder`].
//! - Framing: [`LineBasedFrameDecoder`], [`DelimiterBasedFrameDecoder`],
//!   [`LengthFieldBasedFrameDecoder`] with its encoder [`LengthFieldPrepender`],
//!   [`FixedLengthFrameDecoder`].
//! - Strings: [`StringDecoder`] (UTF-8 frames to [`Text`] messages, lossy or strict) and
//!   [`StringEncoder`].
//! - Idle state: [`IdleStateHandler`] (an [`IdleStateEvent`] when a connection has been idle
//!   that long), [`ReadTimeoutHandler`] and [`WriteTimeoutHandler`] (close with a timeout
//!   error), on the channel's timers (an embedded channel's virtual clock).
//!
//! Each framing decoder is a [`Decoder`]; [`Decoder::into_handler`] wraps it in the handler a
//! pipeline takes. Constructors check their configuration and refuse a bad one with an
//! `InvalidArgument` [`Failure`] whose detail is a `String` saying what is wrong
//! ([`failure_message`] reads it).
//!
//! # Errors in the stream
//! A frame longer than its decoder's maximum is discarded without ever being held whole
//! (discard mode: bytes are dropped as they arrive) and reported once, as
//! [`ErrorKind::FrameTooLong`] through the exception event, either as soon as the length is
//! known to exceed (fail fast) or once the frame has been skipped; the next frame decodes. A
//! length field that is negative, or shorter than the frame's own header after adjustment
//! and stripping, is [`ErrorKind::CorruptedFrame`]: the header is skipped and decoding goes
//! on with what follows. A strict [`StringDecoder`] reports [`ErrorKind::MalformedInput`].
//! Each failure carries a `String` detail.
//!
//! # Frames share the bytes read
//! A frame that lies in one read is a slice of the loop's receive memory (no copy). A handler
//! that keeps small frames for long (a cache, a queue of pending requests) keeps that memory
//! alive with them: copy what is kept ([`Buffer::copy_from_slice`](super::Buffer::copy_from_slice)),
//! as Netty users copy a retained slice they keep.
//!
//! # Examples
//!
//! A line server's chain (line framing, UTF-8 strings, the user's handler) on an
//! [`EmbeddedChannel`](super::EmbeddedChannel):
//!
//! ```
//! use nioxide_core::pipeline::codec::{
//!     Decoder, Encoder, LineBasedFrameDecoder, StringDecoder, StringEncoder,
//! };
//! use nioxide_core::pipeline::{
//!     ChannelHandler, Context, EmbeddedChannel, HandlerResult, Mask, Message,
//! };
//!
//! /// Answers each line with its length.
//! struct Lengths;
//!
//! impl ChannelHandler for Lengths {
//!     fn mask(&self) -> Mask {
//!         Mask::READ | Mask::READ_COMPLETE
//!     }
//!     fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
//!         let line = msg.as_str().unwrap_or_default();
//!         ctx.write(Message::text(format!("{}\n", line.chars().count())), None);
//!         Ok(())
//!     }
//!     fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
//!         ctx.flush();
//!         Ok(())
//!     }
//! }
//!
//! let channel = EmbeddedChannel::new(vec![
//!     LineBasedFrameDecoder::new(1024).unwrap().into_handler().boxed(),
//!     Box::new(StringDecoder::new()),
//!     StringEncoder::new().into_handler().boxed(),
//!     Box::new(Lengths),
//! ])
//! .unwrap();
//! // Two lines, the second split across reads.
//! channel.write_inbound([Message::copy_from_slice(b"h\xc3\xa9llo\r\nwor")]).unwrap();
//! channel.write_inbound([Message::copy_from_slice(b"ld\n")]).unwrap();
//! let first = channel.read_outbound().unwrap();
//! assert_eq!(first.as_buffer().unwrap().as_slice(), b"5\n");
//! let second = channel.read_outbound().unwrap();
//! assert_eq!(second.as_buffer().unwrap().as_slice(), b"5\n");
//! assert!(!channel.finish().unwrap());
//! ```
//!
//! Closing connections that stay silent, tested on an embedded channel's virtual clock:
//!
//! ```
//! use std::time::Duration;
//! use nioxide_core::pipeline::codec::{IdleStateEvent, IdleStateHandler};
//! use nioxide_core::pipeline::{ChannelHandler, Context, EmbeddedChannel, HandlerResult, UserEvent};
//!
//! /// Closes the channel at its first reader-idle event.
//! struct CloseWhenIdle;
//!
//! impl ChannelHandler for CloseWhenIdle {
//!     fn user_event_triggered(&self, ctx: &Context, event: UserEvent) -> HandlerResult {
//!         if let UserEvent::Idle(IdleStateEvent::FIRST_READER_IDLE_STATE_EVENT) = event {
//!             ctx.close(None);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let idle = IdleStateHandler::new(Duration::from_secs(30), Duration::ZERO, Duration::ZERO);
//! let channel = EmbeddedChannel::new(vec![Box::new(idle), Box::new(CloseWhenIdle)]).unwrap();
//! channel.advance_time_by(Duration::from_secs(29));
//! assert!(channel.channel().is_open());
//! channel.advance_time_by(Duration::from_secs(1));
//! assert!(!channel.channel().is_open());
//! ```

mod cumulation;
mod decoder;
mod delimiter;
mod encoder;
mod fixed_length;
mod idle;
mod length_field;
mod line;
mod split;
mod string;

#[cfg(test)]
mod tests;

pub use cumulation::{Cumulation, KEEP_CAPACITY};
pub use decoder::{ByteToMessageDecoder, Decoder};
pub use delimiter::DelimiterBasedFrameDecoder;
pub use encoder::{Encoder, MessageToByteEncoder};
pub use fixed_length::FixedLengthFrameDecoder;
pub use idle::{
    IdleState, IdleStateEvent, IdleStateHandler, MIN_TIMEOUT, ReadTimeoutHandler, TimeoutKind,
    WriteTimeoutHandler,
};
pub use length_field::{ByteOrder, LengthFieldBasedFrameDecoder, LengthFieldPrepender};
pub use line::LineBasedFrameDecoder;
pub use string::{StringDecoder, StringEncoder, Text};

use crate::ErrorKind;
use crate::event_loop::Failure;

/// A failure of `kind` whose detail is `message` (a `String`).
pub(crate) fn failure(kind: ErrorKind, message: String) -> Failure {
    Failure {
        error: kind.into(),
        detail: Some(Box::new(message)),
    }
}

/// A refused configuration: `InvalidArgument` with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    failure(ErrorKind::InvalidArgument, message.into())
}

/// The `String` detail a codec attached to a failure (a refused configuration, a frame too
/// long, a corrupted frame, malformed input), if it has one.
pub fn failure_message(failure: &Failure) -> Option<&str> {
    failure
        .detail
        .as_ref()?
        .downcast_ref::<String>()
        .map(String::as_str)
}

/// The failure for a frame of `length` bytes over `max` (`None`: length not known yet,
/// more than `max`).
pub(crate) fn too_long(length: Option<u128>, max: usize) -> Failure {
    let message = match length {
        Some(length) => format!("frame length {length} exceeds the maximum {max}"),
        None => format!("frame length exceeds the maximum {max}; discarding"),
    };
    failure(ErrorKind::FrameTooLong, message)
}
