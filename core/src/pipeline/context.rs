//! [`Context`]: a handler's place in a pipeline (Netty's `ChannelHandlerContext`).
//!
//! Inbound events (`fire_*`) go from a context to the next handler towards the tail that
//! takes them; outbound operations (`bind` … `flush`) go from a context to the next handler
//! towards the head that takes them. On the channel's loop thread the next handler runs
//! inside the call; from another thread the call is queued to the loop and keeps its order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use super::cell::LoopCell;
use super::channel::Channel;
use super::handler::{ChannelHandler, HandlerResult, Mask};
use super::message::{ChannelAddress, Message, UserEvent};
use crate::ErrorKind;
use crate::event_loop::{EventLoop, Failure, Promise};

/// Handler state: added to the list, `handler_added` not called yet (events pass it by).
const PENDING: u8 = 0;
/// `handler_added` was called: the handler takes events.
const ADDED: u8 = 1;
/// Removed: events pass it by; `handler_removed` was called if `handler_added` was.
const REMOVED: u8 = 2;

/// A handler's place in a channel's pipeline. Cloning gives another handle to the same
/// context. Thread-safe: every method may be called from any thread (work is queued to the
/// channel's loop); once the handler is removed, operations started here find no handler
/// towards the head or tail and fail with `Closed` once the channel is torn down.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    name: Arc<str>,
    handler: LoopHandler,
    mask: u32,
    channel: Channel,
    links: LoopCell<Links>,
    state: AtomicU8,
    /// The binding layer's own object for the context (a C handle, a Python wrapper).
    binding: std::sync::Mutex<Option<Box<dyn std::any::Any + Send + Sync>>>,
}

/// A handler, called on its channel's loop thread only (so it need only be `Send`).
struct LoopHandler(Box<dyn ChannelHandler>);

// SAFETY: the handler is only ever called on the channel's loop thread (`invoke_*` and
// `call_handler_*` run there); other threads only move the box or drop it, which `Send`
// allows, or call `as_any`, whose only non-default answer is a `Sync` handler itself.
unsafe impl Sync for LoopHandler {}

/// A context's neighbours. A removed context keeps them, so an event in flight through it
/// goes on (as in Netty); they are cleared when the channel is torn down.
#[derive(Clone, Default)]
pub(crate) struct Links {
    pub(crate) prev: Option<Context>,
    pub(crate) next: Option<Context>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.inner.name)
            .field("channel", &self.inner.channel.id())
            .finish_non_exhaustive()
    }
}

/// An inbound event on its way.
pub(crate) enum Inbound {
    Registered,
    Unregistered,
    Active,
    Inactive,
    Read(Message),
    ReadComplete,
    UserEvent(UserEvent),
    WritabilityChanged,
    Exception(Failure),
}

impl Inbound {
    fn mask(&self) -> u32 {
        match self {
            Inbound::Registered => Mask::REGISTERED.0,
            Inbound::Unregistered => Mask::UNREGISTERED.0,
            Inbound::Active => Mask::ACTIVE.0,
            Inbound::Inactive => Mask::INACTIVE.0,
            Inbound::Read(_) => Mask::READ.0,
            Inbound::ReadComplete => Mask::READ_COMPLETE.0,
            Inbound::UserEvent(_) => Mask::USER_EVENT.0,
            Inbound::WritabilityChanged => Mask::WRITABILITY_CHANGED.0,
            Inbound::Exception(_) => Mask::EXCEPTION.0,
        }
    }
}

/// An outbound operation on its way.
pub(crate) enum Outbound {
    Bind(ChannelAddress, Option<Promise>),
    /// The remote and local addresses, boxed: a connect is rare, and the operation moves by
    /// value through every handler, so its size is what a write costs.
    Connect(
        Box<(ChannelAddress, Option<ChannelAddress>)>,
        Option<Promise>,
    ),
    Disconnect(Option<Promise>),
    Close(Option<Promise>),
    Read,
    Write(Message, Option<Promise>),
    Flush,
}

