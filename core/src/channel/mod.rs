//! Channels: the transports a [`Selector`](crate::selector::Selector) can watch.
//!
//! [`tcp`] has Java's `SocketChannel` and `ServerSocketChannel`. Every channel shares one
//! `ChannelCore`-backed shape: a descriptor closed only after its last call, blocking or
//! non-blocking mode, a readiness cache filled by the selector's edges and emptied by the
//! channel's own I/O, and at most one selector registration.

pub mod tcp;

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::selector::KeyInner;
use crate::sys::backend::Readiness;
use crate::sys::fd::{CLOSE_EPOCH, FdGuard, GuardedFd};
use crate::sys::fork;
use crate::sys::socket::{self, Io};
use crate::sys::wait::{self, Waiters};
use crate::{ErrorKind, Result};

pub use crate::sys::socket::{Family, SocketOption};
pub use tcp::{ServerSocketChannel, SocketChannel};

/// What kind of channel a [`ChannelCore`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Socket,
    Server,
    /// A descriptor the user owns and does the I/O on (see [`FdChannel`]).
    Fd,
}

/// How long accept readiness is held back after `EMFILE`/`ENFILE` unless a descriptor closes.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A slot where the C or Python layer keeps its own object for this core object (a handle
/// guard, a weak reference): dropped with the core object.
pub(crate) type Binding = Mutex<Option<Box<dyn Any + Send + Sync>>>;

/// The state every channel shares.
pub(crate) struct ChannelCore {
    pub(crate) fd: GuardedFd,
    pub(crate) kind: Kind,
    blocking: AtomicBool,
    pub(crate) readiness: Readiness,
    /// The selection key while registered (cleared at deregistration or close).
    pub(crate) registration: Mutex<Option<Arc<KeyInner>>>,
    pub(crate) waiters: Waiters,
    generation: u64,
    /// Accept back-off: deadline in ns since `EPOCH_START` (0 = none) and the close epoch.
    backoff_until: AtomicU64,
    backoff_epoch: AtomicU64,
    pub(crate) binding: Binding,
    /// Set by `close` under the registration lock, before the descriptor is marked closed.
    pub(crate) closing: AtomicBool,
    /// Connection state of a socket channel: `UNCONNECTED`, `PENDING` or `CONNECTED`.
    pub(crate) conn: AtomicU8,
    /// Whether a server channel is bound (listening).
    pub(crate) bound: AtomicBool,
    pub(crate) input_shutdown: AtomicBool,
    pub(crate) output_shutdown: AtomicBool,
    /// Whether the peer reset the connection: every later read reports it (`ECONNRESET`),
    /// as Java does, rather than the end of stream the kernel says after reporting it once.
    pub(crate) reset: AtomicBool,
    /// Serializes reads with reads (Java's rule).
    pub(crate) read_lock: Mutex<()>,
    /// Serializes writes with writes, so blocking writes never interleave.
    pub(crate) write_lock: Mutex<()>,
    pub(crate) family: Family,
}

/// Socket state: not connected.
pub(crate) const UNCONNECTED: u8 = 0;

/// Socket state: a non-blocking connect is in progress.
pub(crate) const PENDING: u8 = 1;
/// Socket state: connected.
pub(crate) const CONNECTED: u8 = 2;

impl std::fmt::Debug for ChannelCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelCore")
            .field("fd", &self.fd.raw())
            .field("kind", &self.kind)
            .field("closed", &self.fd.is_closed())
            .finish_non_exhaustive()
    }
}

fn monotonic_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

impl ChannelCore {
    /// The readiness bits of an edge worth keeping. A socket that is not connected (nor
    /// connecting) and a server that is not listening report a hang-up (`EPOLLHUP`) that only
    /// says so: kept, it would stick as an error and report every interest op forever, also
    /// after the connect or the listen.
    pub(crate) fn edge_bits(&self, bits: u32) -> u32 {
        use crate::sys::backend::{ERROR, READ_CLOSED, READABLE};
        let idle = match self.kind {
            Kind::Socket => self.conn.load(Ordering::Acquire) == UNCONNECTED,
            Kind::Server => !self.bound.load(Ordering::Acquire),
            Kind::Fd => false,
        };
        if idle {
            bits & !(ERROR | READ_CLOSED | READABLE)
        } else {
            bits
        }
    }

