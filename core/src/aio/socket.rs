//! Asynchronous socket channels (Java's `AsynchronousSocketChannel`): connect, read and
//! write with completion handlers or futures, on a TCP connection served by its loop.
//!
//! The channel is an [`IoHandle`] registered once with its loop's selector for read, write
//! and connect readiness, edge-triggered: an edge that arrives while no operation waits stays
//! in the channel's readiness cache, where the next operation finds it. So an operation never
//! changes the registration (no `epoll_ctl`), and on the loop's thread a call tries the I/O
//! only when the cache says it can succeed (no `EAGAIN` in a steady exchange).
//!
//! Each direction's state (its pending operation, whether a timeout or cancel disabled it)
//! sits under its own lock, which an I/O attempt holds: a cancel from another thread waits
//! for the attempt in progress, so memory the operation borrowed is never touched after its
//! outcome is decided.
//!
//! Per connection the channel keeps only what an idle connection with a read pending needs;
//! the connect state and the timeout timers are made on first use.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::group::{AsynchronousChannelGroup, Member};
use super::write_queue::{QueueFullPolicy, WriteQueue};
use super::{
    Handler, IoBufs, Life, LoopChannel, Op, ReadOutcome, deliver_later, disabled, resume,
    run_caught,
};
use crate::channel::{Family, SocketChannel};
use crate::event_loop::io::{IoEvent, IoHandle};
use crate::event_loop::{EventLoop, Future, LoopTimer, Promise, RawTask};
use crate::selector::{OP_CONNECT, OP_READ, OP_WRITE, SelectionKey};
use crate::sync::lock;
use crate::sys::backend::{ERROR, READ_CLOSED, READABLE, Readiness, WRITABLE};
use crate::{Error, ErrorKind, Result};

/// A TCP connection whose operations complete through handlers or futures. Cloning gives
/// another handle to the same channel. Thread-safe: every method may be called from any
/// thread; handlers run on the channel's loop thread ([`event_loop`](Self::event_loop)).
///
/// The channel stays open until [`close`](Self::close) (or its group's `shutdown_now`, or
/// its loop's shutdown): dropping every handle does not close it, since its group and its
/// loop hold it (as Java's channel group does).
#[derive(Clone)]
pub struct AsynchronousSocketChannel {
    inner: Arc<SocketInner>,
}

struct SocketInner {
    channel: SocketChannel,
    life: Life,
    read: Mutex<ReadSide>,
    write: Mutex<WriteSide>,
    /// What a connection needs only once it connects or times an operation, made on first
    /// use: an accepted connection without timeouts never pays for it.
    rare: OnceLock<Box<Rare>>,
    /// An operation of either direction that finished inside its call, waiting to be
    /// reported (one slot for both: a second result meanwhile gets a task of its own). Locked
    /// after a direction's lock, never before.
    parked: Mutex<Option<ParkedOp>>,
    /// How the operation parked in `parked` will be reported: [`NO_DELIVERY`]
    /// (none parked), [`DELIVERY_TASK`] (a delivery task is queued on the loop) or
    /// [`DELIVERY_INLINE`] (the loop's event callback under way reports them once its own
    /// handlers have run). Written on the loop's thread only (or, for a loop that has
    /// terminated, by the thread that drops its tasks).
    delivery: AtomicU8,
    /// Set while the loop's event callback for this channel runs: a result parked meanwhile
    /// is reported at the end of that callback, from the channel itself, with no task.
    /// Touched on the loop's thread only.
    in_event: AtomicBool,
    /// Whether the write direction has something for the loop's write events to do (a raw
    /// write, queued writes, a requested shutdown). Written under the write lock; read
    /// without it by the event callback, which skips the write direction when it is clear
    /// (a call from another thread that stores a write also queues a task that looks).
    write_waiting: AtomicBool,
}

/// [`SocketInner::delivery`]: nothing parked.
const NO_DELIVERY: u8 = 0;
/// [`SocketInner::delivery`]: the delivery task is queued on the loop.
const DELIVERY_TASK: u8 = 1;
/// [`SocketInner::delivery`]: the event callback under way delivers.
const DELIVERY_INLINE: u8 = 2;

/// The state of a connection that most connections never use (see [`SocketInner::rare`]).
struct Rare {
    connect: Mutex<ConnectSide>,
    /// Each direction's reusable timeout timer ([`READ`], [`WRITE`], [`CONNECT`]), made on
    /// its first timed operation. It is not stopped when an operation finishes: when it fires
    /// it fails the pending operation whose deadline has passed, or re-arms for the pending
    /// one's deadline, so a timed operation costs one re-arm and no allocation.
    timers: [OnceLock<LoopTimer>; 3],
}

/// The directions, as indices of [`Rare::timers`].
const READ: usize = 0;
const WRITE: usize = 1;
const CONNECT: usize = 2;

#[derive(Default)]
struct ReadSide {
    pending: Option<Op<ReadOutcome>>,
    /// When a timeout fails the pending read (its direction's reusable timer looks at it).
    deadline: Option<Instant>,
    disabled: bool,
    seq: u64,
    /// Reads finished inside their calls and not yet reported: while there are any, the
    /// loop's events finish no later read (it would report first).
    undelivered: u32,
}

struct WriteSide {
    /// A pending raw write (`write`).
    raw: Option<Op<usize>>,
    /// When a timeout fails the pending raw write.
    deadline: Option<Instant>,
    /// Writes of `write_all`, in order.
    queue: WriteQueue,
    disabled: bool,
    /// A send error: every later write fails with it at the call.
    failed: Option<Error>,
    /// `shutdown_output` was asked for: it takes effect once the queue is drained.
    shutdown_requested: bool,
    seq: u64,
    /// The slices of one `sendmsg`: empty between sends, its allocation kept while writes
    /// are queued and let go once the queue is empty.
    scratch: Vec<IoSlice<'static>>,
    /// Writes finished inside their calls and not yet reported (see `ReadSide`).
    undelivered: u32,
}

// SAFETY: `scratch` holds no slices between sends (it is cleared before the lock is given
// up); its slices point into memory the queued operations borrow, which may be used from
// any thread (`IoBufs::from_raw`'s contract).
unsafe impl Send for WriteSide {}

