//! Event loop groups: N loops on N library threads (Netty's `EventLoopGroup`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{EventLoop, Failure, Future, Promise, Repeat, ScheduledFuture, TimerTask, Value};
use crate::{ErrorKind, Result};

/// N event loops, each on its own thread (`nioxide-loop-N`). Cloning gives another handle to
/// the same group. Thread-safe.
///
/// [`next`](Self::next) hands out loops round-robin; `execute`, `submit` and `schedule` go
/// to the next loop. Shut down with [`shutdown_gracefully`](Self::shutdown_gracefully) (the
/// phases are the loops' own, see the [module docs](super)), then
/// [`await_termination`](Self::await_termination), which joins the threads and runs what is
/// still owed on the waiting thread.
#[derive(Clone, Debug)]
pub struct EventLoopGroup {
    inner: Arc<GroupInner>,
}

#[derive(Debug)]
struct GroupInner {
    loops: Vec<EventLoop>,
    next: AtomicUsize,
    terminated: Promise,
}

/// The most loops a group may have (each is a thread with its own epoll instance).
pub const MAX_GROUP_LOOPS: usize = 4096;

impl EventLoopGroup {
    /// Starts `threads` loops (0 = the number of cores), at most [`MAX_GROUP_LOOPS`].
    ///
    /// # Errors
    /// `InvalidArgument` for more than [`MAX_GROUP_LOOPS`]; OS errors from creating the loops
    /// or their threads (the loops started so far are shut down again).
    pub fn new(threads: usize) -> Result<EventLoopGroup> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        if threads > MAX_GROUP_LOOPS {
            return Err(crate::ErrorKind::InvalidArgument.into());
        }
        let mut loops = Vec::with_capacity(threads);
        for _ in 0..threads {
            match EventLoop::spawn() {
                Ok(lp) => loops.push(lp),
                Err(e) => {
                    for lp in &loops {
                        lp.shutdown_now();
                    }
                    for lp in &loops {
                        let _ = lp.await_termination(None);
                    }
                    return Err(e);
                }
            }
        }
        Ok(EventLoopGroup {
            inner: Arc::new(GroupInner {
                loops,
                next: AtomicUsize::new(0),
                terminated: Promise::new(None),
            }),
        })
    }

    /// The loops, in order.
    pub fn loops(&self) -> &[EventLoop] {
        &self.inner.loops
    }

    /// The next loop, round-robin.
    pub fn next(&self) -> &EventLoop {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.loops.len();
        &self.inner.loops[i]
    }

    /// [`EventLoop::try_execute`] on the next loop.
    pub fn try_execute(&self, task: &mut Option<super::Task>) -> Result<()> {
        self.next().try_execute(task)
    }

    /// [`EventLoop::submit`] on the next loop.
    pub fn submit(
        &self,
        f: impl FnOnce(&EventLoop) -> std::result::Result<Option<Value>, Failure> + Send + 'static,
    ) -> Result<Future> {
        self.next().submit(f)
    }

    /// [`EventLoop::try_schedule`] on the next loop.
    pub fn try_schedule(
        &self,
        task: &mut Option<TimerTask>,
        delay: Duration,
        repeat: Repeat,
    ) -> Result<ScheduledFuture> {
        self.next().try_schedule(task, delay, repeat)
    }

    /// Starts a graceful shutdown of every loop (see [`EventLoop::shutdown_gracefully`]).
    /// Returns at once.
    pub fn shutdown_gracefully(&self, quiet: Duration, timeout: Duration) {
        for lp in &self.inner.loops {
            lp.shutdown_gracefully(quiet, timeout);
        }
    }

    /// Starts a shutdown of every loop that skips the draining.
    pub fn shutdown_now(&self) {
        for lp in &self.inner.loops {
            lp.shutdown_now();
        }
    }

    /// Whether every loop has terminated.
    pub fn is_terminated(&self) -> bool {
        self.inner.loops.iter().all(EventLoop::is_terminated)
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.loops.iter().any(EventLoop::is_shutting_down)
    }

    /// Waits until every loop has terminated (`None` = forever), joins their threads, runs
    /// what is still owed on this thread, and completes the
    /// [`termination_future`](Self::termination_future) here. Returns whether all terminated.
    ///
    /// # Errors
    /// `WouldDeadlock` from one of the group's own threads; the interrupt hook's error.
    pub fn await_termination(&self, timeout: Option<Duration>) -> Result<bool> {
        if self.inner.loops.iter().any(EventLoop::in_event_loop) {
            return Err(ErrorKind::WouldDeadlock.into());
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        for lp in &self.inner.loops {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !lp.await_termination(left)? {
                return Ok(false);
            }
        }
        self.inner.terminated.try_success(None);
        Ok(true)
    }

    /// A future completed by [`await_termination`](Self::await_termination) once every loop
    /// has terminated; its listeners run on that waiting thread.
    pub fn termination_future(&self) -> Future {
        self.inner.terminated.clone()
    }
}
