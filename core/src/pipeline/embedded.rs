//! [`EmbeddedChannel`]: a channel with no I/O, for testing handlers (Netty's
//! `EmbeddedChannel`).
//!
//! Messages written inbound travel the pipeline as reads; what reaches the tail is kept for
//! [`read_inbound`](EmbeddedChannel::read_inbound). Messages written outbound and flushed
//! are kept for [`read_outbound`](EmbeddedChannel::read_outbound). An exception that
//! reached the tail is returned by the next call that checks (Netty's `checkException`).
//! Tasks the channel schedules ([`Channel::schedule`]) run on a virtual clock that
//! [`advance_time_by`](EmbeddedChannel::advance_time_by) moves. The channel runs on a loop
//! of its own that the thread which made it drives: every call runs inside it, and queued
//! work (promise listeners, writability events) runs in
//! [`run_pending_tasks`](EmbeddedChannel::run_pending_tasks) and the calls that write.
//! [`advance_time_by`](EmbeddedChannel::advance_time_by) moves that loop's clock too (as
//! Netty's `EmbeddedEventLoop` does), so what is scheduled on the loop itself
//! (`ctx.executor().schedule(..)`, the loop's timers) comes due as the virtual clock passes
//! its deadline; real time moves the loop's clock as well (Netty's, unfrozen).

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::channel::{Channel, ChannelKind, ChannelTask, Transport};
use super::handler::ChannelHandler;
use super::list::Pipeline;
use super::message::{ChannelAddress, Message};
use crate::event_loop::{EventLoop, Failure, Future, Promise, RunMode};
use crate::sync::lock;
use crate::{ErrorKind, Result};

/// A task on the virtual clock.
struct Scheduled {
    /// `None`: beyond the virtual clock's range, never due.
    deadline: Option<Duration>,
    seq: u64,
    task: ChannelTask,
    promise: Promise,
}

#[derive(Default)]
struct EmbeddedState {
    inbound: Mutex<VecDeque<Message>>,
    outbound: Mutex<VecDeque<Message>>,
    exception: Mutex<Option<Failure>>,
    active: AtomicBool,
    /// The virtual clock: now, and the tasks waiting on it.
    clock: Mutex<(Duration, u64, Vec<Scheduled>)>,
}

struct EmbeddedTransport {
    state: Arc<EmbeddedState>,
}