    pub(crate) fn new(fd: std::os::fd::RawFd, kind: Kind, family: Family) -> ChannelCore {
        Self::with_fd(GuardedFd::new(fd), kind, family)
    }

    fn new_borrowed(fd: std::os::fd::RawFd) -> ChannelCore {
        Self::with_fd(GuardedFd::borrowed(fd), Kind::Fd, Family::V4)
    }

    fn with_fd(fd: GuardedFd, kind: Kind, family: Family) -> ChannelCore {
        ChannelCore {
            fd,
            kind,
            blocking: AtomicBool::new(true),
            readiness: Readiness::default(),
            registration: Mutex::new(None),
            waiters: Waiters::default(),
            generation: fork::generation(),
            backoff_until: AtomicU64::new(0),
            backoff_epoch: AtomicU64::new(0),
            binding: Mutex::new(None),
            closing: AtomicBool::new(false),
            conn: AtomicU8::new(UNCONNECTED),
            bound: AtomicBool::new(false),
            input_shutdown: AtomicBool::new(false),
            output_shutdown: AtomicBool::new(false),
            reset: AtomicBool::new(false),
            read_lock: Mutex::new(()),
            write_lock: Mutex::new(()),
            family,
        }
    }

    /// Starts a call: fails in a forked child and after close.
    #[inline]
    pub(crate) fn enter(&self) -> Result<FdGuard<'_>> {
        fork::check(self.generation)?;
        self.fd.enter().ok_or_else(|| ErrorKind::Closed.into())
    }

    pub(crate) fn is_forked(&self) -> bool {
        fork::is_forked(self.generation)
    }

    pub(crate) fn is_blocking(&self) -> bool {
        self.blocking.load(Ordering::Acquire)
    }

    pub(crate) fn is_open(&self) -> bool {
        !self.fd.is_closed()
    }

    /// Java's `configureBlocking`: refused while registered with a selector.
    pub(crate) fn configure_blocking(&self, block: bool) -> Result<()> {
        let _call = self.enter()?;
        let reg = lock(&self.registration);
        if block && reg.is_some() {
            return Err(ErrorKind::IllegalBlockingMode.into());
        }
        self.blocking.store(block, Ordering::Release);
        Ok(())
    }

    /// Closes the channel: cancels its key and takes it out of the epoll set at once (the
    /// selector forgets the key at its next select), wakes every blocked caller with
    /// `AsyncClose`, and closes the descriptor when the last call in flight has left.
    /// Idempotent.
    pub(crate) fn close(&self) {
        let key = {
            let mut reg = lock(&self.registration);
            // Under the lock: a register racing this close sees it and fails.
            self.closing.store(true, Ordering::Release);
            reg.take()
        };
        if let Some(key) = key {
            key.cancel_for_close(self);
        }
        if self.fd.close() {
            self.waiters.wake_all();
        }
    }

    /// Closes the channel without closing its descriptor and returns the descriptor, which
    /// the caller owns from then on, in the channel's blocking mode (`O_NONBLOCK` set only for
    /// a non-blocking channel) and still close-on-exec. Refused while the channel is
    /// registered with a selector or watched by a loop; a key that was cancelled but not yet
    /// forgotten by its selector is taken out of the epoll set here. Blocked callers wake with
    /// `AsyncClose`, and the call returns once no call uses the descriptor any more.
    ///
    /// # Errors
    /// `RegisteredElsewhere` (a valid key), `Closed`, `Forked`.
    pub(crate) fn detach(&self) -> Result<std::os::fd::RawFd> {
        fork::check(self.generation)?;
        let fd = loop {
            let reg = lock(&self.registration);
            if let Some(key) = reg.as_ref() {
                if key.is_valid() {
                    return Err(ErrorKind::RegisteredElsewhere.into());
                }
                let key = key.clone();
                drop(reg);
                key.deregister();
                continue;
            }
            // Under the lock, as `close`: a register racing this sees it and fails.
            self.closing.store(true, Ordering::Release);
            break self.fd.detach().ok_or(ErrorKind::Closed)?;
        };
        // Calls in flight still use the descriptor: wake the blocked ones (they fail with
        // `AsyncClose`) and wait until every one has left.
        let mut rounds = 0u32;
        while self.fd.is_busy() {
            if rounds % 64 == 0 {
                self.waiters.wake_all();
            }
            if rounds < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
            rounds = rounds.saturating_add(1);
        }
        // Nobody else uses the descriptor now; a failure here leaves it non-blocking.
        let _ = socket::set_nonblocking(fd, !self.is_blocking());
        Ok(fd)
    }

    /// Runs `op` until it stops saying "would block"; in blocking mode waits for `events`
    /// between tries (and gives up at `deadline` with `TimedOut`).
    pub(crate) fn blocking_loop<T>(
        &self,
        call: &FdGuard<'_>,
        events: libc::c_short,
        deadline: Option<Instant>,
        mut op: impl FnMut() -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        loop {
            if let Some(v) = op()? {
                return Ok(Some(v));
            }
            if !self.is_blocking() {
                return Ok(None);
            }
            let closed = || self.fd.is_closed();
            if !wait::wait_fd(call.fd(), events, &self.waiters, &closed, deadline)? {
                return Err(ErrorKind::TimedOut.into());
            }
        }
    }

    /// A non-blocking read attempt on the stream socket `fd` that keeps the readiness cache
    /// honest. A reset, once seen, is reported by every later read.
    #[inline]
    pub(crate) fn try_read(
        &self,
        fd: std::os::fd::RawFd,
        io: impl FnOnce() -> Result<Io>,
        wanted: usize,
    ) -> Result<Option<usize>> {
        if self.reset.load(Ordering::Acquire) {
            return Err(crate::Error::Os(libc::ECONNRESET));
        }
        let snap = self.readiness.snapshot();
        let done = io().inspect_err(|e| self.note_reset(e))?;
        match done {
            Io::Done(n) => {
                // A short read on a stream socket drained the receive queue. A read that
                // filled the buffer exactly may have too: then, for a channel a selector
                // watches, it is worth a system call to ask, so that a level-triggered key is
                // not reported once more for nothing.
                if n < wanted || (n > 0 && self.drained(fd)) {
                    self.readiness.clear(snap, crate::sys::backend::READABLE);
                }
                Ok(Some(n))
            }
            Io::WouldBlock => {
                self.readiness.clear(snap, crate::sys::backend::READABLE);
                Ok(None)
            }
        }
    }

    /// Whether a registered channel's receive queue is empty now (`FIONREAD`); `false` for a
    /// channel no selector watches (its readiness cache is not used: no system call then).
    fn drained(&self, fd: std::os::fd::RawFd) -> bool {
        !self.is_blocking()
            && lock(&self.registration).is_some()
            && socket::bytes_available(fd).is_ok_and(|left| left == 0)
    }

    /// Remembers a reset seen by a read or a write, for the reads after it.
    fn note_reset(&self, error: &crate::Error) {
        if error.is_os(libc::ECONNRESET) {
            self.reset.store(true, Ordering::Release);
        }
    }

    /// A non-blocking write attempt that keeps the readiness cache honest.
    #[inline]
    pub(crate) fn try_write(&self, io: impl FnOnce() -> Result<Io>) -> Result<Option<usize>> {
        let snap = self.readiness.snapshot();
        match io().inspect_err(|e| self.note_reset(e))? {
            Io::Done(n) => Ok(Some(n)),
            Io::WouldBlock => {
                self.readiness.clear(snap, crate::sys::backend::WRITABLE);
                Ok(None)
            }
        }
    }

    /// Holds accept readiness back after a descriptor shortage.
    pub(crate) fn start_accept_backoff(&self) {
        self.backoff_epoch
            .store(CLOSE_EPOCH.load(Ordering::Acquire), Ordering::Relaxed);
        self.backoff_until.store(
            monotonic_ns() + ACCEPT_BACKOFF.as_nanos() as u64,
            Ordering::Release,
        );
        // The connection that could not be accepted is still waiting, and epoll will not say
        // so again: the key is looked at again once the back-off ends (also an
        // edge-triggered one, which has used its edge up).
        if let Some(key) = lock(&self.registration).as_ref() {
            key.look_again();
        }
    }

    /// While accept readiness is held back: how long it still is.
    pub(crate) fn accept_backoff_left(&self) -> Option<Duration> {
        let until = self.backoff_until.load(Ordering::Acquire);
        if until == 0 {
            return None;
        }
        let now = monotonic_ns();
        if now >= until
            || CLOSE_EPOCH.load(Ordering::Acquire) != self.backoff_epoch.load(Ordering::Relaxed)
        {
            self.backoff_until.store(0, Ordering::Release);
            return None;
        }
        Some(Duration::from_nanos(until - now))
    }

    pub(crate) fn set_option(
        &self,
        supported: &[SocketOption],
        opt: SocketOption,
        value: i64,
    ) -> Result<()> {
        let call = self.enter()?;
        if !supported.contains(&opt) {
            return Err(ErrorKind::UnsupportedOption.into());
        }
        socket::set_option(call.fd(), opt, value)
    }

    pub(crate) fn get_option(&self, supported: &[SocketOption], opt: SocketOption) -> Result<i64> {
        let call = self.enter()?;
        if !supported.contains(&opt) {
            return Err(ErrorKind::UnsupportedOption.into());
        }
        socket::get_option(call.fd(), opt)
    }
}

