//! TCP channels: Java's `SocketChannel` and `ServerSocketChannel`.
//!
//! New and accepted channels start in blocking mode, as in Java; switch them with
//! `configure_blocking(false)` before registering with a selector. Descriptors are always
//! non-blocking underneath: blocking calls wait in `poll(2)`, and `close()` from another
//! thread wakes them with [`ErrorKind::AsyncClose`].
//!
//! # Examples
//!
//! ```
//! use nioxide_core::channel::{ServerSocketChannel, SocketChannel};
//!
//! let server = ServerSocketChannel::open().unwrap();
//! server.bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
//! let addr = server.local_address().unwrap().unwrap();
//! let client = SocketChannel::open().unwrap();
//! assert!(client.connect(addr).unwrap());
//! let peer = server.accept().unwrap().unwrap();
//! client.write(b"ping").unwrap();
//! let mut buf = [0u8; 4];
//! assert_eq!(peer.read(&mut buf).unwrap(), Some(4));
//! assert_eq!(&buf, b"ping");
//! ```

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{ChannelCore, Family, KindState, SocketOption};
use crate::selector::{OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE};
use crate::sync::lock;
use crate::sys::backend::{self, ERROR, READ_CLOSED, READABLE, WRITABLE};
use crate::sys::fd::CLOSE_EPOCH;
use crate::sys::socket::{self, Io, Shutdown};
use crate::sys::wait;
use crate::{Error, ErrorKind, Result};

/// The bits of an edge worth keeping from a socket that neither connects nor listens: its
/// hang-up (`EPOLLHUP`) only says so; kept, it would stick as an error and report every
/// interest op forever, also after the connect or the listen.
fn idle_edge_bits(bits: u32) -> u32 {
    bits & !(ERROR | READ_CLOSED | READABLE)
}

/// Socket state: not connected.
pub(crate) const UNCONNECTED: u8 = 0;
/// Socket state: a non-blocking connect is in progress.
pub(crate) const PENDING: u8 = 1;
/// Socket state: connected.
pub(crate) const CONNECTED: u8 = 2;

/// What only a socket channel has: its connection state, its half-closes, and whether the
/// peer reset the connection.
#[derive(Debug)]
pub(crate) struct SocketState {
    /// `UNCONNECTED`, `PENDING` or `CONNECTED`.
    conn: AtomicU8,
    input_shutdown: AtomicBool,
    output_shutdown: AtomicBool,
    /// Whether the peer reset the connection: every later read reports it (`ECONNRESET`),
    /// as Java does, rather than the end of stream the kernel says after reporting it once.
    reset: AtomicBool,
}

impl SocketState {
    fn new(conn: u8) -> SocketState {
        SocketState {
            conn: AtomicU8::new(conn),
            input_shutdown: AtomicBool::new(false),
            output_shutdown: AtomicBool::new(false),
            reset: AtomicBool::new(false),
        }
    }

    fn conn(&self) -> u8 {
        self.conn.load(Ordering::Acquire)
    }

    /// The bits of an edge worth keeping (see [`idle_edge_bits`]: neither connected nor
    /// connecting).
    pub(crate) fn edge_bits(&self, bits: u32) -> u32 {
        if self.conn() == UNCONNECTED {
            idle_edge_bits(bits)
        } else {
            bits
        }
    }

    /// The ops readiness makes ready: read (also at the peer's close); write readiness is
    /// `OP_CONNECT` while a connect is pending and `OP_WRITE` once connected.
    pub(crate) fn ready_ops(&self, flags: u32) -> u32 {
        let mut ops = 0;
        if flags & (READABLE | READ_CLOSED) != 0 {
            ops |= OP_READ;
        }
        if flags & WRITABLE != 0 {
            match self.conn() {
                PENDING => ops |= OP_CONNECT,
                CONNECTED => ops |= OP_WRITE,
                _ => {}
            }
        }
        ops
    }
}

/// How long accept readiness is held back after `EMFILE`/`ENFILE` unless a descriptor closes.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What only a server channel has: whether it listens, and the accept back-off.
#[derive(Debug)]
pub(crate) struct ServerState {
    bound: AtomicBool,
    /// Accept back-off: deadline in ns since the process's first look at the clock (0 =
    /// none), and the close epoch it started in.
    backoff_until: AtomicU64,
    backoff_epoch: AtomicU64,
}

fn monotonic_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

impl ServerState {
    fn new(bound: bool) -> ServerState {
        ServerState {
            bound: AtomicBool::new(bound),
            backoff_until: AtomicU64::new(0),
            backoff_epoch: AtomicU64::new(0),
        }
    }

    fn is_bound(&self) -> bool {
        self.bound.load(Ordering::Acquire)
    }

