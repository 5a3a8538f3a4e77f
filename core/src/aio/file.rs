//! Asynchronous file channels (Java's `AsynchronousFileChannel`): positional reads and
//! writes on a small pool of blocking threads, completions delivered on the channel's loop;
//! size, truncate and force (synchronous, as in Java); open-file-description locks.
//!
//! **The pool.** Each group starts its pool on the first file channel: a few threads named
//! `nioxide-aio-file-N`, every asynchronous signal blocked, taking jobs from one queue. A job
//! holds its operation's lock for its system call, so a close or a cancel waits for a call in
//! progress and the memory the operation borrowed is never touched after its outcome.
//!
//! **Locks** are `F_OFD_SETLK` locks: owned by the open file description, so two channels on
//! one file conflict also within one process. A lock that must wait never occupies a pool
//! thread: the channel's loop retries the non-blocking request on a timer, backing off from
//! 1 ms to 50 ms. On one channel, as in Java, a lock whose region overlaps one the channel
//! holds or waits for is refused at the call with [`ErrorKind::OverlappingLock`] (Java's
//! `OverlappingFileLockException`), where the kernel would merge the two into one lock that
//! the first release would end.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use super::group::{AsynchronousChannelGroup, Member};
use super::{Handler, IoBufs, Op, ReadOutcome, deliver_later};
use crate::event_loop::{EventLoop, Future, Promise, Repeat};
use crate::sync::lock;
use crate::sys::fd::GuardedFd;
use crate::sys::file::{self as sysfile, LockKind};
use crate::sys::thread::spawn_with_signals_blocked;
use crate::{Error, ErrorKind, Result};

/// Threads of a group's file pool unless set otherwise.
pub const DEFAULT_FILE_THREADS: usize = 2;

/// The first and the longest wait between two attempts of a lock that must wait.
const LOCK_RETRY_FIRST: Duration = Duration::from_millis(1);
const LOCK_RETRY_MAX: Duration = Duration::from_millis(50);

type Job = Box<dyn FnOnce() + Send>;

/// A group's blocking pool for file I/O.
pub(crate) struct FilePool {
    shared: Arc<PoolShared>,
    threads: Vec<JoinHandle<()>>,
}

struct PoolShared {
    jobs: Mutex<PoolJobs>,
    ready: Condvar,
}

#[derive(Default)]
struct PoolJobs {
    queue: VecDeque<Job>,
    stop: bool,
}

