//! Asynchronous channel groups (Java's `AsynchronousChannelGroup`): the loop threads that run
//! the completion handlers of the channels opened in the group.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::event_loop::{EventLoop, EventLoopGroup, Promise};
use crate::sync::lock;
use crate::{ErrorKind, Result};

/// How long the loops of a group that owns them may take to drain once the group has
/// terminated its channels (they have nothing left to run by then but owed handlers).
const LOOP_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A channel of the group, as the group sees it: something `shutdown_now` can close.
pub(crate) trait Member: Send + Sync {
    /// Closes the channel: its pending operations fail with `AsyncClose` on its loop, and the
    /// channel then leaves the group.
    fn close_member(&self);
}

/// A group of event loops that runs the completion handlers of its channels. Every channel
/// is opened in a group and belongs to one of its loops (round-robin), whose thread runs all
/// of that channel's handlers. Cloning gives another handle to the same group. Thread-safe.
///
/// A group either owns its loops ([`new`](Self::new): it starts them, and shuts them down once
/// it has terminated) or borrows an [`EventLoopGroup`]
/// ([`with_event_loop_group`](Self::with_event_loop_group): never shut down by the group).
///
/// **Shutdown** (Java's): [`shutdown`](Self::shutdown) refuses new channels
/// ([`ErrorKind::GroupShutdown`]) and terminates the group once its last channel is closed;
/// [`shutdown_now`](Self::shutdown_now) also closes every channel, whose pending operations
/// fail with [`ErrorKind::AsyncClose`] on the group's threads, once each, before termination.
/// [`await_termination`](Self::await_termination) waits for it (refused on a group thread).
/// A group dropped without a shutdown while it owns its loops shuts them down (its channels
/// keep it alive until they are closed).
#[derive(Clone)]
pub struct AsynchronousChannelGroup {
    inner: Arc<GroupInner>,
}

struct GroupInner {
    loops: EventLoopGroup,
    owns_loops: bool,
    members: Mutex<Members>,
    /// Completed once the group is shut down and its last channel has left.
    drained: Promise,
    /// The file channels' blocking pool, started on first use.
    file_pool: Mutex<Option<super::file::PoolSlot>>,
}

#[derive(Default)]
struct Members {
    shutdown: bool,
    next_id: u64,
    open: HashMap<u64, Arc<dyn Member>>,
}

impl std::fmt::Debug for AsynchronousChannelGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsynchronousChannelGroup")
            .field("loops", &self.inner.loops.loops().len())
            .field("owns_loops", &self.inner.owns_loops)
            .field("shutdown", &self.is_shutdown())
            .finish_non_exhaustive()
    }
}

impl Drop for GroupInner {
    fn drop(&mut self) {
        // No channel is left (they hold the group). Loops the group started must not outlive
        // it; the threads exit on their own.
        if self.owns_loops && !self.loops.is_shutting_down() {
            self.loops.shutdown_now();
        }
        if let Some(pool) = lock(&self.file_pool).take() {
            pool.shutdown();
        }
    }
}

impl AsynchronousChannelGroup {
    /// A group of `threads` new loops (0 = the number of cores), which it owns.
    ///
    /// # Errors
    /// As [`EventLoopGroup::new`].
    pub fn new(threads: usize) -> Result<AsynchronousChannelGroup> {
        Ok(Self::make(EventLoopGroup::new(threads)?, true))
    }

    /// A group over `loops`, which it borrows: the group's shutdown never shuts them down
    /// (when they shut down, the group's channels on them are closed).
    pub fn with_event_loop_group(loops: &EventLoopGroup) -> AsynchronousChannelGroup {
        Self::make(loops.clone(), false)
    }

    fn make(loops: EventLoopGroup, owns_loops: bool) -> AsynchronousChannelGroup {
        AsynchronousChannelGroup {
            inner: Arc::new(GroupInner {
                loops,
                owns_loops,
                members: Mutex::new(Members::default()),
                drained: Promise::new(None),
                file_pool: Mutex::new(None),
            }),
        }
    }

    /// The loops that run the group's handlers.
    pub fn event_loop_group(&self) -> &EventLoopGroup {
        &self.inner.loops
    }