    /// The bits of an edge worth keeping (see [`idle_edge_bits`]: not listening yet).
    pub(crate) fn edge_bits(&self, bits: u32) -> u32 {
        if self.is_bound() {
            bits
        } else {
            idle_edge_bits(bits)
        }
    }

    /// The ops readiness makes ready: read readiness is `OP_ACCEPT`.
    pub(crate) fn ready_ops(flags: u32) -> u32 {
        if flags & backend::READABLE != 0 {
            OP_ACCEPT
        } else {
            0
        }
    }

    /// Holds accept readiness back for [`ACCEPT_BACKOFF`] or until a descriptor closes.
    fn start_backoff(&self) {
        self.backoff_epoch
            .store(CLOSE_EPOCH.load(Ordering::Acquire), Ordering::Relaxed);
        self.backoff_until.store(
            monotonic_ns() + ACCEPT_BACKOFF.as_nanos() as u64,
            Ordering::Release,
        );
    }

    /// While accept readiness is held back: how long it still is.
    pub(crate) fn backoff_left(&self) -> Option<Duration> {
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
}

fn open_socket(family: Option<Family>) -> Result<(RawFd, Family)> {
    match family {
        Some(f) => Ok((socket::tcp_socket(f)?, f)),
        None => match socket::tcp_socket(Family::V6) {
            Ok(fd) => Ok((fd, Family::V6)),
            Err(e) if e.is_os(libc::EAFNOSUPPORT) => {
                Ok((socket::tcp_socket(Family::V4)?, Family::V4))
            }
            Err(e) => Err(e),
        },
    }
}

/// `options` without its last entry (`IPV6_V6ONLY`) for an IPv4 socket.
fn for_family(options: &'static [SocketOption], family: Family) -> &'static [SocketOption] {
    debug_assert_eq!(options.last(), Some(&SocketOption::Ipv6V6Only));
    match family {
        Family::V6 => options,
        Family::V4 => &options[..options.len() - 1],
    }
}

fn check_family(family: Family, addr: &SocketAddr) -> Result<()> {
    if family == Family::V4 && addr.is_ipv6() {
        return Err(Error::Os(libc::EAFNOSUPPORT));
    }
    Ok(())
}

/// A TCP connection (Java's `SocketChannel`). Cloning gives another handle to the same
/// channel. Thread-safe: in blocking mode reads are serialized with reads and writes with
/// writes (so blocking writes never interleave); non-blocking calls never wait.
#[derive(Clone, Debug)]
pub struct SocketChannel {
    pub(crate) core: Arc<ChannelCore>,
}

/// The methods both TCP channel types have alike (options, blocking mode, registration,
/// state, descriptor, detach, close, identity), written once.
macro_rules! shared_channel_methods {
    ($type:ident, $kind:pat) => {
        /// The channel whose allocation `core` is (as [`into_shared`](Self::into_shared) gave
        /// it), if it is a channel of this type.
        pub fn from_shared(core: Arc<ChannelCore>) -> Option<$type> {
            matches!(core.kind, $kind).then_some($type { core })
        }

        /// The channel's allocation, shared: what a binding layer can keep in place of the
        /// channel (one pointer, no allocation of its own); [`from_shared`](Self::from_shared)
        /// turns it back.
        pub fn into_shared(self) -> Arc<ChannelCore> {
            self.core
        }

        /// The options this channel supports (`IPV6_V6ONLY` only on IPv6 sockets); see
        #[doc = concat!("[`", stringify!($type), "::OPTIONS`].")]
        pub fn supported_options(&self) -> &'static [SocketOption] {
            for_family(Self::OPTIONS, self.core.family)
        }

        /// Sets a socket option.
        ///
        /// # Errors
        /// `UnsupportedOption`, `InvalidArgument` (a size ≤ 0), `Closed`, OS errors.
        pub fn set_option(&self, opt: SocketOption, value: i64) -> Result<()> {
            self.core.set_option(self.supported_options(), opt, value)
        }

        /// Reads a socket option.
        ///
        /// # Errors
        /// `UnsupportedOption`, `Closed`, OS errors.
        pub fn get_option(&self, opt: SocketOption) -> Result<i64> {
            self.core.get_option(self.supported_options(), opt)
        }

        /// Switches blocking mode; refused (`IllegalBlockingMode`) while registered.
        pub fn configure_blocking(&self, block: bool) -> Result<()> {
            self.core.configure_blocking(block)
        }

        /// Whether the channel is in blocking mode.
        pub fn is_blocking(&self) -> bool {
            self.core.is_blocking()
        }

        /// Whether the channel is registered with a selector.
        pub fn is_registered(&self) -> bool {
            lock(&self.core.registration).is_some()
        }

        /// Whether the channel is open.
        pub fn is_open(&self) -> bool {
            self.core.is_open()
        }

        /// Fails like every call on the channel would: `Forked` in a forked child, `Closed`
        /// once closed. For binding layers whose own accessors (the descriptor, the blocking
        /// mode) must refuse a closed channel too.
        pub fn check(&self) -> Result<()> {
            self.core.enter().map(drop)
        }

        /// The descriptor number (valid while open); nioxide owns it.
        pub fn fd(&self) -> RawFd {
            self.core.fd.raw()
        }

        /// Hands the descriptor over: closes the channel without closing the descriptor and
        /// returns it; the caller owns it from then on (closes it, or gives it to another
        /// library). It comes back in the channel's blocking mode (`O_NONBLOCK` set only if
        /// the channel was non-blocking) and close-on-exec. Blocked calls on other threads
        /// wake with `AsyncClose`; the call returns once no call uses the descriptor (so it
        /// must not be made from inside a call on the same channel on this thread, such as
        /// a signal handler that interrupts its blocking read: it would wait for itself).
        ///
        /// Refused while the channel is registered with a selector or watched by a loop:
        /// cancel the key (or close the watch) first. A cancelled key the selector has not
        /// yet forgotten is no obstacle (the channel leaves the epoll set here).
        ///
        /// # Errors
        /// `RegisteredElsewhere` (registered or watched; nothing changes), `Closed`,
        /// `Forked`.
        pub fn detach(&self) -> Result<RawFd> {
            self.core.detach()
        }

        #[doc = concat!("[`", stringify!($type), "::from_fd`]")]
        /// for a caller that must finish its own side of the hand-over before the channel
        /// keeps the descriptor (a binding detaching its socket object, or making a handle):
        /// `commit` runs with the new channel, and if it fails the adoption is undone (the
        /// channel lets go of the descriptor without closing it, and the descriptor's flags
        /// are put back as they were), so the caller still owns the descriptor as before.
        ///
        /// # Errors
        /// The outer error as `from_fd`'s (nothing changed); the inner one is `commit`'s.
        pub fn from_fd_then<E>(
            fd: RawFd,
            commit: impl FnOnce(&$type) -> std::result::Result<(), E>,
        ) -> Result<std::result::Result<$type, E>> {
            if fd < 0 {
                return Err(ErrorKind::InvalidArgument.into());
            }
            let flags = socket::file_flags(fd)?;
            let channel = <$type>::from_fd(fd)?;
            match commit(&channel) {
                Ok(()) => Ok(Ok(channel)),
                Err(e) => {
                    // A new channel: no call is in flight, no key; the descriptor is handed
                    // back at once and its flags restored.
                    let _ = channel.core.detach();
                    let _ = socket::restore_file_flags(fd, flags);
                    Ok(Err(e))
                }
            }
        }

        /// Closes the channel (idempotent): cancels its key, wakes blocked callers with
        /// `AsyncClose`, and closes the descriptor once no call uses it.
        pub fn close(&self) {
            self.core.close();
        }

        /// The address family of the socket ([`Family::V6`] sockets are dual-stack unless
        /// `IPV6_V6ONLY` is set).
        pub fn family(&self) -> Family {
            self.core.family
        }

        /// Whether both values are the same channel.
        pub fn same(&self, other: &$type) -> bool {
            Arc::ptr_eq(&self.core, &other.core)
        }
    };
}

impl SocketChannel {
    /// The ops a socket channel supports: read, write and connect.
    pub const VALID_OPS: u32 = OP_READ | OP_WRITE | OP_CONNECT;

