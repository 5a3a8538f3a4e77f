//! [`Encoder`] (the user's encode step) and [`MessageToByteEncoder`] (the handler that runs it
//! on writes: Netty's `MessageToByteEncoder`).

use std::cell::RefCell;

use bytes::Bytes;

use super::super::context::Context;
use super::super::handler::{ChannelHandler, HandlerResult, Mask};
use super::super::message::{Buffer, Message};
use super::invalid;
use crate::event_loop::{Failure, Promise};

/// An encode step: turns the messages it accepts into bytes (Netty's `encode` method). Runs
/// on the channel's loop thread; it must be `Send` to move there.
pub trait Encoder: Send + 'static {
    /// Whether this encoder takes `msg` (the others pass by unchanged). By default, all.
    fn accepts(&self, msg: &Message) -> bool {
        let _ = msg;
        true
    }

    /// Encodes `msg` into buffers pushed to `out`, written in order with the message's
    /// promise. Several buffers are written as they are (a header and a body need not be
    /// copied together); none writes an empty buffer, so the promise still completes.
    ///
    /// # Errors
    /// A failure fails the write's promise (or fires the exception event when it has none);
    /// what was pushed to `out` is released and nothing is written.
    fn encode(&mut self, ctx: &Context, msg: Message, out: &mut Vec<Buffer>) -> HandlerResult;

    /// Encodes `msg` into `out` if this encoder takes it, or gives it back (`Ok(Some(msg))`)
    /// to pass it by unchanged: for an encoder that can only tell by trying (a C encode
    /// callback). By default asks [`accepts`](Self::accepts), then calls
    /// [`encode`](Self::encode). What a pass left in `out` is released.
    ///
    /// # Errors
    /// As [`encode`](Self::encode).
    fn encode_or_pass(
        &mut self,
        ctx: &Context,
        msg: Message,
        out: &mut Vec<Buffer>,
    ) -> Result<Option<Message>, Failure> {
        if !self.accepts(&msg) {
            return Ok(Some(msg));
        }
        self.encode(ctx, msg, out).map(|()| None)
    }

    /// This encoder in a [`MessageToByteEncoder`] handler, ready for a pipeline.
    fn into_handler(self) -> MessageToByteEncoder<Self>
    where
        Self: Sized,
    {
        MessageToByteEncoder::new(self)
    }
}

/// A handler that encodes the messages its [`Encoder`] accepts and writes the bytes with the
/// original promise; other messages pass by. When an encoding is several buffers, the
/// promise fails if any of them fails and succeeds with the last one (writes complete in
/// order).
///
/// Thread safety: a handler, used on its channel's loop thread only; its state lives in cells.
pub struct MessageToByteEncoder<E: Encoder> {
    encoder: RefCell<E>,
    /// The buffers of one encoding, reused from write to write.
    out: RefCell<Vec<Buffer>>,
}

impl<E: Encoder> MessageToByteEncoder<E> {
    /// A handler encoding with `encoder`.
    pub fn new(encoder: E) -> MessageToByteEncoder<E> {
        MessageToByteEncoder {
            encoder: RefCell::new(encoder),
            out: RefCell::new(Vec::new()),
        }
    }

    /// The handler as a boxed [`ChannelHandler`], for a pipeline.
    pub fn boxed(self) -> Box<dyn ChannelHandler> {
        Box::new(self)
    }

    /// Runs `f` with the encoder while no `encode` runs (`None` while one does).
    pub fn with_encoder<R>(&self, f: impl FnOnce(&mut E) -> R) -> Option<R> {
        let mut encoder = self.encoder.try_borrow_mut().ok()?;
        Some(f(&mut encoder))
    }
}

/// A promise for a leading part of a write: its failure fails `whole`.
fn part_promise(ctx: &Context, whole: &Promise) -> Promise {
    let part = ctx.new_promise();
    let whole = whole.clone();
    part.add_listener(Box::new(move |p: &Promise| {
        if let Some(error) = p.cause() {
            whole.try_failure(Failure::new(error));
        }
    }));
    part
}

impl<E: Encoder> ChannelHandler for MessageToByteEncoder<E> {
    fn mask(&self) -> Mask {
        Mask::WRITE
    }

    fn write(&self, ctx: &Context, msg: Message, mut promise: Option<Promise>) -> HandlerResult {
        let Ok(mut encoder) = self.encoder.try_borrow_mut() else {
            return Err(invalid("a write re-entered its encoder while it encoded"));
        };
        let mut out = self
            .out
            .try_borrow_mut()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default();
        let result = encoder.encode_or_pass(ctx, msg, &mut out);
        drop(encoder);
        let passed = match result {
            Ok(passed) => passed,
            Err(failure) => {
                out.clear();
                self.give_back(out);
                return Err(failure);
            }
        };
        if let Some(msg) = passed {
            out.clear();
            self.give_back(out);
            ctx.write(msg, promise);
            return Ok(());
        }
        let count = out.len();
        if count == 0 {
            ctx.write(Message::Buffer(Buffer::from_bytes(Bytes::new())), promise);
        } else {
            for (i, buffer) in out.drain(..).enumerate() {
                let part = if i + 1 == count {
                    promise.take()
                } else {
                    promise.as_ref().map(|whole| part_promise(ctx, whole))
                };
                ctx.write(Message::Buffer(buffer), part);
            }
        }
        self.give_back(out);
        Ok(())
    }
}

impl<E: Encoder> MessageToByteEncoder<E> {
    /// Keeps the (empty) vector for the next write.
    fn give_back(&self, out: Vec<Buffer>) {
        if let Ok(mut slot) = self.out.try_borrow_mut() {
            *slot = out;
        }
    }
}

impl<E: Encoder> std::fmt::Debug for MessageToByteEncoder<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageToByteEncoder")
            .finish_non_exhaustive()
    }
}
