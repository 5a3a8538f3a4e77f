//! Scheduled tasks (Java's `ScheduledExecutorService`): [`EventLoop::schedule`] and its
//! future, each task's [`Timer`] with its ref, and the timer phase of a turn, which fires the
//! due scheduled tasks and reusable timers in deadline order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::deadlines::nanos;
use super::promise::{Failure, Promise, Value};
use super::{EventLoop, Future, SHUTTING_DOWN, TERMINATED, Task, WeakEventLoop, deadlines};
use crate::sync::lock;
use crate::{ErrorKind, Result};

/// What a scheduled task runs: `Ok` to go on (periodic tasks are rescheduled), `Err` to fail
/// the task's future and stop.
pub type TimerTask =
    Box<dyn FnMut(&EventLoop) -> std::result::Result<Option<Value>, Failure> + Send>;

/// How a periodic task repeats (Java's `ScheduledExecutorService` semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Runs once.
    Once,
    /// Runs every period after the first deadline; a late run does not shift later ones
    /// (runs never overlap: a run that took longer than the period starts the next late).
    FixedRate(Duration),
    /// Runs again the given delay after each run ends.
    FixedDelay(Duration),
}

/// One scheduled task.
pub(crate) struct Timer {
    pub(crate) future: Promise,
    pub(crate) task: std::sync::Mutex<Option<TimerTask>>,
    pub(crate) repeat: Repeat,
    /// [`REFD`] (the timer keeps the loop alive, libuv's ref) and [`HOLDS`] (it is still
    /// pending, so its ref counts in the loop's refs) in one word, so that a ref change racing
    /// the timer's end moves the loop's count exactly once.
    ref_state: AtomicU8,
}

/// A [`Timer`] is ref'd.
const REFD: u8 = 1;
/// A [`Timer`] is pending: while [`REFD`] too, it holds one of the loop's refs.
const HOLDS: u8 = 2;

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("repeat", &self.repeat)
            .finish_non_exhaustive()
    }
}

impl Timer {
    /// A pending, ref'd timer for `task`: it holds one of the loop's refs, which the caller
    /// adds.
    pub(crate) fn new(future: Promise, task: TimerTask, repeat: Repeat) -> Timer {
        Timer {
            future,
            task: std::sync::Mutex::new(Some(task)),
            repeat,
            ref_state: AtomicU8::new(REFD | HOLDS),
        }
    }

    pub(crate) fn take_task(&self) -> Option<TimerTask> {
        lock(&self.task).take()
    }

    /// Whether the timer keeps the loop alive while pending.
    pub(crate) fn is_refd(&self) -> bool {
        self.ref_state.load(Ordering::Acquire) & REFD != 0
    }

    /// Sets the ref; returns how the loop's ref count must change (-1, 0 or 1): only a pending
    /// timer's change counts.
    pub(crate) fn set_refd(&self, refd: bool) -> isize {
        let before = if refd {
            self.ref_state.fetch_or(REFD, Ordering::AcqRel)
        } else {
            self.ref_state.fetch_and(!REFD, Ordering::AcqRel)
        };
        match (before & HOLDS != 0, before & REFD != 0, refd) {
            (true, false, true) => 1,
            (true, true, false) => -1,
            _ => 0,
        }
    }

    /// Ends the timer's hold on the loop (it fired for good, was cancelled or dropped);
    /// returns whether it held a ref, which the caller gives back. Only the first call can.
    pub(crate) fn release(&self) -> bool {
        let before = self.ref_state.fetch_and(!HOLDS, Ordering::AcqRel);
        before & (HOLDS | REFD) == HOLDS | REFD
    }
}

/// The future of a scheduled task, with libuv's ref/unref for its timer. Derefs to the
/// [`Future`]; [`Promise::cancel`] on it says whether the cancel won against a run.
#[derive(Clone, Debug)]
pub struct ScheduledFuture {
    future: Future,
    timer: Arc<Timer>,
    event_loop: WeakEventLoop,
}

impl std::ops::Deref for ScheduledFuture {
    type Target = Future;
    fn deref(&self) -> &Future {
        &self.future
    }
}

impl ScheduledFuture {
    /// The task's future.
    pub fn future(&self) -> &Future {
        &self.future
    }

