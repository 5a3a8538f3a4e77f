//! Reusable timers on an event loop (libuv's `uv_timer_t`): made once with a callback, then
//! started, stopped and restarted as often as needed, with no allocation per start.
//!
//! A [`LoopTimer`] is armed in the loop's timer heap, beside the scheduled tasks'
//! ([`EventLoop::schedule`]): both fire in one deadline order (ties in the order they were
//! armed) and never early, measured on the monotonic clock when the timer was started. The
//! heap of reusable timers is indexed (each armed timer knows its place), so a stop takes the
//! timer out at once and a restart moves it. The heaps belong to the thread running the loop
//! (see `deadlines`): there, start and stop are a clock read and O(log n) moves, with no lock,
//! no allocation, no wake-up and no atomic read-modify-write (a stopped timer keeps the
//! heap's reference to itself for its next start).
//!
//! # Semantics (libuv's)
//!
//! - [`LoopTimer::start`] arms the timer `timeout` from now; starting an active timer re-arms it.
//!   A `repeat` other than zero makes it fire again `repeat` after each expiry.
//! - When it fires, the timer is first stopped or, if it repeats, re-armed `repeat` after the
//!   turn's clock; then the callback runs on the loop's thread. The callback may stop, restart
//!   or close its own timer; a timer it restarts with no timeout fires on a later turn, so no
//!   turn runs forever.
//! - [`LoopTimer::again`] restarts a repeating timer with its repeat as the timeout (a
//!   non-repeating timer is left alone).
//! - An active, ref'd timer keeps a [`RunMode::Default`] run going; [`LoopTimer::set_ref`]
//!   changes that.
//! - [`LoopTimer::close`] stops the timer for good and drops its callback on the calling thread
//!   (or, if the callback is running, on the loop's thread once it returns). The loop's shutdown
//!   stops its timers (phase 1) and closes them when it terminates.
//!
//! # Ownership
//!
//! Cloning a [`LoopTimer`] gives another handle to the same timer; a handle keeps the loop's
//! memory alive (not the loop running: its shutdown closes the timer). An active timer is held
//! by its loop: it fires even if every handle was dropped (its callback gets one). A stopped
//! timer whose last handle is dropped is gone, and its callback with it: at once on the
//! loop's thread or while no thread runs the loop; from another thread while the loop runs,
//! when the loop has given back the reference it keeps to a timer it armed before (so that a
//! restart takes no reference count), on the loop's thread.
//!
//! # Threads
//!
//! Every method may be called from any thread. Who does the work:
//!
//! - The thread running the loop (its callbacks, a library loop's thread; see
//!   [`EventLoop::in_run`]) changes the heap directly.
//! - Another thread, while no thread runs the loop (a caller-driven loop between runs, from
//!   its owner or not), borrows the loop's run right for the call and changes the heap
//!   directly too (waking a host that polls the backend descriptor when the new deadline is
//!   the earliest). Its call has taken effect when it returns.
//! - Another thread, while a thread runs the loop, queues start, stop, again, set_ref and
//!   close to the loop as internal tasks (one allocation each; the queue wakes a waiting
//!   loop). They take effect in the order they were made when the loop runs them; each bumps
//!   the timer's operation count first, so an arming made before it does not fire any more
//!   (the loop compares the count recorded at arming when the timer comes due), and a queued
//!   operation is dropped when a later one from another thread, or an operation on the loop's
//!   thread made after it, decides the timer's state instead. So once a stop from another
//!   thread returns, no later expiry starts (an expiry whose callback the loop had already
//!   begun to run still finishes).
//!
//! [`is_active`](LoopTimer::is_active) and [`due_in`](LoopTimer::due_in) read what the last
//! operation published: the thread that queued a start or stop sees its own operation at
//! once, and the loop's firings and operations as soon as it makes them; while another
//! thread's operation is queued they may say what that thread asked for before the loop has
//! done it, or what the loop did just before.
//!
//! [`EventLoop::schedule`]: super::EventLoop::schedule
//! [`RunMode::Default`]: super::RunMode::Default

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::deadlines::{Heap, INACTIVE_DUE, LoopCell, deadline_after, take_parked, until};
use super::{EventLoop, LoopInner, OPEN, TERMINATED, Task};
use crate::sync::lock;
use crate::sys::fork;
use crate::{ErrorKind, Result};