#[derive(Default)]
struct ConnectSide {
    pending: Option<Op<()>>,
    /// When a timeout fails the pending connect.
    deadline: Option<Instant>,
    seq: u64,
}

/// The readiness bits that let a read make progress (data, end of stream, an error).
const READ_READY: u32 = READABLE | READ_CLOSED | ERROR;
/// The readiness bits that let a write make progress.
const WRITE_READY: u32 = WRITABLE | ERROR;

/// Finished operations, with their results, to report in order.
type Done<V> = Vec<(Op<V>, Result<V>)>;

/// An operation that finished inside the call that started it, with its result, waiting in
/// the channel's parked slot to be reported.
type Parked<V> = (Op<V>, Result<V>);

/// A parked read or write.
enum ParkedOp {
    Read(Parked<ReadOutcome>),
    Write(Parked<usize>),
}

impl std::fmt::Debug for AsynchronousSocketChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsynchronousSocketChannel")
            .field("channel", &self.inner.channel)
            .field("closed", &self.inner.life.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A channel closed under a call reports the asynchronous-close error.
fn closed_as_async(error: Error) -> Error {
    if error == ErrorKind::Closed.into() {
        ErrorKind::AsyncClose.into()
    } else {
        error
    }
}

impl AsynchronousSocketChannel {
    /// Opens an unconnected channel in `group` (an IPv6 dual-stack socket, or IPv4 where
    /// IPv6 is unavailable), on the group's next loop.
    ///
    /// # Errors
    /// `GroupShutdown`; `Rejected` (a loop of a borrowed group is shutting down); OS errors
    /// such as `EMFILE`.
    pub fn open(group: &AsynchronousChannelGroup) -> Result<AsynchronousSocketChannel> {
        group.check_open()?;
        Self::adopt(group, SocketChannel::open()?, group.next_loop())
    }

    /// Opens an unconnected channel of the given family in `group`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_family(
        group: &AsynchronousChannelGroup,
        family: Family,
    ) -> Result<AsynchronousSocketChannel> {
        group.check_open()?;
        Self::adopt(
            group,
            SocketChannel::open_family(family)?,
            group.next_loop(),
        )
    }

    /// Makes `channel` (new, or just accepted) an asynchronous channel on `event_loop`. On
    /// error the channel is closed.
    pub(crate) fn adopt(
        group: &AsynchronousChannelGroup,
        channel: SocketChannel,
        event_loop: EventLoop,
    ) -> Result<AsynchronousSocketChannel> {
        if let Err(e) = channel.configure_blocking(false) {
            channel.close();
            return Err(e);
        }
        let inner = super::register(
            group,
            &event_loop,
            channel.clone().into(),
            OP_READ | OP_WRITE | OP_CONNECT,
            |key| {
                Arc::new(SocketInner {
                    channel: channel.clone(),
                    life: super::Life::new(&event_loop, group, key),
                    read: Mutex::new(ReadSide::default()),
                    write: Mutex::new(WriteSide {
                        raw: None,
                        deadline: None,
                        queue: WriteQueue::new(),
                        disabled: false,
                        failed: None,
                        shutdown_requested: false,
                        seq: 0,
                        scratch: Vec::new(),
                        undelivered: 0,
                    }),
                    rare: OnceLock::new(),
                    parked: Mutex::new(None),
                    delivery: AtomicU8::new(NO_DELIVERY),
                    in_event: AtomicBool::new(false),
                    write_waiting: AtomicBool::new(false),
                })
            },
        )?;
        Ok(AsynchronousSocketChannel { inner })
    }

    /// Binds the local side before connecting.
    ///
    /// # Errors
    /// As [`SocketChannel::bind`].
    pub fn bind(&self, addr: SocketAddr) -> Result<()> {
        self.inner.channel.bind(addr)
    }

    /// The peer's address, or `None` while not connected.
    ///
    /// # Errors
    /// `Closed`, OS errors.
    pub fn remote_address(&self) -> Result<Option<SocketAddr>> {
        self.inner.channel.remote_address()
    }

    loop_channel_methods!(AsynchronousSocketChannel, SocketChannel);

    /// The underlying channel (for its descriptor and state queries; doing I/O on it while
    /// operations are pending breaks their ordering).
    pub fn channel(&self) -> &SocketChannel {
        &self.inner.channel
    }

    /// Closes the channel (idempotent; returns at once): the descriptor leaves the loop's
    /// epoll set and closes once no call uses it, and every pending operation fails with
    /// `AsyncClose`, once, on the loop's thread (in a task queued now). The channel then
    /// leaves its group.
    pub fn close(&self) {
        self.inner.close_now();
    }

    /// Shuts down the input side: a pending read and later reads complete with end of
    /// stream.
    ///
    /// # Errors
    /// As [`SocketChannel::shutdown_input`].
    pub fn shutdown_input(&self) -> Result<()> {
        self.inner.channel.shutdown_input()
    }

    /// Shuts down the output side (the peer reads end of stream) once the pending raw write
    /// and the queued writes have left; later writes fail at the call with `Shutdown`.
    ///
    /// # Errors
    /// `NotYetConnected`, `Closed`, OS errors.
    pub fn shutdown_output(&self) -> Result<()> {
        let inner = &self.inner;
        inner.check_connected()?;
        let mut side = lock(&inner.write);
        if side.raw.is_some() || !side.queue.is_empty() {
            side.shutdown_requested = true;
            return Ok(());
        }
        side.shutdown_requested = true;
        drop(side);
        inner.channel.shutdown_output()
    }

    /// Connects to `addr`; `handler` gets `Ok(())` once connected, or the error (a failed
    /// connect closes the channel, as in Java). With a `timeout` (zero = none), a connect
    /// still pending then fails with `TimedOut` and closes the channel.
    ///
    /// # Errors
    /// At the call (the handler is dropped unrun): `AlreadyConnected`, `ConnectionPending`,
    /// `Closed`, `Forked`, `Rejected` (the loop refuses a timeout's timer).
    pub fn connect(
        &self,
        addr: SocketAddr,
        timeout: Option<Duration>,
        handler: Handler<()>,
    ) -> Result<()> {
        self.inner.start_connect(addr, timeout, handler).map(drop)
    }

    /// [`connect`](Self::connect) with a future (value `()`); cancelling it fails the connect
    /// with `Cancelled` and closes the channel.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_future(&self, addr: SocketAddr, timeout: Option<Duration>) -> Result<Future> {
        self.inner.future_for(
            |inner, handler| inner.start_connect(addr, timeout, handler),
            SocketInner::cancel_connect,
        )
    }

    /// Reads into `bufs` (one region, or several for a scattering read, filled in order);
    /// `handler` gets the bytes read, [`ReadOutcome::EndOfStream`], or the error. With a
    /// `timeout` (zero = none), a read still pending then fails with `TimedOut`, having read
    /// nothing, and reads are disabled from then on.
    ///
    /// # Errors
    /// At the call (the handler is dropped unrun, `bufs` given back): `ReadPending`,
    /// `DirectionDisabled`, `NotYetConnected`, `Closed`, `Forked`, `Rejected`.
    pub fn read(
        &self,
        bufs: IoBufs,
        timeout: Option<Duration>,
        handler: Handler<ReadOutcome>,
    ) -> Result<()> {
        self.inner.start_read(bufs, timeout, handler).map(drop)
    }

    /// [`read`](Self::read) with a future (value [`ReadOutcome`]); cancelling it fails the
    /// read with `Cancelled` (it read nothing) and disables reads.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_future(&self, bufs: IoBufs, timeout: Option<Duration>) -> Result<Future> {
        self.inner.future_for(
            |inner, handler| inner.start_read(bufs, timeout, handler),
            SocketInner::cancel_read,
        )
    }

    /// Writes from `bufs` (one region, or several for a gathering write, sent in order) what
    /// the socket takes now: `handler` gets the count, which may be short of the whole. With a
    /// `timeout` (zero = none), a write still pending then fails with `TimedOut`, having
    /// written nothing, and writes are disabled from then on. Never raises `SIGPIPE`.
    ///
    /// # Errors
    /// At the call: `WritePending` (a raw write is pending or writes are queued),
    /// `DirectionDisabled`, `Shutdown`, the send error that failed an earlier write,
    /// `NotYetConnected`, `Closed`, `Forked`, `Rejected`.
    pub fn write(
        &self,
        bufs: IoBufs,
        timeout: Option<Duration>,
        handler: Handler<usize>,
    ) -> Result<()> {
        self.inner
            .start_write(bufs, timeout, handler, true)
            .map(drop)
    }

    /// [`write`](Self::write) with a future (value `usize`); cancelling it fails the write
    /// with `Cancelled` (it wrote nothing) and disables writes.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub fn write_future(&self, bufs: IoBufs, timeout: Option<Duration>) -> Result<Future> {
        self.inner.future_for(
            |inner, handler| inner.start_write(bufs, timeout, handler, true),
            SocketInner::cancel_write,
        )
    }

    /// Queues `bufs` to be written in full, after every write queued before (and after a
    /// pending raw write); `handler` gets the whole length once the last byte has left, or
    /// the error. Queued writes leave batched, several per `sendmsg`. A send error fails the
    /// write being sent and every queued one, once each, in order; later writes fail at the
    /// call. Reads are not affected.
    ///
    /// # Errors
    /// At the call: `QueueFull` (policy [`QueueFullPolicy::FailNewCall`]: queued bytes would
    /// pass the cap), `Closed` (policy [`QueueFullPolicy::Close`]: the channel was closed),
    /// `DirectionDisabled`, `Shutdown`, an earlier send error, `NotYetConnected`, `Forked`.
    pub fn write_all(&self, bufs: IoBufs, handler: Handler<usize>) -> Result<()> {
        self.inner.start_write(bufs, None, handler, false).map(drop)
    }

    /// [`write_all`](Self::write_all) with a future (value `usize`). A queued write cannot be
    /// cancelled: its bytes may be on their way already (cancel returns `false`).
    ///
    /// # Errors
    /// As [`write_all`](Self::write_all).
    pub fn write_all_future(&self, bufs: IoBufs) -> Result<Future> {
        let promise = Promise::new(Some(&self.inner.life.event_loop));
        promise.set_uncancellable();
        self.inner
            .start_write(bufs, None, super::promise_handler(&promise), false)?;
        Ok(promise)
    }

    /// Sets the write queue's cap (bytes queued by `write_all` and not yet sent) and what a
    /// write that would pass it does. The default is 64 MiB and
    /// [`QueueFullPolicy::FailNewCall`]. A write larger than the cap is taken into an empty
    /// queue.
    pub fn set_write_queue_cap(&self, cap: usize, policy: QueueFullPolicy) {
        let mut side = lock(&self.inner.write);
        side.queue.cap = cap;
        side.queue.policy = policy;
    }

    /// Bytes queued by `write_all` and not yet sent.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.inner.write).queue.bytes()
    }
}

