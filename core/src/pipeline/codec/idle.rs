//! Idle-state detection and read/write timeouts (Netty's `IdleStateHandler`,
//! `ReadTimeoutHandler`, `WriteTimeoutHandler`).
//!
//! All three run on the channel's own timers ([`Channel::schedule`]): no thread per
//! connection, and on an [`EmbeddedChannel`](super::super::EmbeddedChannel) the virtual
//! clock that `advance_time_by` moves. Time is read from the same clock
//! ([`Channel::now`]), so idle decisions and timers agree.
//!
//! The life cycle is Netty's: the timers start when the channel becomes active (or when the
//! handler is added to a channel that is registered and active already), and stop for good
//! when the channel becomes inactive or the handler is removed. A read counts when its read
//! batch completes (`channel_read` marks a read in progress, during which the reader-idle
//! and all-idle timers never fire; `channel_read_complete` records the time). A write counts
//! when it completes, successfully or not (its promise's listener, which runs on a later
//! loop turn). A write without a promise gets one here so that its completion can be seen;
//! if that write fails the exception event still fires, as it would have without the
//! handler (see [`watched_promise`]). With `observe_output` on (Netty's `observeOutput`), a
//! write in progress counts too: the writer-idle and all-idle checks after the first event
//! find the channel busy when its outbound buffer changed since the previous check (bytes
//! of its oldest message left for the peer, or bytes were queued or completed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::super::channel::Channel;
use super::super::context::Context;
use super::super::handler::{ChannelHandler, HandlerResult, Mask};
use super::super::message::{Message, UserEvent};
use crate::ErrorKind;
use crate::event_loop::{Failure, Future, Promise};
use crate::sync::lock;

/// The shortest time a handler waits: a shorter non-zero time counts as this (Netty's
/// one-millisecond floor), so a timer never re-arms itself in a loop.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Which kind of idleness an [`IdleStateEvent`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdleState {
    /// Nothing was read for the reader-idle time.
    ReaderIdle,
    /// Nothing was written for the writer-idle time.
    WriterIdle,
    /// Nothing was read or written for the all-idle time.
    AllIdle,
}

impl IdleState {
    /// Every state, in the order of the handler's times (reader, writer, all).
    pub const ALL: [IdleState; 3] = [
        IdleState::ReaderIdle,
        IdleState::WriterIdle,
        IdleState::AllIdle,
    ];

    fn index(self) -> usize {
        match self {
            IdleState::ReaderIdle => 0,
            IdleState::WriterIdle => 1,
            IdleState::AllIdle => 2,
        }
    }
}

/// The user event an [`IdleStateHandler`] fires ([`UserEvent::Idle`]): which kind of
/// idleness, and whether it is the first event of that kind since the last read or write
/// that counted for it. A plain value (`Copy`); compare events with `==`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdleStateEvent {
    /// Which kind of idleness.
    pub state: IdleState,
    /// Whether this is the first event of its kind since the last activity.
    pub first: bool,
}

impl IdleStateEvent {
    /// The first reader-idle event since the last read.
    pub const FIRST_READER_IDLE_STATE_EVENT: IdleStateEvent =
        IdleStateEvent::new(IdleState::ReaderIdle, true);
    /// A later reader-idle event.
    pub const READER_IDLE_STATE_EVENT: IdleStateEvent =
        IdleStateEvent::new(IdleState::ReaderIdle, false);
    /// The first writer-idle event since the last write.
    pub const FIRST_WRITER_IDLE_STATE_EVENT: IdleStateEvent =
        IdleStateEvent::new(IdleState::WriterIdle, true);
    /// A later writer-idle event.
    pub const WRITER_IDLE_STATE_EVENT: IdleStateEvent =
        IdleStateEvent::new(IdleState::WriterIdle, false);
    /// The first all-idle event since the last read or write.
    pub const FIRST_ALL_IDLE_STATE_EVENT: IdleStateEvent =
        IdleStateEvent::new(IdleState::AllIdle, true);
    /// A later all-idle event.
    pub const ALL_IDLE_STATE_EVENT: IdleStateEvent = IdleStateEvent::new(IdleState::AllIdle, false);

    /// An event of `state`, first or not.
    pub const fn new(state: IdleState, first: bool) -> IdleStateEvent {
        IdleStateEvent { state, first }
    }
}

/// Which timeout closed a channel: the detail of the [`Failure`] a
/// [`ReadTimeoutHandler`] or [`WriteTimeoutHandler`] fires (its error is
/// [`ErrorKind::TimedOut`]), so a binding can tell them apart (Python raises
/// `ReadTimeoutException` or `WriteTimeoutException`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// Nothing was read in time.
    Read,
    /// A write did not complete in time.
    Write,
}

impl TimeoutKind {
    /// The failure the exception event carries: `TimedOut`, with this kind as its detail.
    pub fn failure(self) -> Failure {
        Failure {
            error: ErrorKind::TimedOut.into(),
            detail: Some(Box::new(self)),
        }
    }

    /// The kind a failure carries, if a timeout handler made it.
    pub fn of(failure: &Failure) -> Option<TimeoutKind> {
        failure
            .detail
            .as_ref()?
            .downcast_ref::<TimeoutKind>()
            .copied()
    }

    /// `"read timed out"` or `"write timed out"`.
    pub fn message(self) -> &'static str {
        match self {
            TimeoutKind::Read => "read timed out",
            TimeoutKind::Write => "write timed out",
        }
    }
}

/// A time as a handler uses it: zero stays zero (off), anything else is at least
/// [`MIN_TIMEOUT`].
fn floor(time: Duration) -> Duration {
    if time.is_zero() {
        time
    } else {
        time.max(MIN_TIMEOUT)
    }
}