/// A timer callback: the loop and the timer that fired.
pub type TimerCallback = Box<dyn FnMut(&EventLoop, &LoopTimer) + Send>;

/// The place of a timer that is not armed.
pub(super) const INACTIVE: usize = usize::MAX;

/// The longest repeat (a century): a longer one is as good as never, and a repeat is kept in
/// 64 bits of nanoseconds.
const MAX_REPEAT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A reusable timer on an event loop (libuv's `uv_timer_t`); see the module docs. Thread-safe.
pub struct LoopTimer {
    inner: Arc<TimerInner>,
    /// The timer's loop. Held here, not in [`TimerInner`], so an armed timer in the loop's heap
    /// makes no cycle with its loop (and a call needs no upgrade of a weak reference).
    event_loop: EventLoop,
}

pub(super) struct TimerInner {
    /// The fork generation at creation.
    generation: u64,
    /// The timer's index in the loop's heap of reusable timers, or [`INACTIVE`]. Written and
    /// read only by the run-right holder (relaxed: plain moves).
    pub(super) pos: AtomicUsize,
    /// The deadline of the last start, as `deadlines::encode` makes it, or
    /// `deadlines::INACTIVE_DUE`: what `is_active` and `due_in` read. Written by the loop when
    /// it arms, fires or disarms the timer, and by a thread queuing a start or stop.
    pub(super) due: AtomicU64,
    /// How many start, stop and close calls threads without the run right have made: an
    /// arming records it, and fires only if no such call came since; a queued operation
    /// carries its own number and is dropped if it is not the last.
    pub(super) ops: AtomicU64,
    /// `ops` as the loop's thread saw it at its last start or stop: a queued operation with
    /// a number not above it was overtaken by that call. Only the run-right holder uses it.
    local: AtomicU64,
    /// The repeat in nanoseconds (0: none). Any thread writes it; the loop reads it at expiry.
    repeat: AtomicU64,
    /// Whether the timer keeps the loop alive while active: what `set_ref` asked for last.
    /// The heap applies it to the arming (the run-right holder at once, others through it).
    pub(super) refd: AtomicBool,
    /// Set under the callback's lock.
    closed: AtomicBool,
    callback: Mutex<Option<TimerCallback>>,
    /// How many [`LoopTimer`] values name the timer. When the last goes, the loop gives back
    /// the reference it keeps in `keep`.
    pub(super) handles: AtomicUsize,
    /// The loop's reference to the timer while it is not armed, if it was armed before and
    /// still has handles: moved into the heap at the next arming and back at the next stop,
    /// so neither touches the reference count (see `deadlines::park`). Only the run-right
    /// holder touches it.
    pub(super) keep: LoopCell<Option<Arc<TimerInner>>>,
}

impl Clone for LoopTimer {
    fn clone(&self) -> Self {
        LoopTimer::handle(self.inner.clone(), self.event_loop.clone())
    }
}

impl Drop for LoopTimer {
    /// The last handle of a stopped timer gives back the loop's reference to it (on the
    /// loop's thread at once; from elsewhere as a timer operation), so the timer and its
    /// callback go; an armed timer is held by its loop until it is taken out.
    fn drop(&mut self) {
        if self.inner.handles.fetch_sub(1, Ordering::AcqRel) != 1
            || fork::is_forked(self.inner.generation)
        {
            return;
        }
        let lp = &self.event_loop;
        if lp.in_run() {
            let kept = lp.deadlines(|heap| heap.release(&self.inner));
            drop(kept);
        } else {
            let _ = self.elsewhere(Op::Release);
        }
    }
}

impl std::fmt::Debug for LoopTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopTimer")
            .field("active", &self.is_active())
            .field("repeat", &self.repeat())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TimerInner {
    pub(super) fn repeat(&self) -> Duration {
        Duration::from_nanos(self.repeat.load(Ordering::Relaxed))
    }
}

/// Every timer made on a loop (weakly), so that the loop's termination can close them.
#[derive(Default)]
pub(super) struct Registry {
    timers: Vec<Weak<TimerInner>>,
    /// The length at which closed and dropped timers are swept out next.
    sweep_at: usize,
}

impl Registry {
    /// Adds `timer`, sweeping out closed and dropped timers now and then. Returns the
    /// references the sweep took, for the caller to drop after the registry's lock: one may
    /// be the last, and dropping a timer drops its callback.
    fn add(&mut self, timer: &Arc<TimerInner>) -> Vec<Arc<TimerInner>> {
        let mut seen = Vec::new();
        if self.timers.len() >= self.sweep_at {
            self.timers.retain(|weak| match weak.upgrade() {
                Some(t) => {
                    let open = !t.closed.load(Ordering::Acquire);
                    seen.push(t);
                    open
                }
                None => false,
            });
            self.sweep_at = (self.timers.len() * 2).max(16);
        }
        self.timers.push(Arc::downgrade(timer));
        seen
    }

    /// Takes the live timers of `event_loop` out, for its termination to close them.
    pub(super) fn take(&mut self, event_loop: &EventLoop) -> Vec<LoopTimer> {
        self.sweep_at = 0;
        std::mem::take(&mut self.timers)
            .iter()
            .filter_map(Weak::upgrade)
            .map(|inner| LoopTimer::handle(inner, event_loop.clone()))
            .collect()
    }

    /// Gives back the references parked in the timers when their loop is dropped (see
    /// `deadlines::park`), for the caller to drop.
    pub(super) fn release_parked(&mut self) -> Vec<Arc<TimerInner>> {
        self.timers
            .iter()
            .filter_map(Weak::upgrade)
            // SAFETY: called from the loop's drop: no handle of the loop, nor of its timers
            // (each holds the loop), is left, so nothing else touches the cells.
            .filter_map(|timer| unsafe { take_parked(&timer) })
            .collect()
    }
}

/// Runs the callback of a timer the heap found due, on the loop's thread.
pub(super) fn fire(event_loop: &EventLoop, timer: Arc<TimerInner>) {
    let Some(mut callback) = lock(&timer.callback).take() else {
        return; // closed
    };
    event_loop
        .inner
        .counters
        .timers_fired
        .fetch_add(1, Ordering::Relaxed);
    let timer = LoopTimer::handle(timer, event_loop.clone());
    event_loop.guard(|| callback(event_loop, &timer));
    let mut slot = lock(&timer.inner.callback);
    if !timer.inner.closed.load(Ordering::Acquire) && slot.is_none() {
        *slot = Some(callback);
        return;
    }
    drop(slot);
    drop(callback); // closed while it ran: dropped here, on the loop's thread
}

impl EventLoop {
    /// Makes a reusable timer (libuv's `uv_timer_init`): stopped until
    /// [`LoopTimer::start`]; `callback` runs on the loop's thread each time it fires.
    ///
    /// # Errors
    /// `Rejected` (shutting down, from another thread; or terminated), `Forked`. The callback
    /// is dropped.
    pub fn timer(
        &self,
        callback: impl FnMut(&EventLoop, &LoopTimer) + Send + 'static,
    ) -> Result<LoopTimer> {
        self.check()?;
        let inner = Arc::new(TimerInner {
            generation: self.inner.generation,
            pos: AtomicUsize::new(INACTIVE),
            due: AtomicU64::new(INACTIVE_DUE),
            ops: AtomicU64::new(0),
            local: AtomicU64::new(0),
            repeat: AtomicU64::new(0),
            refd: AtomicBool::new(true),
            closed: AtomicBool::new(false),
            callback: Mutex::new(Some(Box::new(callback))),
            handles: AtomicUsize::new(0),
            keep: LoopCell::new(None),
        });
        let swept = {
            // Under the registry's lock, so a termination either sees the timer or is seen.
            let mut registry = lock(&self.inner.loop_timers);
            if !accepts(&self.inner) {
                drop(registry);
                drop(inner); // and the callback, here
                return Err(ErrorKind::Rejected.into());
            }
            registry.add(&inner)
        };
        drop(swept);
        Ok(LoopTimer::handle(inner, self.clone()))
    }
}

/// Wakes `lp` if it may be waiting with a deadline or a ref that the caller has just changed
/// while borrowing its heap: a host polling the backend descriptor between runs computed its
/// timeout before.
fn wake_if_waiting(lp: &EventLoop) {
    if lp.inner.idle.load(Ordering::Relaxed) {
        lp.wake_if_idle();
    }
}

/// Whether the loop takes timer starts (and new timers) from the calling thread: open, or
/// shutting down and called from its own thread.
fn accepts(lp: &Arc<LoopInner>) -> bool {
    match lp.state.load(Ordering::Acquire) {
        OPEN => true,
        TERMINATED => false,
        _ => EventLoop::in_loop(lp),
    }
}

/// A timer operation from a thread that does not hold the loop's run right, done on the heap
/// by its owner (see the module docs on threads).
#[derive(Clone, Copy)]
enum Op {
    /// The deadline, as `deadline_after` makes it.
    Start((u64, u64)),
    Stop,
    /// Applies the ref asked for last.
    Ref,
    Close,
    /// The last handle went: gives back the loop's parked reference.
    Release,
}

/// What an [`Op`] did: its result, the heap's reference to drop after, and whether a host
/// waiting on the backend descriptor should look again.
type Done = (Result<()>, Option<Arc<TimerInner>>, bool);

impl TimerInner {
    /// Whether the operation numbered `ticket` no longer decides the timer's state: another
    /// thread's later operation does, or one the loop's thread made after it.
    fn overtaken(&self, ticket: u64) -> bool {
        self.ops.load(Ordering::Acquire) != ticket || self.local.load(Ordering::Relaxed) >= ticket
    }

    /// Records an operation of the loop's own thread; returns the ticket an arming takes.
    #[inline]
    fn local_op(&self) -> u64 {
        let ticket = self.ops.load(Ordering::Acquire);
        self.local.store(ticket, Ordering::Relaxed);
        ticket
    }
}

/// Does `op` (numbered `ticket`) on the heap, as its owner; `queued` if it was queued to the
/// loop. The last operation from another thread publishes the timer's state as the heap has it
/// once done, so `is_active` and `due_in` settle on the truth whatever the order in which
/// callers stored their wishes.
fn apply(
    lp: &EventLoop,
    heap: &mut Heap,
    timer: &Arc<TimerInner>,
    (op, ticket): (Op, u64),
    queued: bool,
) -> Done {
    let done = match op {
        Op::Close => {
            let (removed, unrefd) = heap.disarm(timer, |_| false).unwrap_or((None, false));
            drop(removed); // not the last reference: the caller holds one
            (Ok(()), heap.release(timer), unrefd)
        }
        Op::Ref => return (Ok(()), None, heap.apply_ref(timer)),
        Op::Release if timer.handles.load(Ordering::Acquire) == 0 => {
            return (Ok(()), heap.release(timer), false);
        }
        Op::Release => return (Ok(()), None, false),
        _ if timer.overtaken(ticket) => (Ok(()), None, false),
        Op::Start(deadline) => {
            if timer.closed.load(Ordering::Acquire) {
                (Err(ErrorKind::Closed.into()), None, false)
            } else if lp.is_terminated() {
                (Err(ErrorKind::Rejected.into()), None, false)
            } else if queued && lp.is_shutting_down() {
                // Accepted before the shutdown began, run after: as a timer armed then, it is
                // stopped by the shutdown's first phase.
                (Ok(()), None, false)
            } else {
                heap.arm(timer, deadline, ticket);
                let earliest = heap.next_deadline() == Some(deadline.0);
                (Ok(()), None, earliest)
            }
        }
        Op::Stop => match heap.disarm(timer, |armed| armed >= ticket) {
            Some((removed, unrefd)) => (Ok(()), removed, unrefd),
            None => (Ok(()), None, false),
        },
    };
    if timer.ops.load(Ordering::Acquire) == ticket {
        heap.publish_due(timer);
    }
    done
}

impl LoopTimer {
    /// A new handle to `inner` on `event_loop`.
    fn handle(inner: Arc<TimerInner>, event_loop: EventLoop) -> LoopTimer {
        inner.handles.fetch_add(1, Ordering::Relaxed);
        LoopTimer { inner, event_loop }
    }

    fn check(&self) -> Result<()> {
        fork::check(self.inner.generation)?;
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(ErrorKind::Closed.into());
        }
        Ok(())
    }

    /// Does `op` from a thread without the run right: at once if no thread runs the loop,
    /// else queued to it (see the module docs on threads). Start, stop and close take a new
    /// number in the timer's operation count first.
    fn elsewhere(&self, op: Op) -> Result<()> {
        let lp = &self.event_loop;
        let timer = &self.inner;
        // What the caller sees until the loop has done it; stored before the operation takes
        // its number, so a loop that sees the number sees this too (and overwrites it).
        match op {
            Op::Start((_, due)) => timer.due.store(due, Ordering::Relaxed),
            Op::Stop | Op::Close => timer.due.store(INACTIVE_DUE, Ordering::Relaxed),
            Op::Ref | Op::Release => {}
        }
        let ticket = match op {
            Op::Ref | Op::Release => 0,
            _ => timer.ops.fetch_add(1, Ordering::AcqRel) + 1,
        };
        if let Some((result, removed, wake)) =
            lp.borrow_deadlines(|heap| apply(lp, heap, timer, (op, ticket), false))
        {
            drop(removed);
            if wake {
                wake_if_waiting(lp);
            }
            return result;
        }
        let timer = timer.clone();
        let mut task: Option<Task> = Some(Box::new(move |lp: &EventLoop| {
            let (_, removed, _) = lp.deadlines(|heap| apply(lp, heap, &timer, (op, ticket), true));
            drop(removed);
        }));
        match lp.execute_internal(&mut task) {
            Ok(()) => Ok(()),
            // Terminated meanwhile: its timers are closed, none can start.
            Err(e) if matches!(op, Op::Start(_)) => Err(e),
            Err(_) => Ok(()),
        }
    }

    /// Arms the timer to fire `timeout` from now (zero: on the next turn), never earlier;
    /// then every `repeat` after each expiry unless `repeat` is zero (libuv's
    /// `uv_timer_start`). Starting an active timer re-arms it with the new values. The
    /// timeout is kept exact however long (one beyond the monotonic clock's range, about 292
    /// billion years, never fires); a repeat longer than a century is a century.
    ///
    /// The deadline is computed from the clock at the call. On the loop's running thread it
    /// takes effect at once, with no lock; from another thread while the loop runs, it is
    /// queued (see the module docs on threads): [`is_active`](Self::is_active) and
    /// [`due_in`](Self::due_in) say at once what was asked for, an arming made before stops
    /// firing, and the loop is woken if it waits.
    ///
    /// # Errors
    /// `Closed` (the timer is closed), `Rejected` (the loop is shutting
    /// down and this is not its thread, or it terminated), `Forked`.
    pub fn start(&self, timeout: Duration, repeat: Duration) -> Result<()> {
        fork::check(self.inner.generation)?;
        let lp = &self.event_loop;
        let deadline = deadline_after(lp.clock(), timeout);
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(ErrorKind::Closed.into());
        }
        if !accepts(&lp.inner) {
            return Err(ErrorKind::Rejected.into());
        }
        let repeat = repeat.min(MAX_REPEAT).as_nanos() as u64;
        self.inner.repeat.store(repeat, Ordering::Relaxed);
        if lp.in_run() {
            let ticket = self.inner.local_op();
            lp.deadlines(|heap| heap.arm(&self.inner, deadline, ticket));
            return Ok(());
        }
        self.elsewhere(Op::Start(deadline))
    }

    /// Disarms the timer (libuv's `uv_timer_stop`); stopping a stopped timer does nothing.
    ///
    /// On the loop's running thread it takes effect at once, with no lock. From another
    /// thread while the loop runs it is queued, and once it returns no later expiry starts
    /// (one whose callback the loop had begun still finishes); [`is_active`](Self::is_active)
    /// says `false` at once.
    ///
    /// # Errors
    /// `Closed`, `Forked`.
    pub fn stop(&self) -> Result<()> {
        self.check()?;
        let lp = &self.event_loop;
        if lp.in_run() {
            self.inner.local_op();
            // Also when it is not armed: a start queued by another thread may have said so.
            self.inner.due.store(INACTIVE_DUE, Ordering::Relaxed);
            if self.inner.pos.load(Ordering::Relaxed) != INACTIVE {
                let removed = lp.deadlines(|heap| heap.disarm(&self.inner, |_| false));
                drop(removed);
            }
            return Ok(());
        }
        self.elsewhere(Op::Stop)
    }

    /// Restarts a repeating timer with its repeat as the timeout (libuv's `uv_timer_again`);
    /// does nothing to a timer whose repeat is zero. Threads: as [`start`](Self::start).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn again(&self) -> Result<()> {
        self.check()?;
        let repeat = self.repeat();
        if repeat.is_zero() {
            return Ok(());
        }
        self.start(repeat, repeat)
    }

    /// Sets the repeat (zero: none) used from the next expiry on, or by
    /// [`again`](Self::again) (libuv's `uv_timer_set_repeat`). A repeat longer than a century
    /// is a century (as good as never; [`repeat`](Self::repeat) then says so). From any
    /// thread it is one store, seen by the loop at the timer's next expiry.
    ///
    /// # Errors
    /// `Closed`, `Forked`.
    pub fn set_repeat(&self, repeat: Duration) -> Result<()> {
        self.check()?;
        let repeat = repeat.min(MAX_REPEAT).as_nanos() as u64;
        self.inner.repeat.store(repeat, Ordering::Relaxed);
        Ok(())
    }

    /// The repeat (zero: none).
    pub fn repeat(&self) -> Duration {
        self.inner.repeat()
    }

    /// How long until the timer fires (zero if it is due), or `None` if it is not active.
    /// From another thread while the loop runs: as the last operation published it (see the
    /// module docs on threads).
    pub fn due_in(&self) -> Option<Duration> {
        if fork::is_forked(self.inner.generation) {
            return None;
        }
        match self.inner.due.load(Ordering::Relaxed) {
            INACTIVE_DUE => None,
            code => Some(until(self.event_loop.clock(), code)),
        }
    }

    /// Whether the timer is armed (started and not yet stopped or expired without repeat).
    /// From another thread while the loop runs: as the last operation published it (see the
    /// module docs on threads).
    pub fn is_active(&self) -> bool {
        self.inner.due.load(Ordering::Relaxed) != INACTIVE_DUE
    }

    /// Makes the timer stop (`false`) or start again (`true`, the default) keeping a
    /// [`RunMode::Default`](super::RunMode::Default) run going while it is active (libuv's
    /// `uv_unref`/`uv_ref`). [`has_ref`](Self::has_ref) says the new value at once; from
    /// another thread while the loop runs, the loop applies it when it runs the queued change
    /// (until then its `is_alive` may still count the timer).
    pub fn set_ref(&self, refd: bool) {
        if fork::is_forked(self.inner.generation) {
            return;
        }
        if self.inner.refd.load(Ordering::Relaxed) == refd {
            return;
        }
        self.inner.refd.store(refd, Ordering::Relaxed);
        let lp = &self.event_loop;
        if lp.in_run() {
            lp.deadlines(|heap| heap.apply_ref(&self.inner));
            return;
        }
        let _ = self.elsewhere(Op::Ref);
    }

    /// Whether the timer keeps a `Default` run going while active (see
    /// [`set_ref`](Self::set_ref); libuv's `uv_has_ref`).
    pub fn has_ref(&self) -> bool {
        self.inner.refd.load(Ordering::Relaxed)
    }

    /// Stops the timer for good and drops its callback on this thread, or, if the callback is
    /// running now, on the loop's thread once it returns. Idempotent. Every later call but
    /// the queries fails with `Closed`. From another thread while the loop runs, the loop
    /// takes the timer out of its heap when it runs the queued close; it never fires again
    /// once this returns (one whose callback the loop had begun still finishes).
    pub fn close(&self) {
        let callback = {
            let mut slot = lock(&self.inner.callback);
            if self.inner.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            slot.take()
        };
        self.inner.due.store(INACTIVE_DUE, Ordering::Relaxed);
        let lp = &self.event_loop;
        if fork::is_forked(self.inner.generation) {
            // The parent's loop: its heap is left alone.
        } else if lp.in_run() {
            let removed = lp.deadlines(|heap| {
                let removed = heap.disarm(&self.inner, |_| false);
                (removed, heap.release(&self.inner))
            });
            drop(removed);
        } else {
            let _ = self.elsewhere(Op::Close);
        }
        drop(callback);
    }

    /// Whether the timer is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Whether both values are the same timer.
    pub fn same(&self, other: &LoopTimer) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