impl SocketInner {
    /// Starts an operation whose handler completes a new future; cancelling the future
    /// fails the operation through `cancel`.
    fn future_for<V: Send + Sync + 'static>(
        self: &Arc<Self>,
        start: impl FnOnce(&Arc<Self>, Handler<V>) -> Result<u64>,
        cancel: fn(&SocketInner, u64),
    ) -> Result<Future> {
        let promise = Promise::new(Some(&self.life.event_loop));
        let seq = start(self, super::promise_handler(&promise))?;
        let weak = Arc::downgrade(self);
        promise.on_cancel(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                cancel(&inner, seq);
            }
        }));
        Ok(promise)
    }

    /// After an operation was parked (`overflow` is `None`): makes sure it will be reported,
    /// by the channel's event callback under way or else by the delivery task. A result that
    /// found the slot taken (`overflow`) is delivered by a task of its own, queued after.
    fn deliver_parked_later<V: Send + 'static>(
        self: &Arc<Self>,
        dir: usize,
        overflow: Option<Parked<V>>,
    ) {
        if let Some((op, result)) = overflow {
            self.report_later(dir, op, result);
            return;
        }
        // Only the loop's thread parks (and it alone reads and writes these flags while the
        // loop runs), so plain loads and stores do.
        if self.delivery.load(Ordering::Acquire) != NO_DELIVERY {
            return;
        }
        if self.in_event.load(Ordering::Relaxed) {
            // The event callback under way reports it once its handlers have run: after the
            // current callback, in the same turn, with no task.
            self.delivery.store(DELIVERY_INLINE, Ordering::Release);
            return;
        }
        self.delivery.store(DELIVERY_TASK, Ordering::Release);
        let data = [Arc::into_raw(self.clone()) as usize, 0, 0, 0];
        // SAFETY: the data is an `Arc<SocketInner>` (which may cross threads), taken back
        // once by whichever of the two functions runs.
        let mut task = Some(unsafe { RawTask::new(run_delivery, discard_delivery, data) });
        if self.life.event_loop.try_execute_raw(&mut task).is_err() {
            // The loop has terminated: the task, dropped here, delivers on this thread.
            drop(task);
        }
    }

    /// Reports `op`'s result (known inside its call, and counted as not yet reported in
    /// direction `dir`) from a task of its own on the loop; the direction then goes on.
    fn report_later<V: Send + 'static>(self: &Arc<Self>, dir: usize, op: Op<V>, result: Result<V>) {
        let inner = self.clone();
        deliver_later(&self.life.event_loop, move || {
            let mut panic = None;
            run_caught(&mut panic, || op.finish(result));
            inner.after_delivery(dir, 1, &mut panic);
            resume(panic);
        });
    }

    /// The delivery (a task, or the end of the event callback): reports the parked
    /// operation; its direction then goes on.
    fn deliver_parked(&self) {
        // Cleared before the slots are looked at: a result parked from now on queues a new
        // task, or is taken here.
        self.delivery.store(NO_DELIVERY, Ordering::Release);
        let parked = lock(&self.parked).take();
        let mut panic = None;
        match parked {
            Some(ParkedOp::Read((op, result))) => {
                run_caught(&mut panic, || op.finish(result));
                self.after_delivery(READ, 1, &mut panic);
            }
            Some(ParkedOp::Write((op, result))) => {
                run_caught(&mut panic, || op.finish(result));
                self.after_delivery(WRITE, 1, &mut panic);
            }
            None => {}
        }
        resume(panic);
    }

    /// `n` results of direction `dir` that finished inside their calls have been reported:
    /// once none is left, what the loop's events held back in that direction goes on (the
    /// readiness cache still says whether it can). Panics of the handlers run here go to
    /// `panic`.
    fn after_delivery(
        &self,
        dir: usize,
        n: u32,
        panic: &mut Option<Box<dyn std::any::Any + Send>>,
    ) {
        // Caught up: a held-back operation whose deadline passed meanwhile times out now (it
        // never completes after its timeout); otherwise the readiness cache says whether it
        // can go on.
        if dir == READ {
            catch_up(&self.read, n, panic, ReadSide::counted, |side, panic| {
                if let Some((op, result)) = self.poll_read_locked(side) {
                    run_caught(panic, || op.finish(result));
                }
            });
        } else {
            catch_up(&self.write, n, panic, WriteSide::counted, |side, panic| {
                if side.raw.is_none() && side.queue.is_empty() && !side.shutdown_requested {
                    return; // nothing held back
                }
                let done = self.poll_write_locked(side);
                if !done.is_empty() {
                    run_caught(panic, || finish_all(done));
                }
            });
        }
    }

    /// Puts a result known inside its call into the parked slot (counting it as not yet
    /// reported in its direction, whose lock the caller holds); gives it back if the slot
    /// is taken.
    fn park<V>(
        &self,
        undelivered: &mut u32,
        op: Op<V>,
        result: Result<V>,
        wrap: fn(Parked<V>) -> ParkedOp,
    ) -> Option<Parked<V>> {
        *undelivered += 1;
        let mut slot = lock(&self.parked);
        if slot.is_some() {
            return Some((op, result));
        }
        *slot = Some(wrap((op, result)));
        None
    }

    /// The connection's rarely used state, made on first use.
    fn rare(&self) -> &Rare {
        self.rare.get_or_init(|| {
            Box::new(Rare {
                connect: Mutex::new(ConnectSide::default()),
                timers: Default::default(),
            })
        })
    }

    fn on_loop(&self) -> bool {
        self.life.event_loop.in_event_loop()
    }

    /// Whether the readiness cache has one of `bits`.
    fn ready(&self, bits: u32) -> bool {
        Readiness::flags(self.channel.core.readiness.snapshot()) & bits != 0
    }

    fn check_open(&self) -> Result<()> {
        if self.life.is_closed() {
            return Err(ErrorKind::Closed.into());
        }
        self.channel.check()
    }

    fn check_connected(&self) -> Result<()> {
        self.check_open()?;
        if !self.channel.is_connected() {
            return Err(ErrorKind::NotYetConnected.into());
        }
        Ok(())
    }

    /// Arms direction `dir`'s timer for an operation with `timeout` (making the timer on the
    /// direction's first timed operation) and returns the operation's deadline (`None` for
    /// no timeout), which the caller stores with the operation. Called under the direction's
    /// lock, so nobody else makes that timer meanwhile.
    ///
    /// # Errors
    /// `Rejected` (the loop is shutting down and this is not its thread), `Forked`.
    #[inline(always)]
    fn arm_timeout(
        self: &Arc<Self>,
        dir: usize,
        timeout: Option<Duration>,
    ) -> Result<Option<Instant>> {
        match super::timeout_of(timeout) {
            None => Ok(None),
            Some(timeout) => self.arm_timer(dir, timeout).map(Some),
        }
    }

    /// [`arm_timeout`](Self::arm_timeout) for an operation that has a timeout.
    fn arm_timer(self: &Arc<Self>, dir: usize, timeout: Duration) -> Result<Instant> {
        let timers = &self.rare().timers;
        if timers[dir].get().is_none() {
            let weak = Arc::downgrade(self);
            let made = self.life.event_loop.timer(move |_, _| {
                if let Some(inner) = weak.upgrade() {
                    inner.timeout_fired(dir);
                }
            })?;
            let _ = timers[dir].set(made);
        }
        let timer = timers[dir].get().ok_or(ErrorKind::Closed)?;
        let deadline = Instant::now() + timeout;
        timer.start(timeout, Duration::ZERO)?;
        Ok(deadline)
    }

    /// Direction `dir`'s timer fired (on the loop's thread): the pending operation fails with
    /// `TimedOut` if its deadline has passed (a read or write disables its direction; a
    /// connect closes the channel); a later deadline (an operation started since) re-arms.
    fn timeout_fired(&self, dir: usize) {
        match dir {
            READ => {
                let op = {
                    let mut side = lock(&self.read);
                    // Earlier results not yet reported: their delivery looks at the deadline.
                    if side.undelivered > 0 {
                        return;
                    }
                    let deadline = side.deadline;
                    let op = self.take_due(dir, &mut side.pending, deadline);
                    side.disabled |= op.is_some();
                    op
                };
                if let Some(op) = op {
                    op.finish(Err(ErrorKind::TimedOut.into()));
                }
            }
            WRITE => {
                let op = {
                    let mut side = lock(&self.write);
                    if side.undelivered > 0 {
                        return;
                    }
                    let deadline = side.deadline;
                    let op = self.take_due(dir, &mut side.raw, deadline);
                    side.disabled |= op.is_some();
                    op
                };
                if let Some(op) = op {
                    op.finish(Err(ErrorKind::TimedOut.into()));
                }
            }
            _ => {
                let op = {
                    let mut side = lock(&self.rare().connect);
                    let deadline = side.deadline;
                    self.take_due(dir, &mut side.pending, deadline)
                };
                if let Some(op) = op {
                    self.life.closed.store(true, Ordering::Release);
                    self.channel.close();
                    op.finish(Err(ErrorKind::TimedOut.into()));
                }
            }
        }
    }

    /// The operation in `slot` if its deadline has passed; if its deadline is still ahead,
    /// the timer is re-armed for it.
    fn take_due<V>(
        &self,
        dir: usize,
        slot: &mut Option<Op<V>>,
        deadline: Option<Instant>,
    ) -> Option<Op<V>> {
        slot.as_ref()?;
        let deadline = deadline?;
        let now = Instant::now();
        if deadline > now {
            if let Some(timer) = self.rare.get().and_then(|rare| rare.timers[dir].get()) {
                let _ = timer.start(deadline - now, Duration::ZERO);
            }
            return None;
        }
        slot.take()
    }

    /// Closes the timeout timers (the channel is closed).
    fn close_timers(&self) {
        let Some(rare) = self.rare.get() else {
            return;
        };
        for timer in &rare.timers {
            if let Some(timer) = timer.get() {
                timer.close();
            }
        }
    }

    /// A call that stored an operation after a close began: fails it unless the close's
    /// failure pass took it already.
    fn recheck_closed<V: Send + 'static>(
        self: &Arc<Self>,
        take: impl FnOnce(&SocketInner) -> Option<Op<V>>,
    ) {
        if self.life.is_closed() {
            if let Some(op) = take(self) {
                deliver_later(&self.life.event_loop, move || {
                    op.finish(Err(ErrorKind::AsyncClose.into()))
                });
            }
        }
    }

    fn start_connect(
        self: &Arc<Self>,
        addr: SocketAddr,
        timeout: Option<Duration>,
        handler: Handler<()>,
    ) -> Result<u64> {
        self.check_open()?;
        if self.channel.is_connected() {
            return Err(ErrorKind::AlreadyConnected.into());
        }
        let mut side = lock(&self.rare().connect);
        if side.pending.is_some() || self.channel.is_connection_pending() {
            return Err(ErrorKind::ConnectionPending.into());
        }
        side.seq += 1;
        let seq = side.seq;
        let op = Op::new(seq, None, handler);
        // Under the connect lock: the loop's connect event waits for the operation to be
        // stored. A failed connect closes the channel; its failure pass takes nothing.
        match self.channel.connect(addr) {
            Ok(true) => {
                drop(side);
                deliver_later(&self.life.event_loop, move || op.finish(Ok(())));
            }
            Ok(false) => {
                match self.arm_timeout(CONNECT, timeout) {
                    Ok(deadline) => side.deadline = deadline,
                    Err(e) => {
                        drop(side);
                        op.abandon();
                        self.close_now();
                        return Err(e);
                    }
                }
                side.pending = Some(op);
                drop(side);
                // The connection may be made already: an edge the loop saw before the socket
                // counted as connecting selected nothing, but it is in the readiness cache,
                // which the loop looks at now.
                let inner = self.clone();
                deliver_later(&self.life.event_loop, move || {
                    if let Some((op, result)) = inner.poll_connect() {
                        op.finish(result);
                    }
                });
                self.recheck_closed(|inner| lock(&inner.rare().connect).pending.take());
            }
            Err(e) if matches!(e, Error::Os(_)) => {
                drop(side);
                deliver_later(&self.life.event_loop, move || op.finish(Err(e)));
            }
            Err(e) => {
                op.abandon();
                return Err(e);
            }
        }
        Ok(seq)
    }

    fn start_read(
        self: &Arc<Self>,
        bufs: IoBufs,
        timeout: Option<Duration>,
        handler: Handler<ReadOutcome>,
    ) -> Result<u64> {
        let refuse = |bufs: IoBufs, e: Error| {
            bufs.release();
            Err(e)
        };
        if let Err(e) = self.check_connected() {
            return refuse(bufs, e);
        }
        let mut side = lock(&self.read);
        if side.disabled {
            return refuse(bufs, disabled());
        }
        if side.pending.is_some() {
            return refuse(bufs, ErrorKind::ReadPending.into());
        }
        side.seq += 1;
        let seq = side.seq;
        let empty = bufs.total_len() == 0;
        let mut op = Op::new(seq, Some(bufs), handler);
        if empty {
            side.undelivered += 1;
            drop(side);
            self.report_later(READ, op, Ok(ReadOutcome::Bytes(0)));
            return Ok(seq);
        }
        let on_loop = self.on_loop();
        if on_loop && self.ready(READ_READY) {
            if let Some(result) = self.attempt_read(&mut op) {
                let overflow = self.park(&mut side.undelivered, op, result, ParkedOp::Read);
                drop(side);
                self.deliver_parked_later(READ, overflow);
                return Ok(seq);
            }
        }
        match self.arm_timeout(READ, timeout) {
            Ok(deadline) => side.deadline = deadline,
            Err(e) => {
                op.abandon();
                return Err(e);
            }
        }
        side.pending = Some(op);
        drop(side);
        if !on_loop {
            // What the cache holds is looked at on the loop's thread.
            let inner = self.clone();
            deliver_later(&self.life.event_loop, move || {
                if let Some((op, result)) = inner.poll_read() {
                    op.finish(result);
                }
            });
        }
        self.recheck_closed(|inner| lock(&inner.read).pending.take());
        Ok(seq)
    }

    /// One read attempt into the operation's memory: `None` if it would block.
    fn attempt_read(&self, op: &mut Op<ReadOutcome>) -> Option<Result<ReadOutcome>> {
        let bufs = op.bufs.as_mut()?;
        let outcome = match bufs.read_slice() {
            Some(slice) => self.channel.try_read(slice),
            None => {
                let mut slices = bufs.read_slices();
                self.channel.read_vectored(&mut slices)
            }
        };
        match outcome {
            Ok(None) => None,
            Ok(Some(0)) => Some(Ok(ReadOutcome::EndOfStream)),
            Ok(Some(n)) => Some(Ok(ReadOutcome::Bytes(n))),
            Err(e) => Some(Err(closed_as_async(e))),
        }
    }

    /// On the loop's thread: the pending read, if the cache says it can progress and it did.
    fn poll_read(&self) -> Option<(Op<ReadOutcome>, Result<ReadOutcome>)> {
        self.poll_read_locked(lock(&self.read))
    }

    /// [`poll_read`](Self::poll_read) with the read lock held already.
    fn poll_read_locked(
        &self,
        mut side: std::sync::MutexGuard<'_, ReadSide>,
    ) -> Option<(Op<ReadOutcome>, Result<ReadOutcome>)> {
        if side.pending.is_none() || side.undelivered > 0 || !self.ready(READ_READY) {
            return None;
        }
        let result = self.attempt_read(side.pending.as_mut()?)?;
        Some((side.pending.take()?, result))
    }

    /// Read `seq`'s future was cancelled: the read fails with `Cancelled` if it is still
    /// pending, and reads are disabled.
    fn cancel_read(&self, seq: u64) {
        let op = {
            let mut side = lock(&self.read);
            if side.pending.as_ref().is_none_or(|op| op.seq != seq) {
                return;
            }
            side.disabled = true;
            side.pending.take()
        };
        if let Some(op) = op {
            op.finish(Err(ErrorKind::Cancelled.into()));
        }
    }

    fn start_write(
        self: &Arc<Self>,
        bufs: IoBufs,
        timeout: Option<Duration>,
        handler: Handler<usize>,
        raw: bool,
    ) -> Result<u64> {
        let refuse = |bufs: IoBufs, e: Error| {
            bufs.release();
            Err(e)
        };
        if let Err(e) = self.check_connected() {
            return refuse(bufs, e);
        }
        let total = bufs.total_len();
        let mut side = lock(&self.write);
        if let Some(e) = side.failed {
            return refuse(bufs, e);
        }
        if side.shutdown_requested || self.channel.is_output_shutdown() {
            return refuse(bufs, ErrorKind::Shutdown.into());
        }
        if side.disabled {
            return refuse(bufs, disabled());
        }
        if raw && (side.raw.is_some() || !side.queue.is_empty()) {
            return refuse(bufs, ErrorKind::WritePending.into());
        }
        if !raw && !side.queue.fits(total) {
            if side.queue.policy == QueueFullPolicy::Close {
                drop(side);
                self.close_now();
                return refuse(bufs, ErrorKind::Closed.into());
            }
            return refuse(bufs, ErrorKind::QueueFull.into());
        }
        side.seq += 1;
        let seq = side.seq;
        let mut op = Op::new(seq, Some(bufs), handler);
        let on_loop = self.on_loop();
        if raw {
            if total == 0 {
                side.undelivered += 1;
                drop(side);
                self.report_later(WRITE, op, Ok(0));
                return Ok(seq);
            }
            if on_loop && self.ready(WRITE_READY) {
                if let Some(result) = self.attempt_write(&mut side, &mut op) {
                    let overflow = self.park(&mut side.undelivered, op, result, ParkedOp::Write);
                    drop(side);
                    self.deliver_parked_later(WRITE, overflow);
                    return Ok(seq);
                }
            }
            match self.arm_timeout(WRITE, timeout) {
                Ok(deadline) => side.deadline = deadline,
                Err(e) => {
                    op.abandon();
                    return Err(e);
                }
            }
            side.raw = Some(op);
            self.write_waiting.store(true, Ordering::Relaxed);
        } else {
            side.queue.push(op, total);
            self.write_waiting.store(true, Ordering::Relaxed);
            if on_loop && side.raw.is_none() && self.ready(WRITE_READY) {
                // The first write finished here waits in the parked slot (no allocation for
                // the common case of one); any more go to a task of their own, after it.
                let mut first = None;
                let mut rest = Vec::new();
                self.flush_queue(&mut side, &mut |op, result| match first {
                    None => first = Some((op, result)),
                    Some(_) => rest.push((op, result)),
                });
                side.undelivered += rest.len() as u32;
                let parked = first.map(|(op, result)| {
                    self.park(&mut side.undelivered, op, result, ParkedOp::Write)
                });
                drop(side);
                if let Some(overflow) = parked {
                    self.deliver_parked_later(WRITE, overflow);
                }
                if !rest.is_empty() {
                    let (inner, n) = (self.clone(), rest.len() as u32);
                    deliver_later(&self.life.event_loop, move || {
                        let mut panic = None;
                        for (op, result) in rest {
                            run_caught(&mut panic, || op.finish(result));
                        }
                        inner.after_delivery(WRITE, n, &mut panic);
                        resume(panic);
                    });
                }
                return Ok(seq);
            }
        }
        drop(side);
        if !on_loop {
            let inner = self.clone();
            deliver_later(&self.life.event_loop, move || {
                finish_all(inner.poll_write())
            });
        }
        if self.life.is_closed() {
            let inner = self.clone();
            deliver_later(&self.life.event_loop, move || inner.fail_writes());
        }
        Ok(seq)
    }

    /// One send of a raw write: `None` if it would block. A send error is remembered: later
    /// writes fail with it at the call.
    fn attempt_write(&self, side: &mut WriteSide, op: &mut Op<usize>) -> Option<Result<usize>> {
        let bufs = op.bufs.as_ref()?;
        let sent = match bufs.write_slice() {
            Some(bytes) => self.channel.try_write(bytes),
            None => {
                bufs.write_slices_from(0, usize::MAX, &mut side.scratch);
                let sent = self.channel.write_vectored(&side.scratch);
                side.scratch.clear();
                sent
            }
        };
        match sent {
            Ok(0) => None,
            Ok(n) => Some(Ok(n)),
            Err(e) => {
                let e = closed_as_async(e);
                if matches!(e, Error::Os(_)) {
                    side.failed = Some(e);
                }
                Some(Err(e))
            }
        }
    }

    /// Sends queued writes while the socket takes them (one `sendmsg` per batch); finished
    /// ones go to `done`, in order. A send error fails every queued write. Once the queue is
    /// empty, a requested output shutdown takes effect.
    fn flush_queue(&self, side: &mut WriteSide, done: &mut dyn FnMut(Op<usize>, Result<usize>)) {
        while !side.queue.is_empty() {
            // One queued write of one region goes with a plain send; several are gathered.
            let (sent, batch) = match side.queue.single() {
                Some(bytes) => (self.channel.try_write(bytes), bytes.len()),
                None => {
                    let mut scratch = std::mem::take(&mut side.scratch);
                    side.queue.gather(&mut scratch);
                    let batch: usize = scratch.iter().map(|s| s.len()).sum();
                    let sent = if batch == 0 {
                        Ok(0)
                    } else {
                        self.channel.write_vectored(&scratch)
                    };
                    scratch.clear();
                    side.scratch = scratch;
                    (sent, batch)
                }
            };
            match sent {
                Ok(n) => {
                    side.queue.advance(n, &mut |op, len| done(op, Ok(len)));
                    if n < batch {
                        // The socket's send buffer is full: the next edge goes on.
                        break;
                    }
                }
                Err(e) => {
                    let e = closed_as_async(e);
                    if matches!(e, Error::Os(_)) {
                        side.failed = Some(e);
                    }
                    for op in side.queue.take_all() {
                        done(op, Err(e));
                    }
                }
            }
        }
        if side.queue.is_empty() {
            // An idle connection keeps no slice list of its own.
            side.scratch = Vec::new();
            if side.raw.is_none() && side.shutdown_requested {
                let _ = self.channel.shutdown_output();
            }
        }
    }

    /// On the loop's thread: the raw write and the queue, as far as the socket takes them.
    fn poll_write(&self) -> Done<usize> {
        self.poll_write_locked(lock(&self.write))
    }

    /// [`poll_write`](Self::poll_write) with the write lock held already.
    fn poll_write_locked(&self, mut side: std::sync::MutexGuard<'_, WriteSide>) -> Done<usize> {
        let mut done = Vec::new();
        if side.undelivered > 0 || !self.ready(WRITE_READY) {
            return done;
        }
        if let Some(mut op) = side.raw.take() {
            match self.attempt_write(&mut side, &mut op) {
                Some(result) => {
                    let failed = result.is_err();
                    done.push((op, result));
                    if failed {
                        let e = side.failed.unwrap_or(ErrorKind::AsyncClose.into());
                        done.extend(side.queue.take_all().into_iter().map(|op| (op, Err(e))));
                        return done;
                    }
                }
                None => {
                    side.raw = Some(op);
                    return done;
                }
            }
        }
        if !side.queue.is_empty() || side.shutdown_requested {
            self.flush_queue(&mut side, &mut |op, result| done.push((op, result)));
        }
        self.write_waiting.store(
            side.raw.is_some() || !side.queue.is_empty() || side.shutdown_requested,
            Ordering::Relaxed,
        );
        done
    }

    /// Write `seq`'s future was cancelled: the write fails with `Cancelled` if it is still
    /// pending, and writes are disabled.
    fn cancel_write(&self, seq: u64) {
        let op = {
            let mut side = lock(&self.write);
            if side.raw.as_ref().is_none_or(|op| op.seq != seq) {
                return;
            }
            side.disabled = true;
            side.raw.take()
        };
        if let Some(op) = op {
            op.finish(Err(ErrorKind::Cancelled.into()));
        }
    }

    /// On the loop's thread: the pending connect, if it finished.
    fn poll_connect(&self) -> Option<(Op<()>, Result<()>)> {
        let mut side = lock(&self.rare.get()?.connect);
        if side.pending.is_none() || !self.ready(WRITE_READY | READ_CLOSED) {
            return None;
        }
        match self.channel.finish_connect() {
            Ok(false) => None,
            Ok(true) => Some((side.pending.take()?, Ok(()))),
            Err(e) => Some((side.pending.take()?, Err(closed_as_async(e)))),
        }
    }

    /// Connect `seq`'s future was cancelled: the connect fails with `Cancelled` if it is
    /// still pending, and the channel closes (a half-made connection is of no further use).
    fn cancel_connect(&self, seq: u64) {
        let Some(rare) = self.rare.get() else {
            return;
        };
        let op = {
            let mut side = lock(&rare.connect);
            if side.pending.as_ref().is_none_or(|op| op.seq != seq) {
                return;
            }
            side.pending.take()
        };
        self.life.closed.store(true, Ordering::Release);
        self.channel.close();
        if let Some(op) = op {
            op.finish(Err(ErrorKind::Cancelled.into()));
        }
    }

    /// Fails the pending raw write and every queued write with `AsyncClose`, in order.
    fn fail_writes(&self) {
        let ops: Vec<Op<usize>> = {
            let mut side = lock(&self.write);
            let mut ops: Vec<Op<usize>> = side.raw.take().into_iter().collect();
            ops.extend(side.queue.take_all());
            ops
        };
        finish_all(
            ops.into_iter()
                .map(|op| (op, Err(ErrorKind::AsyncClose.into())))
                .collect(),
        );
    }
}