    /// The options an IPv6 socket channel supports; an IPv4 one supports all but the last
    /// (`IPV6_V6ONLY`), see [`supported_options`](Self::supported_options).
    pub const OPTIONS: &'static [SocketOption] = &[
        SocketOption::ReuseAddr,
        SocketOption::ReusePort,
        SocketOption::TcpNoDelay,
        SocketOption::KeepAlive,
        SocketOption::RcvBuf,
        SocketOption::SndBuf,
        SocketOption::Linger,
        SocketOption::TcpKeepIdle,
        SocketOption::TcpKeepIntvl,
        SocketOption::TcpKeepCnt,
        SocketOption::Ipv6V6Only,
    ];

    /// Opens an unconnected channel in blocking mode: an IPv6 dual-stack socket (it connects
    /// to IPv4 and IPv6 addresses alike), or IPv4 where IPv6 is unavailable.
    ///
    /// # Errors
    /// OS errors such as `EMFILE`.
    pub fn open() -> Result<SocketChannel> {
        Self::open_socket(None)
    }

    /// Opens an unconnected channel of the given address family.
    pub fn open_family(family: Family) -> Result<SocketChannel> {
        Self::open_socket(Some(family))
    }

    fn open_socket(family: Option<Family>) -> Result<SocketChannel> {
        let (fd, family) = open_socket(family)?;
        Ok(SocketChannel {
            core: Arc::new(ChannelCore::new(
                fd,
                KindState::Socket(SocketState::new(UNCONNECTED)),
                family,
            )),
        })
    }