/// The promise a handler gives a write it must see complete. With the caller's promise,
/// that one. Without one (a write whose failure fires the exception event), a new promise
/// whose listener fires that event when the write fails, so the handler changes nothing a
/// user sees, with two rules that keep what the head does for such writes: a failure by
/// the channel's close (`Closed`) fires nothing, and once the channel is closed the failures
/// of the writes queued before fire once between them (`fired` remembers it, per handler).
/// `None` when the channel is closed already: the write passes as it is and the head fails
/// it as usual.
fn watched_promise(
    ctx: &Context,
    promise: Option<Promise>,
    fired: &Arc<AtomicBool>,
) -> Option<Promise> {
    if promise.is_some() {
        return promise;
    }
    let channel = ctx.channel().clone();
    if !channel.is_open() {
        return None;
    }
    let promise = channel.new_promise();
    let fired = fired.clone();
    promise.add_listener(Box::new(move |done: &Promise| {
        let Some(error) = done.cause() else { return };
        if error.kind() == Some(ErrorKind::Closed) {
            return;
        }
        if !channel.is_open() && fired.swap(true, Ordering::AcqRel) {
            return;
        }
        channel
            .pipeline()
            .fire_exception_caught(Failure::new(error));
    }));
    Some(promise)
}

/// What a timer that found the channel idle does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnIdle {
    /// Fire the idle event (`IdleStateHandler`).
    Fire,
    /// Fire the read-timeout failure and close, once (`ReadTimeoutHandler`).
    ReadTimeout,
}

/// Where a handler is in its life: its timers start once and stop for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    New,
    Running,
    Destroyed,
}

/// What an idle handler's methods and its timers share (timers hold it past the methods).
struct Idle {
    /// Reader, writer and all-idle times (zero: off), in [`IdleState::index`] order.
    times: [Duration; 3],
    on_idle: OnIdle,
    /// Output in progress counts as write activity (Netty's `observeOutput`).
    observe_output: bool,
    state: Mutex<IdleFields>,
    /// A write without a promise failed after the channel closed and fired its event.
    void_fired: Arc<AtomicBool>,
}

struct IdleFields {
    phase: Phase,
    /// The handler's context, from `handler_added` to `handler_removed`.
    ctx: Option<Context>,
    /// A read batch is in progress (between `channel_read` and `channel_read_complete`).
    reading: bool,
    last_read: Duration,
    last_write: Duration,
    /// The next event of each kind is the first since the last activity.
    first: [bool; 3],
    /// Each kind's armed timer.
    timers: [Option<Future>; 3],
    /// The read timeout fired (it fires once).
    timed_out: bool,
    /// `last_write` as the previous output check saw it.
    last_change_check: Duration,
    /// The outbound buffer as the previous output check saw it ([`output_mark`]).
    last_output: (usize, usize),
}

/// A mark of where the channel's output is: the bytes queued for writing, and the bytes of
/// the oldest queued message still to go (which shrink while a partial write moves it out).
/// Two marks differ when output moved in between. Runs on the channel's loop thread.
fn output_mark(channel: &Channel) -> (usize, usize) {
    let oldest = channel
        .inner
        .outbound
        .with(|b| b.iter().next().map_or(0, |e| e.msg.byte_size()));
    (channel.queued_bytes(), oldest)
}

impl Idle {
    fn new(times: [Duration; 3], on_idle: OnIdle, observe_output: bool) -> Arc<Idle> {
        Arc::new(Idle {
            times: times.map(floor),
            on_idle,
            observe_output,
            state: Mutex::new(IdleFields {
                phase: Phase::New,
                ctx: None,
                reading: false,
                last_read: Duration::ZERO,
                last_write: Duration::ZERO,
                first: [true; 3],
                timers: [None, None, None],
                timed_out: false,
                last_change_check: Duration::ZERO,
                last_output: (0, 0),
            }),
            void_fired: Arc::new(AtomicBool::new(false)),
        })
    }

    fn on(&self, state: IdleState) -> bool {
        !self.times[state.index()].is_zero()
    }

    fn watches_reads(&self) -> bool {
        self.on(IdleState::ReaderIdle) || self.on(IdleState::AllIdle)
    }

    fn watches_writes(&self) -> bool {
        self.on(IdleState::WriterIdle) || self.on(IdleState::AllIdle)
    }

    fn mask(&self) -> Mask {
        let mask =
            Mask::REGISTERED | Mask::ACTIVE | Mask::INACTIVE | Mask::READ | Mask::READ_COMPLETE;
        if self.watches_writes() {
            mask | Mask::WRITE
        } else {
            mask
        }
    }

    fn added(self: &Arc<Self>, ctx: &Context) {
        lock(&self.state).ctx = Some(ctx.clone());
        let channel = ctx.channel();
        if channel.is_active() && channel.is_registered() {
            self.initialize(channel);
        }
    }

    fn removed(&self) {
        self.destroy();
        lock(&self.state).ctx = None;
    }

    /// Starts the timers (once in the handler's life).
    fn initialize(self: &Arc<Self>, channel: &Channel) {
        let mut state = lock(&self.state);
        if state.phase != Phase::New {
            return;
        }
        state.phase = Phase::Running;
        let now = channel.now();
        state.last_read = now;
        state.last_write = now;
        if self.observe_output {
            state.last_output = output_mark(channel);
        }
        for kind in IdleState::ALL {
            if self.on(kind) {
                state.timers[kind.index()] = self.arm(channel, kind, self.times[kind.index()]);
            }
        }
    }

    /// Stops the timers for good.
    fn destroy(&self) {
        let timers = {
            let mut state = lock(&self.state);
            state.phase = Phase::Destroyed;
            std::mem::take(&mut state.timers)
        };
        for timer in timers.into_iter().flatten() {
            timer.cancel();
        }
    }

