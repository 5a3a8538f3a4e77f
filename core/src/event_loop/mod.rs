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
//! submitted from other threads is rejected with [`ErrorKind::Rejected`](crate::ErrorKind::Rejected) while work from the
//! loop's own thread is still accepted; timers not yet due are cancelled (their futures fail
//! with [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled)); (2) queued work runs until the quiet period has passed with
//! nothing new, or the deadline; (3) watched channels are closed and watches dropped;
//! (4) the loop terminates. [`EventLoop::shutdown_now`] skips the draining.

mod deadlines;
mod group;
pub(crate) mod io;
mod promise;
mod reclaim;
pub mod run_right;
mod schedule;
mod shutdown;
mod task;
mod timer;
mod turn;
mod watch;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use group::{EventLoopGroup, MAX_GROUP_LOOPS};
pub(crate) use io::{IoEvent, IoHandle};
pub use promise::{Failure, Future, Listener, Outcome, Promise, Value};
pub use run_right::RunRight;
pub use schedule::{Repeat, ScheduledFuture, TimerTask};
pub use task::{RawTask, Task};
pub use timer::{LoopTimer, TimerCallback};
pub use turn::{Inline, RunMode};
pub use watch::{Watch, WatchCallback};

use crate::Result;
use crate::selector::{SelectionKey, Selector};
use crate::sync::lock;
use crate::sys::fork;
use shutdown::Shutdown;
use task::{NO_MARK, Queued};

/// Wraps the callback phases of a loop turn (see [`EventLoop::set_callback_scope`]): called
/// with a function that runs the phase, which the scope must call exactly once.
pub type CallbackScope = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

const OPEN: u8 = 0;
const SHUTTING_DOWN: u8 = 1;
const TERMINATED: u8 = 2;

/// `LoopInner::running`: no thread runs the loop.
const IDLE: u8 = 0;
/// `LoopInner::running`: a thread runs the loop (or closes it), holding its run right.
const RUNNING: u8 = 1;
/// `LoopInner::running`: a thread that does not run the loop borrows its run right for one
/// short call (`EventLoop::borrow_deadlines`).
const BORROWED: u8 = 2;

/// Reports an exception nobody handled in a loop's work ([`EventLoop::set_exception_handler`]):
/// called with the loop, the failure and its source (a pipeline channel is a
/// [`Channel`](crate::pipeline::Channel)).
pub type ExceptionHandler = Arc<dyn Fn(&EventLoop, &Failure, &dyn std::any::Any) + Send + Sync>;

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
    /// Exceptions nobody handled in the work the loop serves (a pipeline's tail), each
    /// reported through [`EventLoop::report_exception`].
    pub unhandled_exceptions: u64,
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
    unhandled_exceptions: AtomicU64,
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
    /// The deadline heaps, owned by the thread running the loop (see `deadlines`).
    deadlines: deadlines::Deadlines,
    /// Every reusable timer made on the loop, for its termination to close them.
    loop_timers: Mutex<timer::Registry>,
    owner: AtomicU64,
    /// Which thread runs the loop now (see [`RunRight`]).
    run_right: &'static RunRight,
    library_driven: bool,
    /// [`IDLE`], [`RUNNING`] (a run, or a close of a loop nobody runs) or [`BORROWED`] (a
    /// thread borrows the run right for one call on what the loop owns): one at a time.
    running: AtomicU8,
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
    /// What reports exceptions nobody handled ([`EventLoop::set_exception_handler`]).
    exception_handler: Mutex<Option<ExceptionHandler>>,
    /// Reclaims handed to the loop ([`EventLoop::reclaim_later`]); `None` once the
    /// termination has run the last ones.
    reclaims: Mutex<Option<Vec<reclaim::Reclaim>>>,
    /// Whether `reclaims` may hold some: read without its lock at the end of every turn.
    reclaims_pending: AtomicBool,
}

impl Drop for LoopInner {
    fn drop(&mut self) {
        // Timers stopped with handles left keep a reference to themselves for the loop; with
        // the loop gone (and so every handle, each of which holds it), it is given back.
        let parked = match self.loop_timers.get_mut() {
            Ok(registry) => registry.release_parked(),
            Err(poisoned) => poisoned.into_inner().release_parked(),
        };
        drop(parked);
        self.run_right.release();
    }
}

