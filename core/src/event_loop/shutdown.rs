//! The shutdown phases (see the module docs of [`super`]): rejecting work from other threads,
//! cancelling timers, draining queued work for a quiet period, closing what is registered,
//! terminating; and waiting for termination.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::task::{NO_MARK, Queued};
use super::{EventLoop, Future, OPEN, SHUTTING_DOWN, TERMINATED, io};
use crate::sync::lock;
use crate::{ErrorKind, Result};

pub(super) struct Shutdown {
    pub(super) quiet: Duration,
    pub(super) deadline: Option<Instant>,
    pub(super) now: bool,
    pub(super) last_activity: Instant,
    pub(super) timers_cancelled: bool,
}

impl EventLoop {
    /// Starts a graceful shutdown (see the module docs): rejects work from other threads
    /// from now on, cancels timers not yet due, runs queued work until `quiet` has passed
    /// with nothing new (or `timeout`), closes watched channels, terminates. Returns at once;
    /// wait with [`await_termination`](Self::await_termination). Idempotent.
    pub fn shutdown_gracefully(&self, quiet: Duration, timeout: Duration) {
        self.begin_shutdown(quiet, Some(Instant::now() + timeout), false);
    }

    /// Starts a shutdown that skips the draining: queued tasks are dropped (on the thread
    /// that waits for termination), then as [`shutdown_gracefully`](Self::shutdown_gracefully).
    pub fn shutdown_now(&self) {
        self.begin_shutdown(Duration::ZERO, Some(Instant::now()), true);
    }

