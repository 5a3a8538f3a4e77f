//! [`Decoder`] (the user's decode step) and [`ByteToMessageDecoder`] (the handler that runs
//! it over a [`Cumulation`]: Netty's `ByteToMessageDecoder`).
//!
//! The handler cumulates each read buffer, then calls `decode` while it makes progress (it
//! consumed bytes or produced messages) and passes each produced message on right after the
//! `decode` call that produced it. What is left waits for the next read.
//!
//! - **Errors**: a `decode` that fails passes what it produced on, then fires the failure
//!   through the exception event (to the next handler) and goes on decoding if it consumed
//!   bytes, so the frame after a bad one decodes in the same read. A `decode` that produces
//!   a message without consuming anything is a bug of the decoder: it fails with
//!   `InvalidArgument` (Netty's `DecoderException`) and the loop stops for this read.
//! - **End of input**: at `channel_inactive` and at [`UserEvent::InputShutdown`] what is left
//!   is decoded once more, then handed to [`Decoder::decode_last`]; what that leaves is
//!   released (as Netty does), the decoder is told ([`Decoder::reset`]), and a read complete
//!   follows if messages were produced.
//! - **Removal**: when the handler is removed, the readable bytes are passed on as one buffer
//!   followed by a read complete (after a replacement they go through the new handler). A
//!   removal during a decode run (from inside `decode`, when the decoder replaces itself, or
//!   from a handler further on while it handles a produced message) is deferred until the
//!   current `decode` call's messages were passed on; then the rest is handed on and this
//!   decoder is not called again (Netty's "handler removed pending" state).
//! - **Re-entrancy**: a read that reaches this handler during a decode run (a handler further
//!   on fires a read into the pipeline from its head) is queued and appended to the
//!   cumulation after the current `decode` call, so bytes keep their arrival order, `decode`
//!   never sees its input change under it, and one decode runs at a time (Netty 4.2 queues
//!   such a read too; 4.1 decoded it in a nested call over the same cumulation). Queued
//!   non-buffer messages are not held back: they pass by at once.
//! - **Read complete**: with auto-read off, a batch that produced no message asks for another
//!   read (`ctx.read()`), so a frame spanning reads does not stall the connection.

use std::cell::{Cell, RefCell};

use super::super::context::Context;
use super::super::handler::{ChannelHandler, HandlerResult, Mask};
use super::super::message::{Buffer, Message, UserEvent};
use super::cumulation::Cumulation;
use crate::ErrorKind;

/// A decode step over cumulated bytes: the part of a byte-to-message decoder a user writes
/// (Netty's `decode` method). Runs on the channel's loop thread; it must be `Send` to move
/// there.
pub trait Decoder: Send + 'static {
    /// Decodes what it can from the start of `input`: consumes bytes
    /// ([`Cumulation::take`], [`Cumulation::skip`]) and pushes messages to `out`, or leaves
    /// `input` alone when it needs more bytes. It is called again while it makes progress.
    ///
    /// # Errors
    /// A failure is fired through the exception event after the messages in `out` were
    /// passed on; decoding goes on if bytes were consumed.
    fn decode(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult;

    /// Decodes at the end of input (the channel went inactive or its input was shut down),
    /// once, after `decode` made no more progress. By default calls `decode` once if bytes
    /// are left; what this leaves in `input` is released.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    fn decode_last(
        &mut self,
        ctx: &Context,
        input: &mut Cumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        if input.is_empty() {
            return Ok(());
        }
        self.decode(ctx, input, out)
    }

    /// The input's rest was released at its end (after [`decode_last`](Self::decode_last)):
    /// state kept about those bytes (a search position, an awaited length, a frame being
    /// discarded) is to be dropped, so that bytes arriving later decode from a fresh start.
    /// By default does nothing.
    fn reset(&mut self) {}

    /// This decoder in a [`ByteToMessageDecoder`] handler, ready for a pipeline.
    fn into_handler(self) -> ByteToMessageDecoder<Self>
    where
        Self: Sized,
    {
        ByteToMessageDecoder::new(self)
    }
}

/// The decoder and its input, taken out of the handler while `decode` runs.
struct Work<D> {
    decoder: D,
    input: Cumulation,
    out: Vec<Message>,
}

/// A handler that cumulates read buffers and decodes them with a [`Decoder`] (see the module
/// docs for the rules). Non-buffer messages pass by.
///
/// Thread safety: a handler, used on its channel's loop thread only; its state lives in cells.
pub struct ByteToMessageDecoder<D: Decoder> {
    /// `None` while `decode` runs (and after removal).
    work: RefCell<Option<Box<Work<D>>>>,
    /// Reads that arrived while `decode` ran, appended once it returns.
    queued: RefCell<Vec<Buffer>>,
    /// Whether `queued` holds reads (checked after every `decode` call, so kept apart).
    has_queued: Cell<bool>,
    /// Whether a decode run is under way (the work is out: re-entrant reads are queued,
    /// removal is deferred until the run ends).
    running: Cell<bool>,
    /// A removal happened during a run.
    removal_pending: Cell<bool>,
    /// Decode at most one message per read.
    single_decode: Cell<bool>,
    /// This batch brought a buffer.
    batch_read: Cell<bool>,
    /// This batch produced a message.
    batch_produced: Cell<bool>,
}