    /// The loop a new channel goes to (round-robin).
    pub(crate) fn next_loop(&self) -> EventLoop {
        self.inner.loops.next().clone()
    }

    /// Fails with `GroupShutdown` once the group is shut down.
    pub(crate) fn check_open(&self) -> Result<()> {
        if lock(&self.inner.members).shutdown {
            return Err(ErrorKind::GroupShutdown.into());
        }
        Ok(())
    }

    /// Adds a channel; its id is what it leaves with.
    ///
    /// # Errors
    /// `GroupShutdown` (decided under the members' lock, so `shutdown_now` closes every
    /// channel that joined before it).
    pub(crate) fn join(&self, member: Arc<dyn Member>) -> Result<u64> {
        let mut members = lock(&self.inner.members);
        if members.shutdown {
            return Err(ErrorKind::GroupShutdown.into());
        }
        members.next_id += 1;
        let id = members.next_id;
        members.open.insert(id, member);
        Ok(id)
    }

    /// A closed channel leaves (once its pending operations have reported); the group
    /// terminates when the last one leaves after a shutdown.
    pub(crate) fn leave(&self, id: u64) {
        let left = {
            let mut members = lock(&self.inner.members);
            members.open.remove(&id)
        };
        drop(left);
        self.terminate_if_drained();
    }

    fn terminate_if_drained(&self) {
        {
            let members = lock(&self.inner.members);
            if !members.shutdown || !members.open.is_empty() {
                return;
            }
        }
        if self.inner.drained.try_success(None) && self.inner.owns_loops {
            self.inner
                .loops
                .shutdown_gracefully(Duration::ZERO, LOOP_DRAIN_TIMEOUT);
        }
        if let Some(pool) = lock(&self.inner.file_pool).take() {
            pool.shutdown();
        }
    }

    /// Refuses new channels from now on; the group terminates once its channels are closed.
    /// Idempotent; returns at once.
    pub fn shutdown(&self) {
        lock(&self.inner.members).shutdown = true;
        self.terminate_if_drained();
    }

    /// [`shutdown`](Self::shutdown), and closes every channel of the group: their pending
    /// operations fail with `AsyncClose` on the group's threads, once each, before the group
    /// terminates. Returns at once (also on a group thread, from inside a handler).
    pub fn shutdown_now(&self) {
        let open: Vec<Arc<dyn Member>> = {
            let mut members = lock(&self.inner.members);
            members.shutdown = true;
            members.open.values().cloned().collect()
        };
        for member in open {
            member.close_member();
        }
        self.terminate_if_drained();
    }

    /// Whether the group is shut down (it may not have terminated yet).
    pub fn is_shutdown(&self) -> bool {
        lock(&self.inner.members).shutdown
    }

    /// Whether the group has terminated: shut down, every channel closed with its handlers
    /// run, and the loops it owns terminated.
    pub fn is_terminated(&self) -> bool {
        self.inner.drained.is_done() && (!self.inner.owns_loops || self.inner.loops.is_terminated())
    }

    /// Waits until the group has terminated or `timeout` passed (`None` = forever); a group
    /// that owns its loops also joins their threads. Returns whether it terminated.
    ///
    /// # Errors
    /// `WouldDeadlock` on one of the group's threads (it would wait for itself); the
    /// interrupt hook's error.
    pub fn await_termination(&self, timeout: Option<Duration>) -> Result<bool> {
        if self
            .inner
            .loops
            .loops()
            .iter()
            .any(EventLoop::in_event_loop)
        {
            return Err(ErrorKind::WouldDeadlock.into());
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        if !self.inner.drained.wait(timeout)? {
            return Ok(false);
        }
        if !self.inner.owns_loops {
            return Ok(true);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.inner.loops.await_termination(left)
    }

    /// Whether both values are the same group.
    pub fn same(&self, other: &AsynchronousChannelGroup) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// How many channels are open in the group.
    pub fn open_channels(&self) -> usize {
        lock(&self.inner.members).open.len()
    }

    pub(crate) fn file_pool(&self) -> &Mutex<Option<super::file::PoolSlot>> {
        &self.inner.file_pool
    }
}