impl Transport for EmbeddedTransport {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Embedded
    }
    fn is_active(&self) -> bool {
        self.state.active.load(Ordering::Acquire)
    }
    fn bind(&self, _: &Channel, _: ChannelAddress) -> Result<()> {
        Ok(())
    }
    fn connect(&self, _: &Channel, _: ChannelAddress, _: Option<ChannelAddress>, p: Promise) {
        p.try_success(None);
    }
    fn begin_read(&self, _: &Channel) {}
    fn flush(&self, channel: &Channel) {
        while let Some(entry) = channel.inner.outbound.with(|b| b.pop_flushed()) {
            let super::outbound_buffer::Entry {
                msg,
                promise,
                counted,
            } = entry;
            lock(&self.state.outbound).push_back(msg);
            channel.complete_write(counted, promise);
        }
    }
    fn close_transport(&self, _: &Channel) {
        self.state.active.store(false, Ordering::Release);
    }
    fn local_address(&self) -> Option<ChannelAddress> {
        Some(ChannelAddress::local("embedded"))
    }
    fn remote_address(&self) -> Option<ChannelAddress> {
        Some(ChannelAddress::local("embedded"))
    }
    fn unhandled_read(&self, _: &Channel, msg: Message) {
        lock(&self.state.inbound).push_back(msg);
    }
    fn unhandled_exception(&self, _: &Channel, failure: Failure) -> Option<Failure> {
        let mut slot = lock(&self.state.exception);
        if slot.is_none() {
            *slot = Some(failure);
            None
        } else {
            Some(failure) // a second one before the first was checked is reported
        }
    }
    fn schedule(&self, channel: &Channel, delay: Duration, task: ChannelTask) -> Result<Future> {
        let promise = channel.new_promise();
        let mut clock = lock(&self.state.clock);
        let (now, seq, tasks) = &mut *clock;
        *seq += 1;
        tasks.push(Scheduled {
            deadline: now.checked_add(delay),
            seq: *seq,
            task,
            promise: promise.clone(),
        });
        Ok(promise)
    }
    fn now(&self, _: &Channel) -> Duration {
        lock(&self.state.clock).0
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A channel with no I/O for testing handlers. Not `Send`-bound to a thread by type, but
/// driven by the thread that made it: use it there.
pub struct EmbeddedChannel {
    channel: Channel,
    event_loop: EventLoop,
    state: Arc<EmbeddedState>,
}

impl std::fmt::Debug for EmbeddedChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedChannel")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl EmbeddedChannel {
    /// A registered, active embedded channel whose pipeline holds `handlers` (named
    /// `handler-0`, `handler-1`, …), on a loop of its own driven by this thread.
    ///
    /// # Errors
    /// OS errors making the loop.
    pub fn new(handlers: Vec<Box<dyn ChannelHandler>>) -> Result<EmbeddedChannel> {
        Self::with_event_loop(EventLoop::new()?, handlers)
    }

    /// [`new`](Self::new) on `event_loop`: a caller-driven loop of this thread
    /// ([`EventLoop::new`]) that nothing else runs, which the channel drives and closes when
    /// it is dropped. For a binding that wraps the loop first, so that handlers see it as
    /// their executor.
    ///
    /// # Errors
    /// `InvalidArgument` (a library-driven loop).
    pub fn with_event_loop(
        event_loop: EventLoop,
        handlers: Vec<Box<dyn ChannelHandler>>,
    ) -> Result<EmbeddedChannel> {
        if event_loop.is_library_driven() {
            return Err(ErrorKind::InvalidArgument.into());
        }
        let state = Arc::new(EmbeddedState::default());
        state.active.store(true, Ordering::Release);
        let channel = Channel::new(
            event_loop.clone(),
            None,
            Box::new(EmbeddedTransport {
                state: state.clone(),
            }),
        );
        let embedded = EmbeddedChannel {
            channel,
            event_loop,
            state,
        };
        for (i, handler) in handlers.into_iter().enumerate() {
            embedded
                .channel
                .pipeline()
                .add_last(&format!("handler-{i}"), handler)?;
        }
        let _ = embedded.channel.register();
        embedded.run_pending_tasks();
        Ok(embedded)
    }

    /// The channel.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The channel's pipeline.
    pub fn pipeline(&self) -> Pipeline {
        self.channel.pipeline()
    }

    /// Fires each message as a read, then a read complete; runs pending tasks. Returns
    /// whether messages wait at the tail for [`read_inbound`](Self::read_inbound).
    ///
    /// # Errors
    /// The exception that reached the tail (once), or `Closed`.
    pub fn write_inbound(
        &self,
        msgs: impl IntoIterator<Item = Message>,
    ) -> std::result::Result<bool, Failure> {
        self.ensure_open()?;
        let pipeline = self.channel.pipeline();
        for msg in msgs {
            pipeline.fire_channel_read(msg);
        }
        pipeline.fire_channel_read_complete();
        self.run_pending_tasks();
        self.check_exception()?;
        Ok(!lock(&self.state.inbound).is_empty())
    }

    /// Writes each message through the pipeline, flushes, runs pending tasks. Returns whether
    /// messages wait for [`read_outbound`](Self::read_outbound).
    ///
    /// # Errors
    /// The exception that reached the tail, or the first write's failure, or `Closed`.
    pub fn write_outbound(
        &self,
        msgs: impl IntoIterator<Item = Message>,
    ) -> std::result::Result<bool, Failure> {
        self.ensure_open()?;
        let mut futures = Vec::new();
        for msg in msgs {
            let promise = self.channel.new_promise();
            self.channel.write(msg, Some(promise.clone()));
            futures.push(promise);
        }
        self.channel.flush();
        self.run_pending_tasks();
        self.check_exception()?;
        for future in futures {
            if let Some(error) = future.cause() {
                return Err(Failure::new(error));
            }
        }
        Ok(!lock(&self.state.outbound).is_empty())
    }

    /// The next message that reached the tail.
    pub fn read_inbound(&self) -> Option<Message> {
        lock(&self.state.inbound).pop_front()
    }

    /// The next message written and flushed.
    pub fn read_outbound(&self) -> Option<Message> {
        lock(&self.state.outbound).pop_front()
    }

    /// How many messages wait at the tail.
    pub fn inbound_len(&self) -> usize {
        lock(&self.state.inbound).len()
    }

    /// How many written messages wait.
    pub fn outbound_len(&self) -> usize {
        lock(&self.state.outbound).len()
    }

    /// Runs the queued work (promise listeners, writability events, operations queued from
    /// other threads) and the tasks due on the virtual clock.
    pub fn run_pending_tasks(&self) {
        // Each turn runs what was queued before it; a few turns settle chains of listeners.
        for _ in 0..64 {
            let _ = self.event_loop.run(RunMode::NoWait);
            let due = self.run_due_scheduled();
            if !due && self.event_loop.backend_timeout() != Some(Duration::ZERO) {
                break;
            }
        }
    }

    /// Runs the scheduled tasks whose virtual deadline has come; whether any ran.
    fn run_due_scheduled(&self) -> bool {
        let mut ran = false;
        loop {
            let next = {
                let mut clock = lock(&self.state.clock);
                let (now, _, tasks) = &mut *clock;
                let due = tasks
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.deadline.is_some_and(|d| d <= *now))
                    .min_by_key(|(_, t)| (t.deadline, t.seq))
                    .map(|(i, _)| i);
                due.map(|i| tasks.swap_remove(i))
            };
            let Some(scheduled) = next else {
                return ran;
            };
            if scheduled.promise.set_uncancellable() {
                (scheduled.task)(&self.channel);
                scheduled.promise.try_success(None);
                ran = true;
            }
        }
    }

    /// Moves the virtual clock, and the loop's clock with it, forward by `by` (the virtual
    /// clock stops at `Duration::MAX`) and runs what came due. A task scheduled beyond the
    /// clock's range never comes due.
    pub fn advance_time_by(&self, by: Duration) {
        {
            let mut clock = lock(&self.state.clock);
            clock.0 = clock.0.saturating_add(by);
        }
        self.event_loop.advance_clock(by);
        self.run_pending_tasks();
    }

    /// The virtual clock's time since the channel was made.
    pub fn virtual_time(&self) -> Duration {
        lock(&self.state.clock).0
    }

    /// Returns the exception that reached the tail since the last check, if any (as an
    /// error, once).
    ///
    /// # Errors
    /// That exception.
    pub fn check_exception(&self) -> std::result::Result<(), Failure> {
        match lock(&self.state.exception).take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Closes the channel, runs what is pending and checks for an exception. Returns whether
    /// messages were left in either direction.
    ///
    /// # Errors
    /// The exception that reached the tail.
    pub fn finish(&self) -> std::result::Result<bool, Failure> {
        self.close();
        self.check_exception()?;
        Ok(self.inbound_len() > 0 || self.outbound_len() > 0)
    }

    /// [`finish`](Self::finish), then releases every message left.
    ///
    /// # Errors
    /// As [`finish`](Self::finish).
    pub fn finish_and_release_all(&self) -> std::result::Result<bool, Failure> {
        let left = self.finish();
        lock(&self.state.inbound).clear();
        lock(&self.state.outbound).clear();
        left
    }

    /// Closes the channel and runs what its close queued.
    pub fn close(&self) {
        let _ = self.channel.close();
        self.run_pending_tasks();
    }

    fn ensure_open(&self) -> std::result::Result<(), Failure> {
        if self.channel.is_open() {
            Ok(())
        } else {
            Err(Failure::new(ErrorKind::Closed.into()))
        }
    }
}

impl Drop for EmbeddedChannel {
    fn drop(&mut self) {
        self.close();
        lock(&self.state.clock).2.clear();
        self.event_loop.close();
    }
}
