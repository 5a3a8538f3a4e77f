//! Running a loop: the run modes, what keeps a run going, and one turn (libuv's order: due
//! timers and queued tasks, the wait for I/O, the I/O handles' events, due timers and queued
//! tasks again).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::run_right::Held;
use super::task::NO_MARK;
use super::{EventLoop, IDLE, RUNNING, io, thread_no};
use crate::sync::lock;
use crate::{ErrorKind, Result};

/// How [`EventLoop::run`] runs (libuv's `uv_run_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Until [`EventLoop::stop`], shutdown, or nothing referenced is left (no queued task, no
    /// ref'd timer or watch).
    Default,
    /// One turn; blocks for I/O or the next timer if nothing is pending. Returns at once,
    /// without a turn, when nothing referenced is left (see [`EventLoop::is_alive`]).
    Once,
    /// One turn without blocking.
    NoWait,
}

impl EventLoop {
    /// The backend's epoll descriptor: readable when the loop has I/O or a wake-up for a
    /// turn. A host loop polls it and then runs a [`RunMode::NoWait`] turn.
    pub fn backend_fd(&self) -> std::os::fd::RawFd {
        self.inner.selector.fd()
    }

    /// How long a host loop may wait before the next turn: `Some(0)` while tasks, cached
    /// readiness (or a raw descriptor to re-arm) or a stop are pending, else the time to the
    /// next timer, bounded by an accept back-off and, while shutting down, by the rest of the
    /// quiet period (at most 100 ms); `None` = nothing to wait for but the backend descriptor.
    /// Between runs (where a host calls it) the next timer is exact; from another thread while
    /// the loop runs it is as the loop published it at the end of its last turn.
    pub fn backend_timeout(&self) -> Option<Duration> {
        if self.inner.stop.load(Ordering::Acquire) || !lock(&self.inner.tasks).is_empty() {
            return Some(Duration::ZERO);
        }
        // Off the loop's thread: the deadline published at the end of the last turn or borrow.
        let next_timer = self.until_next_deadline();
        // Readiness cached or to be re-armed, an accept back-off, the shutdown's quiet period:
        // what the descriptor alone would not show.
        [self.inner.selector.wait_bound(), self.shutdown_wait()]
            .into_iter()
            .flatten()
            .fold(next_timer, |t, bound| {
                Some(t.map_or(bound, |t| t.min(bound)))
            })
    }

    /// Asks a running loop to return after its current turn, from any thread; a stop before
    /// a run makes that run return after at most one turn. No effect on a loop a library
    /// thread drives (its thread runs until the loop is shut down).
    pub fn stop(&self) {
        if self.inner.library_driven {
            return;
        }
        self.inner.stop.store(true, Ordering::Release);
        if !self.in_event_loop() {
            self.wake();
        }
    }

    pub(super) fn alive(&self) -> bool {
        self.inner.refs.load(Ordering::Acquire) > 0
            || !lock(&self.inner.tasks).is_empty()
            || self.has_refd_timer()
    }

    /// Whether the loop has referenced work left (libuv's `uv_loop_alive`): a queued task, a
    /// ref'd timer or watch, or a shutdown still under way. A [`RunMode::Default`] or
    /// [`RunMode::Once`] run of a caller-driven loop returns at once when it has none.
    /// Thread-safe; what it says may change at once if other threads queue work, and from
    /// another thread while the loop runs, its timers are counted as at the end of its last
    /// turn.
    pub fn is_alive(&self) -> bool {
        self.alive() || (self.is_shutting_down() && !self.is_terminated())
    }

    /// Runs the loop on the calling thread (which becomes its owner) as `mode` says. Returns
    /// whether referenced work is left (libuv's `uv_run` result).
    ///
    /// # Errors
    /// `Busy` (a re-entrant run, a run while another thread runs it, or a loop a library
    /// thread drives), `Closed` (terminated), `Forked`, the thread's interrupt hook's error
    /// (the Python module: Ctrl-C).
    pub fn run(&self, mode: RunMode) -> Result<bool> {
        self.check()?;
        if self.inner.library_driven {
            return Err(ErrorKind::Busy.into());
        }
        if self.is_terminated() {
            return Err(ErrorKind::Closed.into());
        }
        self.run_loop(mode)
    }