/// The parts of a direction's state that its reports count in: its counter of undelivered
/// results, its pending operation, that operation's deadline and the disabled flag.
type Counted<'a, V> = (
    &'a mut u32,
    &'a mut Option<Op<V>>,
    Option<Instant>,
    &'a mut bool,
);

/// Panics caught from handlers, the first one kept.
type Caught = Option<Box<dyn std::any::Any + Send>>;

impl ReadSide {
    fn counted(&mut self) -> Counted<'_, ReadOutcome> {
        (
            &mut self.undelivered,
            &mut self.pending,
            self.deadline,
            &mut self.disabled,
        )
    }
}

impl WriteSide {
    fn counted(&mut self) -> Counted<'_, usize> {
        (
            &mut self.undelivered,
            &mut self.raw,
            self.deadline,
            &mut self.disabled,
        )
    }
}

/// Counts `n` reports of a direction under its lock (`parts` picks its state). Once none is
/// outstanding, a pending operation whose deadline passed times out now (it never completes
/// after its timeout) and disables the direction; otherwise `poll` goes on with the lock
/// still held. Panics of the handlers run here go to `panic`.
fn catch_up<S, V>(
    side: &Mutex<S>,
    n: u32,
    panic: &mut Caught,
    parts: for<'a> fn(&'a mut S) -> Counted<'a, V>,
    poll: impl FnOnce(std::sync::MutexGuard<'_, S>, &mut Caught),
) {
    let mut guard = lock(side);
    let (undelivered, pending, deadline, disabled) = parts(&mut guard);
    *undelivered -= n.min(*undelivered);
    if *undelivered != 0 {
        return;
    }
    let overdue = overdue(pending, deadline);
    *disabled |= overdue.is_some();
    match overdue {
        Some(op) => {
            drop(guard);
            run_caught(panic, || op.finish(Err(ErrorKind::TimedOut.into())));
        }
        None => poll(guard, panic),
    }
}