impl FilePool {
    fn start(threads: usize) -> Result<FilePool> {
        let shared = Arc::new(PoolShared {
            jobs: Mutex::new(PoolJobs::default()),
            ready: Condvar::new(),
        });
        let mut pool = FilePool {
            shared,
            threads: Vec::new(),
        };
        for n in 0..threads.max(1) {
            let shared = pool.shared.clone();
            match spawn_with_signals_blocked(format!("nioxide-aio-file-{n}"), move || {
                run_pool(&shared)
            }) {
                Ok(handle) => pool.threads.push(handle),
                Err(e) => {
                    pool.shutdown();
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    /// Stops the pool: the threads finish the queued jobs and exit; joined here unless
    /// called from one of them.
    pub(crate) fn shutdown(self) {
        lock(&self.shared.jobs).stop = true;
        self.shared.ready.notify_all();
        let me = std::thread::current().id();
        for thread in self.threads {
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }
}

fn run_pool(shared: &PoolShared) {
    loop {
        let job = {
            let mut jobs = lock(&shared.jobs);
            loop {
                if let Some(job) = jobs.queue.pop_front() {
                    break job;
                }
                if jobs.stop {
                    return;
                }
                jobs = shared
                    .ready
                    .wait(jobs)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        // A job delivers its own outcome; a panic there must not end the pool thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

impl PoolShared {
    fn submit(&self, job: Job) -> Result<()> {
        let mut jobs = lock(&self.jobs);
        if jobs.stop {
            return Err(ErrorKind::GroupShutdown.into());
        }
        jobs.queue.push_back(job);
        drop(jobs);
        self.ready.notify_one();
        Ok(())
    }
}

impl AsynchronousChannelGroup {
    /// Sets how many threads the group's file pool starts with (default
    /// [`DEFAULT_FILE_THREADS`]).
    ///
    /// # Errors
    /// `InvalidArgument` for 0 or once the pool has started.
    pub fn set_file_threads(&self, threads: usize) -> Result<()> {
        let mut slot = lock(self.file_pool());
        if threads == 0 || slot.as_ref().is_some_and(|p| p.started()) {
            return Err(ErrorKind::InvalidArgument.into());
        }
        *slot = Some(PoolSlot::Configured(threads));
        Ok(())
    }

    fn file_jobs(&self) -> Result<Arc<PoolShared>> {
        self.check_open()?;
        let mut slot = lock(self.file_pool());
        let threads = match slot.as_ref() {
            Some(PoolSlot::Running(pool)) => return Ok(pool.shared.clone()),
            Some(PoolSlot::Configured(n)) => *n,
            None => DEFAULT_FILE_THREADS,
        };
        let pool = FilePool::start(threads)?;
        let shared = pool.shared.clone();
        *slot = Some(PoolSlot::Running(pool));
        Ok(shared)
    }
}

/// A group's file pool: configured, or running.
pub(crate) enum PoolSlot {
    Configured(usize),
    Running(FilePool),
}

impl PoolSlot {
    fn started(&self) -> bool {
        matches!(self, PoolSlot::Running(_))
    }

    /// Stops the pool if it runs.
    pub(crate) fn shutdown(self) {
        if let PoolSlot::Running(pool) = self {
            pool.shutdown();
        }
    }
}

/// How a file is opened (Java's `StandardOpenOption`s): at least one of read and write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Create the file if it does not exist (needs `write`).
    pub create: bool,
    /// Create the file, failing with `EEXIST` if it exists (needs `write`).
    pub create_new: bool,
    /// Truncate an existing file to 0 bytes (needs `write`).
    pub truncate: bool,
}

impl OpenOptions {
    fn flags(&self) -> Result<libc::c_int> {
        let mut flags = match (self.read, self.write) {
            (true, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (true, true) => libc::O_RDWR,
            (false, false) => return Err(ErrorKind::InvalidArgument.into()),
        };
        if (self.create || self.create_new || self.truncate) && !self.write {
            return Err(ErrorKind::InvalidArgument.into());
        }
        if self.create_new {
            flags |= libc::O_CREAT | libc::O_EXCL;
        } else if self.create {
            flags |= libc::O_CREAT;
        }
        if self.truncate {
            flags |= libc::O_TRUNC;
        }
        Ok(flags)
    }
}

/// A file whose reads and writes at a position complete through handlers or futures, run
/// on a pool of blocking threads and reported on the channel's loop thread. Cloning gives
/// another handle to the same channel. Thread-safe; any number of operations may be pending.
#[derive(Clone)]
pub struct AsynchronousFileChannel {
    inner: Arc<FileInner>,
}

struct FileInner {
    fd: GuardedFd,
    /// The fork generation the channel was opened in (a forked child may not use it).
    generation: u64,
    event_loop: EventLoop,
    group: AsynchronousChannelGroup,
    jobs: Arc<PoolShared>,
    member: OnceLock<u64>,
    closed: AtomicBool,
    pending: Mutex<PendingOps>,
    /// The regions of the locks held or waited for through this channel.
    locks: Mutex<LockTable>,
    /// Where the C or Python layer keeps its own object for the channel.
    binding: crate::channel::Binding,
}

/// The locked regions of one channel, each `[start, end)` under its claim number.
#[derive(Default)]
struct LockTable {
    next: u64,
    regions: Vec<(u64, u64, u64)>,
}

#[derive(Default)]
struct PendingOps {
    next: u64,
    ops: HashMap<u64, Arc<dyn PendingOp>>,
}

/// A pending operation as a close sees it: something to fail.
trait PendingOp: Send + Sync {
    /// Fails the operation with `error` on `event_loop`'s thread, unless it has finished;
    /// waits for a system call in progress on its memory.
    fn fail(&self, event_loop: &EventLoop, error: Error);
}

impl<V: Send + 'static> PendingOp for Mutex<Option<Op<V>>> {
    fn fail(&self, event_loop: &EventLoop, error: Error) {
        if let Some(op) = lock(self).take() {
            deliver_later(event_loop, move || op.finish(Err(error)));
        }
    }
}

impl std::fmt::Debug for AsynchronousFileChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsynchronousFileChannel")
            .field("fd", &self.inner.fd.raw())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl AsynchronousFileChannel {
    /// Opens `path` in `group` with `options`; its handlers run on the group's next loop.
    ///
    /// # Errors
    /// `InvalidArgument` (neither read nor write; create or truncate without write; a path
    /// with a NUL byte), `GroupShutdown`, OS errors such as `ENOENT`, `EEXIST`, `EACCES`.
    pub fn open(
        group: &AsynchronousChannelGroup,
        path: &Path,
        options: OpenOptions,
    ) -> Result<AsynchronousFileChannel> {
        let flags = options.flags()?;
        let jobs = group.file_jobs()?;
        let fd = sysfile::open(path, flags)?;
        let inner = Arc::new(FileInner {
            fd: GuardedFd::new(fd),
            generation: crate::sys::fork::generation(),
            event_loop: group.next_loop(),
            group: group.clone(),
            jobs,
            member: OnceLock::new(),
            closed: AtomicBool::new(false),
            pending: Mutex::new(PendingOps::default()),
            locks: Mutex::new(LockTable::default()),
            binding: Default::default(),
        });
        match group.join(inner.clone()) {
            Ok(id) => {
                let _ = inner.member.set(id);
                Ok(AsynchronousFileChannel { inner })
            }
            Err(e) => {
                inner.closed.store(true, Ordering::Release);
                inner.fd.close();
                Err(e)
            }
        }
    }

    /// The loop whose thread runs this channel's handlers.
    pub fn event_loop(&self) -> &EventLoop {
        &self.inner.event_loop
    }

    /// The group the channel was opened in (its pool runs the channel's I/O).
    pub fn group(&self) -> &AsynchronousChannelGroup {
        &self.inner.group
    }

    /// Whether the channel is open.
    pub fn is_open(&self) -> bool {
        !self.inner.closed.load(Ordering::Acquire)
    }

    /// The binding layer's object for this channel (see [`set_binding`](Self::set_binding)).
    pub fn with_binding<R>(
        &self,
        f: impl FnOnce(Option<&(dyn std::any::Any + Send + Sync)>) -> R,
    ) -> R {
        self.inner.binding.with(f)
    }

    /// Stores the binding layer's object for this channel; dropped with the channel, or when
    /// replaced (on this thread).
    pub fn set_binding(&self, value: Box<dyn std::any::Any + Send + Sync>) {
        self.inner.binding.set(value);
    }

    /// Whether both values are the same channel.
    pub fn same(&self, other: &AsynchronousFileChannel) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Reads into `bufs` (one region) from `position`: `handler` gets the count,
    /// [`ReadOutcome::EndOfStream`] at or past the end of the file, or the error.
    ///
    /// # Errors
    /// At the call: `InvalidArgument` (several regions), `Closed`, `GroupShutdown`, `Forked`.
    pub fn read(&self, bufs: IoBufs, position: u64, handler: Handler<ReadOutcome>) -> Result<()> {
        self.inner.start_read(bufs, position, handler).map(drop)
    }

    /// [`read`](Self::read) with a future (value [`ReadOutcome`]); cancelling it fails the
    /// read with `Cancelled` unless its system call has run (it waits for one in progress).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_future(&self, bufs: IoBufs, position: u64) -> Result<Future> {
        self.inner
            .future_for(|inner, handler| inner.start_read(bufs, position, handler))
    }

    /// Writes `bufs` (one region) at `position` (past the end, the gap reads as zeros):
    /// `handler` gets the count written, or the error (`EBADF` for a channel not opened for
    /// writing, `ENOSPC` on a full disk).
    ///
    /// # Errors
    /// At the call: `InvalidArgument` (several regions), `Closed`, `GroupShutdown`, `Forked`.
    pub fn write(&self, bufs: IoBufs, position: u64, handler: Handler<usize>) -> Result<()> {
        self.inner.start_write(bufs, position, handler).map(drop)
    }

    /// [`write`](Self::write) with a future (value `usize`).
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub fn write_future(&self, bufs: IoBufs, position: u64) -> Result<Future> {
        self.inner
            .future_for(|inner, handler| inner.start_write(bufs, position, handler))
    }

    /// The file's size (a system call on the calling thread, as Java's `size()`).
    ///
    /// # Errors
    /// `Closed`, OS errors.
    pub fn size(&self) -> Result<u64> {
        let call = self.inner.enter()?;
        sysfile::size(call.fd())
    }

    /// Truncates the file to `size` bytes if it is longer (Java's `truncate`: a larger size
    /// changes nothing). On the calling thread.
    ///
    /// # Errors
    /// `Closed`, OS errors (`EINVAL` for a channel not opened for writing).
    pub fn truncate(&self, size: u64) -> Result<()> {
        let call = self.inner.enter()?;
        if sysfile::size(call.fd())? > size {
            sysfile::truncate(call.fd(), size)?;
        }
        Ok(())
    }

    /// Flushes the file's data to the device (`fdatasync`), with its metadata too if
    /// `metadata` (`fsync`). On the calling thread.
    ///
    /// # Errors
    /// `Closed`, OS errors.
    pub fn force(&self, metadata: bool) -> Result<()> {
        let call = self.inner.enter()?;
        sysfile::sync(call.fd(), metadata)
    }

    /// Takes a lock on `size` bytes at `position` (`size` 0 = to the end of the file,
    /// however it grows), shared or exclusive: `handler` gets the [`FileLock`] once it is
    /// held, waiting as long as another open file description holds a conflicting lock
    /// (retried on the loop, never on a pool thread), or fails with `AsyncClose` if the
    /// channel closes first.
    ///
    /// # Errors
    /// At the call: `OverlappingLock` (this channel holds or waits for a lock overlapping the
    /// region), `Closed`, `Rejected` (the loop refuses the retry timer).
    pub fn lock(
        &self,
        position: u64,
        size: u64,
        shared: bool,
        handler: Handler<FileLock>,
    ) -> Result<()> {
        self.inner.start_lock(position, size, shared, handler)
    }

    /// [`lock`](Self::lock) with a future (value [`FileLock`]).
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn lock_future(&self, position: u64, size: u64, shared: bool) -> Result<Future> {
        let promise = Promise::new(Some(&self.inner.event_loop));
        self.inner
            .start_lock(position, size, shared, super::promise_handler(&promise))?;
        Ok(promise)
    }

    /// Tries to take a lock at once (on the calling thread): `None` if a conflicting lock is
    /// held by another open file description.
    ///
    /// # Errors
    /// `OverlappingLock` (this channel holds or waits for a lock overlapping the region),
    /// `Closed`, OS errors.
    pub fn try_lock(&self, position: u64, size: u64, shared: bool) -> Result<Option<FileLock>> {
        let call = self.inner.enter()?;
        let kind = if shared {
            LockKind::Shared
        } else {
            LockKind::Exclusive
        };
        let claim = self.inner.claim(position, size)?;
        match sysfile::ofd_lock(call.fd(), kind, position, size) {
            Ok(true) => Ok(Some(FileLock::new(
                &self.inner,
                claim,
                position,
                size,
                shared,
            ))),
            held_or_failed => {
                self.inner.unclaim(claim);
                held_or_failed.map(|_| None)
            }
        }
    }

    /// Closes the channel (idempotent; returns once no system call of a pending operation
    /// is using its memory): pending operations, including waiting locks, fail with
    /// `AsyncClose` on the loop's thread; the descriptor closes (releasing the locks) once no
    /// call uses it. The channel then leaves its group.
    pub fn close(&self) {
        self.inner.close();
    }
}

impl FileInner {
    fn enter(&self) -> Result<crate::sys::fd::FdGuard<'_>> {
        crate::sys::fork::check(self.generation)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(ErrorKind::Closed.into());
        }
        self.fd.enter().ok_or_else(|| ErrorKind::Closed.into())
    }

    /// Claims the region of a lock about to be taken through this channel (size 0: to the
    /// end of the file, however it grows); the claim number is what it is given back with.
    ///
    /// # Errors
    /// `OverlappingLock`: a lock held or waited for through this channel overlaps it.
    fn claim(&self, position: u64, size: u64) -> Result<u64> {
        let end = if size == 0 {
            u64::MAX
        } else {
            position.saturating_add(size)
        };
        let mut table = lock(&self.locks);
        if table
            .regions
            .iter()
            .any(|&(_, start, stop)| position < stop && start < end)
        {
            return Err(ErrorKind::OverlappingLock.into());
        }
        table.next += 1;
        let claim = table.next;
        table.regions.push((claim, position, end));
        Ok(claim)
    }

    /// Gives a claimed region back (its lock was released, or never taken).
    fn unclaim(&self, claim: u64) {
        lock(&self.locks).regions.retain(|&(id, _, _)| id != claim);
    }

    /// Records a pending operation; `None` once closed.
    fn record<V: Send + 'static>(&self, slot: &Arc<Mutex<Option<Op<V>>>>) -> Option<u64> {
        let mut pending = lock(&self.pending);
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        pending.next += 1;
        let id = pending.next;
        pending.ops.insert(id, slot.clone());
        Some(id)
    }

    fn forget(&self, id: u64) {
        let left = lock(&self.pending).ops.remove(&id);
        drop(left);
    }

    /// Runs `work` for `op` (which borrows one region: a file's reads and writes are not
    /// scattering or gathering) on the pool; its outcome is reported on the loop.
    fn submit<V: Send + 'static>(
        self: &Arc<Self>,
        op: Op<V>,
        work: impl FnOnce(libc::c_int, &mut Op<V>) -> Result<V> + Send + 'static,
    ) -> Result<u64> {
        if op.bufs.as_ref().is_some_and(|b| b.regions().len() != 1) {
            op.abandon();
            return Err(ErrorKind::InvalidArgument.into());
        }
        if let Err(e) = crate::sys::fork::check(self.generation) {
            op.abandon();
            return Err(e);
        }
        let slot = Arc::new(Mutex::new(Some(op)));
        let Some(id) = self.record(&slot) else {
            if let Some(op) = lock(&slot).take() {
                op.abandon();
            }
            return Err(ErrorKind::Closed.into());
        };
        let inner = self.clone();
        let job_slot = slot.clone();
        let job: Job = Box::new(move || {
            let mut guard = lock(&job_slot);
            let Some(op) = guard.as_mut() else {
                return; // failed by a close or cancel meanwhile
            };
            let result = match inner.fd.enter() {
                Some(call) => work(call.fd(), op),
                None => Err(ErrorKind::AsyncClose.into()),
            };
            let taken = guard.take();
            drop(guard);
            inner.forget(id);
            if let Some(op) = taken {
                deliver_later(&inner.event_loop, move || op.finish(result));
            }
        });
        if let Err(e) = self.jobs.submit(job) {
            self.forget(id);
            if let Some(op) = lock(&slot).take() {
                op.abandon();
            }
            return Err(e);
        }
        Ok(id)
    }

    fn start_read(
        self: &Arc<Self>,
        bufs: IoBufs,
        position: u64,
        handler: Handler<ReadOutcome>,
    ) -> Result<u64> {
        let op = Op::new(0, Some(bufs), handler);
        self.submit(op, move |fd, op| {
            let Some(buf) = op.bufs.as_mut().and_then(IoBufs::read_slice) else {
                return Err(ErrorKind::InvalidArgument.into());
            };
            if buf.is_empty() {
                return Ok(ReadOutcome::Bytes(0));
            }
            match sysfile::pread(fd, buf, position)? {
                0 => Ok(ReadOutcome::EndOfStream),
                n => Ok(ReadOutcome::Bytes(n)),
            }
        })
    }

    fn start_write(
        self: &Arc<Self>,
        bufs: IoBufs,
        position: u64,
        handler: Handler<usize>,
    ) -> Result<u64> {
        let op = Op::new(0, Some(bufs), handler);
        self.submit(op, move |fd, op| {
            let mut slices = Vec::with_capacity(1);
            if let Some(bufs) = op.bufs.as_ref() {
                bufs.write_slices_from(0, 1, &mut slices);
            }
            let Some(bytes) = slices.first() else {
                return Ok(0);
            };
            sysfile::pwrite(fd, bytes, position)
        })
    }

    /// Starts an operation whose handler completes a new future; cancelling the future
    /// fails the operation with `Cancelled` unless its system call has run.
    fn future_for<V: Send + Sync + 'static>(
        self: &Arc<Self>,
        start: impl FnOnce(&Arc<Self>, Handler<V>) -> Result<u64>,
    ) -> Result<Future> {
        let promise = Promise::new(Some(&self.event_loop));
        let id = start(self, super::promise_handler(&promise))?;
        let weak = Arc::downgrade(self);
        promise.on_cancel(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                let op = lock(&inner.pending).ops.remove(&id);
                if let Some(op) = op {
                    op.fail(&inner.event_loop, ErrorKind::Cancelled.into());
                }
            }
        }));
        Ok(promise)
    }

    fn start_lock(
        self: &Arc<Self>,
        position: u64,
        size: u64,
        shared: bool,
        handler: Handler<FileLock>,
    ) -> Result<()> {
        let kind = if shared {
            LockKind::Shared
        } else {
            LockKind::Exclusive
        };
        let (claim, held) = {
            let call = self.enter()?;
            let claim = self.claim(position, size)?;
            (claim, sysfile::ofd_lock(call.fd(), kind, position, size))
        };
        let op = Op::new(0, None, handler);
        match held {
            Ok(true) => {
                let lock = FileLock::new(self, claim, position, size, shared);
                deliver_later(&self.event_loop, move || op.finish(Ok(lock)));
                Ok(())
            }
            Err(e) => {
                self.unclaim(claim);
                deliver_later(&self.event_loop, move || op.finish(Err(e)));
                Ok(())
            }
            Ok(false) => {
                let slot = Arc::new(Mutex::new(Some(op)));
                let Some(id) = self.record(&slot) else {
                    self.unclaim(claim);
                    if let Some(op) = lock(&slot).take() {
                        op.abandon();
                    }
                    return Err(ErrorKind::Closed.into());
                };
                let waiting = WaitingLock {
                    inner: Arc::downgrade(self),
                    slot: slot.clone(),
                    id,
                    claim,
                    kind,
                    position,
                    size,
                    shared,
                };
                if let Err(e) = waiting.retry_after(LOCK_RETRY_FIRST) {
                    self.forget(id);
                    self.unclaim(claim);
                    if let Some(op) = lock(&slot).take() {
                        op.abandon();
                    }
                    return Err(e);
                }
                Ok(())
            }
        }
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let pending: Vec<Arc<dyn PendingOp>> = {
            let mut table = lock(&self.pending);
            table.ops.drain().map(|(_, op)| op).collect()
        };
        self.fd.close();
        for op in pending {
            op.fail(&self.event_loop, ErrorKind::AsyncClose.into());
        }
        // Leaves after the failures it queued have run.
        if let Some(&id) = self.member.get() {
            let group = self.group.clone();
            deliver_later(&self.event_loop, move || group.leave(id));
        }
    }
}