    fn arm(
        self: &Arc<Self>,
        channel: &Channel,
        kind: IdleState,
        delay: Duration,
    ) -> Option<Future> {
        let idle = self.clone();
        // Refused only while the loop shuts down, which closes the channel anyway.
        channel
            .schedule(delay, Box::new(move |_: &Channel| idle.expired(kind)))
            .ok()
    }

    /// A timer ran out: re-arms it for the time left, or (idle that long) for a whole
    /// period and acts.
    fn expired(self: &Arc<Self>, kind: IdleState) {
        let (ctx, event) = {
            let mut state = lock(&self.state);
            if state.phase != Phase::Running {
                return;
            }
            let Some(ctx) = state.ctx.clone() else { return };
            let channel = ctx.channel().clone();
            if !channel.is_open() {
                return;
            }
            let period = self.times[kind.index()];
            let now = channel.now();
            let left = |last: Duration| period.saturating_sub(now.saturating_sub(last));
            let next = match kind {
                IdleState::ReaderIdle if state.reading => period,
                IdleState::ReaderIdle => left(state.last_read),
                IdleState::WriterIdle => left(state.last_write),
                IdleState::AllIdle if state.reading => period,
                IdleState::AllIdle => left(state.last_read.max(state.last_write)),
            };
            if !next.is_zero() {
                state.timers[kind.index()] = self.arm(&channel, kind, next);
                return;
            }
            state.timers[kind.index()] = self.arm(&channel, kind, period);
            let first = std::mem::replace(&mut state.first[kind.index()], false);
            if kind != IdleState::ReaderIdle && self.output_changed(&mut state, &channel, first) {
                return;
            }
            if self.on_idle == OnIdle::ReadTimeout {
                if state.timed_out {
                    return;
                }
                state.timed_out = true;
            }
            (ctx, IdleStateEvent::new(kind, first))
        };
        match self.on_idle {
            OnIdle::Fire => ctx.fire_user_event_triggered(UserEvent::Idle(event)),
            OnIdle::ReadTimeout => {
                ctx.fire_exception_caught(TimeoutKind::Read.failure());
                ctx.close(None);
            }
        }
    }

    /// With `observe_output`, whether output moved since the previous check, so a writer-
    /// or all-idle check that found no completed write does not fire. A first event always
    /// fires (the check only takes its mark then), as in Netty: a write that has made no
    /// progress for a whole period since the last event is idle.
    fn output_changed(&self, state: &mut IdleFields, channel: &Channel, first: bool) -> bool {
        if !self.observe_output {
            return false;
        }
        let mut changed = false;
        if state.last_change_check != state.last_write {
            // A write completed since the last check: a change on the message level.
            state.last_change_check = state.last_write;
            changed = true;
        }
        let mark = output_mark(channel);
        if mark != state.last_output {
            state.last_output = mark;
            changed = true;
        }
        changed && !first
    }

    fn channel_read(&self) {
        if self.watches_reads() {
            let mut state = lock(&self.state);
            state.reading = true;
            state.first[IdleState::ReaderIdle.index()] = true;
            state.first[IdleState::AllIdle.index()] = true;
        }
    }

    fn channel_read_complete(&self, channel: &Channel) {
        if self.watches_reads() {
            let mut state = lock(&self.state);
            if state.reading {
                state.last_read = channel.now();
                state.reading = false;
            }
        }
    }

    fn write(self: &Arc<Self>, ctx: &Context, msg: Message, promise: Option<Promise>) {
        if !self.watches_writes() {
            return ctx.write(msg, promise);
        }
        let Some(promise) = watched_promise(ctx, promise, &self.void_fired) else {
            return ctx.write(msg, None);
        };
        let idle = self.clone();
        let channel = ctx.channel().clone();
        promise.add_listener(Box::new(move |_: &Promise| {
            let mut state = lock(&idle.state);
            state.last_write = channel.now();
            state.first[IdleState::WriterIdle.index()] = true;
            state.first[IdleState::AllIdle.index()] = true;
        }));
        ctx.write(msg, Some(promise));
    }
}

/// Implements [`ChannelHandler`] for a handler type over its `idle: Arc<Idle>`.
macro_rules! idle_handler {
    ($t:ty) => {
        impl ChannelHandler for $t {
            fn mask(&self) -> Mask {
                self.idle.mask()
            }
            fn handler_added(&self, ctx: &Context) -> HandlerResult {
                self.idle.added(ctx);
                Ok(())
            }
            fn handler_removed(&self, _: &Context) -> HandlerResult {
                self.idle.removed();
                Ok(())
            }
            fn channel_registered(&self, ctx: &Context) -> HandlerResult {
                if ctx.channel().is_active() {
                    self.idle.initialize(ctx.channel());
                }
                ctx.fire_channel_registered();
                Ok(())
            }
            fn channel_active(&self, ctx: &Context) -> HandlerResult {
                self.idle.initialize(ctx.channel());
                ctx.fire_channel_active();
                Ok(())
            }
            fn channel_inactive(&self, ctx: &Context) -> HandlerResult {
                self.idle.destroy();
                ctx.fire_channel_inactive();
                Ok(())
            }
            fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
                self.idle.channel_read();
                ctx.fire_channel_read(msg);
                Ok(())
            }
            fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
                self.idle.channel_read_complete(ctx.channel());
                ctx.fire_channel_read_complete();
                Ok(())
            }
            fn write(
                &self,
                ctx: &Context,
                msg: Message,
                promise: Option<Promise>,
            ) -> HandlerResult {
                self.idle.write(ctx, msg, promise);
                Ok(())
            }
        }
    };
}

/// Fires [`UserEvent::Idle`] when the channel has not read, written, or either, for a while
/// (Netty's `IdleStateHandler`): a reader-idle event after `reader_idle` with no read, a
/// writer-idle event after `writer_idle` with no completed write, an all-idle event after
/// `all_idle` with neither. Zero turns a kind off; a non-zero time under 1 ms
/// counts as 1 ms. While the channel stays idle the event repeats every period,
/// with `first` set only on the first one since the last activity.
///
/// One instance belongs to one pipeline. Its methods run on the channel's loop thread; its
/// timers are the channel's ([`Channel::schedule`]).
pub struct IdleStateHandler {
    idle: Arc<Idle>,
}