/// The operation in `slot` if its deadline has passed.
fn overdue<V>(slot: &mut Option<Op<V>>, deadline: Option<Instant>) -> Option<Op<V>> {
    slot.as_ref()?;
    let deadline = deadline?;
    if deadline > Instant::now() {
        return None;
    }
    slot.take()
}

/// The delivery task's body on the loop.
///
/// # Safety
/// `data[0]` is an `Arc<SocketInner>` from `Arc::into_raw`, taken back here once.
unsafe fn run_delivery(_: &EventLoop, data: [usize; 4]) {
    // SAFETY: the function's contract.
    let inner = unsafe { Arc::from_raw(data[0] as *const SocketInner) };
    inner.deliver_parked();
}

/// The delivery task dropped unrun (a shutdown dropped the loop's tasks): the results are
/// known, so they are reported here, once.
///
/// # Safety
/// As [`run_delivery`].
unsafe fn discard_delivery(data: [usize; 4]) {
    // SAFETY: the function's contract.
    let inner = unsafe { Arc::from_raw(data[0] as *const SocketInner) };
    inner.deliver_parked();
}

/// Reports finished operations in order; a panicking handler does not keep the later ones
/// from running (the first panic is passed on afterwards).
fn finish_all<V>(done: Done<V>) {
    let mut panic = None;
    for (op, result) in done {
        run_caught(&mut panic, || op.finish(result));
    }
    resume(panic);
}