impl Outbound {
    fn mask(&self) -> u32 {
        match self {
            Outbound::Bind(..) => Mask::BIND.0,
            Outbound::Connect(..) => Mask::CONNECT.0,
            Outbound::Disconnect(_) => Mask::DISCONNECT.0,
            Outbound::Close(_) => Mask::CLOSE.0,
            Outbound::Read => Mask::READ_OP.0,
            Outbound::Write(..) => Mask::WRITE.0,
            Outbound::Flush => Mask::FLUSH.0,
        }
    }

    /// The operation's promise (a second handle to it).
    pub(crate) fn promise(&self) -> Option<Promise> {
        match self {
            Outbound::Bind(_, p)
            | Outbound::Connect(_, p)
            | Outbound::Disconnect(p)
            | Outbound::Close(p)
            | Outbound::Write(_, p) => p.clone(),
            Outbound::Read | Outbound::Flush => None,
        }
    }

    /// Ends the operation that found no handler to take it (the pipeline is torn down): a
    /// close or disconnect succeeds (the channel is closed: close is idempotent), anything
    /// else fails with `Closed`.
    pub(crate) fn fail_unhandled(self) {
        match self {
            Outbound::Close(Some(p)) | Outbound::Disconnect(Some(p)) => {
                p.try_success(None);
            }
            op => {
                if let Some(p) = op.promise() {
                    p.try_failure(Failure::new(ErrorKind::Closed.into()));
                }
            }
        }
    }
}

