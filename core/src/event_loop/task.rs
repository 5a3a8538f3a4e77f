//! The task queue and the loop's wake-up: [`EventLoop::execute`] and its variants, the
//! batches a turn runs, and the brief spin before a loop that serves a stream of tasks from
//! other threads blocks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{EventLoop, Failure, Future, OPEN, Promise, SHUTTING_DOWN, TERMINATED, Value};
use crate::sync::lock;
use crate::{ErrorKind, Result};

/// A task for [`EventLoop::execute`]: runs once on the loop's thread.
pub type Task = Box<dyn FnOnce(&EventLoop) + Send>;

/// A task that needs no allocation: a function and four words of data, for binding layers
/// whose tasks are a function pointer plus arguments (the C API's `nx_loop_execute`). Exactly
/// one of its two functions is called, once: `run` on the loop's thread, or — if the task is
/// dropped without running (the loop shut down) — `discard`, on the dropping thread.
pub struct RawTask {
    run: unsafe fn(&EventLoop, [usize; 4]),
    discard: unsafe fn([usize; 4]),
    data: [usize; 4],
}

// SAFETY: `RawTask::new`'s caller promises that the data may move to the loop's thread.
unsafe impl Send for RawTask {}

impl std::fmt::Debug for RawTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTask").finish_non_exhaustive()
    }
}

impl RawTask {
    /// A task that will call `run(loop, data)` on the loop's thread, or `discard(data)` if it
    /// never runs.
    ///
    /// # Safety
    /// `data` must be safe to send to another thread, and calling either function with it
    /// once must be sound.
    pub unsafe fn new(
        run: unsafe fn(&EventLoop, [usize; 4]),
        discard: unsafe fn([usize; 4]),
        data: [usize; 4],
    ) -> RawTask {
        RawTask { run, discard, data }
    }

    /// Takes the data back without calling either function (for a caller whose
    /// [`EventLoop::try_execute_raw`] was refused: it still owns what the data names).
    pub fn into_data(self) -> [usize; 4] {
        std::mem::ManuallyDrop::new(self).data
    }

    fn run(self, event_loop: &EventLoop) {
        let task = std::mem::ManuallyDrop::new(self);
        // SAFETY: `new`'s contract; `ManuallyDrop` keeps `discard` from running as well.
        unsafe { (task.run)(event_loop, task.data) }
    }
}

impl Drop for RawTask {
    fn drop(&mut self) {
        // SAFETY: `new`'s contract: the task did not run, so `discard` is the one call.
        unsafe { (self.discard)(self.data) }
    }
}

/// A queued task of either kind.
pub(super) enum Queued {
    Boxed(Task),
    Raw(RawTask),
    /// The loop's own work (a promise's listeners): it runs even when a shutdown drops the
    /// queued tasks, since a completed future's listeners are owed.
    Internal(Task),
}

impl Queued {
    pub(super) fn run(self, event_loop: &EventLoop) {
        match self {
            Queued::Boxed(task) | Queued::Internal(task) => task(event_loop),
            Queued::Raw(task) => task.run(event_loop),
        }
    }
}

/// How long a loop that has just served a stream of tasks from other threads watches its
/// queue before it blocks (libuv blocks at once; a wake-up costs the producer a system call
/// and the loop a trip through the scheduler, several microseconds each). An idle loop does
/// not spin, nor one woken by its timers: only one whose last wake-up by another thread found
/// two or more tasks, or whose last spin caught one.
pub(super) const SPIN: Duration = Duration::from_micros(10);

/// `LoopInner::own_mark` when the loop's thread has queued no task in the current turn.
pub(super) const NO_MARK: usize = usize::MAX;

impl EventLoop {
    pub(super) fn wake(&self) {
        let _ = self.inner.selector.wakeup();
    }

    /// Wakes the backend unless the loop is busy running callbacks (it will see the new work
    /// before it blocks again) or another producer already woke it.
    pub(super) fn wake_if_idle(&self) {
        // Pairs with the fence the loop makes after setting `idle` and before its last look
        // at the queue: one of the two sides sees the other's write. Only a producer that
        // finds the loop idle writes the flag, so a busy loop's flag is not bounced between
        // cores by every producer.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.inner.idle.load(Ordering::Relaxed) && self.inner.idle.swap(false, Ordering::SeqCst)
        {
            self.wake();
        }
    }