impl LoopChannel for SocketInner {
    fn life(&self) -> &Life {
        &self.life
    }

    fn close_channel(&self) {
        self.channel.close();
    }

    /// Fails every pending operation with `AsyncClose` (connect, read, then the writes in
    /// order), then leaves the group. A panicking handler does not keep the others from
    /// running.
    fn fail_pending(&self) {
        self.life.closed.store(true, Ordering::Release);
        let connect = self
            .rare
            .get()
            .and_then(|rare| lock(&rare.connect).pending.take());
        let read = lock(&self.read).pending.take();
        let mut panic = None;
        if let Some(op) = connect {
            run_caught(&mut panic, || op.finish(Err(ErrorKind::AsyncClose.into())));
        }
        if let Some(op) = read {
            run_caught(&mut panic, || op.finish(Err(ErrorKind::AsyncClose.into())));
        }
        run_caught(&mut panic, || self.fail_writes());
        self.close_timers();
        self.life.leave();
        resume(panic);
    }
}

impl Member for SocketInner {
    fn close_member(&self) {
        self.close_now();
    }
}

impl IoHandle for SocketInner {
    /// Serves the edges: a finished connect, the pending read, the pending and queued
    /// writes; their handlers run here, in that order.
    fn handle(self: Arc<Self>, _: &EventLoop, _: &SelectionKey, event: IoEvent) {
        let IoEvent::Ready(ready) = event;
        let mut panic = None;
        self.in_event.store(true, Ordering::Relaxed);
        if ready & OP_CONNECT != 0 {
            if let Some((op, result)) = self.poll_connect() {
                run_caught(&mut panic, || op.finish(result));
            }
        }
        if ready & OP_READ != 0 {
            if let Some((op, result)) = self.poll_read() {
                run_caught(&mut panic, || op.finish(result));
            }
        }
        if ready & OP_WRITE != 0 && self.write_waiting.load(Ordering::Relaxed) {
            let done = self.poll_write();
            if !done.is_empty() {
                run_caught(&mut panic, || finish_all(done));
            }
        }
        // What the handlers above started and found finished at once is reported now, after
        // them; what those handlers start in turn goes to the delivery task (one more step
        // per turn at most, so a chain that keeps finishing at once cannot hold the loop).
        self.in_event.store(false, Ordering::Relaxed);
        if self.delivery.load(Ordering::Acquire) == DELIVERY_INLINE {
            run_caught(&mut panic, || self.deliver_parked());
        }
        resume(panic);
    }

    fn close(self: Arc<Self>, _: &EventLoop) {
        self.close_at_shutdown();
    }

    fn deregistered(self: Arc<Self>) {
        self.registration_ended();
    }
}
