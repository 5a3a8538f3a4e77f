//! [`Channel`]: a pipeline channel (Netty's `Channel`): its identity, loop, state, pipeline,
//! outbound buffer, configuration, attachment and close future; the head and tail of its
//! pipeline; and the life cycle every kind of channel shares.
//!
//! # Life cycle
//! A channel belongs to one event loop for its whole life. Its events come in this order,
//! each at most once: `channel_registered`, `channel_active`, reads and read completes,
//! `channel_inactive` (only after `channel_active`), `channel_unregistered`, then
//! `handler_removed` from tail to head, then the close future completes. What differs
//! between kinds (TCP, local, embedded) is its [`Transport`].

use std::any::Any;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::cell::LoopCell;
use super::config::{ChannelConfig, ChannelOption};
use super::context::{Context, Inbound, Links, Outbound};
use super::handler::{ChannelHandler, HandlerResult, Mask};
use super::list::Pipeline;
use super::message::{ChannelAddress, Message, UserEvent};
use super::outbound_buffer::{Crossing, ENTRY_OVERHEAD, Entry, OutboundBuffer, WriteBudget};
use crate::channel::SocketOption;
use crate::event_loop::{EventLoop, Failure, Future, Inline, Promise, Repeat};
use crate::sync::lock;
use crate::{Error, ErrorKind, Result};

/// What kind of channel it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// A TCP connection ([`TcpChannel`](super::TcpChannel)).
    Tcp,
    /// A TCP listener ([`TcpServerChannel`](super::TcpServerChannel)).
    TcpServer,
    /// An in-memory connection ([`LocalChannel`](super::LocalChannel)).
    Local,
    /// An in-memory listener ([`LocalServerChannel`](super::LocalServerChannel)).
    LocalServer,
    /// A channel with no I/O, for tests ([`EmbeddedChannel`](super::EmbeddedChannel)).
    Embedded,
}

/// What a kind of channel does below the head of its pipeline (Netty's `Channel.Unsafe`).
/// Every method but the queries runs on the channel's loop thread.
pub(crate) trait Transport: Send + Sync + 'static {
    fn kind(&self) -> ChannelKind;
    /// Joins the loop (a TCP channel registers with its backend).
    fn register(&self, _channel: &Channel) -> Result<()> {
        Ok(())
    }
    /// Whether the transport is active now (connected; bound, for a server).
    fn is_active(&self) -> bool;
    fn bind(&self, channel: &Channel, local: ChannelAddress) -> Result<()>;
    /// Starts a connect; completes `promise` (and makes the channel active) when it is done.
    fn connect(
        &self,
        channel: &Channel,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Promise,
    );
    /// Allows one read batch (auto-read asks for the next by itself).
    fn begin_read(&self, channel: &Channel);
    /// Auto-read was switched off: stop asking for reads.
    fn auto_read_cleared(&self, _channel: &Channel) {}
    /// Whether the head may queue `msg` (a TCP channel takes buffers only).
    fn check_message(&self, _msg: &Message) -> Result<()> {
        Ok(())
    }
    /// Hands the flushed messages on (as far as the transport takes them now).
    fn flush(&self, channel: &Channel);
    /// Closes what the transport holds; called once, by the channel's close.
    fn close_transport(&self, channel: &Channel);
    fn shutdown_input(&self, _channel: &Channel) -> Result<()> {
        Err(ErrorKind::InvalidArgument.into())
    }
    fn shutdown_output(&self, _channel: &Channel) -> Result<()> {
        Err(ErrorKind::InvalidArgument.into())
    }
    fn local_address(&self) -> Option<ChannelAddress>;
    fn remote_address(&self) -> Option<ChannelAddress>;
    fn set_socket_option(&self, _opt: SocketOption, _value: i64) -> Result<()> {
        Err(ErrorKind::UnsupportedOption.into())
    }
    fn socket_option(&self, _opt: SocketOption) -> Result<i64> {
        Err(ErrorKind::UnsupportedOption.into())
    }
    /// A message reached the tail unconsumed: released (an embedded channel keeps it).
    fn unhandled_read(&self, _channel: &Channel, msg: Message) {
        if let Message::User(value) = &msg {
            // An accepted channel nobody took: closed, so it does not linger.
            if let Some(child) = value.downcast_ref::<Channel>() {
                child.close();
            }
        }
    }
    /// An exception reached the tail: given back to be reported (an embedded channel keeps
    /// it for `check_exception` instead).
    fn unhandled_exception(&self, _channel: &Channel, failure: Failure) -> Option<Failure> {
        Some(failure)
    }
    /// Runs `task` after `delay` on the channel's clock (the loop's; an embedded channel's
    /// virtual one).
    fn schedule(&self, channel: &Channel, delay: Duration, task: ChannelTask) -> Result<Future> {
        let mut task = Some(task);
        let ch = channel.clone();
        let scheduled = channel
            .event_loop()
            .schedule(delay, Repeat::Once, move |_| {
                if let Some(task) = task.take() {
                    task(&ch);
                }
                Ok(None)
            })?;
        Ok(scheduled.future().clone())
    }
    /// The channel's clock, the one [`schedule`](Self::schedule) counts on (the loop's; an
    /// embedded channel's virtual one).
    fn now(&self, channel: &Channel) -> Duration {
        channel.event_loop().now()
    }
    /// Readiness from the loop's backend (TCP channels).
    fn io_ready(&self, _channel: &Channel, _ops: u32) {}
    /// The loop shuts down: flush what can be flushed, then close.
    fn loop_closing(&self, channel: &Channel) {
        channel.close_now(None);
    }
    /// Lets the transport be found as its own type (a local channel finds its peer's
    /// transport; a TCP channel's connect timeout its own).
    fn as_any(&self) -> &dyn Any;
}