    pub(super) fn run_loop(&self, mode: RunMode) -> Result<bool> {
        if !self.enter(RUNNING) {
            return Err(ErrorKind::Busy.into());
        }
        /// On every way out of a run: not running, and idle, so work queued from now on wakes
        /// the backend descriptor a host loop polls. (Work already queued needs no wake-up:
        /// `backend_timeout` is 0 while tasks are pending, as libuv's is.)
        struct NotRunning<'a>(&'a EventLoop);
        impl Drop for NotRunning<'_> {
            fn drop(&mut self) {
                let inner = &self.0.inner;
                inner.running.store(IDLE, Ordering::Release);
                inner.idle.store(true, Ordering::SeqCst);
            }
        }
        self.inner.idle.store(false, Ordering::SeqCst);
        self.inner.streaming.store(false, Ordering::Relaxed);
        let _running = NotRunning(self);
        let _run_right = self.inner.run_right.hold();
        self.inner.owner.store(thread_no(), Ordering::Release);
        loop {
            // Nothing referenced: a Default or Once run has nothing to wait for (libuv's
            // `uv_run` returns at once then); a NoWait turn still looks once.
            if mode != RunMode::NoWait
                && !self.inner.library_driven
                && !self.alive()
                && !self.is_shutting_down()
            {
                // As every return of a run: a stop asked for is used up.
                self.inner.stop.store(false, Ordering::Release);
                return Ok(false);
            }
            self.turn(mode)?;
            if self.is_shutting_down() && self.finish_shutdown_scoped() {
                return Ok(false);
            }
            if self.inner.stop.swap(false, Ordering::AcqRel) || mode != RunMode::Default {
                return Ok(self.alive());
            }
        }
    }

    /// The right to run the loop's work inline on the calling thread for as long as the
    /// returned guard lives, or `None` (the caller then queues its work to the loop): the
    /// thread running the loop has it; so has the owner of a caller-driven loop that no thread
    /// runs, which then holds the loop's run right until the guard drops, as a run does (a
    /// run another thread starts meanwhile fails with `Busy`), so that its work and another
    /// thread's run of the loop never overlap. After the termination nobody runs the loop:
    /// its owner has the right without holding the run right.
    #[inline]
    pub fn inline(&self) -> Option<Inline<'_>> {
        // The loop's own thread inside a run, the common case: a load and a compare, here.
        if self.in_run() {
            return Some(Inline(None));
        }
        self.inline_cold()
    }

    /// [`inline`](Self::inline) off the loop's running thread.
    #[cold]
    #[inline(never)]
    fn inline_cold(&self) -> Option<Inline<'_>> {
        if self.inner.library_driven || !self.in_event_loop() {
            return None;
        }
        if self.is_terminated() {
            return Some(Inline(None));
        }
        if !self.enter(RUNNING) {
            return None;
        }
        let held = Inline(Some((self.inner.run_right.hold(), self)));
        // Another thread may have run the loop (and become its owner, or terminated it)
        // between the checks above and the entry.
        if !self.in_event_loop() {
            return None;
        }
        if self.is_terminated() {
            return Some(Inline(None));
        }
        Some(held)
    }

    /// One loop turn: due timers, queued tasks, a wait for I/O (bounded by the next timer,
    /// zero if work is pending), I/O callbacks, due timers, queued tasks.
    pub(super) fn turn(&self, mode: RunMode) -> Result<()> {
        let inner = &*self.inner;
        inner.counters.turns.fetch_add(1, Ordering::Relaxed);
        // What the loop's thread queued in the last turn (or between runs) runs in this one.
        if inner.own_mark.load(Ordering::Relaxed) != NO_MARK {
            inner.own_mark.store(NO_MARK, Ordering::Relaxed);
        }
        if self.work_due() {
            self.scoped(&mut || {
                self.run_timers();
                self.run_tasks();
            });
        }
        // A loop fed a stream of tasks from other threads looks for the next one briefly
        // before it blocks, which spares the producers a wake-up system call each.
        // (Not when a Default run is about to return: nothing would be left to wait for.)
        let caught = mode != RunMode::NoWait
            && inner.streaming.load(Ordering::Relaxed)
            && (mode != RunMode::Default || inner.library_driven || self.alive())
            && self.spin_for_tasks();
        // A task it caught is queued: this turn's wait does not block.
        let may_block = mode != RunMode::NoWait && !caught;
        // About to wait: from now on producers wake the backend. Setting the flag before the
        // last look at the queue and the timers means no work queued meanwhile is missed.
        if may_block {
            inner.idle.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
        }
        let timeout = if !may_block
            || inner.stop.load(Ordering::Acquire)
            || !lock(&inner.tasks).is_empty()
            // Reclaims handed over since the last turn's end (by this turn's first phase, or
            // by another thread that found the loop busy) run at this turn's end.
            || inner.reclaims_pending.load(Ordering::Acquire)
            || (!inner.library_driven && !self.alive())
        {
            Some(Duration::ZERO)
        } else {
            let next = self.until_next_deadline();
            match self.shutdown_wait() {
                Some(w) => Some(next.map_or(w, |n| n.min(w))),
                None => next,
            }
        };
        let blocks = may_block && timeout != Some(Duration::ZERO);
        if may_block && !blocks {
            // Work is pending after all: not going to sleep, producers need not wake us.
            inner.idle.store(false, Ordering::SeqCst);
        }
        let started = Instant::now();
        let selected = inner.selector.select(timeout);
        // Whether another thread woke the wait (it swapped `idle` off to write the eventfd).
        let woken = blocks && !inner.idle.swap(false, Ordering::SeqCst);
        let n = selected?;
        inner
            .counters
            .wait_ns
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let mut keys = Vec::new();
        if n > 0 {
            keys = std::mem::take(&mut *lock(&inner.scratch));
            inner.selector.selected_into(&mut keys);
        }
        let mut ran_after_wait = 0;
        if !keys.is_empty() || self.work_due() {
            self.scoped(&mut || {
                for key in keys.drain(..) {
                    inner.counters.events.fetch_add(1, Ordering::Relaxed);
                    self.guard(|| io::dispatch(self, &key));
                }
                self.run_timers();
                ran_after_wait = self.run_tasks();
            });
        }
        if n > 0 {
            *lock(&inner.scratch) = keys;
        }
        self.run_reclaims(false);
        // A stream from other threads: a wake-up that found two or more tasks, or a task the
        // spin caught. Tasks the loop queues for itself (say, from a timer) do not count.
        let streaming = caught || (woken && ran_after_wait >= 2);
        if streaming != inner.streaming.load(Ordering::Relaxed) {
            inner.streaming.store(streaming, Ordering::Relaxed);
        }
        // For other threads' `backend_timeout` and `is_alive`.
        self.publish_deadlines();
        Ok(())
    }

    /// Whether a callback phase would find work: a queued task or a due timer.
    pub(super) fn work_due(&self) -> bool {
        // The hint, not the queue's lock, which producers are taking: a task pushed this
        // instant is found by the next look (the wait's timeout is computed under the lock).
        (self.inner.queued.load(Ordering::Acquire)
            && self.inner.own_mark.load(Ordering::Relaxed) != 0)
            || self.next_deadline().is_some_and(|d| d <= self.clock())
    }
}

/// The right to run a loop's work inline ([`EventLoop::inline`]): gives back the run right it
/// holds, if any, on drop.
pub struct Inline<'a>(Option<(Held<'a>, &'a EventLoop)>);

impl Drop for Inline<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            self.release();
        }
    }
}

impl Inline<'_> {
    /// Gives back the run right that [`EventLoop::inline`] took (not the loop's own run's).
    #[cold]
    #[inline(never)]
    fn release(&mut self) {
        if let Some((held, event_loop)) = self.0.take() {
            drop(held);
            event_loop.inner.running.store(IDLE, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for Inline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inline")
            .field("holds", &self.0.is_some())
            .finish()
    }
}