/// An event loop. Cloning gives another handle to the same loop. Thread-safe: every method
/// may be called from any thread; work is queued to the loop's thread.
#[derive(Clone)]
pub struct EventLoop {
    inner: Arc<LoopInner>,
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

static LOOP_NAMES: AtomicU64 = AtomicU64::new(0);

impl EventLoop {
    fn with_driver(library_driven: bool) -> Result<EventLoop> {
        let generation = fork::generation();
        Ok(EventLoop {
            inner: Arc::new(LoopInner {
                selector: Selector::open()?,
                tasks: CacheLine(Mutex::new(VecDeque::new())),
                deadlines: deadlines::Deadlines::default(),
                loop_timers: Mutex::new(timer::Registry::default()),
                owner: AtomicU64::new(if library_driven { 0 } else { thread_no() }),
                run_right: RunRight::claim(),
                library_driven,
                running: AtomicU8::new(IDLE),
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
                exception_handler: Mutex::new(None),
                reclaims: Mutex::new(Some(Vec::new())),
                reclaims_pending: AtomicBool::new(false),
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

    /// Whether the calling thread is running the loop now (see [`RunRight`]): inside one of
    /// its runs, the library thread of a spawned loop, or the thread closing a loop nobody
    /// runs. Unlike [`in_event_loop`](Self::in_event_loop), a caller-driven loop's owner
    /// between runs is not. What the loop owns may be touched without a lock only then.
    #[inline]
    pub fn in_run(&self) -> bool {
        self.inner.run_right.held()
    }

    /// The loop's run-right cell and its id, for tables that name loop-owned objects (the
    /// C handle table): `cell.held_for(id)` tells, with loads alone and even after the loop
    /// is gone, whether the caller runs this loop.
    pub fn run_right(&self) -> (&'static RunRight, u64) {
        (self.inner.run_right, self.inner.run_right.loop_id())
    }

    /// The loop's monotonic clock: time since the loop was created (plus what an embedded
    /// channel's virtual clock moved it by).
    pub fn now(&self) -> Duration {
        self.inner.start.elapsed() + self.clock_offset()
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
            unhandled_exceptions: c.unhandled_exceptions.load(Ordering::Relaxed),
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

    /// Sets the loop's exception handler (`None`: report on standard error, the default): it
    /// gets each exception nobody handled in the work the loop serves (one that reached a
    /// pipeline channel's tail, which stays open), with where it came from. It runs on the
    /// loop's thread, inside the callback in progress, so it must not block; a binding
    /// installs its own (Python: the handler of the loop's `EventLoop` object).
    pub fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        *lock(&self.inner.exception_handler) = handler;
    }

    /// Reports an exception nobody handled: counted
    /// ([`LoopCounters::unhandled_exceptions`]), then given to the loop's exception handler,
    /// or without one written to standard error as `describe` says.
    pub fn report_exception(
        &self,
        failure: &Failure,
        source: &dyn std::any::Any,
        describe: impl FnOnce() -> String,
    ) {
        self.inner
            .counters
            .unhandled_exceptions
            .fetch_add(1, Ordering::Relaxed);
        let handler = lock(&self.inner.exception_handler).clone();
        match handler {
            Some(handler) => handler(self, failure, source),
            None => crate::sys::stderr::report(&describe()),
        }
    }

    /// The backend's system-call counters (see [`Selector::counters`]).
    pub fn backend_counters(&self) -> crate::sys::backend::Counters {
        self.inner.selector.counters()
    }

    pub(crate) fn selector(&self) -> &Selector {
        &self.inner.selector
    }

    /// Adds (`true`) or removes a reference that keeps a [`RunMode::Default`] run going, for
    /// handles the loop does not track itself (watches, unref'd timers).
    pub(crate) fn add_ref(&self, delta: isize) {
        self.inner.refs.fetch_add(delta, Ordering::AcqRel);
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

    /// Whether both values are the same loop.
    pub fn same(&self, other: &EventLoop) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