/// When [`Channel::close_when`] closes the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseWhen {
    /// Whatever the outcome.
    Always,
    /// Only if the future failed.
    OnFailure,
}

/// A task run on a channel's loop (or virtual clock) with the channel.
pub type ChannelTask = Box<dyn FnOnce(&Channel) + Send>;

static UNHANDLED_COUNT: AtomicU64 = AtomicU64::new(0);

/// How many exceptions reached a pipeline's tail, or failed an exception callback, in this
/// process so far (each loop also counts its own: [`LoopCounters::unhandled_exceptions`]).
///
/// [`LoopCounters::unhandled_exceptions`]: crate::event_loop::LoopCounters::unhandled_exceptions
pub fn unhandled_exceptions() -> u64 {
    UNHANDLED_COUNT.load(Ordering::Relaxed)
}

/// Reports an exception nobody handled through the channel's loop
/// ([`EventLoop::report_exception`]: counted, then its exception handler or standard error),
/// with the channel as its source; counted process-wide too.
pub(crate) fn report_unhandled(channel: &Channel, failure: &Failure) {
    UNHANDLED_COUNT.fetch_add(1, Ordering::Relaxed);
    channel.event_loop().report_exception(failure, channel, || {
        format!(
            "nioxide: an exception reached the tail of channel {}'s pipeline: {}",
            channel.id(),
            failure.error
        )
    });
}

/// Channel state bits.
const OPEN: u32 = 1 << 0;
const ACTIVE: u32 = 1 << 1;
const REGISTERED: u32 = 1 << 2;
const TORN_DOWN: u32 = 1 << 3;
/// `shutdown_output` succeeded: writes fail with `Shutdown`, the channel stays open.
const OUTPUT_SHUTDOWN: u32 = 1 << 4;