impl IdleStateHandler {
    /// A handler with these reader-idle, writer-idle and all-idle times (zero: off).
    pub fn new(
        reader_idle: Duration,
        writer_idle: Duration,
        all_idle: Duration,
    ) -> IdleStateHandler {
        IdleStateHandler::with_observe_output(false, reader_idle, writer_idle, all_idle)
    }

    /// As [`new`](Self::new), and with `observe_output` on (Netty's `observeOutput`), a
    /// write in progress counts as activity for the writer-idle and all-idle times: after
    /// the first event, a check fires nothing when the channel's outbound buffer changed
    /// since the previous check (bytes of the oldest queued message went out, or messages
    /// were queued or completed). A write that moves no bytes for a whole period (a peer that
    /// does not read) is still idle.
    pub fn with_observe_output(
        observe_output: bool,
        reader_idle: Duration,
        writer_idle: Duration,
        all_idle: Duration,
    ) -> IdleStateHandler {
        IdleStateHandler {
            idle: Idle::new(
                [reader_idle, writer_idle, all_idle],
                OnIdle::Fire,
                observe_output,
            ),
        }
    }

    /// Whether output in progress counts as activity (see
    /// [`with_observe_output`](Self::with_observe_output)).
    pub fn is_observe_output(&self) -> bool {
        self.idle.observe_output
    }

    /// The reader-idle time (zero: off), after the [`MIN_TIMEOUT`] floor.
    pub fn reader_idle_time(&self) -> Duration {
        self.idle.times[0]
    }

    /// The writer-idle time (zero: off), after the [`MIN_TIMEOUT`] floor.
    pub fn writer_idle_time(&self) -> Duration {
        self.idle.times[1]
    }

    /// The all-idle time (zero: off), after the [`MIN_TIMEOUT`] floor.
    pub fn all_idle_time(&self) -> Duration {
        self.idle.times[2]
    }
}

idle_handler!(IdleStateHandler);

impl std::fmt::Debug for IdleStateHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleStateHandler")
            .field("reader_idle", &self.idle.times[0])
            .field("writer_idle", &self.idle.times[1])
            .field("all_idle", &self.idle.times[2])
            .field("observe_output", &self.idle.observe_output)
            .finish_non_exhaustive()
    }
}

/// Closes the channel when nothing was read for `timeout` (Netty's `ReadTimeoutHandler`):
/// fires the exception event with [`TimeoutKind::Read`]'s failure (`TimedOut`, "read timed
/// out"), then closes the channel, once. Reads count as for [`IdleStateHandler`]'s
/// reader-idle time; zero turns it off.
///
/// One instance belongs to one pipeline; it runs on the channel's loop thread and timers.
pub struct ReadTimeoutHandler {
    idle: Arc<Idle>,
}

impl ReadTimeoutHandler {
    /// A handler that closes the channel after `timeout` without a read (zero: off).
    pub fn new(timeout: Duration) -> ReadTimeoutHandler {
        ReadTimeoutHandler {
            idle: Idle::new(
                [timeout, Duration::ZERO, Duration::ZERO],
                OnIdle::ReadTimeout,
                false,
            ),
        }
    }

    /// The timeout (zero: off), after the [`MIN_TIMEOUT`] floor.
    pub fn timeout(&self) -> Duration {
        self.idle.times[0]
    }
}

idle_handler!(ReadTimeoutHandler);

impl std::fmt::Debug for ReadTimeoutHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTimeoutHandler")
            .field("timeout", &self.idle.times[0])
            .finish_non_exhaustive()
    }
}

/// Closes the channel when a write has not completed `timeout` after it was written
/// (Netty's `WriteTimeoutHandler`): fires the exception event with [`TimeoutKind::Write`]'s
/// failure (`TimedOut`, "write timed out"), then closes the channel, once (the close fails
/// the writes still queued). Each write gets its own timer on the channel's clock, cancelled
/// when the write completes; zero turns it off. A write without a promise gets one (see the
/// module docs).
///
/// One instance belongs to one pipeline; it runs on the channel's loop thread and timers.
pub struct WriteTimeoutHandler {
    write: Arc<WriteTimeouts>,
}

struct WriteTimeouts {
    timeout: Duration,
    state: Mutex<WriteFields>,
    void_fired: Arc<AtomicBool>,
}

struct WriteFields {
    ctx: Option<Context>,
    /// The timeout fired (it fires once).
    timed_out: bool,
    /// The next write's number.
    next: u64,
    /// The timers of writes not completed yet, by number.
    pending: Vec<(u64, Future)>,
}

impl WriteTimeoutHandler {
    /// A handler that closes the channel when a write takes longer than `timeout` (zero:
    /// off).
    pub fn new(timeout: Duration) -> WriteTimeoutHandler {
        WriteTimeoutHandler {
            write: Arc::new(WriteTimeouts {
                timeout: floor(timeout),
                state: Mutex::new(WriteFields {
                    ctx: None,
                    timed_out: false,
                    next: 0,
                    pending: Vec::new(),
                }),
                void_fired: Arc::new(AtomicBool::new(false)),
            }),
        }
    }

    /// The timeout (zero: off), after the [`MIN_TIMEOUT`] floor.
    pub fn timeout(&self) -> Duration {
        self.write.timeout
    }
}

impl std::fmt::Debug for WriteTimeoutHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTimeoutHandler")
            .field("timeout", &self.write.timeout)
            .finish_non_exhaustive()
    }
}