    /// Queues `task` to run on the loop's thread, after the tasks queued before it. Takes
    /// the task out of `task` only on success.
    ///
    /// # Errors
    /// `Rejected` (shutting down, from another thread; or terminated), `Forked`.
    pub fn try_execute(&self, task: &mut Option<Task>) -> Result<()> {
        self.check()?;
        self.push_as(task, Queued::Boxed, |q| match q {
            Queued::Boxed(t) => Some(t),
            _ => None,
        })
    }

    /// [`try_execute`](Self::try_execute) for Rust callers, who do not need the task back.
    pub fn execute(&self, task: impl FnOnce(&EventLoop) + Send + 'static) -> Result<()> {
        self.try_execute(&mut Some(Box::new(task)))
    }

    /// Queues internal work (listeners): accepted until the loop terminates.
    pub(crate) fn execute_internal(&self, task: &mut Option<Task>) -> Result<()> {
        self.push_as(task, Queued::Internal, |q| match q {
            Queued::Internal(t) => Some(t),
            _ => None,
        })
    }

    /// [`try_execute`](Self::try_execute) for a [`RawTask`], which costs no allocation. Takes
    /// the task out of `task` only on success.
    ///
    /// # Errors
    /// As [`try_execute`](Self::try_execute).
    pub fn try_execute_raw(&self, task: &mut Option<RawTask>) -> Result<()> {
        self.check()?;
        self.push_as(task, Queued::Raw, |q| match q {
            Queued::Raw(t) => Some(t),
            _ => None,
        })
    }

    /// Queues `task` as `wrap` makes it; if that fails, gives it back into `task` (`unwrap`
    /// undoes `wrap`), so the caller keeps what it owns.
    pub(super) fn push_as<T>(
        &self,
        task: &mut Option<T>,
        wrap: fn(T) -> Queued,
        unwrap: fn(Queued) -> Option<T>,
    ) -> Result<()> {
        let mut queued = task.take().map(wrap);
        let result = self.push_task(&mut queued);
        *task = queued.and_then(unwrap);
        result
    }

    /// Queues the task in `task` (taking it out only on success). Internal work is accepted
    /// until the loop terminates; other work from other threads only until it shuts down.
    pub(super) fn push_task(&self, task: &mut Option<Queued>) -> Result<()> {
        let internal = matches!(task, Some(Queued::Internal(_)));
        let wake = {
            let mut tasks = lock(&self.inner.tasks);
            let state = self.inner.state.load(Ordering::Acquire);
            // Only a loop that is shutting down asks who is calling.
            if state == TERMINATED || (state == SHUTTING_DOWN && !internal && !self.in_event_loop())
            {
                return Err(ErrorKind::Rejected.into());
            }
            let Some(task) = task.take() else {
                return Err(ErrorKind::InvalidArgument.into());
            };
            if tasks.is_empty() {
                self.inner.queued.store(true, Ordering::Release);
            }
            // A task queues for the next turn: the current one stops here.
            if self.inner.own_mark.load(Ordering::Relaxed) == NO_MARK
                && self.in_event_loop()
                && self.inner.in_tasks.load(Ordering::Relaxed)
            {
                self.inner.own_mark.store(tasks.len(), Ordering::Relaxed);
            }
            tasks.push_back(task);
            // Read under the queue's lock, which orders it without a fence: the loop sets
            // `idle` before it takes this lock for its last look at the queue, so either that
            // look comes later and finds this task, or this read sees the flag set.
            self.inner.idle.load(Ordering::Relaxed)
                && self.inner.idle.swap(false, Ordering::Relaxed)
        };
        if wake {
            self.wake();
        }
        Ok(())
    }