    /// Makes the timer stop (`false`) or start again (`true`) keeping a [`RunMode::Default`](super::RunMode::Default)
    /// run alive (libuv's `uv_unref`/`uv_ref`).
    pub fn set_ref(&self, refd: bool) {
        let delta = self.timer.set_refd(refd);
        if delta != 0 {
            if let Some(lp) = self.event_loop.upgrade() {
                lp.inner.refs.fetch_add(delta, Ordering::AcqRel);
                if delta < 0 {
                    // A Default run waiting only for this timer must notice it may return.
                    lp.wake_if_idle();
                }
            }
        }
    }

    /// Whether the timer keeps the loop alive.
    pub fn has_ref(&self) -> bool {
        self.timer.is_refd()
    }
}

impl EventLoop {
    /// Schedules `task` to run after `delay`, then as `repeat` says. Returns its future:
    /// cancelling it before a run prevents the run (and reports whether it won the race);
    /// a one-shot task's result completes it; a periodic task's future completes only when
    /// a run fails or it is cancelled. Takes the task out of `task` only on success.
    ///
    /// # Errors
    /// As [`try_execute`](Self::try_execute); `InvalidArgument` for a zero period.
    pub fn try_schedule(
        &self,
        task: &mut Option<TimerTask>,
        delay: Duration,
        repeat: Repeat,
    ) -> Result<ScheduledFuture> {
        self.check()?;
        if matches!(repeat, Repeat::FixedRate(p) | Repeat::FixedDelay(p) if p.is_zero()) {
            return Err(ErrorKind::InvalidArgument.into());
        }
        let in_loop = self.in_event_loop();
        let state = self.inner.state.load(Ordering::Acquire);
        if state == TERMINATED || (state == SHUTTING_DOWN && !in_loop) {
            return Err(ErrorKind::Rejected.into());
        }
        let Some(body) = task.take() else {
            return Err(ErrorKind::InvalidArgument.into());
        };
        let deadline = self.clock().saturating_add(nanos(delay));
        let future = Promise::new(Some(self));
        let timer = Arc::new(Timer::new(future.clone(), body, repeat));
        self.inner.refs.fetch_add(1, Ordering::AcqRel);
        let weak_loop = self.downgrade();
        let weak_timer = Arc::downgrade(&timer);
        future.on_cancel(Box::new(move || {
            if let (Some(lp), Some(timer)) = (weak_loop.upgrade(), weak_timer.upgrade()) {
                lp.release_timer_ref(&timer);
                // Its heap entry is removed lazily (the future's state is the truth).
                lp.count_cancelled();
                if !lp.in_event_loop() {
                    lp.wake();
                }
            }
        }));
        // The loop's running thread pushes it at once; another thread while nobody runs the
        // loop borrows the heap; while the loop runs, the push is queued to it as an internal
        // task (Netty's `schedule` from outside the loop), which runs before any later task.
        let pushed = if self.in_run() {
            self.deadlines(|heap| heap.push(deadline, timer.clone()));
            Ok(())
        } else {
            let borrowed = self.borrow_deadlines(|heap| {
                // Checked again with the heap: a loop that terminated since the check above
                // has drained its heap already and would never run or cancel this timer.
                let state = self.inner.state.load(Ordering::Acquire);
                if state == TERMINATED || (state == SHUTTING_DOWN && !in_loop) {
                    return None;
                }
                Some(heap.push(deadline, timer.clone()))
            });
            match borrowed {
                Some(Some(earliest)) => {
                    if earliest {
                        self.wake_if_idle();
                    }
                    Ok(())
                }
                Some(None) => Err(ErrorKind::Rejected.into()),
                None => {
                    let queued = timer.clone();
                    let mut push: Option<Task> = Some(Box::new(move |lp: &EventLoop| {
                        if lp.is_shutting_down() {
                            // Accepted before the shutdown began, run after: cancelled, as the
                            // shutdown's first phase cancels the timers it finds.
                            lp.release_timer_ref(&queued);
                            queued.future.cancel();
                            drop(queued.take_task());
                            return;
                        }
                        lp.deadlines(|heap| heap.push(deadline, queued));
                    }));
                    let result = self.execute_internal(&mut push);
                    drop(push);
                    result
                }
            }
        };
        if let Err(e) = pushed {
            self.release_timer_ref(&timer);
            *task = timer.take_task();
            return Err(e);
        }
        Ok(ScheduledFuture {
            future,
            timer,
            event_loop: self.downgrade(),
        })
    }

