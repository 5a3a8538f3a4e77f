//! Channels: the transports a [`Selector`](crate::selector::Selector) can watch.
//!
//! [`tcp`] has Java's `SocketChannel` and `ServerSocketChannel`, [`fd`] a descriptor the
//! user owns. Every channel shares one `ChannelCore`-backed shape: a descriptor closed only
//! after its last call, blocking or non-blocking mode, a readiness cache filled by the
//! selector's edges and emptied by the channel's own I/O, and at most one selector
//! registration. What only one kind of channel has (a socket's connection state, a server's
//! accept back-off) and how its readiness maps to ready ops live in that kind's file
//! (`KindState`); the selector asks the core and never looks at the kind.

pub mod fd;
pub mod tcp;

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::selector::KeyInner;
use crate::sync::lock;
use crate::sys::backend::{self, Readiness};
use crate::sys::fd::{FdGuard, GuardedFd};
use crate::sys::fork;
use crate::sys::socket;
use crate::sys::wait::{self, Waiters};
use crate::{ErrorKind, Result};

pub use crate::sys::socket::{Family, SocketOption};
pub use fd::FdChannel;
pub use tcp::{ServerSocketChannel, SocketChannel};

/// What kind of channel a [`ChannelCore`] is, with the state only that kind has. Each kind's
/// file says how its readiness maps to ready ops and which edges it keeps.
pub(crate) enum KindState {
    /// A TCP connection ([`tcp::SocketState`]).
    Socket(tcp::SocketState),
    /// A TCP listener ([`tcp::ServerState`]), boxed: servers are few, and a connection's
    /// channel stays the smaller for it.
    Server(Box<tcp::ServerState>),
    /// A descriptor the user owns and does the I/O on ([`FdChannel`]).
    Fd,
}

/// A slot where the C or Python layer keeps its own object for this core object: a boxed
/// value (Python's weak reference to its wrapper) or a handle number (the C layer's, with no
/// allocation), dropped with the core object.
#[derive(Default)]
pub(crate) struct Binding(Mutex<Bound>);

#[derive(Default)]
enum Bound {
    #[default]
    None,
    Object(Box<dyn Any + Send + Sync>),
    Handle(BoundHandle),
}

/// A binding layer's handle number for a core object, and the function that lets go of it
/// when the object dies (the C layer's key handles free their slot so).
struct BoundHandle {
    raw: u64,
    release: Option<fn(u64)>,
}

impl Drop for BoundHandle {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            release(self.raw);
        }
    }
}

impl Binding {
    /// Runs `f` with the boxed value, if that is what the slot holds.
    pub(crate) fn with<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        match &*lock(&self.0) {
            Bound::Object(value) => f(Some(&**value)),
            _ => f(None),
        }
    }

    /// Stores a boxed value; what the slot held is dropped after the slot's lock.
    pub(crate) fn set(&self, value: Box<dyn Any + Send + Sync>) {
        self.replace(Bound::Object(value));
    }

    /// The handle number, if that is what the slot holds.
    pub(crate) fn handle(&self) -> Option<u64> {
        match &*lock(&self.0) {
            Bound::Handle(handle) => Some(handle.raw),
            _ => None,
        }
    }

    /// Stores a handle number and the function that lets go of it when the object dies.
    pub(crate) fn set_handle(&self, raw: u64, release: Option<fn(u64)>) {
        self.replace(Bound::Handle(BoundHandle { raw, release }));
    }

    fn replace(&self, bound: Bound) {
        let old = std::mem::replace(&mut *lock(&self.0), bound);
        drop(old);
    }
}

/// The state every channel shares: a channel's own allocation. Opaque; a binding layer may keep
/// an `Arc<ChannelCore>` in place of a channel (`SocketChannel::into_shared` and `from_shared`).
pub struct ChannelCore {
    pub(crate) fd: GuardedFd,
    pub(crate) kind: KindState,
    blocking: AtomicBool,
    pub(crate) readiness: Readiness,
    /// The selection key while registered (cleared at deregistration or close).
    pub(crate) registration: Mutex<Option<Arc<KeyInner>>>,
    pub(crate) waiters: Waiters,
    generation: u64,
    pub(crate) binding: Binding,
    /// Set by `close` under the registration lock, before the descriptor is marked closed.
    pub(crate) closing: AtomicBool,
    /// Serializes reads with reads (Java's rule).
    pub(crate) read_lock: Mutex<()>,
    /// Serializes writes with writes, so blocking writes never interleave.
    pub(crate) write_lock: Mutex<()>,
    pub(crate) family: Family,
}

impl std::fmt::Debug for ChannelCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelCore")
            .field("fd", &self.fd.raw())
            .field("kind", &self.kind_name())
            .field("closed", &self.fd.is_closed())
            .finish_non_exhaustive()
    }
}

