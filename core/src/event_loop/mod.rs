//! The runtime: event loops, loop groups, tasks, timers and promises (Netty's `EventLoop`,
//! libuv's `uv_loop_t`).
//!
//! An [`EventLoop`] is one thread at a time over one poll backend (a [`Selector`]), with a
//! task queue any thread may push to, timers, readiness watches and counters. It is either
//! driven by the caller ([`EventLoop::new`] + [`EventLoop::run`] with a [`RunMode`], and the
//! backend descriptor plus [`EventLoop::backend_timeout`] for embedding in a host loop) or by
//! a thread the library starts ([`EventLoop::spawn`], [`EventLoopGroup`]).
//!
//! Timers come in two kinds that share one deadline order: scheduled tasks
//! ([`EventLoop::schedule`], Java's `ScheduledExecutorService`, each with its future) and
//! reusable timers ([`EventLoop::timer`], libuv's `uv_timer_t`: made once, then started and
//! stopped without allocating).
//!
//! # Rules
//!
//! - Tasks run in submission order, on the loop's thread; timers fire in deadline order and
//!   never early.
//! - No user callback runs inside the call that started it: a task queued by a task runs in
//!   the next turn (so a task that queues itself again runs once per [`RunMode::Once`] run);
//!   one queued by an I/O or timer callback runs in the same turn's last phase.
//! - If a call that takes a task fails, the caller keeps the task (the `try_` variants take it
//!   out of an `Option` only on success), so nothing the caller owns is dropped.
//! - A panic in a task is caught, counted ([`LoopCounters::panics`]), reported on stderr, and
//!   the loop goes on.
//! - A task queued while no turn is running — from another thread, or from the owner thread of
//!   a caller-driven loop between runs — wakes the backend, so a host loop that polls
//!   [`EventLoop::backend_fd`] sees it (a task queued from inside a turn runs in the next turn
//!   of the same run without a wake-up).
//! - A task of [`EventLoop::submit`] that never runs (dropped by shutdown) cancels its future,
//!   so nobody waits for it forever.
//!
//! # Bindings
//!
//! A language binding that must enter its runtime to run callbacks (the Python module takes
//! the GIL) sets a [`CallbackScope`] with [`EventLoop::set_callback_scope`]: each turn enters it
//! around its callback phases, once for all the callbacks of that phase instead of once per
//! callback, and never while waiting for I/O or while holding a lock of the loop.
//!
//! # Shutdown
//!
//! [`EventLoop::shutdown_gracefully`] goes through documented phases: (1) from then on, work
//! submitted from other threads is rejected with [`ErrorKind::Rejected`] while work from the
//! loop's own thread is still accepted; timers not yet due are cancelled (their futures fail
//! with [`ErrorKind::Cancelled`]); (2) queued work runs until the quiet period has passed with
//! nothing new, or the deadline; (3) watched channels are closed and watches dropped;
//! (4) the loop terminates. [`EventLoop::shutdown_now`] skips the draining.

mod group;
mod io;
mod loop_timer;
mod promise;
mod timer;
mod watch;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use group::{EventLoopGroup, MAX_GROUP_LOOPS};
pub(crate) use io::IoHandle;
pub use loop_timer::{LoopTimer, TimerCallback};
pub use promise::{Failure, Future, Listener, Outcome, Promise, Value};
pub use timer::{Repeat, TimerTask};
pub use watch::{Watch, WatchCallback};

use crate::channel::lock;
use crate::selector::{SelectionKey, Selector};
use crate::sys::fork;
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
enum Queued {
    Boxed(Task),
    Raw(RawTask),
    /// The loop's own work (a promise's listeners): it runs even when a shutdown drops the
    /// queued tasks, since a completed future's listeners are owed.
    Internal(Task),
}

impl Queued {
    fn run(self, event_loop: &EventLoop) {
        match self {
            Queued::Boxed(task) | Queued::Internal(task) => task(event_loop),
            Queued::Raw(task) => task.run(event_loop),
        }
    }
}

/// Wraps the callback phases of a loop turn (see [`EventLoop::set_callback_scope`]): called
/// with a function that runs the phase, which the scope must call exactly once.
pub type CallbackScope = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

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