    /// Adopts `fd`, a TCP socket made elsewhere (by another library, inherited from a
    /// service manager, detached from a Python socket), like libuv's `uv_tcp_open`. On
    /// success the channel owns the descriptor and closes it when closed; on error nothing
    /// changes and the caller still owns it.
    ///
    /// The descriptor is made non-blocking (on its open file description, which duplicates
    /// share) and close-on-exec; the channel starts in blocking mode, as every new channel.
    /// Its state is found out: connected if it has a peer, connecting if its connect is
    /// still in progress (finish it with [`finish_connect`](Self::finish_connect)), else
    /// unconnected (bound or not).
    ///
    /// # Errors
    /// `InvalidArgument` (negative, a listening socket, or not a TCP socket of `AF_INET` or
    /// `AF_INET6`), `ENOTSOCK`, `EBADF`, other OS errors.
    pub fn from_fd(fd: RawFd) -> Result<SocketChannel> {
        let state = socket::inspect_tcp(fd)?;
        if state.listening {
            return Err(ErrorKind::InvalidArgument.into());
        }
        socket::adopt_flags(fd)?;
        let conn = if state.connected {
            CONNECTED
        } else if state.connecting {
            PENDING
        } else {
            UNCONNECTED
        };
        let core = ChannelCore::new(fd, KindState::Socket(SocketState::new(conn)), state.family);
        Ok(SocketChannel {
            core: Arc::new(core),
        })
    }

    fn accepted(fd: RawFd, family: Family) -> SocketChannel {
        let core = ChannelCore::new(fd, KindState::Socket(SocketState::new(CONNECTED)), family);
        SocketChannel {
            core: Arc::new(core),
        }
    }

    /// Binds the local side before connecting (optional).
    ///
    /// # Errors
    /// `AlreadyBound` (bound already, by a bind or a connect), `ConnectionPending`, `Closed`,
    /// OS errors such as `EADDRINUSE`.
    pub fn bind(&self, addr: SocketAddr) -> Result<()> {
        let call = self.core.enter()?;
        check_family(self.core.family, &addr)?;
        match self.core.socket().conn() {
            PENDING => return Err(ErrorKind::ConnectionPending.into()),
            CONNECTED => return Err(ErrorKind::AlreadyBound.into()),
            _ => {}
        }
        // Bound by an earlier bind: the kernel has given the socket a port.
        if socket::local_addr(call.fd())?.port() != 0 {
            return Err(ErrorKind::AlreadyBound.into());
        }
        socket::bind(call.fd(), &socket::addr_for(self.core.family, addr))
    }

    /// Connects to `addr`. In blocking mode waits for the result and returns `Ok(true)`; in
    /// non-blocking mode returns `Ok(true)` if it connected at once, else `Ok(false)`: the
    /// connect is pending, wait for `OP_CONNECT` and call [`finish_connect`](Self::finish_connect).
    /// As in Java, a failed connect closes the channel.
    ///
    /// # Errors
    /// `AlreadyConnected`, `ConnectionPending`, `Closed`, `AsyncClose` (closed while waiting),
    /// and OS errors such as `ECONNREFUSED`.
    pub fn connect(&self, addr: SocketAddr) -> Result<bool> {
        let call = self.core.enter()?;
        check_family(self.core.family, &addr)?;
        match self.core.socket().conn() {
            CONNECTED => return Err(ErrorKind::AlreadyConnected.into()),
            PENDING => return Err(ErrorKind::ConnectionPending.into()),
            _ => {}
        }
        let target = socket::addr_for(self.core.family, addr);
        // What epoll said of the unconnected socket (a hang-up) says nothing about the
        // connection.
        self.core.readiness.forget();
        match socket::connect(call.fd(), &target) {
            Ok(true) => {
                self.core.socket().conn.store(CONNECTED, Ordering::Release);
                Ok(true)
            }
            Ok(false) => {
                self.core.socket().conn.store(PENDING, Ordering::Release);
                if !self.core.is_blocking() {
                    return Ok(false);
                }
                drop(call);
                self.finish_connect()
            }
            Err(e) => {
                drop(call);
                self.core.close();
                Err(e)
            }
        }
    }