    /// Runs `f` on the loop's thread and returns a future of its result.
    ///
    /// # Errors
    /// As [`try_execute`](Self::try_execute).
    pub fn submit(
        &self,
        f: impl FnOnce(&EventLoop) -> std::result::Result<Option<Value>, Failure> + Send + 'static,
    ) -> Result<Future> {
        /// Cancels the future of a submitted task that is dropped without running.
        struct CancelUnrun(Option<Promise>);
        impl Drop for CancelUnrun {
            fn drop(&mut self) {
                if let Some(promise) = self.0.take() {
                    promise.cancel();
                }
            }
        }
        let future = Promise::new(Some(self));
        let mut unrun = CancelUnrun(Some(future.clone()));
        self.execute(move |lp| {
            let Some(promise) = unrun.0.take() else {
                return;
            };
            if promise.set_uncancellable() {
                // A panic fails the future (nobody waits forever), then goes on to the loop,
                // which reports it.
                match catch_unwind(AssertUnwindSafe(|| f(lp))) {
                    Ok(Ok(v)) => promise.try_success(v),
                    Ok(Err(e)) => promise.try_failure(e),
                    Err(panic) => {
                        promise.try_failure(Failure::new(ErrorKind::Panic.into()));
                        std::panic::resume_unwind(panic);
                    }
                };
            }
        })?;
        Ok(future)
    }

    /// Watches the task queue for at most [`SPIN`] (without its lock, without a system call)
    /// and says whether a task arrived. Stops early when the loop is asked to stop.
    pub(super) fn spin_for_tasks(&self) -> bool {
        let inner = &*self.inner;
        let until = Instant::now() + SPIN;
        loop {
            for _ in 0..64 {
                if inner.queued.load(Ordering::Relaxed) {
                    return true;
                }
                std::hint::spin_loop();
            }
            if inner.stop.load(Ordering::Relaxed) || Instant::now() >= until {
                return false;
            }
        }
    }

    /// Runs the tasks queued now, up to the first one the loop's own thread queued in this
    /// turn (tasks queued from inside a turn run in the next, so no turn runs forever).
    /// After [`shutdown_now`](Self::shutdown_now) it runs none: what is queued is dropped.
    pub(super) fn run_tasks(&self) -> u64 {
        // Take the queue at once, then run the batch without touching the queue's lock per
        // task.
        let mut batch = std::mem::take(&mut *lock(&self.inner.batch));
        {
            let mut tasks = lock(&self.inner.tasks);
            match self.inner.own_mark.load(Ordering::Relaxed) {
                NO_MARK => {
                    std::mem::swap(&mut batch, &mut *tasks);
                    self.inner.queued.store(false, Ordering::Relaxed);
                }
                mark => {
                    let runnable = mark.min(tasks.len());
                    batch.extend(tasks.drain(..runnable));
                    self.inner.own_mark.store(0, Ordering::Relaxed);
                    if tasks.is_empty() {
                        self.inner.queued.store(false, Ordering::Relaxed);
                    }
                }
            }
        }
        if batch.is_empty() {
            *lock(&self.inner.batch) = batch;
            return 0;
        }
        let mut ran = 0u64;
        /// Marks the batch as running (and not, once it ends or a task panics through it).
        struct InTasks<'a>(&'a AtomicBool);
        impl Drop for InTasks<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Relaxed);
            }
        }
        self.inner.in_tasks.store(true, Ordering::Relaxed);
        let in_tasks = InTasks(&self.inner.in_tasks);
        while let Some(task) = batch.pop_front() {
            if self.inner.state.load(Ordering::Acquire) != OPEN && self.dropping_tasks() {
                // shutdown_now: what did not run yet is dropped by the terminating thread.
                self.set_aside(std::iter::once(task).chain(batch.drain(..)));
                break;
            }
            ran += 1;
            self.guard(|| task.run(self));
        }
        drop(in_tasks);
        self.inner
            .counters
            .tasks_run
            .fetch_add(ran, Ordering::Relaxed);
        if ran > 0 && self.inner.state.load(Ordering::Acquire) != OPEN {
            if let Some(s) = lock(&self.inner.shutdown).as_mut() {
                s.last_activity = Instant::now();
            }
        }
        *lock(&self.inner.batch) = batch;
        ran
    }
}
