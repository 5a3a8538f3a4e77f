//! Channel options under Netty's `ChannelOption` names, and the per-channel configuration
//! they set.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::channel::SocketOption;
use crate::{ErrorKind, Result};

/// The default low water mark: a channel that was unwritable becomes writable again below it.
pub const DEFAULT_LOW_WATER_MARK: usize = 32 * 1024;
/// The default high water mark: a channel becomes unwritable above it.
pub const DEFAULT_HIGH_WATER_MARK: usize = 64 * 1024;
/// The default hard cap on queued outbound bytes: a write that would pass it fails whole.
pub const DEFAULT_HARD_CAP: usize = 16 * 1024 * 1024;
/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default listen backlog of a server channel.
pub const DEFAULT_BACKLOG: i32 = 1024;

/// A channel option with its value, named as Netty's `ChannelOption`s ([`name`](Self::name)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelOption {
    /// `AUTO_READ` (default on): read batches follow each other by themselves; off, each
    /// `read()` allows one batch. On a server channel it gates accepting.
    AutoRead(bool),
    /// `WRITE_BUFFER_WATER_MARK` (low, high; default 32 KiB, 64 KiB). `low <= high`.
    WriteBufferWaterMark {
        /// Writable again below this many queued bytes.
        low: usize,
        /// Unwritable above this many queued bytes.
        high: usize,
    },
    /// `WRITE_BUFFER_HARD_CAP` (nioxide's own; default 16 MiB, 0 = none): a write that would
    /// queue more bytes than this fails whole with `ENOBUFS`.
    WriteBufferHardCap(usize),
    /// `CONNECT_TIMEOUT_MILLIS` (default 30 s; zero = none).
    ConnectTimeout(Duration),
    /// `ALLOW_HALF_CLOSURE` (default off): at end of stream fire
    /// [`UserEvent::InputShutdown`](super::UserEvent::InputShutdown) and stay open instead of
    /// closing.
    AllowHalfClosure(bool),
    /// `TCP_NODELAY` (default on for TCP channels).
    TcpNoDelay(bool),
    /// `SO_REUSEADDR`.
    SoReuseAddr(bool),
    /// `SO_REUSEPORT`.
    SoReusePort(bool),
    /// `SO_RCVBUF` in bytes.
    SoRcvBuf(usize),
    /// `SO_SNDBUF` in bytes.
    SoSndBuf(usize),
    /// `SO_KEEPALIVE`.
    SoKeepAlive(bool),
    /// `SO_LINGER` (`None` = off).
    SoLinger(Option<Duration>),
    /// `SO_BACKLOG`: a server channel's listen backlog (default 1024), used at bind.
    SoBacklog(i32),
}

impl ChannelOption {
    /// Netty's name of the option (nioxide's own for the hard cap).
    pub fn name(&self) -> &'static str {
        match self {
            ChannelOption::AutoRead(_) => "AUTO_READ",
            ChannelOption::WriteBufferWaterMark { .. } => "WRITE_BUFFER_WATER_MARK",
            ChannelOption::WriteBufferHardCap(_) => "WRITE_BUFFER_HARD_CAP",
            ChannelOption::ConnectTimeout(_) => "CONNECT_TIMEOUT_MILLIS",
            ChannelOption::AllowHalfClosure(_) => "ALLOW_HALF_CLOSURE",
            ChannelOption::TcpNoDelay(_) => "TCP_NODELAY",
            ChannelOption::SoReuseAddr(_) => "SO_REUSEADDR",
            ChannelOption::SoReusePort(_) => "SO_REUSEPORT",
            ChannelOption::SoRcvBuf(_) => "SO_RCVBUF",
            ChannelOption::SoSndBuf(_) => "SO_SNDBUF",
            ChannelOption::SoKeepAlive(_) => "SO_KEEPALIVE",
            ChannelOption::SoLinger(_) => "SO_LINGER",
            ChannelOption::SoBacklog(_) => "SO_BACKLOG",
        }
    }

    /// The socket option this sets, with its integer value, for the options a socket keeps.
    pub(crate) fn socket_option(&self) -> Option<(SocketOption, i64)> {
        Some(match *self {
            ChannelOption::TcpNoDelay(on) => (SocketOption::TcpNoDelay, on as i64),
            ChannelOption::SoReuseAddr(on) => (SocketOption::ReuseAddr, on as i64),
            ChannelOption::SoReusePort(on) => (SocketOption::ReusePort, on as i64),
            ChannelOption::SoRcvBuf(n) => (SocketOption::RcvBuf, n as i64),
            ChannelOption::SoSndBuf(n) => (SocketOption::SndBuf, n as i64),
            ChannelOption::SoKeepAlive(on) => (SocketOption::KeepAlive, on as i64),
            ChannelOption::SoLinger(l) => {
                (SocketOption::Linger, l.map_or(-1, |d| d.as_secs() as i64))
            }
            _ => return None,
        })
    }
}

/// A channel's own settings (what is not a socket option). Thread-safe: read and set from
/// any thread.
#[derive(Debug)]
pub(crate) struct ChannelConfig {
    pub(crate) auto_read: AtomicBool,
    pub(crate) low: AtomicUsize,
    pub(crate) high: AtomicUsize,
    pub(crate) hard_cap: AtomicUsize,
    connect_timeout_ms: AtomicU64,
    pub(crate) half_closure: AtomicBool,
    pub(crate) backlog: AtomicI32,
}

impl Default for ChannelConfig {
    fn default() -> ChannelConfig {
        ChannelConfig {
            auto_read: AtomicBool::new(true),
            low: AtomicUsize::new(DEFAULT_LOW_WATER_MARK),
            high: AtomicUsize::new(DEFAULT_HIGH_WATER_MARK),
            hard_cap: AtomicUsize::new(DEFAULT_HARD_CAP),
            connect_timeout_ms: AtomicU64::new(DEFAULT_CONNECT_TIMEOUT.as_millis() as u64),
            half_closure: AtomicBool::new(false),
            backlog: AtomicI32::new(DEFAULT_BACKLOG),
        }
    }
}

impl ChannelConfig {
    /// Sets a channel setting; `Ok(false)` for a socket option (not kept here).
    ///
    /// # Errors
    /// `InvalidArgument` for water marks with `low > high` or a backlog below 1.
    pub(crate) fn set(&self, option: &ChannelOption) -> Result<bool> {
        match *option {
            ChannelOption::AutoRead(on) => self.auto_read.store(on, Ordering::Release),
            ChannelOption::WriteBufferWaterMark { low, high } => {
                if low > high {
                    return Err(ErrorKind::InvalidArgument.into());
                }
                self.low.store(low, Ordering::Release);
                self.high.store(high, Ordering::Release);
            }
            ChannelOption::WriteBufferHardCap(n) => self.hard_cap.store(n, Ordering::Release),
            ChannelOption::ConnectTimeout(t) => self
                .connect_timeout_ms
                .store(t.as_millis() as u64, Ordering::Release),
            ChannelOption::AllowHalfClosure(on) => self.half_closure.store(on, Ordering::Release),
            ChannelOption::SoBacklog(n) => {
                if n < 1 {
                    return Err(ErrorKind::InvalidArgument.into());
                }
                self.backlog.store(n, Ordering::Release);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(crate) fn auto_read(&self) -> bool {
        self.auto_read.load(Ordering::Acquire)
    }

    pub(crate) fn connect_timeout(&self) -> Option<Duration> {
        let ms = self.connect_timeout_ms.load(Ordering::Acquire);
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    pub(crate) fn half_closure(&self) -> bool {
        self.half_closure.load(Ordering::Acquire)
    }
}