impl ChannelCore {
    /// The readiness bits of an edge worth keeping (the kind decides: see its `edge_bits`).
    pub(crate) fn edge_bits(&self, bits: u32) -> u32 {
        match &self.kind {
            KindState::Socket(state) => state.edge_bits(bits),
            KindState::Server(state) => state.edge_bits(bits),
            KindState::Fd => bits,
        }
    }

    /// The ops the readiness `flags` make ready for a key with `interest`: error and hang-up
    /// readiness report every interest op; otherwise the kind decides.
    pub(crate) fn ready_ops(&self, flags: u32, interest: u32) -> u32 {
        if flags & backend::ERROR != 0 {
            return interest;
        }
        let ops = match &self.kind {
            KindState::Socket(state) => state.ready_ops(flags),
            KindState::Server(_) => tcp::ServerState::ready_ops(flags),
            KindState::Fd => fd::ready_ops(flags),
        };
        ops & interest
    }

    /// While a server's accept readiness is held back: how long it still is.
    pub(crate) fn accept_backoff_left(&self) -> Option<Duration> {
        match &self.kind {
            KindState::Server(state) => state.backoff_left(),
            _ => None,
        }
    }

    /// Whether the kind's descriptor is one nioxide does no I/O on (a raw descriptor the user
    /// owns), so its readiness cannot be seen consumed and its key is re-armed instead.
    pub(crate) fn is_raw(&self) -> bool {
        matches!(self.kind, KindState::Fd)
    }

    /// The interest ops the kind supports (Java's `validOps`).
    pub(crate) fn valid_ops(&self) -> u32 {
        match self.kind {
            KindState::Socket(_) => SocketChannel::VALID_OPS,
            KindState::Server(_) => ServerSocketChannel::VALID_OPS,
            KindState::Fd => FdChannel::VALID_OPS,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            KindState::Socket(_) => "socket",
            KindState::Server(_) => "server",
            KindState::Fd => "fd",
        }
    }

    /// A socket channel's own state (the kind is fixed when the channel is made).
    pub(crate) fn socket(&self) -> &tcp::SocketState {
        match &self.kind {
            KindState::Socket(state) => state,
            _ => unreachable!("a socket channel's core is a socket's"),
        }
    }

    /// A server channel's own state (the kind is fixed when the channel is made).
    pub(crate) fn server(&self) -> &tcp::ServerState {
        match &self.kind {
            KindState::Server(state) => state,
            _ => unreachable!("a server channel's core is a server's"),
        }
    }

    /// The core of a channel that owns `fd`.
    pub(crate) fn new(fd: std::os::fd::RawFd, kind: KindState, family: Family) -> ChannelCore {
        Self::with_fd(GuardedFd::new(fd), kind, family)
    }

    pub(crate) fn with_fd(fd: GuardedFd, kind: KindState, family: Family) -> ChannelCore {
        ChannelCore {
            fd,
            kind,
            blocking: AtomicBool::new(true),
            readiness: Readiness::default(),
            registration: Mutex::new(None),
            waiters: Waiters::default(),
            generation: fork::generation(),
            binding: Binding::default(),
            closing: AtomicBool::new(false),
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
        self.core().valid_ops()
    }

    /// The channel whose allocation `core` is, as its kind says.
    pub(crate) fn of_core(core: Arc<ChannelCore>) -> Channel {
        match core.kind {
            KindState::Socket(_) => Channel::Socket(SocketChannel { core }),
            KindState::Server(_) => Channel::Server(ServerSocketChannel { core }),
            KindState::Fd => Channel::Fd(FdChannel { core }),
        }
    }

    /// Whether both values are the same channel.
    pub fn same(&self, other: &Channel) -> bool {
        Arc::ptr_eq(self.core(), other.core())
    }

    /// The binding layer's object for this channel (see `set_binding`).
    pub fn with_binding<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        self.core().binding.with(f)
    }

    /// Stores the binding layer's object for this channel (a Python weak reference); it is
    /// dropped with the channel.
    pub fn set_binding(&self, value: Box<dyn Any + Send + Sync>) {
        self.core().binding.set(value);
    }

    /// The binding layer's handle number for this channel (see `set_bound_handle`).
    pub fn bound_handle(&self) -> Option<u64> {
        self.core().binding.handle()
    }

    /// Stores the binding layer's handle number for this channel (the C layer's handle) in
    /// place of an object, allocating nothing; `release` runs with it when the channel dies.
    pub fn set_bound_handle(&self, raw: u64, release: Option<fn(u64)>) {
        self.core().binding.set_handle(raw, release);
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