    /// Completes a pending connect: `Ok(true)` once connected, `Ok(false)` while still in
    /// progress (non-blocking mode only; blocking mode waits). As in Java, a failed connect
    /// closes the channel and returns its error (e.g. `ECONNREFUSED`).
    pub fn finish_connect(&self) -> Result<bool> {
        let call = self.core.enter()?;
        match self.core.socket().conn() {
            CONNECTED => return Ok(true),
            UNCONNECTED => return Err(ErrorKind::NoConnectionPending.into()),
            _ => {}
        }
        let outcome = self.core.blocking_loop(&call, libc::POLLOUT, None, || {
            // Taken first: an edge that arrives while we look is newer, and survives.
            let snapshot = self.core.readiness.snapshot();
            if let Some(err) = socket::take_error(call.fd())? {
                return Err(err);
            }
            if socket::is_connected(call.fd())? {
                // Connected without an error: an error flag from before is stale.
                self.core
                    .readiness
                    .clear(snapshot, crate::sys::backend::ERROR);
                return Ok(Some(()));
            }
            // Still in progress: the next edge will say more.
            self.core
                .readiness
                .clear(snapshot, crate::sys::backend::WRITABLE);
            Ok(None)
        });
        match outcome {
            Ok(Some(())) => {
                self.core.socket().conn.store(CONNECTED, Ordering::Release);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => {
                drop(call);
                if e.kind() != Some(ErrorKind::AsyncClose) {
                    self.core.close();
                }
                Err(e)
            }
        }
    }

    /// Whether a non-blocking connect is in progress.
    pub fn is_connection_pending(&self) -> bool {
        self.core.is_open() && self.core.socket().conn() == PENDING
    }

    /// Whether the channel is connected (and open).
    pub fn is_connected(&self) -> bool {
        self.core.is_open() && self.core.socket().conn() == CONNECTED
    }

    /// Whether the input side is shut down (by [`shutdown_input`](Self::shutdown_input);
    /// false once the channel is closed).
    pub fn is_input_shutdown(&self) -> bool {
        self.core.is_open() && self.core.socket().input_shutdown.load(Ordering::Acquire)
    }

    /// Whether the output side is shut down (by [`shutdown_output`](Self::shutdown_output);
    /// false once the channel is closed).
    pub fn is_output_shutdown(&self) -> bool {
        self.core.is_open() && self.core.socket().output_shutdown.load(Ordering::Acquire)
    }

    /// A non-blocking read attempt on `fd` that keeps the readiness cache honest. A reset,
    /// once seen, is reported by every later read.
    #[inline]
    fn read_once(
        &self,
        state: &SocketState,
        fd: RawFd,
        io: impl FnOnce() -> Result<Io>,
        wanted: usize,
    ) -> Result<Option<usize>> {
        if state.reset.load(Ordering::Acquire) {
            return Err(Error::Os(libc::ECONNRESET));
        }
        let readiness = &self.core.readiness;
        let snap = readiness.snapshot();
        match io().inspect_err(|e| self.note_reset(e))? {
            Io::Done(n) => {
                // A short read on a stream socket drained the receive queue. A read that
                // filled the buffer exactly may have too: then, for a channel a selector
                // watches, it is worth a system call to ask, so that a level-triggered key is
                // not reported once more for nothing.
                if n < wanted || (n > 0 && self.drained(fd)) {
                    readiness.clear(snap, READABLE);
                }
                Ok(Some(n))
            }
            Io::WouldBlock => {
                readiness.clear(snap, READABLE);
                Ok(None)
            }
        }
    }

    /// Whether a registered channel's receive queue is empty now (`FIONREAD`); `false` for a
    /// channel no selector watches (its readiness cache is not used: no system call then).
    fn drained(&self, fd: RawFd) -> bool {
        !self.core.is_blocking()
            && lock(&self.core.registration).is_some()
            && socket::bytes_available(fd).is_ok_and(|left| left == 0)
    }

    /// Remembers a reset seen by a read or a write, for the reads after it.
    fn note_reset(&self, error: &Error) {
        if error.is_os(libc::ECONNRESET) {
            self.core.socket().reset.store(true, Ordering::Release);
        }
    }

    /// A non-blocking write attempt that keeps the readiness cache honest.
    #[inline]
    fn write_once(&self, io: impl FnOnce() -> Result<Io>) -> Result<Option<usize>> {
        let snap = self.core.readiness.snapshot();
        match io().inspect_err(|e| self.note_reset(e))? {
            Io::Done(n) => Ok(Some(n)),
            Io::WouldBlock => {
                self.core.readiness.clear(snap, WRITABLE);
                Ok(None)
            }
        }
    }

    /// The socket's state, once it is connected (reads and writes need that).
    fn check_readable(&self) -> Result<&SocketState> {
        let state = self.core.socket();
        if state.conn() != CONNECTED {
            return Err(ErrorKind::NotYetConnected.into());
        }
        Ok(state)
    }

    /// The socket's state, once it is connected and its output not shut down.
    fn check_writable(&self) -> Result<&SocketState> {
        let state = self.check_readable()?;
        if state.output_shutdown.load(Ordering::Acquire) {
            return Err(ErrorKind::Shutdown.into());
        }
        Ok(state)
    }

    /// Reads into `buf`: `Some(n)` bytes read, `Some(0)` at end of stream (or for an empty
    /// `buf`), `None` when non-blocking and nothing is available. Blocking mode waits for
    /// at least one byte.
    ///
    /// # Errors
    /// `NotYetConnected`, `Closed`, `AsyncClose`, OS errors such as `ECONNRESET`.
    pub fn read(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        if !self.core.is_blocking() {
            return self.try_read(buf);
        }
        let call = self.core.enter()?;
        let state = self.check_readable()?;
        if state.input_shutdown.load(Ordering::Acquire) || buf.is_empty() {
            return Ok(Some(0));
        }
        let fd = call.fd();
        let len = buf.len();
        let _serial = lock(&self.core.read_lock);
        self.core.blocking_loop(&call, libc::POLLIN, None, || {
            self.read_once(state, fd, || socket::read(fd, buf), len)
        })
    }

    /// One read attempt that never waits, whatever the blocking mode, and takes no lock:
    /// `None` if nothing is there now; otherwise as [`read`](Self::read). What a
    /// non-blocking [`read`](Self::read) does; bindings that must not wait while holding a
    /// runtime lock (Python's GIL) call it directly.
    pub fn try_read(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        let len = buf.len();
        self.try_read_with(len, |fd| socket::read(fd, buf))
    }

    /// [`try_read`](Self::try_read) into memory that need not be initialised (a buffer's
    /// spare capacity, which the pipeline's reads fill).
    pub(crate) fn try_read_uninit(
        &self,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Result<Option<usize>> {
        let len = buf.len();
        self.try_read_with(len, |fd| socket::read_uninit(fd, buf))
    }

    /// One non-blocking read of at most `len` bytes made by `io` on the descriptor.
    fn try_read_with(
        &self,
        len: usize,
        io: impl FnOnce(RawFd) -> Result<Io>,
    ) -> Result<Option<usize>> {
        let call = self.core.enter()?;
        let state = self.check_readable()?;
        if state.input_shutdown.load(Ordering::Acquire) || len == 0 {
            return Ok(Some(0));
        }
        let fd = call.fd();
        self.read_once(state, fd, || io(fd), len)
    }

    /// Scattering read into `bufs`, in order; results as [`read`](Self::read).
    pub fn read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> Result<Option<usize>> {
        let call = self.core.enter()?;
        let state = self.check_readable()?;
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if state.input_shutdown.load(Ordering::Acquire) || len == 0 {
            return Ok(Some(0));
        }
        let _serial = lock(&self.core.read_lock);
        let fd = call.fd();
        self.core.blocking_loop(&call, libc::POLLIN, None, || {
            self.read_once(state, fd, || socket::read_vectored(fd, bufs), len)
        })
    }

    /// Writes from `buf`. Non-blocking mode writes what fits now (0 if nothing does);
    /// blocking mode writes everything. Never raises `SIGPIPE`.
    ///
    /// # Errors
    /// `NotYetConnected`, `Shutdown` (after `shutdown_output`), `Closed`, `AsyncClose`, OS
    /// errors such as `EPIPE` or `ECONNRESET`.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        if !self.core.is_blocking() {
            return self.try_write(buf);
        }
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// One write attempt (one `send`) that never waits, whatever the blocking mode, and takes
    /// no lock: what fits now, 0 if nothing does; otherwise as [`write`](Self::write). What a
    /// non-blocking [`write`](Self::write) does.
    pub fn try_write(&self, buf: &[u8]) -> Result<usize> {
        let call = self.core.enter()?;
        self.check_writable()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let fd = call.fd();
        Ok(self.write_once(|| socket::write(fd, buf))?.unwrap_or(0))
    }

    /// Gathering write from `bufs`, in order (`sendmsg` with `MSG_NOSIGNAL`); results as
    /// [`write`](Self::write).
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> Result<usize> {
        let call = self.core.enter()?;
        self.check_writable()?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        let fd = call.fd();
        let write_once = |slices: &[IoSlice<'_>]| {
            self.write_once(|| {
                if slices.len() == 1 {
                    socket::write(fd, &slices[0])
                } else {
                    socket::write_vectored(fd, slices)
                }
            })
        };
        if !self.core.is_blocking() {
            return Ok(write_once(bufs)?.unwrap_or(0));
        }
        let _serial = lock(&self.core.write_lock);
        let mut owned: Vec<IoSlice<'_>> = bufs.to_vec();
        let mut slices: &mut [IoSlice<'_>] = &mut owned;
        let mut written = 0;
        while written < total {
            match write_once(slices)? {
                Some(n) => {
                    written += n;
                    IoSlice::advance_slices(&mut slices, n);
                }
                None => {
                    let closed = || self.core.fd.is_closed();
                    wait::wait_fd(fd, libc::POLLOUT, &self.core.waiters, &closed, None)?;
                }
            }
        }
        Ok(written)
    }

    /// Waits until the socket takes more bytes, `deadline` passes (`Ok(false)`) or another
    /// thread closes the channel (`AsyncClose`), whatever the blocking mode: what a pipeline
    /// channel that flushes its last writes at a loop's shutdown waits for.
    pub(crate) fn wait_writable(&self, deadline: Instant) -> Result<bool> {
        let call = self.core.enter()?;
        let closed = || self.core.fd.is_closed();
        wait::wait_fd(
            call.fd(),
            libc::POLLOUT,
            &self.core.waiters,
            &closed,
            Some(deadline),
        )
    }

    /// Shuts down the input side: later reads return end of stream. Idempotent.
    pub fn shutdown_input(&self) -> Result<()> {
        let call = self.core.enter()?;
        self.check_readable()?;
        if !self
            .core
            .socket()
            .input_shutdown
            .swap(true, Ordering::AcqRel)
        {
            socket::shutdown(call.fd(), Shutdown::Read)?;
        }
        Ok(())
    }

    /// Shuts down the output side (half-close: the peer reads end of stream); later writes
    /// fail with `Shutdown`. Idempotent.
    pub fn shutdown_output(&self) -> Result<()> {
        let call = self.core.enter()?;
        self.check_readable()?;
        if !self
            .core
            .socket()
            .output_shutdown
            .swap(true, Ordering::AcqRel)
        {
            socket::shutdown(call.fd(), Shutdown::Write)?;
        }
        Ok(())
    }

    /// The local address, or `None` before bind or connect.
    pub fn local_address(&self) -> Result<Option<SocketAddr>> {
        let call = self.core.enter()?;
        let addr = socket::local_addr(call.fd())?;
        Ok((addr.port() != 0).then_some(addr))
    }

    /// The peer's address, or `None` while not connected.
    pub fn remote_address(&self) -> Result<Option<SocketAddr>> {
        let call = self.core.enter()?;
        if self.core.socket().conn() != CONNECTED {
            return Ok(None);
        }
        socket::peer_addr(call.fd()).map(Some)
    }

    shared_channel_methods!(SocketChannel, KindState::Socket(_));
}

/// A TCP listener (Java's `ServerSocketChannel`). Cloning gives another handle to the same
/// channel. Thread-safe.
#[derive(Clone, Debug)]
pub struct ServerSocketChannel {
    pub(crate) core: Arc<ChannelCore>,
}

impl ServerSocketChannel {
    /// The ops a server channel supports: accept.
    pub const VALID_OPS: u32 = OP_ACCEPT;

    /// The options an IPv6 server channel supports; an IPv4 one supports all but the last
    /// (`IPV6_V6ONLY`), see [`supported_options`](Self::supported_options).
    pub const OPTIONS: &'static [SocketOption] = &[
        SocketOption::ReuseAddr,
        SocketOption::ReusePort,
        SocketOption::RcvBuf,
        SocketOption::Ipv6V6Only,
    ];

    /// Opens an unbound listener in blocking mode (IPv6 dual-stack, or IPv4 where IPv6 is
    /// unavailable) with `SO_REUSEADDR` on, as Java does on Linux.
    pub fn open() -> Result<ServerSocketChannel> {
        Self::open_socket(None)
    }

    /// Opens an unbound listener of the given family.
    pub fn open_family(family: Family) -> Result<ServerSocketChannel> {
        Self::open_socket(Some(family))
    }

    fn open_socket(family: Option<Family>) -> Result<ServerSocketChannel> {
        let (fd, family) = open_socket(family)?;
        let core = ChannelCore::new(
            fd,
            KindState::Server(Box::new(ServerState::new(false))),
            family,
        );
        socket::set_option(fd, SocketOption::ReuseAddr, 1)?;
        Ok(ServerSocketChannel {
            core: Arc::new(core),
        })
    }

    /// Adopts `fd`, a TCP socket made elsewhere (a listener inherited from a service manager
    /// through socket activation, or made by another library), as
    /// [`SocketChannel::from_fd`] does: on error nothing changes and the caller still owns
    /// it. A listening socket is bound (accept at once); an unbound one is not (call
    /// [`bind`](Self::bind), which binds and listens). A socket that is bound but does not
    /// listen is refused: `bind` could not bind it again (listen on it first, or pass it
    /// unbound).
    ///
    /// # Errors
    /// `InvalidArgument` (negative, a connected socket, a bound socket that does not listen,
    /// or not a TCP socket of `AF_INET` or `AF_INET6`), `ENOTSOCK`, `EBADF`, other OS
    /// errors.
    pub fn from_fd(fd: RawFd) -> Result<ServerSocketChannel> {
        let state = socket::inspect_tcp(fd)?;
        if state.connected || state.connecting || (state.bound && !state.listening) {
            return Err(ErrorKind::InvalidArgument.into());
        }
        socket::adopt_flags(fd)?;
        let core = ChannelCore::new(
            fd,
            KindState::Server(Box::new(ServerState::new(state.listening))),
            state.family,
        );
        Ok(ServerSocketChannel {
            core: Arc::new(core),
        })
    }

    /// Binds to `addr` (port 0 picks a free port; see [`local_address`](Self::local_address))
    /// and listens with `backlog` (0 or less: the system default).
    ///
    /// # Errors
    /// `AlreadyBound`, `Closed`, OS errors such as `EADDRINUSE`.
    pub fn bind(&self, addr: SocketAddr, backlog: i32) -> Result<()> {
        let call = self.core.enter()?;
        check_family(self.core.family, &addr)?;
        if self.core.server().is_bound() {
            return Err(ErrorKind::AlreadyBound.into());
        }
        // What epoll said of the socket before it listened (a hang-up) is stale.
        self.core.readiness.forget();
        socket::bind_listen(
            call.fd(),
            &socket::addr_for(self.core.family, addr),
            backlog,
        )?;
        self.core.server().bound.store(true, Ordering::Release);
        Ok(())
    }

    /// Accepts a connection: a new connected channel in blocking mode, or `None` when
    /// non-blocking and none is pending. Blocking mode waits.
    ///
    /// # Errors
    /// `NotYetBound`, `Closed`, `AsyncClose`, OS errors. On `EMFILE`/`ENFILE` the error is
    /// returned and the key's accept readiness is held back until a descriptor is closed or
    /// about 100 ms pass, so a select loop does not spin.
    pub fn accept(&self) -> Result<Option<SocketChannel>> {
        if !self.core.is_blocking() {
            return self.try_accept();
        }
        self.accept_with(true)
    }

    /// One accept attempt that never waits, whatever the blocking mode, and takes no lock:
    /// `None` if no connection is pending now; otherwise as [`accept`](Self::accept).
    pub fn try_accept(&self) -> Result<Option<SocketChannel>> {
        self.accept_with(false)
    }

    /// Holds accept readiness back after a descriptor shortage. The connection that could
    /// not be accepted is still waiting and epoll will not say so again: the key is looked
    /// at again once the back-off ends (also an edge-triggered one, which used its edge up).
    fn start_accept_backoff(&self) {
        self.core.server().start_backoff();
        if let Some(key) = lock(&self.core.registration).as_ref() {
            key.look_again();
        }
    }

    fn accept_with(&self, wait: bool) -> Result<Option<SocketChannel>> {
        let call = self.core.enter()?;
        if !self.core.server().is_bound() {
            return Err(ErrorKind::NotYetBound.into());
        }
        let fd = call.fd();
        let family = self.core.family;
        let attempt = || {
            let snap = self.core.readiness.snapshot();
            match socket::accept(fd)? {
                Some(new) => Ok(Some(SocketChannel::accepted(new, family))),
                None => {
                    self.core
                        .readiness
                        .clear(snap, crate::sys::backend::READABLE);
                    Ok(None)
                }
            }
        };
        let res = if wait {
            let _serial = lock(&self.core.read_lock);
            self.core.blocking_loop(&call, libc::POLLIN, None, attempt)
        } else {
            attempt()
        };
        if let Err(e) = res {
            if e.is_os(libc::EMFILE) || e.is_os(libc::ENFILE) {
                self.start_accept_backoff();
            }
        }
        res
    }

    /// The bound address (with the chosen port), or `None` before bind.
    pub fn local_address(&self) -> Result<Option<SocketAddr>> {
        let call = self.core.enter()?;
        if !self.core.server().is_bound() {
            return Ok(None);
        }
        socket::local_addr(call.fd()).map(Some)
    }

    shared_channel_methods!(ServerSocketChannel, KindState::Server(_));
}