const OPEN: u8 = 0;
const SHUTTING_DOWN: u8 = 1;
const TERMINATED: u8 = 2;

/// A snapshot of a loop's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopCounters {
    /// Loop turns.
    pub turns: u64,
    /// I/O events dispatched to watches.
    pub events: u64,
    /// Tasks run (listeners included).
    pub tasks_run: u64,
    /// Timer runs (each run of a periodic timer counts).
    pub timers_fired: u64,
    /// Nanoseconds spent waiting in the backend.
    pub wait_ns: u64,
    /// Panics caught in tasks and callbacks.
    pub panics: u64,
    /// Tasks that failed with no future to take the failure (counted by the binding that runs
    /// them, through [`EventLoop::count_task_failure`]).
    pub task_failures: u64,
}

#[derive(Default)]
struct Counters {
    turns: AtomicU64,
    events: AtomicU64,
    tasks_run: AtomicU64,
    timers_fired: AtomicU64,
    wait_ns: AtomicU64,
    panics: AtomicU64,
    task_failures: AtomicU64,
}

struct Shutdown {
    quiet: Duration,
    deadline: Option<Instant>,
    now: bool,
    last_activity: Instant,
    timers_cancelled: bool,
}

/// A value alone on its cache line (128 bytes: two lines, as adjacent-line prefetchers pair
/// them), so that what producers write and what the loop reads in its spin do not slow each
/// other down.
#[repr(align(128))]
#[derive(Default)]
struct CacheLine<T>(T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

pub(crate) struct LoopInner {
    selector: Selector,
    /// The task queue: written by every producer, so alone on its line.
    tasks: CacheLine<Mutex<VecDeque<Queued>>>,
    /// The batch `run_tasks` is running (kept to reuse its allocation).
    batch: Mutex<VecDeque<Queued>>,
    /// How many tasks at the front of the queue were there when a task first queued one in
    /// the current turn (`NO_MARK`: none did): the turn runs only those, so a task queued by a
    /// task runs in the next turn (tasks queued by I/O and timer callbacks still run in the
    /// turn's last phase). Written and read only by the loop's thread, under the queue's lock
    /// (reset at the start of each turn).
    own_mark: AtomicUsize,
    /// Whether the loop's thread is running a batch of tasks (`run_tasks`). Written and read
    /// only by the loop's thread.
    in_tasks: AtomicBool,
    timers: Mutex<timer::Heap>,
    /// Every reusable timer made on the loop, for its termination to close them.
    loop_timers: Mutex<loop_timer::Registry>,
    owner: AtomicU64,
    library_driven: bool,
    running: AtomicBool,
    /// Whether the loop is not running callbacks (blocked in its wait, or not running at all),
    /// so work queued now must wake the backend. A producer that finds it set clears it and
    /// wakes; the loop sets it again just before it blocks (Netty's "awake" flag), so a busy
    /// loop costs producers no system call.
    idle: AtomicBool,
    /// Whether the task queue may hold tasks, readable without its lock: set under the lock by
    /// the push that finds the queue empty, cleared under it only when the loop takes the whole
    /// queue. So a non-empty queue always has it set (an emptied one may keep it set until the
    /// next take). The loop reads it where a lock would contend with producers: whether a
    /// phase has tasks to run, and its brief spin before it blocks
    /// ([`EventLoop::spin_for_tasks`]).
    queued: CacheLine<AtomicBool>,
    /// Whether the last turn served a stream of tasks from other threads (a wake-up that
    /// found two or more, or a task its spin caught), so the next one spins before it blocks.
    /// Only the thread running the loop uses it; each run starts without.
    streaming: AtomicBool,
    stop: AtomicBool,
    state: AtomicU8,
    shutdown: Mutex<Option<Shutdown>>,
    refs: AtomicIsize,
    /// Written by the loop every turn: kept off the lines producers read.
    counters: CacheLine<Counters>,
    start: Instant,
    generation: u64,
    thread: Mutex<Option<JoinHandle<()>>>,
    terminated: Promise,
    /// What the loop could not drop on its own thread (tasks never run) for the thread that
    /// waits for termination.
    leftovers: Mutex<Vec<Queued>>,
    scratch: Mutex<Vec<SelectionKey>>,
    scope: Mutex<Option<CallbackScope>>,
}

/// An event loop. Cloning gives another handle to the same loop. Thread-safe: every method
/// may be called from any thread; work is queued to the loop's thread.
#[derive(Clone)]
pub struct EventLoop {
    inner: Arc<LoopInner>,
}

/// The future of a scheduled task, with libuv's ref/unref for its timer. Derefs to the
/// [`Future`]; [`Promise::cancel`] on it says whether the cancel won against a run.
#[derive(Clone, Debug)]
pub struct ScheduledFuture {
    future: Future,
    timer: Arc<timer::Timer>,
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

    /// Makes the timer stop (`false`) or start again (`true`) keeping a [`RunMode::Default`]
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

/// A weak handle to an [`EventLoop`] that does not keep it alive.
#[derive(Clone, Debug)]
pub struct WeakEventLoop {
    inner: Weak<LoopInner>,
}

impl WeakEventLoop {
    /// The loop, if it still exists.
    pub fn upgrade(&self) -> Option<EventLoop> {
        self.inner.upgrade().map(|inner| EventLoop { inner })
    }
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("library_driven", &self.inner.library_driven)
            .field("state", &self.inner.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A small number naming the calling thread (0 is never used).
fn thread_no() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! { static NO: u64 = NEXT.fetch_add(1, Ordering::Relaxed); }
    NO.with(|n| *n)
}

/// How long a loop that has just served a stream of tasks from other threads watches its
/// queue before it blocks (libuv blocks at once; a wake-up costs the producer a system call
/// and the loop a trip through the scheduler, several microseconds each). An idle loop does
/// not spin, nor one woken by its timers: only one whose last wake-up by another thread found
/// two or more tasks, or whose last spin caught one.
const SPIN: Duration = Duration::from_micros(10);

/// `LoopInner::own_mark` when the loop's thread has queued no task in the current turn.
const NO_MARK: usize = usize::MAX;

static LOOP_NAMES: AtomicU64 = AtomicU64::new(0);

impl EventLoop {
    fn with_driver(library_driven: bool) -> Result<EventLoop> {
        let generation = fork::generation();
        Ok(EventLoop {
            inner: Arc::new(LoopInner {
                selector: Selector::open()?,
                tasks: CacheLine(Mutex::new(VecDeque::new())),
                timers: Mutex::new(timer::Heap::default()),
                loop_timers: Mutex::new(loop_timer::Registry::default()),
                owner: AtomicU64::new(if library_driven { 0 } else { thread_no() }),
                library_driven,
                running: AtomicBool::new(false),
                idle: AtomicBool::new(true),
                queued: CacheLine(AtomicBool::new(false)),
                streaming: AtomicBool::new(false),
                stop: AtomicBool::new(false),
                state: AtomicU8::new(OPEN),
                shutdown: Mutex::new(None),
                refs: AtomicIsize::new(0),
                counters: CacheLine::default(),
                start: Instant::now(),
                generation,
                thread: Mutex::new(None),
                terminated: Promise::new(None),
                leftovers: Mutex::new(Vec::new()),
                batch: Mutex::new(VecDeque::new()),
                own_mark: AtomicUsize::new(NO_MARK),
                in_tasks: AtomicBool::new(false),
                scratch: Mutex::new(Vec::new()),
                scope: Mutex::new(None),
            }),
        })
    }

    /// A loop driven by the caller with [`run`](Self::run). The calling thread is its owner
    /// until another thread runs it.
    ///
    /// # Errors
    /// OS errors (the epoll instance and its waker).
    pub fn new() -> Result<EventLoop> {
        Self::with_driver(false)
    }

    /// A loop driven by a thread the library starts now, named `nioxide-loop-N`, with
    /// asynchronous signals blocked. It runs until shut down; join it with
    /// [`await_termination`](Self::await_termination).
    pub fn spawn() -> Result<EventLoop> {
        let event_loop = Self::with_driver(true)?;
        let name = format!(
            "nioxide-loop-{}",
            LOOP_NAMES.fetch_add(1, Ordering::Relaxed)
        );
        let runner = event_loop.clone();
        let handle = crate::sys::thread::spawn_with_signals_blocked(name, move || {
            runner.inner.owner.store(thread_no(), Ordering::Release);
            let _ = runner.run_loop(RunMode::Default);
        })?;
        *lock(&event_loop.inner.thread) = Some(handle);
        Ok(event_loop)
    }

    /// A weak handle.
    pub fn downgrade(&self) -> WeakEventLoop {
        WeakEventLoop {
            inner: Arc::downgrade(&self.inner),
        }
    }

    fn check(&self) -> Result<()> {
        fork::check(self.inner.generation)
    }

    /// Whether the calling thread is the loop's thread (the library's thread, or the thread
    /// that runs or owns a caller-driven loop).
    pub fn in_event_loop(&self) -> bool {
        Self::in_loop(&self.inner)
    }

    fn in_loop(inner: &LoopInner) -> bool {
        inner.owner.load(Ordering::Acquire) == thread_no()
    }

    /// The loop's monotonic clock: time since the loop was created.
    pub fn now(&self) -> Duration {
        self.inner.start.elapsed()
    }

    /// The instant `now()` counts from.
    pub fn epoch(&self) -> Instant {
        self.inner.start
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) != OPEN
    }

    /// Whether the loop has terminated.
    pub fn is_terminated(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == TERMINATED
    }

    /// Whether a thread of the library drives the loop.
    pub fn is_library_driven(&self) -> bool {
        self.inner.library_driven
    }

    /// The backend's epoll descriptor: readable when the loop has I/O or a wake-up for a
    /// turn. A host loop polls it and then runs a [`RunMode::NoWait`] turn.
    pub fn backend_fd(&self) -> std::os::fd::RawFd {
        self.inner.selector.fd()
    }

    /// How long a host loop may wait before the next turn: `Some(0)` while tasks, cached
    /// readiness (or a raw descriptor to re-arm) or a stop are pending, else the time to the
    /// next timer, bounded by an accept back-off and, while shutting down, by the rest of the
    /// quiet period (at most 100 ms); `None` = nothing to wait for but the backend descriptor.
    pub fn backend_timeout(&self) -> Option<Duration> {
        if self.inner.stop.load(Ordering::Acquire) || !lock(&self.inner.tasks).is_empty() {
            return Some(Duration::ZERO);
        }
        let next_timer = lock(&self.inner.timers)
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        // Readiness cached or to be re-armed, an accept back-off, the shutdown's quiet period:
        // what the descriptor alone would not show.
        [self.inner.selector.wait_bound(), self.shutdown_wait()]
            .into_iter()
            .flatten()
            .fold(next_timer, |t, bound| {
                Some(t.map_or(bound, |t| t.min(bound)))
            })
    }

    /// The loop's counters.
    pub fn counters(&self) -> LoopCounters {
        let c = &self.inner.counters;
        LoopCounters {
            turns: c.turns.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            tasks_run: c.tasks_run.load(Ordering::Relaxed),
            timers_fired: c.timers_fired.load(Ordering::Relaxed),
            wait_ns: c.wait_ns.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
            task_failures: c.task_failures.load(Ordering::Relaxed),
        }
    }

    /// Counts a task that failed with no future to take the failure (a C task of
    /// `nx_loop_execute` that returned a negative status): [`LoopCounters::task_failures`].
    /// The task's binding calls it from the task's body; reporting the failure is the
    /// binding's part.
    pub fn count_task_failure(&self) {
        self.inner
            .counters
            .task_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The backend's system-call counters (see [`Selector::counters`]).
    pub fn backend_counters(&self) -> crate::sys::backend::Counters {
        self.inner.selector.counters()
    }

    pub(crate) fn selector(&self) -> &Selector {
        &self.inner.selector
    }

    fn wake(&self) {
        let _ = self.inner.selector.wakeup();
    }

    /// Wakes the backend unless the loop is busy running callbacks (it will see the new work
    /// before it blocks again) or another producer already woke it.
    fn wake_if_idle(&self) {
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
    fn push_as<T>(
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
    fn push_task(&self, task: &mut Option<Queued>) -> Result<()> {
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
        let deadline = Instant::now() + delay;
        let future = Promise::new(Some(self));
        let timer = Arc::new(timer::Timer::new(future.clone(), body, repeat));
        self.inner.refs.fetch_add(1, Ordering::AcqRel);
        let weak_loop = self.downgrade();
        let weak_timer = Arc::downgrade(&timer);
        future.on_cancel(Box::new(move || {
            if let (Some(lp), Some(timer)) = (weak_loop.upgrade(), weak_timer.upgrade()) {
                lp.release_timer_ref(&timer);
                lock(&lp.inner.timers).cancelled += 1;
                if !lp.in_event_loop() {
                    lp.wake();
                }
            }
        }));
        let earliest = {
            let mut timers = lock(&self.inner.timers);
            // Checked again under the heap's lock: a loop that terminated since the check
            // above has drained its heap already and would never run or cancel this timer.
            let state = self.inner.state.load(Ordering::Acquire);
            if state == TERMINATED || (state == SHUTTING_DOWN && !in_loop) {
                drop(timers);
                self.release_timer_ref(&timer);
                *task = timer.take_task();
                return Err(ErrorKind::Rejected.into());
            }
            timers.push(deadline, timer.clone())
        };
        if earliest {
            self.wake_if_idle();
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

    fn release_timer_ref(&self, timer: &timer::Timer) {
        if timer.release() {
            self.inner.refs.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Adds (`true`) or removes a reference that keeps a [`RunMode::Default`] run going, for
    /// handles the loop does not track itself (watches, unref'd timers).
    pub(crate) fn add_ref(&self, delta: isize) {
        self.inner.refs.fetch_add(delta, Ordering::AcqRel);
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

    fn alive(&self) -> bool {
        self.inner.refs.load(Ordering::Acquire) > 0
            || !lock(&self.inner.tasks).is_empty()
            || lock(&self.inner.timers).handles.refd > 0
    }

    /// Whether the loop has referenced work left (libuv's `uv_loop_alive`): a queued task, a
    /// ref'd timer or watch, or a shutdown still under way. A [`RunMode::Default`] or
    /// [`RunMode::Once`] run of a caller-driven loop returns at once when it has none.
    /// Thread-safe; what it says may change at once if other threads queue work.
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

    fn run_loop(&self, mode: RunMode) -> Result<bool> {
        if self.inner.running.swap(true, Ordering::AcqRel) {
            return Err(ErrorKind::Busy.into());
        }
        /// On every way out of a run: not running, and idle, so work queued from now on wakes
        /// the backend descriptor a host loop polls. (Work already queued needs no wake-up:
        /// `backend_timeout` is 0 while tasks are pending, as libuv's is.)
        struct NotRunning<'a>(&'a EventLoop);
        impl Drop for NotRunning<'_> {
            fn drop(&mut self) {
                let inner = &self.0.inner;
                inner.running.store(false, Ordering::Release);
                inner.idle.store(true, Ordering::SeqCst);
            }
        }
        self.inner.idle.store(false, Ordering::SeqCst);
        self.inner.streaming.store(false, Ordering::Relaxed);
        let _running = NotRunning(self);
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

    /// One loop turn: due timers, queued tasks, a wait for I/O (bounded by the next timer,
    /// zero if work is pending), I/O callbacks, due timers, queued tasks.
    fn turn(&self, mode: RunMode) -> Result<()> {
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
            || (!inner.library_driven && !self.alive())
        {
            Some(Duration::ZERO)
        } else {
            let next = lock(&inner.timers)
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
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
        // A stream from other threads: a wake-up that found two or more tasks, or a task the
        // spin caught. Tasks the loop queues for itself (say, from a timer) do not count.
        let streaming = caught || (woken && ran_after_wait >= 2);
        if streaming != inner.streaming.load(Ordering::Relaxed) {
            inner.streaming.store(streaming, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Watches the task queue for at most [`SPIN`] (without its lock, without a system call)
    /// and says whether a task arrived. Stops early when the loop is asked to stop.
    fn spin_for_tasks(&self) -> bool {
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

    /// Whether a callback phase would find work: a queued task or a due timer.
    fn work_due(&self) -> bool {
        // The hint, not the queue's lock, which producers are taking: a task pushed this
        // instant is found by the next look (the wait's timeout is computed under the lock).
        (self.inner.queued.load(Ordering::Acquire)
            && self.inner.own_mark.load(Ordering::Relaxed) != 0)
            || lock(&self.inner.timers)
                .next_deadline()
                .is_some_and(|d| d <= Instant::now())
    }

    /// Runs one callback phase inside the callback scope, if one is set.
    fn scoped(&self, phase: &mut dyn FnMut()) {
        let scope = lock(&self.inner.scope).clone();
        match scope {
            Some(scope) => scope(phase),
            None => phase(),
        }
    }

    /// Sets the scope this loop runs its callbacks in (`None` removes it), for language
    /// bindings that must enter their runtime to run a callback: the Python module takes the
    /// GIL once per phase instead of once per callback.
    ///
    /// Each turn calls `scope(phase)` around its callback phases — due timers and queued tasks
    /// before the wait for I/O; I/O callbacks, due timers and queued tasks after it — but only
    /// when the phase has something to run; the shutdown phases run inside it too. `scope`
    /// must call `phase` exactly once (callbacks not run stay queued). It runs on the thread
    /// that drives the loop, never while the loop waits for I/O, and no lock of the loop is
    /// held while it runs, so it may block (for a GIL) without deadlocking threads that queue
    /// work. Callbacks must still work without it: a listener of a promise whose loop has
    /// terminated runs on the thread that completes the promise, outside any scope.
    pub fn set_callback_scope(&self, scope: Option<CallbackScope>) {
        *lock(&self.inner.scope) = scope;
    }

    /// Runs `f`, catching a panic: counted, reported, and the loop goes on.
    fn guard(&self, f: impl FnOnce()) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
            self.inner.counters.panics.fetch_add(1, Ordering::Relaxed);
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            crate::sys::stderr::report(&format!(
                "nioxide: a loop callback panicked: {msg}; the loop goes on"
            ));
        }
    }

    /// Runs the tasks queued now, up to the first one the loop's own thread queued in this
    /// turn (tasks queued from inside a turn run in the next, so no turn runs forever).
    /// After [`shutdown_now`](Self::shutdown_now) it runs none: what is queued is dropped.
    fn run_tasks(&self) -> u64 {
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

    /// Whether a [`shutdown_now`](Self::shutdown_now) was asked for.
    fn dropping_tasks(&self) -> bool {
        lock(&self.inner.shutdown).as_ref().is_some_and(|s| s.now)
    }

    fn run_timers(&self) {
        let now = Instant::now();
        let mut armed_by = None;
        loop {
            let (due, purged) = {
                let mut timers = lock(&self.inner.timers);
                // Timers and tasks (re)armed from here on wait for the next call.
                let armed_by = *armed_by.get_or_insert(timers.last_seq());
                let purged = timers.purge();
                (timers.pop_due(now, armed_by), purged)
            };
            // Cancelled tasks (and what they own) are released on the loop's thread, outside
            // the heap's lock, even while a `ScheduledFuture` still names their timer.
            for gone in purged {
                drop(gone.timer.take_task());
            }
            let entry = match due {
                None => break,
                Some(timer::Due::Timer(timer)) => {
                    loop_timer::fire(self, timer);
                    continue;
                }
                Some(timer::Due::Task(entry)) => entry,
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
                        Repeat::FixedRate(p) => entry.deadline + p,
                        Repeat::FixedDelay(d) => Instant::now() + d,
                        Repeat::Once => unreachable!(),
                    };
                    lock(&self.inner.timers).push(next, timer);
                }
            }
        }
    }

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

    fn begin_shutdown(&self, quiet: Duration, deadline: Option<Instant>, now: bool) {
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
    fn shutdown_wait(&self) -> Option<Duration> {
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
    fn finish_shutdown_scoped(&self) -> bool {
        let mut done = false;
        self.scoped(&mut || done = self.try_finish_shutdown());
        done
    }

    /// On the loop's thread while shutting down: advances the phases; `true` once terminated.
    fn try_finish_shutdown(&self) -> bool {
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
    fn finish_shutdown(&self) {
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
    }

    /// Deals with queued work that will not run as tasks any more (a shutdown drops it): a
    /// promise's listeners run now, on this thread; the rest is kept for the thread that
    /// waits for termination, which drops it (and so runs the C attachment_free functions).
    fn set_aside(&self, tasks: impl IntoIterator<Item = Queued>) {
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

    fn complete_termination(&self) {
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

    /// Whether both values are the same loop.
    pub fn same(&self, other: &EventLoop) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