impl Context {
    pub(crate) fn new(
        name: Arc<str>,
        handler: Box<dyn ChannelHandler>,
        channel: Channel,
    ) -> Context {
        let mask = handler.mask().0;
        Context {
            inner: Arc::new(ContextInner {
                name,
                handler: LoopHandler(handler),
                mask,
                channel,
                links: LoopCell::new(Links::default()),
                state: AtomicU8::new(PENDING),
                binding: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The context's name in its pipeline.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The channel.
    pub fn channel(&self) -> &Channel {
        &self.inner.channel
    }

    /// The channel's pipeline.
    pub fn pipeline(&self) -> super::Pipeline {
        self.inner.channel.pipeline()
    }

    /// The loop the handler runs on.
    pub fn executor(&self) -> &EventLoop {
        self.inner.channel.event_loop()
    }

    /// The handler, if it is a `T` that shows itself through
    /// [`ChannelHandler::as_any`] (a binding's own handler type).
    pub fn handler_as<T: std::any::Any>(&self) -> Option<&T> {
        self.inner.handler.0.as_any()?.downcast_ref()
    }

    /// Whether the handler was removed from its pipeline.
    pub fn is_removed(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == REMOVED
    }

    /// A new promise whose listeners run on the channel's loop.
    pub fn new_promise(&self) -> Promise {
        self.inner.channel.new_promise()
    }

    /// The binding layer's object for this context (see [`set_binding`](Self::set_binding)).
    pub fn with_binding<R>(
        &self,
        f: impl FnOnce(Option<&(dyn std::any::Any + Send + Sync)>) -> R,
    ) -> R {
        f(crate::sync::lock(&self.inner.binding).as_deref())
    }

    /// Stores the binding layer's object for this context (a C handle, a Python wrapper);
    /// it is dropped with the context.
    pub fn set_binding(&self, value: Option<Box<dyn std::any::Any + Send + Sync>>) {
        let old = std::mem::replace(&mut *crate::sync::lock(&self.inner.binding), value);
        drop(old);
    }

    /// Whether both values are the same context.
    pub fn same(&self, other: &Context) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn links(&self) -> &LoopCell<Links> {
        &self.inner.links
    }

    pub(crate) fn mark_added(&self) {
        self.inner.state.store(ADDED, Ordering::Release);
    }

    // ---- inbound ----

    /// Passes `channel_registered` to the next handler towards the tail.
    pub fn fire_channel_registered(&self) {
        self.fire(Inbound::Registered);
    }

    /// Passes `channel_unregistered` on.
    pub fn fire_channel_unregistered(&self) {
        self.fire(Inbound::Unregistered);
    }

    /// Passes `channel_active` on.
    pub fn fire_channel_active(&self) {
        self.fire(Inbound::Active);
    }

    /// Passes `channel_inactive` on.
    pub fn fire_channel_inactive(&self) {
        self.fire(Inbound::Inactive);
    }

    /// Passes a read message on (moving it to the next handler).
    pub fn fire_channel_read(&self, msg: Message) {
        self.fire(Inbound::Read(msg));
    }

    /// Passes `channel_read_complete` on.
    pub fn fire_channel_read_complete(&self) {
        self.fire(Inbound::ReadComplete);
    }

    /// Passes a user event on.
    pub fn fire_user_event_triggered(&self, event: UserEvent) {
        self.fire(Inbound::UserEvent(event));
    }

    /// Passes `channel_writability_changed` on.
    pub fn fire_channel_writability_changed(&self) {
        self.fire(Inbound::WritabilityChanged);
    }

    /// Passes an exception on.
    pub fn fire_exception_caught(&self, failure: Failure) {
        self.fire(Inbound::Exception(failure));
    }

    /// Sends `event` to the next handler after this one that takes it; queued to the loop
    /// from another thread.
    pub(crate) fn fire(&self, event: Inbound) {
        let Some(_inline) = self.inner.channel.inline() else {
            let ctx = self.clone();
            self.inner.channel.run_later(move || ctx.fire(event));
            return;
        };
        if let Some(next) = self.next_with(event.mask()) {
            next.invoke_inbound(event);
        }
    }

    /// The next context towards the tail whose mask has `bit`.
    fn next_with(&self, bit: u32) -> Option<Context> {
        let mut current: &ContextInner = &self.inner;
        loop {
            // SAFETY: on the loop's thread (the callers checked), and the walk only reads.
            let next = unsafe { current.links.peek() }.next.as_ref()?;
            if next.inner.mask & bit != 0 {
                return Some(next.clone());
            }
            current = &next.inner;
        }
    }

    /// The next context towards the head whose mask has `bit`.
    fn prev_with(&self, bit: u32) -> Option<Context> {
        let mut current: &ContextInner = &self.inner;
        loop {
            // SAFETY: as in `next_with`.
            let prev = unsafe { current.links.peek() }.prev.as_ref()?;
            if prev.inner.mask & bit != 0 {
                return Some(prev.clone());
            }
            current = &prev.inner;
        }
    }

    /// Runs this context's handler for `event` (or passes it by while the handler is not
    /// added). A failing callback goes to the same handler's `exception_caught`; a failing
    /// `exception_caught` is only reported.
    pub(crate) fn invoke_inbound(&self, event: Inbound) {
        if self.inner.state.load(Ordering::Acquire) != ADDED {
            return self.fire(event);
        }
        let handler = &*self.inner.handler.0;
        let result = match event {
            Inbound::Exception(failure) => {
                if let Err(failure) = handler.exception_caught(self, failure) {
                    super::channel::report_unhandled(&self.inner.channel, &failure);
                }
                return;
            }
            Inbound::Registered => handler.channel_registered(self),
            Inbound::Unregistered => handler.channel_unregistered(self),
            Inbound::Active => handler.channel_active(self),
            Inbound::Inactive => handler.channel_inactive(self),
            Inbound::Read(msg) => handler.channel_read(self, msg),
            Inbound::ReadComplete => handler.channel_read_complete(self),
            Inbound::UserEvent(event) => handler.user_event_triggered(self, event),
            Inbound::WritabilityChanged => handler.channel_writability_changed(self),
        };
        if let Err(failure) = result {
            // A handler that removed itself inside the callback gets no event after it, its
            // own exception callback included: its failure goes on to the next handler.
            if self.inner.state.load(Ordering::Acquire) != ADDED {
                return self.fire(Inbound::Exception(failure));
            }
            if let Err(failure) = handler.exception_caught(self, failure) {
                super::channel::report_unhandled(&self.inner.channel, &failure);
            }
        }
    }

    // ---- outbound ----

    /// Binds, through the handlers towards the head.
    pub fn bind(&self, local: ChannelAddress, promise: Option<Promise>) {
        self.outbound(Outbound::Bind(local, promise));
    }

    /// Connects to `remote` (from `local`, if given), through the handlers towards the head.
    pub fn connect(
        &self,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    ) {
        self.outbound(Outbound::Connect(Box::new((remote, local)), promise));
    }

    /// Disconnects (a TCP channel closes).
    pub fn disconnect(&self, promise: Option<Promise>) {
        self.outbound(Outbound::Disconnect(promise));
    }

    /// Closes the channel. Safe from anywhere, inside a handler too; a second close completes
    /// its promise with the first's outcome.
    pub fn close(&self, promise: Option<Promise>) {
        self.outbound(Outbound::Close(promise));
    }

    /// Asks for a read batch (with auto-read off: one batch per call, coalesced).
    pub fn read(&self) {
        self.outbound(Outbound::Read);
    }

    /// Writes `msg`; it waits in the outbound buffer until a flush. `promise` (optional)
    /// completes once the message is handed to the kernel, or fails once; a write without
    /// one fires the exception event if it fails.
    pub fn write(&self, msg: Message, promise: Option<Promise>) {
        self.outbound(Outbound::Write(msg, promise));
    }

    /// Flushes what was written.
    pub fn flush(&self) {
        self.outbound(Outbound::Flush);
    }

    /// [`write`](Self::write), then [`flush`](Self::flush).
    pub fn write_and_flush(&self, msg: Message, promise: Option<Promise>) {
        self.write(msg, promise);
        self.flush();
    }

    /// Sends `op` to the next handler before this one that takes it; queued to the loop from
    /// another thread (a write's bytes are counted now).
    pub(crate) fn outbound(&self, op: Outbound) {
        let channel = &self.inner.channel;
        let Some(_inline) = channel.inline() else {
            let ctx = self.clone();
            channel.run_outbound_later(op, move |op| ctx.outbound(op));
            return;
        };
        match self.prev_with(op.mask()) {
            Some(prev) => prev.invoke_outbound(op),
            None => op.fail_unhandled(),
        }
    }

    /// Runs this context's handler for `op` (or passes it by while the handler is not
    /// added). A failing callback fails the operation's promise, or fires the exception
    /// event when it has none (read, flush, a write without a promise).
    pub(crate) fn invoke_outbound(&self, op: Outbound) {
        if self.inner.state.load(Ordering::Acquire) != ADDED {
            return self.outbound(op);
        }
        let promise = op.promise();
        let handler = &*self.inner.handler.0;
        let result: HandlerResult = match op {
            Outbound::Bind(local, p) => handler.bind(self, local, p),
            Outbound::Connect(addresses, p) => {
                let (remote, local) = *addresses;
                handler.connect(self, remote, local, p)
            }
            Outbound::Disconnect(p) => handler.disconnect(self, p),
            Outbound::Close(p) => handler.close(self, p),
            Outbound::Read => handler.read(self),
            Outbound::Write(msg, p) => handler.write(self, msg, p),
            Outbound::Flush => handler.flush(self),
        };
        if let Err(failure) = result {
            match promise {
                Some(p) => {
                    p.try_failure(failure);
                }
                None => self.inner.channel.pipeline().fire_exception_caught(failure),
            }
        }
    }

    // ---- handler_added / handler_removed ----

    /// Calls `handler_added` once, unless the handler was removed first. A failure removes
    /// the handler again and fires the exception event (as Netty does).
    pub(crate) fn call_handler_added(&self) {
        if self
            .inner
            .state
            .compare_exchange(PENDING, ADDED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        if let Err(failure) = self.inner.handler.0.handler_added(self) {
            let pipeline = self.pipeline();
            let _ = pipeline.remove_context(self);
            pipeline.fire_exception_caught(failure);
        }
    }

    /// Marks the handler removed and calls `handler_removed` if `handler_added` was called.
    /// Returns what that call failed with.
    pub(crate) fn call_handler_removed(&self) -> Option<Failure> {
        if self.inner.state.swap(REMOVED, Ordering::AcqRel) != ADDED {
            return None;
        }
        self.inner.handler.0.handler_removed(self).err()
    }
}