impl Member for FileInner {
    fn close_member(&self) {
        self.close();
    }
}

/// A lock waiting for a conflicting one to go: retried on the loop.
struct WaitingLock {
    inner: Weak<FileInner>,
    slot: Arc<Mutex<Option<Op<FileLock>>>>,
    id: u64,
    /// The region's claim on the channel (given back unless the lock is taken).
    claim: u64,
    kind: LockKind,
    position: u64,
    size: u64,
    shared: bool,
}

impl WaitingLock {
    fn retry_after(self, delay: Duration) -> Result<()> {
        let Some(inner) = self.inner.upgrade() else {
            return Ok(());
        };
        let event_loop = inner.event_loop.clone();
        drop(inner);
        let mut waiting = Some(self);
        event_loop
            .schedule(delay, Repeat::Once, move |_| {
                if let Some(waiting) = waiting.take() {
                    waiting.attempt(delay);
                }
                Ok(None)
            })
            .map(drop)
    }

    /// On the loop: one non-blocking attempt; held → the handler runs here; still held
    /// elsewhere → again later.
    fn attempt(self, delay: Duration) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let mut slot = lock(&self.slot);
        if slot.is_none() {
            inner.unclaim(self.claim);
            return; // failed by a close
        }
        let outcome = match inner.enter() {
            Ok(call) => sysfile::ofd_lock(call.fd(), self.kind, self.position, self.size),
            Err(_) => Err(ErrorKind::AsyncClose.into()),
        };
        let result = match outcome {
            Ok(false) => {
                drop(slot);
                let next = (delay * 2).min(LOCK_RETRY_MAX);
                let failed = {
                    let slot = self.slot.clone();
                    let (id, claim) = (self.id, self.claim);
                    match self.retry_after(next) {
                        Ok(()) => None,
                        Err(e) => Some((slot, id, claim, e)),
                    }
                };
                if let Some((slot, id, claim, e)) = failed {
                    inner.forget(id);
                    inner.unclaim(claim);
                    if let Some(op) = lock(&slot).take() {
                        op.finish(Err(e));
                    }
                }
                return;
            }
            Ok(true) => Ok(FileLock::new(
                &inner,
                self.claim,
                self.position,
                self.size,
                self.shared,
            )),
            Err(e) => {
                inner.unclaim(self.claim);
                Err(e)
            }
        };
        let op = slot.take();
        drop(slot);
        inner.forget(self.id);
        if let Some(op) = op {
            op.finish(result);
        }
    }
}