impl WriteTimeouts {
    /// Write `id` completed: its timer is cancelled.
    fn done(&self, id: u64) {
        let timer = {
            let mut state = lock(&self.state);
            let at = state.pending.iter().position(|(n, _)| *n == id);
            at.map(|at| state.pending.swap_remove(at).1)
        };
        if let Some(timer) = timer {
            timer.cancel();
        }
    }

    /// Write `id`'s timer ran out: unless it completed meanwhile, fire and close (once).
    fn expired(&self, id: u64, promise: &Promise) {
        let ctx = {
            let mut state = lock(&self.state);
            state.pending.retain(|(n, _)| *n != id);
            if promise.is_done() || state.timed_out {
                return;
            }
            let Some(ctx) = state.ctx.clone() else { return };
            state.timed_out = true;
            ctx
        };
        ctx.fire_exception_caught(TimeoutKind::Write.failure());
        ctx.close(None);
    }
}

impl ChannelHandler for WriteTimeoutHandler {
    fn mask(&self) -> Mask {
        Mask::WRITE
    }

    fn handler_added(&self, ctx: &Context) -> HandlerResult {
        lock(&self.write.state).ctx = Some(ctx.clone());
        Ok(())
    }

    fn handler_removed(&self, _: &Context) -> HandlerResult {
        let pending = {
            let mut state = lock(&self.write.state);
            state.ctx = None;
            std::mem::take(&mut state.pending)
        };
        for (_, timer) in pending {
            timer.cancel();
        }
        Ok(())
    }