    pub(super) fn begin_shutdown(&self, quiet: Duration, deadline: Option<Instant>, now: bool) {
        {
            let _tasks = lock(&self.inner.tasks);
            let mut shutdown = lock(&self.inner.shutdown);
            match shutdown.as_mut() {
                Some(s) => s.now |= now,
                None => {
                    *shutdown = Some(Shutdown {
                        quiet,
                        deadline,
                        now,
                        last_activity: Instant::now(),
                        timers_cancelled: false,
                    });
                    let _ = self.inner.state.compare_exchange(
                        OPEN,
                        SHUTTING_DOWN,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
            }
        }
        self.wake();
    }

    /// How long the next wait may last while shutting down (the quiet period's rest).
    pub(super) fn shutdown_wait(&self) -> Option<Duration> {
        let shutdown = lock(&self.inner.shutdown);
        let s = shutdown.as_ref()?;
        let quiet_left = s.quiet.saturating_sub(s.last_activity.elapsed());
        let deadline_left = s
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        Some(
            deadline_left
                .map_or(quiet_left, |d| d.min(quiet_left))
                .min(Duration::from_millis(100)),
        )
    }

    /// [`try_finish_shutdown`](Self::try_finish_shutdown) inside the callback scope (the
    /// shutdown phases run tasks and drop callbacks).
    pub(super) fn finish_shutdown_scoped(&self) -> bool {
        let mut done = false;
        self.scoped(&mut || done = self.try_finish_shutdown());
        done
    }

    /// On the loop's thread while shutting down: advances the phases; `true` once terminated.
    pub(super) fn try_finish_shutdown(&self) -> bool {
        let (cancel_timers, now_mode) = {
            let mut shutdown = lock(&self.inner.shutdown);
            let Some(s) = shutdown.as_mut() else {
                return false;
            };
            let first = !s.timers_cancelled;
            s.timers_cancelled = true;
            (first, s.now)
        };
        if cancel_timers {
            let (entries, stopped) = {
                let mut timers = lock(&self.inner.timers);
                (timers.drain(), timers.handles.drain())
            };
            drop(stopped); // reusable timers are stopped, and closed at termination
            for entry in entries {
                self.release_timer_ref(&entry.timer);
                entry.timer.future.cancel();
                if let Some(task) = entry.timer.take_task() {
                    drop(task);
                }
            }
        }
        if now_mode {
            let dropped: Vec<Queued> = lock(&self.inner.tasks).drain(..).collect();
            self.set_aside(dropped);
        } else {
            // The queue's lock is taken before the shutdown state's, never inside it
            // (`begin_shutdown` takes them in that order).
            let queue_empty = lock(&self.inner.tasks).is_empty();
            let done = {
                let shutdown = lock(&self.inner.shutdown);
                let s = shutdown.as_ref().expect("shutting down");
                let quiet_over = s.last_activity.elapsed() >= s.quiet && queue_empty;
                quiet_over || s.deadline.is_some_and(|d| Instant::now() >= d)
            };
            if !done {
                return false;
            }
        }
        self.finish_shutdown();
        true
    }

    /// The last phases, on the loop's thread (or the caller's, for a loop nobody runs).
    pub(super) fn finish_shutdown(&self) {
        // Close what is registered: watched channels close and their callbacks drop here.
        if let Ok(keys) = self.inner.selector.keys() {
            for key in keys {
                io::close(self, &key);
            }
        }
        // Everything queued runs now, also what this turn queued: there is no next turn.
        self.inner.own_mark.store(NO_MARK, Ordering::Relaxed);
        let _ = self.run_tasks();
        let rest: Vec<Queued> = {
            let mut tasks = lock(&self.inner.tasks);
            self.inner.state.store(TERMINATED, Ordering::Release);
            tasks.drain(..).collect()
        };
        self.set_aside(rest);
        let entries = lock(&self.inner.timers).drain();
        for entry in entries {
            entry.timer.future.cancel();
            drop(entry.timer.take_task());
        }
        // Reusable timers are closed (their callbacks dropped here); none can be made or
        // started any more.
        let timers = lock(&self.inner.loop_timers).take(self);
        for timer in timers {
            timer.close();
        }
        self.inner.selector.close();
        self.inner.refs.store(0, Ordering::Release);
        if !self.inner.library_driven {
            self.complete_termination();
        } else {
            self.inner.terminated.try_success(None);
        }
        // Last, while this thread still runs the loop: user code (attachment frees, the
        // termination's listeners) may have used loop-owned objects above.
        self.run_reclaims(true);
    }

    /// Deals with queued work that will not run as tasks any more (a shutdown drops it): a
    /// promise's listeners run now, on this thread; the rest is kept for the thread that
    /// waits for termination, which drops it (and so runs the C attachment_free functions).
    pub(super) fn set_aside(&self, tasks: impl IntoIterator<Item = Queued>) {
        let mut rest = Vec::new();
        for task in tasks {
            match task {
                Queued::Internal(listener) => self.guard(|| listener(self)),
                other => rest.push(other),
            }
        }
        if !rest.is_empty() {
            lock(&self.inner.leftovers).extend(rest);
        }
    }

    pub(super) fn complete_termination(&self) {
        let leftovers = std::mem::take(&mut *lock(&self.inner.leftovers));
        drop(leftovers);
        self.inner.terminated.try_success(None);
    }

    /// Shuts a caller-driven loop that is not running down now, on this thread (queued tasks
    /// are dropped here). On a running or library-driven loop it starts
    /// [`shutdown_now`](Self::shutdown_now) instead.
    pub fn close(&self) {
        if self.is_terminated() {
            return;
        }
        self.shutdown_now();
        if !self.inner.library_driven && !self.inner.running.swap(true, Ordering::AcqRel) {
            let _run_right = self.inner.run_right.hold();
            self.finish_shutdown_scoped();
            self.inner.running.store(false, Ordering::Release);
        }
    }

    /// Waits until the loop has terminated (`timeout`: `None` = forever), joins its thread,
    /// and runs what is still owed (dropping tasks that never ran) on this thread. Returns
    /// whether it terminated.
    ///
    /// # Errors
    /// `WouldDeadlock` on the loop's own thread: a library-driven loop's thread, or the thread
    /// running a caller-driven loop (from one of its callbacks); the interrupt hook's error.
    pub fn await_termination(&self, timeout: Option<Duration>) -> Result<bool> {
        let running_here = self.inner.running.load(Ordering::Acquire) && !self.is_terminated();
        if self.in_event_loop() && (self.inner.library_driven || running_here) {
            return Err(ErrorKind::WouldDeadlock.into());
        }
        if !self.inner.terminated.wait(timeout)? {
            return Ok(false);
        }
        if let Some(handle) = lock(&self.inner.thread).take() {
            let _ = handle.join();
        }
        let leftovers = std::mem::take(&mut *lock(&self.inner.leftovers));
        drop(leftovers);
        Ok(true)
    }

    /// A future that completes when the loop terminates.
    pub fn termination_future(&self) -> Future {
        self.inner.terminated.clone()
    }

    /// Whether a [`shutdown_now`](Self::shutdown_now) was asked for.
    pub(super) fn dropping_tasks(&self) -> bool {
        lock(&self.inner.shutdown).as_ref().is_some_and(|s| s.now)
    }
}