/// A lock held on a region of a file (Java's `FileLock`). Released by
/// [`release`](Self::release), or when its channel closes. Thread-safe.
#[derive(Debug)]
pub struct FileLock {
    channel: Weak<FileInner>,
    /// The region's claim on its channel, given back at release.
    claim: u64,
    position: u64,
    size: u64,
    shared: bool,
    released: AtomicBool,
}

impl FileLock {
    fn new(
        channel: &Arc<FileInner>,
        claim: u64,
        position: u64,
        size: u64,
        shared: bool,
    ) -> FileLock {
        FileLock {
            channel: Arc::downgrade(channel),
            claim,
            position,
            size,
            shared,
            released: AtomicBool::new(false),
        }
    }

    /// Where the locked region starts.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The locked region's size (0 = to the end of the file).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the lock is shared.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Whether the lock is held: not released, its channel open.
    pub fn is_valid(&self) -> bool {
        !self.released.load(Ordering::Acquire)
            && self
                .channel
                .upgrade()
                .is_some_and(|c| !c.closed.load(Ordering::Acquire))
    }

    /// Releases the lock (idempotent; a closed channel released it already).
    ///
    /// # Errors
    /// OS errors.
    pub fn release(&self) -> Result<()> {
        if self.released.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let Some(channel) = self.channel.upgrade() else {
            return Ok(());
        };
        let Ok(call) = channel.enter() else {
            return Ok(());
        };
        let released = sysfile::ofd_lock(call.fd(), LockKind::Unlock, self.position, self.size);
        // The region is this channel's to lock again (also if the unlock failed: the lock
        // counts as released either way, as `released` says).
        channel.unclaim(self.claim);
        released.map(drop)
    }
}

impl std::fmt::Debug for FileInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileInner")
            .field("fd", &self.fd.raw())
            .finish_non_exhaustive()
    }
}