/// What the loop thread alone tracks of the life cycle.
#[derive(Default)]
struct Lifecycle {
    registered: bool,
    active_fired: bool,
    closing: bool,
    close_promises: Vec<Promise>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A pipeline channel. Cloning gives another handle to the same channel. Thread-safe: every
/// method may be called from any thread; operations are queued to the channel's loop and
/// keep their order (on the loop's thread they run inside the call).
#[derive(Clone)]
pub struct Channel {
    pub(crate) inner: Arc<ChannelInner>,
}

pub(crate) struct ChannelInner {
    id: u64,
    event_loop: EventLoop,
    parent: Option<Channel>,
    pub(crate) transport: Box<dyn Transport>,
    head: LoopCell<Option<Context>>,
    tail: LoopCell<Option<Context>>,
    /// The user's contexts in order (between head and tail): the names and order, kept
    /// under a lock so any thread may add and look up; the links follow on the loop.
    pub(crate) handlers: Mutex<Vec<Context>>,
    state: AtomicU32,
    life: LoopCell<Lifecycle>,
    pub(crate) outbound: LoopCell<OutboundBuffer>,
    pub(crate) budget: WriteBudget,
    pub(crate) config: ChannelConfig,
    close_future: Promise,
    attachment: Mutex<Option<Box<dyn Any + Send + Sync>>>,
    /// The binding layer's own object for the channel (a C handle, a Python weak reference).
    binding: Mutex<Option<Box<dyn Any + Send + Sync>>>,
    /// Held by a thread closing the channel after its loop terminated (nobody else runs it).
    orphan_close: Mutex<()>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.inner.id)
            .field("kind", &self.kind())
            .field("open", &self.is_open())
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

/// The head of every pipeline: outbound operations reach the transport here.
struct Head;

impl ChannelHandler for Head {
    fn mask(&self) -> Mask {
        Mask::OUTBOUND
    }
    fn bind(
        &self,
        ctx: &Context,
        local: ChannelAddress,
        promise: Option<Promise>,
    ) -> HandlerResult {
        ctx.channel().head_bind(local, promise);
        Ok(())
    }
    fn connect(
        &self,
        ctx: &Context,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    ) -> HandlerResult {
        ctx.channel().head_connect(remote, local, promise);
        Ok(())
    }
    fn disconnect(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        ctx.channel().close_now(promise);
        Ok(())
    }
    fn close(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        ctx.channel().close_now(promise);
        Ok(())
    }
    fn read(&self, ctx: &Context) -> HandlerResult {
        let channel = ctx.channel();
        if channel.is_open() {
            channel.inner.transport.begin_read(channel);
        }
        Ok(())
    }
    fn write(&self, ctx: &Context, msg: Message, promise: Option<Promise>) -> HandlerResult {
        ctx.channel().head_write(msg, promise);
        Ok(())
    }
    fn flush(&self, ctx: &Context) -> HandlerResult {
        ctx.channel().head_flush();
        Ok(())
    }
}

/// The tail of every pipeline: unconsumed messages are released, unhandled exceptions
/// reported.
struct Tail;

impl ChannelHandler for Tail {
    fn mask(&self) -> Mask {
        Mask::INBOUND
    }
    fn channel_registered(&self, _: &Context) -> HandlerResult {
        Ok(())
    }
    fn channel_unregistered(&self, _: &Context) -> HandlerResult {
        Ok(())
    }
    fn channel_active(&self, _: &Context) -> HandlerResult {
        Ok(())
    }
    fn channel_inactive(&self, _: &Context) -> HandlerResult {
        Ok(())
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let channel = ctx.channel();
        channel.inner.transport.unhandled_read(channel, msg);
        Ok(())
    }
    fn channel_read_complete(&self, _: &Context) -> HandlerResult {
        Ok(())
    }
    fn user_event_triggered(&self, _: &Context, _: UserEvent) -> HandlerResult {
        Ok(())
    }
    fn channel_writability_changed(&self, _: &Context) -> HandlerResult {
        Ok(())
    }
    fn exception_caught(&self, ctx: &Context, failure: Failure) -> HandlerResult {
        let channel = ctx.channel();
        if let Some(failure) = channel
            .inner
            .transport
            .unhandled_exception(channel, failure)
        {
            report_unhandled(channel, &failure);
        }
        Ok(())
    }
}

impl Channel {
    /// A new, unregistered channel on `event_loop` served by `transport`.
    pub(crate) fn new(
        event_loop: EventLoop,
        parent: Option<Channel>,
        transport: Box<dyn Transport>,
    ) -> Channel {
        let channel = Channel {
            inner: Arc::new(ChannelInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                close_future: Promise::new(Some(&event_loop)),
                event_loop,
                parent,
                transport,
                head: LoopCell::new(None),
                tail: LoopCell::new(None),
                handlers: Mutex::new(Vec::new()),
                state: AtomicU32::new(OPEN),
                life: LoopCell::new(Lifecycle::default()),
                outbound: LoopCell::new(OutboundBuffer::default()),
                budget: WriteBudget::default(),
                config: ChannelConfig::default(),
                attachment: Mutex::new(None),
                binding: Mutex::new(None),
                orphan_close: Mutex::new(()),
            }),
        };
        // One shared name each: a channel's head and tail cost no allocation for them.
        static HEAD: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from("head"));
        static TAIL: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from("tail"));
        let head = Context::new(HEAD.clone(), Box::new(Head), channel.clone());
        let tail = Context::new(TAIL.clone(), Box::new(Tail), channel.clone());
        head.mark_added();
        tail.mark_added();
        // Nobody else has the channel yet: this thread may set what the loop owns.
        head.links().replace(Links {
            prev: None,
            next: Some(tail.clone()),
        });
        tail.links().replace(Links {
            prev: Some(head.clone()),
            next: None,
        });
        channel.inner.head.replace(Some(head));
        channel.inner.tail.replace(Some(tail));
        channel
    }

    /// A number naming the channel, unique in the process.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The channel's kind.
    pub fn kind(&self) -> ChannelKind {
        self.inner.transport.kind()
    }

    /// The loop the channel belongs to for its whole life.
    pub fn event_loop(&self) -> &EventLoop {
        &self.inner.event_loop
    }

    /// The server channel that accepted this one, if any.
    pub fn parent(&self) -> Option<&Channel> {
        self.inner.parent.as_ref()
    }

    /// The pipeline.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.clone())
    }

    /// A new promise whose listeners run on the channel's loop.
    pub fn new_promise(&self) -> Promise {
        Promise::new(Some(&self.inner.event_loop))
    }

    /// Whether the channel is open (not closed yet).
    pub fn is_open(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & OPEN != 0
    }

    /// Whether the channel is active: connected (bound, for a server) and open.
    pub fn is_active(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & ACTIVE != 0
    }

    /// Whether the channel is registered with its loop.
    pub fn is_registered(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & REGISTERED != 0
    }

    /// Whether a write now would be queued within the high water mark: `false` from the
    /// moment the queued bytes pass the high mark until they drop below the low mark, and
    /// once the channel is closed.
    pub fn is_writable(&self) -> bool {
        self.is_open() && !self.inner.budget.is_unwritable()
    }

    /// How many bytes may be queued before the channel becomes unwritable (0 if it is).
    pub fn bytes_before_unwritable(&self) -> usize {
        if !self.is_writable() {
            return 0;
        }
        let high = self.inner.config.high.load(Ordering::Acquire);
        (high + 1).saturating_sub(self.inner.budget.bytes())
    }

    /// How many queued bytes must drain before the channel becomes writable (0 if it is).
    pub fn bytes_before_writable(&self) -> usize {
        if !self.inner.budget.is_unwritable() {
            return 0;
        }
        let low = self.inner.config.low.load(Ordering::Acquire);
        (self.inner.budget.bytes() + 1).saturating_sub(low)
    }

    /// The bytes queued for writing now (each message with its per-entry overhead).
    pub fn queued_bytes(&self) -> usize {
        self.inner.budget.bytes()
    }

    /// The local address, if bound.
    pub fn local_address(&self) -> Option<ChannelAddress> {
        self.inner.transport.local_address()
    }

    /// The peer's address, if connected.
    pub fn remote_address(&self) -> Option<ChannelAddress> {
        self.inner.transport.remote_address()
    }

    /// The future that completes (successfully) once the channel is closed and torn down:
    /// after `channel_unregistered` and every `handler_removed`. Completes once.
    pub fn close_future(&self) -> Future {
        self.inner.close_future.clone()
    }

    /// Sets an option (see [`ChannelOption`]). Switching auto-read on asks for a read;
    /// switching it off stops reading after the current batch.
    ///
    /// # Errors
    /// `InvalidArgument` (bad water marks or backlog), `UnsupportedOption` (a socket option
    /// on a channel without a socket), OS errors from the socket.
    pub fn set_option(&self, option: ChannelOption) -> Result<()> {
        let was_auto = self.inner.config.auto_read();
        if !self.inner.config.set(&option)? {
            let (opt, value) = option
                .socket_option()
                .ok_or(Error::Kind(ErrorKind::UnsupportedOption))?;
            return self.inner.transport.set_socket_option(opt, value);
        }
        if let ChannelOption::AutoRead(on) = option {
            if on && !was_auto {
                self.read();
            } else if !on && was_auto {
                let ch = self.clone();
                self.on_loop(move || ch.inner.transport.auto_read_cleared(&ch));
            }
        }
        Ok(())
    }

    /// Whether auto-read is on.
    pub fn is_auto_read(&self) -> bool {
        self.inner.config.auto_read()
    }

    /// Whether half-closure is allowed (`ALLOW_HALF_CLOSURE`).
    pub fn allows_half_closure(&self) -> bool {
        self.inner.config.half_closure()
    }

    /// The write buffer water marks (low, high).
    pub fn water_marks(&self) -> (usize, usize) {
        let c = &self.inner.config;
        (
            c.low.load(Ordering::Acquire),
            c.high.load(Ordering::Acquire),
        )
    }

    /// The hard cap on queued outbound bytes (0 = none).
    pub fn write_buffer_hard_cap(&self) -> usize {
        self.inner.config.hard_cap.load(Ordering::Acquire)
    }

    /// The connect timeout (`None`: none).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.inner.config.connect_timeout()
    }

    /// Reads a socket option of the channel's socket.
    ///
    /// # Errors
    /// `UnsupportedOption` (no socket), `Closed`, OS errors.
    pub fn socket_option(&self, opt: SocketOption) -> Result<i64> {
        self.inner.transport.socket_option(opt)
    }

    /// Sets the attachment (the C layer's pointer and free function, Python's attributes),
    /// returning the one it replaces.
    pub fn set_attachment(
        &self,
        value: Option<Box<dyn Any + Send + Sync>>,
    ) -> Option<Box<dyn Any + Send + Sync>> {
        std::mem::replace(&mut *lock(&self.inner.attachment), value)
    }

    /// Runs `f` with the attachment.
    pub fn with_attachment<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        f(lock(&self.inner.attachment).as_deref())
    }

    /// The binding layer's object for this channel (see [`set_binding`](Self::set_binding)).
    pub fn with_binding<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        f(lock(&self.inner.binding).as_deref())
    }

    /// Stores the binding layer's object for this channel (a C handle, a Python weak
    /// reference), apart from the user's attachment; it is dropped with the channel.
    pub fn set_binding(&self, value: Option<Box<dyn Any + Send + Sync>>) {
        let old = std::mem::replace(&mut *lock(&self.inner.binding), value);
        drop(old);
    }

    /// Runs `task` with the channel after `delay`, on the channel's loop (an embedded
    /// channel's virtual clock). Cancel it through the returned future.
    ///
    /// # Errors
    /// `Rejected` (the loop shuts down).
    pub fn schedule(&self, delay: Duration, task: ChannelTask) -> Result<Future> {
        self.inner.transport.schedule(self, delay, task)
    }

    /// The time on the channel's clock, the clock [`schedule`](Self::schedule) counts on:
    /// the loop's monotonic clock (time since the loop was made), or an embedded channel's
    /// virtual clock (time since the channel was made, moved by
    /// [`EmbeddedChannel::advance_time_by`](super::EmbeddedChannel::advance_time_by)). Only
    /// differences between two readings of one channel's clock mean anything. Safe from any
    /// thread.
    pub fn now(&self) -> Duration {
        self.inner.transport.now(self)
    }

    /// Whether both values are the same channel.
    pub fn same(&self, other: &Channel) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    // ---- outbound operations, from the tail ----

    /// Registers the channel with its loop: fires `channel_registered` (and
    /// `channel_active` if it is active already). The future completes once registered.
    pub fn register(&self) -> Future {
        let promise = self.new_promise();
        let ch = self.clone();
        let p = promise.clone();
        self.on_loop_or_fail(&promise, move || ch.register_now(p));
        promise
    }

    /// Binds (through the pipeline, from the tail).
    pub fn bind(&self, local: ChannelAddress) -> Future {
        let promise = self.new_promise();
        self.outbound_from_tail(Outbound::Bind(local, Some(promise.clone())));
        promise
    }

    /// Connects (through the pipeline, from the tail).
    pub fn connect(&self, remote: ChannelAddress) -> Future {
        let promise = self.new_promise();
        self.outbound_from_tail(Outbound::Connect(
            Box::new((remote, None)),
            Some(promise.clone()),
        ));
        promise
    }

    /// Closes (through the pipeline, from the tail). Safe from anywhere, inside a handler
    /// too; idempotent. The future completes with the close future.
    pub fn close(&self) -> Future {
        let promise = self.new_promise();
        self.outbound_from_tail(Outbound::Close(Some(promise.clone())));
        promise
    }

    /// Asks for a read batch (through the pipeline, from the tail).
    pub fn read(&self) {
        self.outbound_from_tail(Outbound::Read);
    }

    /// Writes `msg` (through the pipeline, from the tail); see [`Context::write`].
    pub fn write(&self, msg: Message, promise: Option<Promise>) {
        self.outbound_from_tail(Outbound::Write(msg, promise));
    }

    /// Flushes (through the pipeline, from the tail).
    pub fn flush(&self) {
        self.outbound_from_tail(Outbound::Flush);
    }

    /// [`write`](Self::write), then [`flush`](Self::flush).
    pub fn write_and_flush(&self, msg: Message, promise: Option<Promise>) {
        self.write(msg, promise);
        self.flush();
    }

    /// Shuts the output down (TCP: a half-close, the peer reads end of stream); fires
    /// [`UserEvent::OutputShutdown`]. Queued writes fail with `Shutdown`.
    pub fn shutdown_output(&self) -> Future {
        self.shutdown_side(UserEvent::OutputShutdown)
    }

    /// Shuts the input down: reading stops; fires [`UserEvent::InputShutdown`].
    pub fn shutdown_input(&self) -> Future {
        self.shutdown_side(UserEvent::InputShutdown)
    }

    /// Shuts one side down (which one `event` says), on the loop; fires `event` on success.
    fn shutdown_side(&self, event: UserEvent) -> Future {
        let promise = self.new_promise();
        let ch = self.clone();
        let p = promise.clone();
        self.on_loop_or_fail(&promise, move || {
            let output = matches!(event, UserEvent::OutputShutdown);
            let transport = &ch.inner.transport;
            let result = if output {
                transport.shutdown_output(&ch)
            } else {
                transport.shutdown_input(&ch)
            };
            match result {
                Ok(()) => {
                    if output {
                        ch.inner.state.fetch_or(OUTPUT_SHUTDOWN, Ordering::AcqRel);
                        ch.fail_outbound(ErrorKind::Shutdown.into(), false);
                    }
                    p.try_success(None);
                    ch.pipeline().fire_user_event_triggered(event);
                }
                Err(e) => {
                    p.try_failure(Failure::new(e));
                }
            }
        });
        promise
    }

    // ---- loop affinity ----

    /// The right to run the channel's work inline on this thread, or `None` (queue it): see
    /// [`EventLoop::inline`] (the loop's thread; a caller-driven loop's owner while no thread
    /// runs it, which holds the run right meanwhile, so no run starts in the middle).
    pub(crate) fn inline(&self) -> Option<Inline<'_>> {
        self.inner.event_loop.inline()
    }

    /// Queues `f` to the loop (never runs it in this call). Dropped if the loop refuses it
    /// (shutting down, from another thread; terminated).
    pub(crate) fn run_later(&self, f: impl FnOnce() + Send + 'static) {
        let _ = self.inner.event_loop.execute(move |_| f());
    }

    /// Runs `f` now on the loop's thread, else queues it.
    pub(crate) fn on_loop(&self, f: impl FnOnce() + Send + 'static) {
        match self.inline() {
            Some(_inline) => f(),
            None => self.run_later(f),
        }
    }

    /// [`on_loop`](Self::on_loop), saying whether the loop took the work (`Rejected` when it
    /// refuses it: shutting down, from another thread; terminated).
    pub(crate) fn on_loop_checked(&self, f: impl FnOnce() + Send + 'static) -> Result<()> {
        if let Some(_inline) = self.inline() {
            f();
            return Ok(());
        }
        self.inner.event_loop.execute(move |_| f())
    }

    /// [`on_loop`](Self::on_loop), failing `promise` with `Rejected` if the loop refuses.
    pub(crate) fn on_loop_or_fail(&self, promise: &Promise, f: impl FnOnce() + Send + 'static) {
        if let Some(_inline) = self.inline() {
            return f();
        }
        if let Err(e) = self.inner.event_loop.execute(move |_| f()) {
            promise.try_failure(Failure::new(e));
        }
    }

    /// Queues an outbound operation from another thread: a write's bytes count at once (and
    /// a write that would pass the hard cap fails now); a refused task fails the operation.
    pub(crate) fn run_outbound_later(
        &self,
        op: Outbound,
        f: impl FnOnce(Outbound) + Send + 'static,
    ) {
        let counted = match &op {
            Outbound::Write(msg, _) => {
                let size = msg.byte_size() + ENTRY_OVERHEAD;
                if let Err(e) = self.check_hard_cap(size) {
                    return self.fail_write(op, e);
                }
                self.count_bytes(size);
                size
            }
            _ => 0,
        };
        if matches!(op, Outbound::Close(_)) {
            return self.close_later(op, f);
        }
        let promise = op.promise();
        let ch = self.clone();
        let result = self.inner.event_loop.execute(move |_| {
            if counted > 0 {
                ch.uncount_bytes(counted);
            }
            f(op);
        });
        if let Err(e) = result {
            // The refused task dropped the operation (and released its message).
            if counted > 0 {
                self.uncount_bytes(counted);
            }
            if let Some(p) = promise {
                p.try_failure(Failure::new(e));
            }
        }
    }

    /// Queues a close from another thread as the loop's own work, which it takes until it
    /// has terminated (a close must not be lost to a shutdown: the channel would hold its
    /// socket). Once the loop has terminated nobody runs the channel any more: it closes here.
    fn close_later(&self, op: Outbound, f: impl FnOnce(Outbound) + Send + 'static) {
        let promise = op.promise();
        let mut task: Option<crate::event_loop::Task> = Some(Box::new(move |_: &EventLoop| f(op)));
        if self.inner.event_loop.execute_internal(&mut task).is_err() {
            // Terminated: the close goes straight to the channel (re-entering the pipeline
            // from here would only queue it again), by one thread at a time: a thread that
            // finds another one (or itself, re-entering) closing it leaves it to that close.
            drop(task);
            if let Ok(_closing) = self.inner.orphan_close.try_lock() {
                self.close_now(promise);
            } else if let Some(p) = promise {
                // Completes with that close.
                self.close_future()
                    .add_listener(Box::new(move |_: &Promise| {
                        p.try_success(None);
                    }));
            }
        }
    }

    // ---- pipeline entry points ----

    pub(crate) fn inbound_from_head(&self, event: Inbound) {
        let Some(_inline) = self.inline() else {
            let ch = self.clone();
            return self.run_later(move || ch.inbound_from_head(event));
        };
        if let Some(head) = self.inner.head.get() {
            head.fire(event);
        }
    }

    pub(crate) fn outbound_from_tail(&self, op: Outbound) {
        let Some(_inline) = self.inline() else {
            let ch = self.clone();
            return self.run_outbound_later(op, move |op| ch.outbound_from_tail(op));
        };
        match self.inner.tail.get() {
            Some(tail) => tail.outbound(op),
            None => op.fail_unhandled(),
        }
    }

    pub(crate) fn head(&self) -> Option<Context> {
        self.inner.head.get()
    }

    pub(crate) fn tail(&self) -> Option<Context> {
        self.inner.tail.get()
    }

    pub(crate) fn is_torn_down(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & TORN_DOWN != 0
    }

    // ---- life cycle (on the loop) ----

    fn register_now(&self, promise: Promise) {
        let first = self
            .inner
            .life
            .with(|l| !std::mem::replace(&mut l.registered, true));
        if !first {
            promise.try_failure(Failure::new(ErrorKind::InvalidArgument.into()));
            return;
        }
        if !self.is_open() {
            promise.try_failure(Failure::new(ErrorKind::Closed.into()));
            self.inner.life.with(|l| l.registered = false);
            self.close_now(None);
            return;
        }
        if let Err(e) = self.inner.transport.register(self) {
            promise.try_failure(Failure::new(e));
            self.inner.life.with(|l| l.registered = false);
            self.close_now(None);
            return;
        }
        self.inner.state.fetch_or(REGISTERED, Ordering::AcqRel);
        self.pipeline().fire_channel_registered();
        promise.try_success(None);
        if self.inner.transport.is_active() {
            self.become_active();
        }
    }

    /// Marks the channel active at once (before a connect's promise completes, so whoever
    /// it wakes sees the channel active, as Netty's `isActive` asks the socket); the event
    /// follows with [`become_active`](Self::become_active).
    pub(crate) fn mark_active(&self) {
        if self.is_open() {
            self.inner.state.fetch_or(ACTIVE, Ordering::AcqRel);
        }
    }

    /// The transport became active (connected, bound, accepted): fires `channel_active`
    /// once, then asks for a read if auto-read is on.
    pub(crate) fn become_active(&self) {
        if !self.is_open() {
            return;
        }
        let first = self
            .inner
            .life
            .with(|l| !std::mem::replace(&mut l.active_fired, true));
        if !first {
            return;
        }
        self.inner.state.fetch_or(ACTIVE, Ordering::AcqRel);
        self.pipeline().fire_channel_active();
        if self.is_auto_read() {
            self.read();
        }
    }

    /// Closes now (on the loop): the transport closes, queued writes fail, and on a later
    /// turn `channel_inactive` (if it was active), `channel_unregistered` (if registered),
    /// the handlers' removal and the close future follow. A second close completes its
    /// promise when the first finishes.
    pub(crate) fn close_now(&self, promise: Option<Promise>) {
        if self.is_torn_down() {
            if let Some(p) = promise {
                p.try_success(None);
            }
            return;
        }
        let first = self.inner.life.with(|l| {
            if let Some(p) = promise {
                l.close_promises.push(p);
            }
            !std::mem::replace(&mut l.closing, true)
        });
        if !first {
            return;
        }
        self.inner
            .state
            .fetch_and(!(OPEN | ACTIVE), Ordering::AcqRel);
        self.inner.transport.close_transport(self);
        self.fail_outbound(ErrorKind::Closed.into(), false);
        let ch = self.clone();
        let mut task: Option<crate::event_loop::Task> =
            Some(Box::new(move |_: &EventLoop| ch.finish_close()));
        if self.inner.event_loop.execute_internal(&mut task).is_err() {
            // The loop has terminated: nobody else runs this channel any more.
            if let Some(task) = task {
                task(&self.inner.event_loop);
            }
        }
    }

    fn finish_close(&self) {
        let (was_active, registered) = self.inner.life.with(|l| (l.active_fired, l.registered));
        if was_active {
            self.pipeline().fire_channel_inactive();
        }
        if registered {
            self.inner.state.fetch_and(!REGISTERED, Ordering::AcqRel);
            self.pipeline().fire_channel_unregistered();
        }
        self.teardown();
        self.inner.close_future.try_success(None);
        let promises = self
            .inner
            .life
            .with(|l| std::mem::take(&mut l.close_promises));
        for p in promises {
            p.try_success(None);
        }
    }

    /// Removes every handler (tail to head, `handler_removed` each) and breaks the links
    /// between the channel and its contexts.
    fn teardown(&self) {
        self.inner.state.fetch_or(TORN_DOWN, Ordering::AcqRel);
        let removed: Vec<Context> = std::mem::take(&mut *lock(&self.inner.handlers));
        self.relink();
        for ctx in removed.iter().rev() {
            if let Some(failure) = ctx.call_handler_removed() {
                report_unhandled(self, &failure);
            }
        }
        for ctx in &removed {
            ctx.links().replace(Links::default());
        }
        if let Some(head) = self.inner.head.replace(None) {
            head.links().replace(Links::default());
        }
        if let Some(tail) = self.inner.tail.replace(None) {
            tail.links().replace(Links::default());
        }
    }

    /// Links head, the user's contexts in their order, and tail (on the loop).
    pub(crate) fn relink(&self) {
        let (Some(head), Some(tail)) = (self.head(), self.tail()) else {
            return;
        };
        let list: Vec<Context> = lock(&self.inner.handlers).clone();
        let mut prev = head;
        // The links replaced are dropped outside the cells: dropping a removed context's
        // last handle drops its handler, whose `Drop` may use the pipeline.
        let mut replaced = Vec::new();
        for ctx in list.into_iter().chain(std::iter::once(tail)) {
            replaced.push(prev.links().with(|l| l.next.replace(ctx.clone())));
            replaced.push(ctx.links().with(|l| l.prev.replace(prev.clone())));
            prev = ctx;
        }
        drop(replaced);
    }

    // ---- the head's work ----

    fn head_bind(&self, local: ChannelAddress, promise: Option<Promise>) {
        if !self.is_open() {
            return self.fail_op(promise, ErrorKind::Closed.into());
        }
        let was_active = self.inner.transport.is_active();
        match self.inner.transport.bind(self, local) {
            Ok(()) => {
                if !was_active && self.inner.transport.is_active() {
                    // Active at once; the event follows on a later turn.
                    self.mark_active();
                    let ch = self.clone();
                    self.run_later(move || ch.become_active());
                }
                if let Some(p) = promise {
                    p.try_success(None);
                }
            }
            Err(e) => self.fail_op(promise, e),
        }
    }

    fn head_connect(
        &self,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    ) {
        if !self.is_open() {
            return self.fail_op(promise, ErrorKind::Closed.into());
        }
        let promise = promise.unwrap_or_else(|| self.new_promise());
        self.inner.transport.connect(self, remote, local, promise);
    }

    /// Fails an operation: its promise, or (without one) the exception event.
    pub(crate) fn fail_op(&self, promise: Option<Promise>, error: Error) {
        match promise {
            Some(p) => {
                p.try_failure(Failure::new(error));
            }
            None => self.pipeline().fire_exception_caught(Failure::new(error)),
        }
    }

    fn fail_write(&self, op: Outbound, error: Error) {
        if let Outbound::Write(msg, promise) = op {
            drop(msg);
            self.fail_op(promise, error);
        }
    }

    fn check_hard_cap(&self, size: usize) -> Result<()> {
        let cap = self.write_buffer_hard_cap();
        if cap > 0 && self.inner.budget.bytes() + size > cap {
            return Err(Error::Os(libc::ENOBUFS));
        }
        Ok(())
    }

    /// Counts queued bytes; a crossing of the high mark fires a writability event later.
    pub(crate) fn count_bytes(&self, n: usize) {
        let high = self.inner.config.high.load(Ordering::Acquire);
        if self.inner.budget.add(n, high) == Crossing::Changed {
            self.writability_changed_later();
        }
    }

    /// Uncounts queued bytes; dropping below the low mark fires a writability event later.
    pub(crate) fn uncount_bytes(&self, n: usize) {
        let low = self.inner.config.low.load(Ordering::Acquire);
        if self.inner.budget.sub(n, low) == Crossing::Changed {
            self.writability_changed_later();
        }
    }

    /// Queues the writability event of a crossing: one per crossing, in order, on a later
    /// turn (Netty's). The handler reads [`is_writable`](Self::is_writable) then, which may
    /// have moved on: a crossing undone before its event runs gives two events that both
    /// see the state of the moment, so a handler that stopped writing always gets an event
    /// to start again.
    fn writability_changed_later(&self) {
        let ch = self.clone();
        self.run_later(move || ch.pipeline().fire_channel_writability_changed());
    }

    fn head_write(&self, msg: Message, promise: Option<Promise>) {
        if !self.is_open() {
            drop(msg);
            return self.fail_op(promise, ErrorKind::Closed.into());
        }
        if self.inner.state.load(Ordering::Acquire) & OUTPUT_SHUTDOWN != 0 {
            drop(msg);
            return self.fail_op(promise, ErrorKind::Shutdown.into());
        }
        if let Err(e) = self.inner.transport.check_message(&msg) {
            drop(msg);
            return self.fail_op(promise, e);
        }
        if let Some(p) = &promise {
            if !p.set_uncancellable() {
                return; // cancelled before it was queued: dropped
            }
        }
        let size = msg.byte_size() + ENTRY_OVERHEAD;
        if let Err(e) = self.check_hard_cap(size) {
            drop(msg);
            return self.fail_op(promise, e);
        }
        self.inner.outbound.with(|b| {
            b.add(Entry {
                msg,
                promise,
                counted: size,
            })
        });
        self.count_bytes(size);
    }

    fn head_flush(&self) {
        if !self.is_open() {
            return;
        }
        let any = self.inner.outbound.with(|b| {
            b.add_flush();
            b.flushed > 0
        });
        if !any {
            return; // nothing queued: no system call
        }
        if !self.inner.transport.is_active() {
            // As Netty's flush: the flushed writes of a channel that is not connected (yet)
            // fail; the channel stays open.
            let entries = self.inner.outbound.with(|b| b.take_flushed());
            return self.fail_entries(entries, ErrorKind::NotYetConnected.into(), true);
        }
        self.inner.transport.flush(self);
    }

    /// Fails every queued write with `error`. Writes without a promise fire one exception
    /// event between them, if `fire` says so.
    pub(crate) fn fail_outbound(&self, error: Error, fire: bool) {
        let entries = self.inner.outbound.with(|b| b.take_all());
        self.fail_entries(entries, error, fire);
    }

    /// Fails `entries` (taken out of the outbound buffer) with `error`; see
    /// [`fail_outbound`](Self::fail_outbound).
    fn fail_entries(&self, entries: std::collections::VecDeque<Entry>, error: Error, fire: bool) {
        let mut void_failed = false;
        for entry in entries {
            self.uncount_bytes(entry.counted);
            match entry.promise {
                Some(p) => {
                    p.try_failure(Failure::new(error));
                }
                None => void_failed = true,
            }
        }
        if void_failed && fire {
            self.pipeline().fire_exception_caught(Failure::new(error));
        }
    }

    /// Completes a write taken out of the outbound buffer: its bytes went to the kernel (or
    /// the peer); `counted` is what it counted for.
    pub(crate) fn complete_write(&self, counted: usize, promise: Option<Promise>) {
        self.uncount_bytes(counted);
        if let Some(p) = promise {
            p.try_success(None);
        }
    }

    /// Closes the channel once `future` completes: always, or only if it failed (Netty's
    /// `ChannelFutureListener.CLOSE` and `CLOSE_ON_FAILURE`). The close runs on a later
    /// turn, never inside this call.
    pub fn close_when(&self, future: &Future, when: CloseWhen) {
        let ch = self.clone();
        future.add_listener(Box::new(move |f: &Promise| {
            if when == CloseWhen::Always || !f.is_success() {
                let _ = ch.close();
            }
        }));
    }
}