    fn write(&self, ctx: &Context, msg: Message, promise: Option<Promise>) -> HandlerResult {
        if self.write.timeout.is_zero() {
            ctx.write(msg, promise);
            return Ok(());
        }
        let Some(promise) = watched_promise(ctx, promise, &self.write.void_fired) else {
            ctx.write(msg, None);
            return Ok(());
        };
        let id = {
            let mut state = lock(&self.write.state);
            state.next += 1;
            state.next
        };
        let (write, watched) = (self.write.clone(), promise.clone());
        let task = Box::new(move |_: &Channel| write.expired(id, &watched));
        // Refused only while the loop shuts down, which closes the channel anyway.
        if let Ok(timer) = ctx.channel().schedule(self.write.timeout, task) {
            lock(&self.write.state).pending.push((id, timer));
            let write = self.write.clone();
            promise.add_listener(Box::new(move |_: &Promise| write.done(id)));
        }
        ctx.write(msg, Some(promise));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;
    use std::sync::Mutex;

    use super::*;
    use crate::event_loop::EventLoopGroup;
    use crate::pipeline::tests::support::{BufferCheck, shut_down, wait_until};
    use crate::pipeline::{ChannelAddress, EmbeddedChannel, ServerBootstrap};

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    type Seen = Arc<Mutex<Vec<String>>>;

    /// Records idle events and exceptions that reach it (and drops reads), at the tail side.
    struct Watcher(Seen);

    impl ChannelHandler for Watcher {
        fn mask(&self) -> Mask {
            Mask::USER_EVENT | Mask::EXCEPTION | Mask::READ
        }
        fn channel_read(&self, _: &Context, _: Message) -> HandlerResult {
            Ok(())
        }
        fn user_event_triggered(&self, _: &Context, event: UserEvent) -> HandlerResult {
            let seen = match event {
                UserEvent::Idle(e) => format!("{:?}{}", e.state, if e.first { "!" } else { "" }),
                other => format!("{other:?}"),
            };
            self.0.lock().unwrap().push(seen);
            Ok(())
        }
        fn exception_caught(&self, _: &Context, failure: Failure) -> HandlerResult {
            let kind = TimeoutKind::of(&failure);
            self.0
                .lock()
                .unwrap()
                .push(format!("exception:{}:{kind:?}", failure.error));
            Ok(())
        }
    }

    fn take(seen: &Seen) -> Vec<String> {
        std::mem::take(&mut *seen.lock().unwrap())
    }

    fn embedded(handler: impl ChannelHandler) -> (EmbeddedChannel, Seen) {
        let seen = Seen::default();
        let ch =
            EmbeddedChannel::new(vec![Box::new(handler), Box::new(Watcher(seen.clone()))]).unwrap();
        (ch, seen)
    }

    fn bytes() -> Message {
        Message::copy_from_slice(b"x")
    }

    #[test]
    fn reader_idle_fires_first_then_repeats_and_a_read_resets_it() {
        let check = BufferCheck::start();
        let (ch, seen) = embedded(IdleStateHandler::new(SEC, Duration::ZERO, Duration::ZERO));
        ch.advance_time_by(SEC - MS);
        assert!(take(&seen).is_empty());
        ch.advance_time_by(MS);
        assert_eq!(take(&seen), ["ReaderIdle!"]);
        ch.advance_time_by(SEC);
        ch.advance_time_by(SEC);
        assert_eq!(take(&seen), ["ReaderIdle", "ReaderIdle"]);
        ch.advance_time_by(SEC / 2);
        ch.write_inbound([bytes()]).unwrap();
        ch.advance_time_by(SEC / 2);
        assert!(take(&seen).is_empty(), "the read moved the deadline");
        ch.advance_time_by(SEC / 2);
        assert_eq!(take(&seen), ["ReaderIdle!"]);
        // Writes do not count for reader idleness.
        ch.write_outbound([bytes()]).unwrap();
        ch.advance_time_by(SEC);
        assert_eq!(take(&seen), ["ReaderIdle"]);
        assert!(ch.finish_and_release_all().unwrap());
        check.finish();
    }

    #[test]
    fn a_read_in_progress_holds_reader_idleness_off_until_it_completes() {
        let (ch, seen) = embedded(IdleStateHandler::new(SEC, Duration::ZERO, Duration::ZERO));
        ch.pipeline().fire_channel_read(Message::user(1u8));
        ch.advance_time_by(3 * SEC);
        assert!(take(&seen).is_empty());
        ch.pipeline().fire_channel_read_complete();
        ch.advance_time_by(SEC);
        assert_eq!(take(&seen), ["ReaderIdle!"]);
        assert!(!ch.finish().unwrap());
    }

    #[test]
    fn writer_idle_counts_completed_writes_with_and_without_promise() {
        let check = BufferCheck::start();
        let (ch, seen) = embedded(IdleStateHandler::new(Duration::ZERO, SEC, Duration::ZERO));
        ch.advance_time_by(SEC);
        assert_eq!(take(&seen), ["WriterIdle!"]);
        ch.advance_time_by(SEC);
        assert_eq!(take(&seen), ["WriterIdle"]);
        ch.advance_time_by(SEC / 2);
        ch.write_outbound([bytes()]).unwrap(); // with a promise
        ch.advance_time_by(SEC / 2);
        assert!(take(&seen).is_empty());
        ch.advance_time_by(SEC / 2);
        assert_eq!(take(&seen), ["WriterIdle!"]);
        ch.advance_time_by(SEC / 2);
        ch.channel().write_and_flush(bytes(), None); // without one
        ch.run_pending_tasks();
        ch.advance_time_by(SEC / 2);
        assert!(take(&seen).is_empty());
        ch.advance_time_by(SEC / 2);
        assert_eq!(take(&seen), ["WriterIdle!"]);
        // Reads do not count for writer idleness.
        ch.write_inbound([bytes()]).unwrap();
        ch.advance_time_by(SEC);
        assert_eq!(take(&seen), ["WriterIdle"]);
        assert!(ch.finish_and_release_all().unwrap());
        check.finish();
    }

    #[test]
    fn observe_output_counts_queued_output_after_the_first_event() {
        let check = BufferCheck::start();
        let z = Duration::ZERO;
        for (observe, times) in [
            (false, [z, SEC, z]),
            (true, [z, SEC, z]),
            (true, [z, z, SEC]),
        ] {
            let [r, w, a] = times;
            let handler = IdleStateHandler::with_observe_output(observe, r, w, a);
            assert_eq!(handler.is_observe_output(), observe);
            let (ch, seen) = embedded(handler);
            let kind = if w.is_zero() { "AllIdle" } else { "WriterIdle" };
            // Written, never flushed: in the outbound buffer, never complete.
            ch.channel().write(bytes(), None);
            ch.run_pending_tasks();
            ch.advance_time_by(SEC);
            assert_eq!(
                take(&seen),
                [format!("{kind}!")],
                "the first fires either way"
            );
            ch.channel().write(bytes(), None); // the outbound buffer changed
            ch.run_pending_tasks();
            ch.advance_time_by(SEC);
            let moved: Vec<String> = if observe { vec![] } else { vec![kind.into()] };
            assert_eq!(take(&seen), moved, "observe_output={observe}");
            ch.advance_time_by(SEC); // nothing changed for a period: idle again
            assert_eq!(take(&seen), [kind]);
            ch.channel().flush();
            assert!(ch.finish_and_release_all().unwrap());
        }
        check.finish();
    }

    #[test]
    fn all_idle_is_reset_by_reads_and_by_writes() {
        let check = BufferCheck::start();
        let (ch, seen) = embedded(IdleStateHandler::new(Duration::ZERO, Duration::ZERO, SEC));
        ch.advance_time_by(SEC);
        ch.advance_time_by(SEC);
        assert_eq!(take(&seen), ["AllIdle!", "AllIdle"]);
        ch.advance_time_by(SEC / 2);
        ch.write_inbound([bytes()]).unwrap();
        ch.advance_time_by(SEC / 2);
        assert!(take(&seen).is_empty());
        ch.write_outbound([bytes()]).unwrap();
        ch.advance_time_by(SEC / 2);
        assert!(take(&seen).is_empty());
        ch.advance_time_by(SEC / 2);
        assert_eq!(take(&seen), ["AllIdle!"]);
        assert!(ch.finish_and_release_all().unwrap());
        check.finish();
    }

    #[test]
    fn every_kind_fires_on_its_own_period_and_zero_turns_a_kind_off() {
        let (ch, seen) = embedded(IdleStateHandler::new(SEC, 2 * SEC, 3 * SEC));
        // Per second (events due at the same moment in any order).
        let mut ticks = Vec::new();
        for _ in 0..6 {
            ch.advance_time_by(SEC);
            let mut tick = take(&seen);
            tick.sort();
            ticks.push(tick.join(","));
        }
        assert_eq!(
            ticks,
            [
                "ReaderIdle!",
                "ReaderIdle,WriterIdle!",
                "AllIdle!,ReaderIdle",
                "ReaderIdle,WriterIdle",
                "ReaderIdle",
                "AllIdle,ReaderIdle,WriterIdle",
            ]
        );
        let (off, seen) = embedded(IdleStateHandler::new(
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        ));
        off.advance_time_by(100 * SEC);
        assert!(take(&seen).is_empty());
        assert!(!ch.finish().unwrap());
        assert!(!off.finish().unwrap());
    }

    #[test]
    fn removal_and_close_stop_the_timers_for_good() {
        let (ch, seen) = embedded(IdleStateHandler::new(SEC, SEC, SEC));
        ch.pipeline().remove("handler-0").unwrap();
        ch.advance_time_by(10 * SEC);
        assert!(take(&seen).is_empty());

        let (ch, seen) = embedded(IdleStateHandler::new(SEC, SEC, SEC));
        ch.close();
        ch.advance_time_by(10 * SEC);
        assert!(take(&seen).is_empty());
    }

    #[test]
    fn a_handler_added_to_an_active_channel_starts_at_once() {
        let (ch, seen) = embedded(Watcher(Seen::default()));
        ch.advance_time_by(5 * SEC);
        ch.pipeline()
            .add_first(
                "idle",
                Box::new(IdleStateHandler::new(SEC, Duration::ZERO, Duration::ZERO)),
            )
            .unwrap();
        let watcher = Seen::default();
        ch.pipeline()
            .add_after("idle", "watch", Box::new(Watcher(watcher.clone())))
            .unwrap();
        ch.advance_time_by(SEC - MS);
        assert!(take(&watcher).is_empty());
        ch.advance_time_by(MS);
        assert_eq!(take(&watcher), ["ReaderIdle!"]);
        assert!(take(&seen).is_empty());
        assert!(!ch.finish().unwrap());
    }

    #[test]
    fn times_under_a_millisecond_count_as_one() {
        let handler = IdleStateHandler::new(Duration::from_nanos(1), Duration::ZERO, MS * 5);
        assert_eq!(handler.reader_idle_time(), MIN_TIMEOUT);
        assert_eq!(handler.writer_idle_time(), Duration::ZERO);
        assert_eq!(handler.all_idle_time(), MS * 5);
        let (ch, seen) = embedded(handler);
        ch.advance_time_by(MS);
        assert_eq!(take(&seen), ["ReaderIdle!"]);
        assert!(!ch.finish().unwrap());
    }

    #[test]
    fn a_read_timeout_fires_once_and_closes_the_channel() {
        let check = BufferCheck::start();
        let (ch, seen) = embedded(ReadTimeoutHandler::new(SEC));
        ch.advance_time_by(SEC / 2);
        ch.write_inbound([bytes()]).unwrap();
        ch.advance_time_by(SEC / 2);
        assert!(take(&seen).is_empty());
        assert!(ch.channel().is_open());
        ch.advance_time_by(SEC / 2);
        assert_eq!(take(&seen), ["exception:timed out:Some(Read)"]);
        assert!(!ch.channel().is_open());
        ch.advance_time_by(10 * SEC);
        assert!(take(&seen).is_empty());
        assert_eq!(TimeoutKind::Read.message(), "read timed out");
        let _ = ch.finish_and_release_all();
        check.finish();
    }

    /// Keeps every write (and its promise) without passing it on: a peer that never reads.
    #[derive(Default)]
    struct Stall(Mutex<Vec<(Message, Option<Promise>)>>);

    impl ChannelHandler for Arc<Stall> {
        fn mask(&self) -> Mask {
            Mask::WRITE
        }
        fn write(&self, _: &Context, msg: Message, promise: Option<Promise>) -> HandlerResult {
            self.0.lock().unwrap().push((msg, promise));
            Ok(())
        }
    }

    fn stalled(timeout: Duration) -> (EmbeddedChannel, Seen, Arc<Stall>) {
        let seen = Seen::default();
        let stall = Arc::new(Stall::default());
        let ch = EmbeddedChannel::new(vec![
            Box::new(stall.clone()),
            Box::new(WriteTimeoutHandler::new(timeout)),
            Box::new(Watcher(seen.clone())),
        ])
        .unwrap();
        (ch, seen, stall)
    }

    #[test]
    fn a_write_that_does_not_complete_in_time_fires_once_and_closes() {
        let check = BufferCheck::start();
        let (ch, seen, stall) = stalled(SEC);
        let promise = ch.channel().new_promise();
        ch.channel().write_and_flush(bytes(), Some(promise.clone()));
        ch.channel().write_and_flush(bytes(), None);
        ch.advance_time_by(SEC - MS);
        assert!(take(&seen).is_empty());
        ch.advance_time_by(MS);
        assert_eq!(take(&seen), ["exception:timed out:Some(Write)"]);
        assert!(!ch.channel().is_open());
        ch.advance_time_by(10 * SEC);
        assert!(take(&seen).is_empty());
        assert!(
            !promise.is_done(),
            "the stalled write is the stall's to complete"
        );
        stall.0.lock().unwrap().clear();
        drop(ch);
        check.finish();
    }

    #[test]
    fn writes_that_complete_in_time_cancel_their_timers() {
        let check = BufferCheck::start();
        let (ch, seen, stall) = stalled(SEC);
        for _ in 0..3 {
            ch.channel().write_and_flush(bytes(), None);
            ch.advance_time_by(SEC / 2);
            for (_, promise) in stall.0.lock().unwrap().drain(..) {
                promise.unwrap().try_success(None);
            }
            ch.run_pending_tasks();
        }
        ch.advance_time_by(10 * SEC);
        assert!(take(&seen).is_empty());
        assert!(ch.channel().is_open());
        let write = ch.pipeline().get("handler-1").unwrap();
        let pending = write
            .handler_as::<WriteTimeoutHandler>()
            .map(|h| lock(&h.write.state).pending.len());
        assert!(pending.is_none_or(|n| n == 0));
        assert!(!ch.finish().unwrap());
        check.finish();
    }

    /// Fails every write with a reset (what the head does when the peer resets).
    struct Fail;

    impl ChannelHandler for Fail {
        fn mask(&self) -> Mask {
            Mask::WRITE
        }
        fn write(&self, _: &Context, _: Message, _: Option<Promise>) -> HandlerResult {
            Err(Failure::new(crate::Error::Os(libc::ECONNRESET)))
        }
    }

    #[test]
    fn a_write_without_promise_that_fails_still_fires_the_exception_event_once() {
        let check = BufferCheck::start();
        for handler in [
            Box::new(IdleStateHandler::new(Duration::ZERO, SEC, Duration::ZERO))
                as Box<dyn ChannelHandler>,
            Box::new(WriteTimeoutHandler::new(SEC)),
        ] {
            let seen = Seen::default();
            let ch = EmbeddedChannel::new(vec![
                Box::new(Fail),
                handler,
                Box::new(Watcher(seen.clone())),
            ])
            .unwrap();
            ch.channel().write_and_flush(bytes(), None);
            ch.run_pending_tasks();
            let reset = crate::Error::Os(libc::ECONNRESET);
            assert_eq!(take(&seen), [format!("exception:{reset}:None")]);
            // With a promise the failure is the promise's alone.
            let promise = ch.channel().new_promise();
            ch.channel().write_and_flush(bytes(), Some(promise.clone()));
            ch.run_pending_tasks();
            assert_eq!(promise.cause(), Some(reset));
            assert!(take(&seen).is_empty());
            assert!(!ch.finish().unwrap());
        }
        check.finish();
    }

    /// Writes `len` bytes once active (one message, flushed).
    struct Flood(usize);

    impl ChannelHandler for Flood {
        fn mask(&self) -> Mask {
            Mask::ACTIVE
        }
        fn channel_active(&self, ctx: &Context) -> HandlerResult {
            ctx.write_and_flush(Message::copy_from_slice(&vec![7u8; self.0]), None);
            ctx.fire_channel_active();
            Ok(())
        }
    }

    /// Output stalled by a peer that does not read is idle with `observe_output` on (after
    /// the first event, later ones fire while no byte leaves); once the peer reads it all,
    /// the completed write starts a new first event.
    #[test]
    fn observe_output_over_tcp_against_a_peer_that_does_not_read() {
        let check = BufferCheck::start();
        let group = EventLoopGroup::new(1).unwrap();
        let seen = Seen::default();
        let s = seen.clone();
        const LEN: usize = 8 << 20;
        let server = ServerBootstrap::new()
            .group(group.clone(), group.clone())
            .child_handler(move |ch: &Channel| {
                let pipeline = ch.pipeline();
                let idle = IdleStateHandler::with_observe_output(
                    true,
                    Duration::ZERO,
                    20 * MS,
                    Duration::ZERO,
                );
                pipeline.add_last("idle", Box::new(idle))?;
                pipeline.add_last("flood", Box::new(Flood(LEN)))?;
                pipeline.add_last("watch", Box::new(Watcher(s.clone())))?;
                Ok(())
            })
            .bind(ChannelAddress::Inet("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let wait = Duration::from_secs(20);
        assert!(server.future.wait(Some(wait)).unwrap());
        let address = server.channel.local_address().unwrap().inet().unwrap();
        let mut client = TcpStream::connect(address).unwrap();
        client.set_read_timeout(Some(wait)).unwrap();
        assert!(wait_until(wait, || seen.lock().unwrap().len() >= 3));
        let stalled = take(&seen);
        assert_eq!(stalled[0], "WriterIdle!");
        assert!(
            stalled[1..].iter().all(|e| e == "WriterIdle"),
            "{stalled:?}"
        );
        let mut got = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while got < LEN {
            let n = std::io::Read::read(&mut client, &mut buf).unwrap();
            assert!(n > 0 && buf[..n].iter().all(|&b| b == 7));
            got += n;
        }
        assert!(wait_until(wait, || {
            seen.lock().unwrap().iter().any(|e| e == "WriterIdle!")
        }));
        drop(client);
        server.channel.close().wait(Some(wait)).unwrap();
        shut_down(&group);
        check.finish();
    }

    #[test]
    fn an_idle_tcp_connection_gets_its_event_and_a_read_timeout_closes_it() {
        let check = BufferCheck::start();
        let group = EventLoopGroup::new(1).unwrap();
        let seen = Seen::default();
        let s = seen.clone();
        let server = ServerBootstrap::new()
            .group(group.clone(), group.clone())
            .child_handler(move |ch: &Channel| {
                let pipeline = ch.pipeline();
                pipeline.add_last(
                    "idle",
                    Box::new(IdleStateHandler::new(
                        20 * MS,
                        Duration::ZERO,
                        Duration::ZERO,
                    )),
                )?;
                pipeline.add_last("timeout", Box::new(ReadTimeoutHandler::new(200 * MS)))?;
                pipeline.add_last("watch", Box::new(Watcher(s.clone())))?;
                Ok(())
            })
            .bind(ChannelAddress::Inet("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        assert!(server.future.wait(Some(Duration::from_secs(10))).unwrap());
        let address = server.channel.local_address().unwrap().inet().unwrap();
        let mut client = TcpStream::connect(address).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        // The read timeout closes the server's side: the client reads end of stream.
        let mut buf = [0u8; 1];
        let n = std::io::Read::read(&mut client, &mut buf).unwrap_or(usize::MAX);
        assert_eq!(n, 0);
        assert!(wait_until(Duration::from_secs(10), || {
            seen.lock()
                .unwrap()
                .iter()
                .any(|e| e.starts_with("exception"))
        }));
        let seen = take(&seen);
        assert_eq!(seen.first().map(String::as_str), Some("ReaderIdle!"));
        assert!(seen[1..seen.len() - 1].iter().all(|e| e == "ReaderIdle"));
        assert_eq!(seen.last().unwrap(), "exception:timed out:Some(Read)");
        server
            .channel
            .close()
            .wait(Some(Duration::from_secs(10)))
            .unwrap();
        shut_down(&group);
        check.finish();
    }

    #[test]
    fn idle_times_beyond_the_virtual_clock_never_fire_and_do_not_panic() {
        let long = IdleStateHandler::new(Duration::MAX, Duration::MAX, Duration::ZERO);
        let (ch, seen) = embedded(long);
        ch.advance_time_by(Duration::from_secs(u64::MAX / 2));
        ch.write_inbound([bytes()]).unwrap();
        ch.write_outbound([bytes()]).unwrap();
        ch.advance_time_by(Duration::from_secs(u64::MAX / 2));
        assert!(take(&seen).is_empty());
        // The clock stops at its end instead of overflowing.
        ch.advance_time_by(Duration::MAX);
        assert_eq!(ch.virtual_time(), Duration::MAX);
        assert!(ch.finish_and_release_all().unwrap());
    }
}