impl Drop for ChannelCore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Locks `m`, ignoring poisoning (nioxide's state stays consistent across a panic).
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A descriptor the user owns, watched for readiness like libuv's `uv_poll_t`: nioxide never
/// reads, writes or closes it, so it cannot see readiness being consumed; its key is re-armed
/// (`EPOLL_CTL_MOD`) after each report instead, which keeps it level-triggered. Closing the
/// `FdChannel` only stops nioxide from using the descriptor.
#[derive(Clone, Debug)]
pub struct FdChannel {
    pub(crate) core: Arc<ChannelCore>,
}

impl FdChannel {
    /// The ops a raw descriptor can be watched for: read and write.
    pub const VALID_OPS: u32 = crate::selector::OP_READ | crate::selector::OP_WRITE;

    /// Wraps `fd` (borrowed: the caller keeps it open while it is watched and closes it
    /// after closing this channel). The channel starts in non-blocking mode.
    ///
    /// # Errors
    /// `InvalidArgument` for a negative descriptor.
    pub fn new(fd: std::os::fd::RawFd) -> Result<FdChannel> {
        if fd < 0 {
            return Err(ErrorKind::InvalidArgument.into());
        }
        let core = ChannelCore::new_borrowed(fd);
        core.blocking.store(false, Ordering::Release);
        Ok(FdChannel {
            core: Arc::new(core),
        })
    }

    /// The descriptor.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.core.fd.raw()
    }

    /// Stops watching: cancels the key; the descriptor stays open (the user owns it).
    pub fn close(&self) {
        self.core.close();
    }

    /// Whether the channel is open.
    pub fn is_open(&self) -> bool {
        self.core.is_open()
    }
}