impl<D: Decoder> ByteToMessageDecoder<D> {
    /// A handler decoding with `decoder`.
    pub fn new(decoder: D) -> ByteToMessageDecoder<D> {
        ByteToMessageDecoder {
            work: RefCell::new(Some(Box::new(Work {
                decoder,
                input: Cumulation::new(),
                out: Vec::new(),
            }))),
            queued: RefCell::new(Vec::new()),
            has_queued: Cell::new(false),
            running: Cell::new(false),
            removal_pending: Cell::new(false),
            single_decode: Cell::new(false),
            batch_read: Cell::new(false),
            batch_produced: Cell::new(false),
        }
    }

    /// With `single_decode`, at most one message is decoded per read (the rest waits for the
    /// next read or the end of input): for a protocol that switches handlers after its first
    /// message. Off by default.
    pub fn with_single_decode(self, single_decode: bool) -> ByteToMessageDecoder<D> {
        self.single_decode.set(single_decode);
        self
    }

    /// Turns single-decode mode on or off (see [`with_single_decode`](Self::with_single_decode)).
    pub fn set_single_decode(&self, single_decode: bool) {
        self.single_decode.set(single_decode);
    }

    /// Whether single-decode mode is on.
    pub fn is_single_decode(&self) -> bool {
        self.single_decode.get()
    }

    /// The handler as a boxed [`ChannelHandler`], for a pipeline.
    pub fn boxed(self) -> Box<dyn ChannelHandler> {
        Box::new(self)
    }

    /// Runs `f` with the decoder while no `decode` runs (`None` while one does, or after
    /// removal): for a binding that inspects its decoder's state.
    pub fn with_decoder<R>(&self, f: impl FnOnce(&mut D) -> R) -> Option<R> {
        let mut work = self.work.try_borrow_mut().ok()?;
        work.as_mut().map(|w| f(&mut w.decoder))
    }

    /// The number of cumulated bytes waiting for more input (0 while `decode` runs).
    pub fn cumulated(&self) -> usize {
        match self.work.try_borrow() {
            Ok(work) => work.as_ref().map_or(0, |w| w.input.len()),
            Err(_) => 0,
        }
    }

    /// The memory the cumulation holds (see [`Cumulation::capacity`]).
    pub fn cumulation_capacity(&self) -> usize {
        match self.work.try_borrow() {
            Ok(work) => work.as_ref().map_or(0, |w| w.input.capacity()),
            Err(_) => 0,
        }
    }

    /// Takes the work out for a decode run; `None` if a run is under way or the handler was
    /// removed.
    fn take_work(&self) -> Option<Box<Work<D>>> {
        if self.running.get() {
            return None;
        }
        let work = self.work.borrow_mut().take()?;
        self.running.set(true);
        Some(work)
    }

    /// Appends the reads queued while the run went on; whether there were any.
    fn drain_queued(&self, input: &mut Cumulation) -> bool {
        if !self.has_queued.replace(false) {
            return false;
        }
        // Appending calls no handler, so the borrow is safe; the queue keeps its storage.
        let mut queued = self.queued.borrow_mut();
        for buffer in queued.drain(..) {
            input.append(buffer);
        }
        true
    }

    /// Passes the produced messages on.
    fn fire_out(&self, ctx: &Context, out: &mut Vec<Message>) {
        match out.len() {
            0 => return,
            // The common case (one frame per decode call) without a drain.
            1 => {
                if let Some(msg) = out.pop() {
                    ctx.fire_channel_read(msg);
                }
            }
            _ => {
                for msg in out.drain(..) {
                    ctx.fire_channel_read(msg);
                }
            }
        }
        self.batch_produced.set(true);
    }

    /// One `decode` (or `decode_last`) call; its messages are passed on at once, and a
    /// failure fired after them. Returns whether it consumed bytes, whether it produced
    /// messages, whether it failed, and whether reads arrived meanwhile.
    fn decode_once(&self, ctx: &Context, work: &mut Work<D>, last: bool) -> Step {
        let before = work.input.len();
        let result = if last {
            work.decoder
                .decode_last(ctx, &mut work.input, &mut work.out)
        } else {
            work.decoder.decode(ctx, &mut work.input, &mut work.out)
        };
        let step = Step {
            consumed: work.input.len() != before,
            produced: !work.out.is_empty(),
            failed: result.is_err(),
            grew: false,
        };
        self.fire_out(ctx, &mut work.out);
        if let Err(failure) = result {
            ctx.fire_exception_caught(failure);
        }
        Step {
            grew: self.drain_queued(&mut work.input),
            ..step
        }
    }

