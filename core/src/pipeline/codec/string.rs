//! Strings: [`Text`] (the string message), [`StringDecoder`] (UTF-8 frames to text) and
//! [`StringEncoder`] (text to bytes): Netty's `StringDecoder`/`StringEncoder` for UTF-8.
//!
//! Decode after framing (a framing decoder before the string decoder), so a multi-byte
//! sequence is never split between two messages.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;

use super::super::context::Context;
use super::super::handler::{ChannelHandler, HandlerResult, Mask};
use super::super::message::{Buffer, Message};
use super::encoder::Encoder;
use super::{failure, invalid};
use crate::ErrorKind;

/// A string message: UTF-8 text over shared bytes (a decoded frame is not copied when it is
/// valid UTF-8). It travels as a [`Message::User`]; [`Message::text`] makes one and
/// [`Message::as_str`] reads it. Cloning shares the bytes. Thread-safe.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text {
    /// Valid UTF-8, always.
    bytes: Bytes,
}

impl Text {
    /// Text holding `s` (no copy).
    pub fn new(s: String) -> Text {
        Text {
            bytes: Bytes::from(s),
        }
    }

    /// Text over `bytes` if they are valid UTF-8 (no copy).
    ///
    /// # Errors
    /// The UTF-8 error, and the bytes back.
    pub fn from_utf8(bytes: Bytes) -> Result<Text, (std::str::Utf8Error, Bytes)> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Text { bytes }),
            Err(e) => Err((e, bytes)),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: `bytes` is valid UTF-8: every constructor checks it or takes a `String`.
        unsafe { std::str::from_utf8_unchecked(&self.bytes) }
    }

    /// The UTF-8 bytes (cloning them shares them).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::new(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s.to_owned())
    }
}

impl Message {
    /// A string message holding `text` (a [`Text`] as a user message).
    pub fn text(text: impl Into<Text>) -> Message {
        Message::User(Arc::new(text.into()))
    }

    /// The text of a string message (a [`Text`], a `String` or a `&'static str` user
    /// message), if this is one.
    pub fn as_str(&self) -> Option<&str> {
        let Message::User(value) = self else {
            return None;
        };
        let value: &(dyn Any + Send + Sync) = &**value;
        if let Some(text) = value.downcast_ref::<Text>() {
            return Some(text.as_str());
        }
        if let Some(s) = value.downcast_ref::<String>() {
            return Some(s.as_str());
        }
        value.downcast_ref::<&'static str>().copied()
    }
}

/// Decodes each buffer message as UTF-8 into a [`Text`] message; other messages pass by.
///
/// Malformed input (an overlong form, a lone continuation byte, a sequence cut short at the
/// end, a surrogate) becomes U+FFFD by default (each maximal invalid part, as
/// `String::from_utf8_lossy` does); in strict mode the frame is released and the handler
/// fails with `MalformedInput` through the exception event. Valid input is not copied.
///
/// Thread safety: a handler, used on its channel's loop thread only.
#[derive(Clone, Debug, Default)]
pub struct StringDecoder {
    strict: bool,
}

impl StringDecoder {
    /// A decoder that replaces malformed input with U+FFFD.
    pub fn new() -> StringDecoder {
        StringDecoder { strict: false }
    }

    /// A decoder that refuses malformed input (`strict`) or replaces it.
    pub fn with_strict(strict: bool) -> StringDecoder {
        StringDecoder { strict }
    }

    /// Whether malformed input is refused.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Decodes `buffer` by this decoder's rule.
    ///
    /// # Errors
    /// `MalformedInput` in strict mode, with the offset of the first bad byte in the detail.
    pub fn decode(&self, buffer: Buffer) -> Result<Text, crate::event_loop::Failure> {
        match Text::from_utf8(buffer.into_bytes()) {
            Ok(text) => Ok(text),
            Err((error, bytes)) => {
                if self.strict {
                    return Err(failure(
                        ErrorKind::MalformedInput,
                        format!(
                            "malformed UTF-8 at byte {} of a {}-byte frame",
                            error.valid_up_to(),
                            bytes.len()
                        ),
                    ));
                }
                Ok(Text::new(String::from_utf8_lossy(&bytes).into_owned()))
            }
        }
    }
}

impl ChannelHandler for StringDecoder {
    fn mask(&self) -> Mask {
        Mask::READ
    }

    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        match msg {
            Message::Buffer(buffer) => {
                let text = self.decode(buffer)?;
                ctx.fire_channel_read(Message::User(Arc::new(text)));
            }
            other => ctx.fire_channel_read(other),
        }
        Ok(())
    }
}

/// Encodes string messages ([`Text`], `String`, `&'static str`) as UTF-8 buffers, sharing a
/// [`Text`]'s bytes (no copy); other messages pass by. Use it through
/// [`Encoder::into_handler`].
#[derive(Clone, Debug, Default)]
pub struct StringEncoder;

impl StringEncoder {
    /// A UTF-8 string encoder.
    pub fn new() -> StringEncoder {
        StringEncoder
    }
}

impl Encoder for StringEncoder {
    fn accepts(&self, msg: &Message) -> bool {
        msg.as_str().is_some()
    }

    fn encode(&mut self, _ctx: &Context, msg: Message, out: &mut Vec<Buffer>) -> HandlerResult {
        if let Some(text) = msg.downcast_ref::<Text>() {
            out.push(Buffer::from_bytes(text.bytes().clone()));
            return Ok(());
        }
        let Some(s) = msg.as_str() else {
            return Err(invalid("StringEncoder encodes string messages only"));
        };
        out.push(Buffer::copy_from_slice(s.as_bytes()));
        Ok(())
    }
}