/// A channel a selector can watch, as stored in a selection key.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Channel {
    /// A TCP connection.
    Socket(SocketChannel),
    /// A TCP listener.
    Server(ServerSocketChannel),
    /// A descriptor the user owns.
    Fd(FdChannel),
}

impl Channel {
    pub(crate) fn core(&self) -> &Arc<ChannelCore> {
        match self {
            Channel::Socket(c) => &c.core,
            Channel::Server(c) => &c.core,
            Channel::Fd(c) => &c.core,
        }
    }

    /// Closes the channel (a raw descriptor's channel only stops being watched).
    pub fn close(&self) {
        self.core().close();
    }

    /// The interest ops this channel supports (Java's `validOps`).
    pub fn valid_ops(&self) -> u32 {
        match self {
            Channel::Socket(_) => SocketChannel::VALID_OPS,
            Channel::Server(_) => ServerSocketChannel::VALID_OPS,
            Channel::Fd(_) => FdChannel::VALID_OPS,
        }
    }

    /// Whether both values are the same channel.
    pub fn same(&self, other: &Channel) -> bool {
        Arc::ptr_eq(self.core(), other.core())
    }

    /// The binding layer's object for this channel (see `set_binding`).
    pub fn with_binding<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        let b = lock(&self.core().binding);
        f(b.as_deref())
    }

    /// Stores the binding layer's object for this channel (a C handle guard, a Python weak
    /// reference); it is dropped with the channel.
    pub fn set_binding(&self, value: Box<dyn Any + Send + Sync>) {
        *lock(&self.core().binding) = Some(value);
    }
}

impl From<SocketChannel> for Channel {
    fn from(c: SocketChannel) -> Channel {
        Channel::Socket(c)
    }
}

impl From<FdChannel> for Channel {
    fn from(c: FdChannel) -> Channel {
        Channel::Fd(c)
    }
}

impl From<ServerSocketChannel> for Channel {
    fn from(c: ServerSocketChannel) -> Channel {
        Channel::Server(c)
    }
}