    /// [`try_schedule`](Self::try_schedule) for Rust callers.
    pub fn schedule(
        &self,
        delay: Duration,
        repeat: Repeat,
        task: impl FnMut(&EventLoop) -> std::result::Result<Option<Value>, Failure> + Send + 'static,
    ) -> Result<ScheduledFuture> {
        self.try_schedule(&mut Some(Box::new(task)), delay, repeat)
    }

    pub(super) fn release_timer_ref(&self, timer: &Timer) {
        if timer.release() {
            self.inner.refs.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The timer phase of a turn, on the loop's running thread: fires the due scheduled tasks
    /// and reusable timers in deadline order.
    pub(super) fn run_timers(&self) {
        let now = self.clock();
        let mut armed_by = None;
        loop {
            // Cancelled tasks (and what they own) are released on the loop's thread, outside
            // the heap, even while a `ScheduledFuture` still names their timer.
            if let Some(purged) = self.purge_cancelled() {
                for gone in purged {
                    drop(gone.timer.take_task());
                }
            }
            let due = self.deadlines(|heap| {
                // Timers and tasks (re)armed from here on wait for the next call.
                let armed_by = *armed_by.get_or_insert(heap.last_seq());
                heap.pop_due(now, armed_by)
            });
            let entry = match due {
                None => break,
                Some(deadlines::Due::Timer(timer)) => {
                    super::timer::fire(self, timer);
                    continue;
                }
                Some(deadlines::Due::Stale(timer)) => {
                    drop(timer);
                    continue;
                }
                Some(deadlines::Due::Task(entry)) => entry,
            };
            let timer = entry.timer;
            let cancelled = timer.future.is_done()
                || (timer.repeat == Repeat::Once && !timer.future.set_uncancellable());
            if cancelled {
                self.release_timer_ref(&timer);
                drop(timer.take_task());
                continue;
            }
            let Some(mut task) = timer.take_task() else {
                continue;
            };
            self.inner
                .counters
                .timers_fired
                .fetch_add(1, Ordering::Relaxed);
            let mut outcome = None;
            self.guard(|| outcome = Some(task(self)));
            let outcome = outcome.unwrap_or_else(|| Err(Failure::new(ErrorKind::Panic.into())));
            match (outcome, timer.repeat) {
                (Ok(value), Repeat::Once) => {
                    self.release_timer_ref(&timer);
                    timer.future.try_success(value);
                }
                (Err(failure), _) => {
                    self.release_timer_ref(&timer);
                    timer.future.try_failure(failure);
                }
                (Ok(_), repeat) => {
                    if timer.future.is_done() {
                        continue;
                    }
                    *lock(&timer.task) = Some(task);
                    let next = match repeat {
                        Repeat::FixedRate(p) => entry.deadline.saturating_add(nanos(p)),
                        Repeat::FixedDelay(d) => self.clock().saturating_add(nanos(d)),
                        Repeat::Once => unreachable!(),
                    };
                    self.deadlines(|heap| heap.push(next, timer));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> Timer {
        Timer::new(Promise::new(None), Box::new(|_| Ok(None)), Repeat::Once)
    }

    #[test]
    fn a_pending_timer_moves_the_count_on_each_ref_change() {
        let t = timer();
        assert!(t.is_refd());
        assert_eq!(t.set_refd(true), 0, "already ref'd");
        assert_eq!(t.set_refd(false), -1);
        assert_eq!(t.set_refd(false), 0, "already unref'd");
        assert_eq!(t.set_refd(true), 1);
    }

    #[test]
    fn only_the_first_release_of_a_refd_timer_gives_a_ref_back() {
        let t = timer();
        assert!(t.release());
        assert!(!t.release());
        assert_eq!(t.set_refd(false), 0, "an ended timer holds no ref");
        assert_eq!(t.set_refd(true), 0);
        let unrefd = timer();
        assert_eq!(unrefd.set_refd(false), -1);
        assert!(
            !unrefd.release(),
            "its ref was given back when it was unref'd"
        );
    }
}