    /// Calls `decode` while it makes progress; returns `false` if the handler was removed
    /// meanwhile (the work is then to be handed on).
    fn decode_loop(&self, ctx: &Context, work: &mut Work<D>) -> bool {
        while !work.input.is_empty() {
            let step = self.decode_once(ctx, work, false);
            if self.removal_pending.get() {
                return false;
            }
            if step.produced && !step.consumed && !step.failed {
                ctx.fire_exception_caught(super::failure(
                    ErrorKind::InvalidArgument,
                    "decode() produced a message without consuming any bytes".to_string(),
                ));
                break;
            }
            if step.produced && self.single_decode.get() {
                break;
            }
            if !step.consumed && !step.produced && !step.grew {
                break;
            }
            if step.failed && !step.consumed && !step.grew {
                break;
            }
        }
        true
    }

    /// Puts the work back after a run, or hands it on if the handler was removed meanwhile.
    fn finish_run(&self, ctx: &Context, mut work: Box<Work<D>>, still_here: bool) {
        self.drain_queued(&mut work.input);
        self.running.set(false);
        if still_here && !self.removal_pending.get() {
            // A partial frame waits in memory of its own, not pinning the read buffer.
            work.input.unshare();
            *self.work.borrow_mut() = Some(work);
        } else {
            self.hand_on(ctx, &mut work);
        }
    }

    /// The handler is gone: its readable bytes are passed on as one buffer, then a read
    /// complete.
    fn hand_on(&self, ctx: &Context, work: &mut Work<D>) {
        self.drain_queued(&mut work.input);
        self.fire_out(ctx, &mut work.out);
        if !work.input.is_empty() {
            ctx.fire_channel_read(Message::Buffer(work.input.take_all()));
            ctx.fire_channel_read_complete();
        }
    }

    /// The input ended: decode what is left, then `decode_last`; the rest is released.
    fn input_closed(&self, ctx: &Context) {
        let Some(mut work) = self.take_work() else {
            return;
        };
        self.batch_produced.set(false);
        let mut still_here = self.decode_loop(ctx, &mut work);
        if still_here {
            self.decode_once(ctx, &mut work, true);
            still_here = !self.removal_pending.get();
        }
        if still_here {
            work.input.clear();
            work.decoder.reset();
        }
        if self.batch_produced.replace(false) {
            ctx.fire_channel_read_complete();
        }
        self.finish_run(ctx, work, still_here);
    }
}

/// What one `decode` call did.
struct Step {
    consumed: bool,
    produced: bool,
    failed: bool,
    /// Reads queued meanwhile were appended.
    grew: bool,
}

impl<D: Decoder> ChannelHandler for ByteToMessageDecoder<D> {
    fn mask(&self) -> Mask {
        Mask::READ | Mask::READ_COMPLETE | Mask::INACTIVE | Mask::USER_EVENT
    }

    fn handler_removed(&self, ctx: &Context) -> HandlerResult {
        if self.running.get() {
            self.removal_pending.set(true);
            return Ok(());
        }
        let work = self.work.borrow_mut().take();
        if let Some(mut work) = work {
            self.hand_on(ctx, &mut work);
        }
        Ok(())
    }

    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let Message::Buffer(buffer) = msg else {
            ctx.fire_channel_read(msg);
            return Ok(());
        };
        if self.running.get() {
            self.queued.borrow_mut().push(buffer);
            self.has_queued.set(true);
            return Ok(());
        }
        let Some(mut work) = self.take_work() else {
            // Removed: pass it by.
            ctx.fire_channel_read(Message::Buffer(buffer));
            return Ok(());
        };
        self.batch_read.set(true);
        work.input.append(buffer);
        let still_here = self.decode_loop(ctx, &mut work);
        self.finish_run(ctx, work, still_here);
        Ok(())
    }

    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        let read = self.batch_read.replace(false);
        let produced = self.batch_produced.replace(false);
        if read && !produced && !ctx.channel().is_auto_read() {
            ctx.read();
        }
        ctx.fire_channel_read_complete();
        Ok(())
    }

    fn channel_inactive(&self, ctx: &Context) -> HandlerResult {
        self.input_closed(ctx);
        ctx.fire_channel_inactive();
        Ok(())
    }

    fn user_event_triggered(&self, ctx: &Context, event: UserEvent) -> HandlerResult {
        if matches!(event, UserEvent::InputShutdown) {
            self.input_closed(ctx);
        }
        ctx.fire_user_event_triggered(event);
        Ok(())
    }
}

impl<D: Decoder> std::fmt::Debug for ByteToMessageDecoder<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteToMessageDecoder")
            .field("cumulated", &self.cumulated())
            .field("running", &self.running.get())
            .field("single_decode", &self.single_decode.get())
            .finish_non_exhaustive()
    }
}
