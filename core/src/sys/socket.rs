//! TCP socket system calls on raw descriptors, all non-blocking and close-on-exec.
//!
//! Every descriptor is created with `SOCK_NONBLOCK | SOCK_CLOEXEC` (`accept4` likewise);
//! blocking mode is emulated by the channels with [`wait_fd`](super::wait::wait_fd). Writes
//! use `send`/`sendmsg` with `MSG_NOSIGNAL`, so no write ever raises `SIGPIPE`.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, SocketAddrV6};
use std::os::fd::{BorrowedFd, RawFd};

use socket2::{SockAddr, SockRef};

use crate::{Error, Result};

/// Runs a libc call; `-1` becomes the thread's `errno` as an [`Error`].
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the caller passes valid descriptors and buffers (checked at each use).
        #[allow(unused_unsafe)]
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 { Err($crate::Error::last_os_error()) } else { Ok(res) }
    }};
}

/// Address family of a new socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4 only (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`), dual-stack unless `IPV6_V6ONLY` is set.
    V6,
}

/// Creates a non-blocking, close-on-exec TCP socket. A [`Family::V6`] socket starts
/// dual-stack (`IPV6_V6ONLY` off), as Java's channels do.
pub fn tcp_socket(family: Family) -> Result<RawFd> {
    let domain = match family {
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
    };
    let fd = syscall!(socket(
        domain,
        libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0
    ))?;
    if family == Family::V6 {
        let off: libc::c_int = 0;
        let _ = syscall!(setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&off as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t
        ));
    }
    Ok(fd)
}

/// The family of the socket `fd`.
pub fn family_of(fd: RawFd) -> Result<Family> {
    let addr = local_addr_raw(fd)?;
    Ok(if addr.is_ipv6() {
        Family::V6
    } else {
        Family::V4
    })
}

/// Converts `addr` for a socket of `family`: IPv4 addresses become IPv4-mapped IPv6 ones on
/// an IPv6 socket.
pub fn addr_for(family: Family, addr: SocketAddr) -> SockAddr {
    match (family, addr) {
        (Family::V6, SocketAddr::V4(v4)) => {
            SockAddr::from(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        _ => SockAddr::from(addr),
    }
}

/// Turns IPv4-mapped IPv6 addresses back into IPv4 ones (what Java reports too).
pub fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

/// Runs `f` with a socket2 view of `fd` (options and addresses); `fd` must stay open for
/// the call.
fn with_sock<R>(fd: RawFd, f: impl FnOnce(SockRef<'_>) -> R) -> R {
    // SAFETY: callers hold an FdGuard that keeps `fd` open for the whole call (or, adopting a
    // descriptor, own it); `borrow_raw` needs only that, and `fd` is never -1 here.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    f(SockRef::from(&borrowed))
}

fn sockaddr_to_std(addr: SockAddr) -> Result<SocketAddr> {
    addr.as_socket().ok_or(Error::Os(libc::EAFNOSUPPORT))
}

fn local_addr_raw(fd: RawFd) -> Result<SocketAddr> {
    sockaddr_to_std(with_sock(fd, |s| s.local_addr())?)
}

/// The local address of `fd`, IPv4-mapped addresses unmapped.
pub fn local_addr(fd: RawFd) -> Result<SocketAddr> {
    local_addr_raw(fd).map(unmap)
}

/// The peer address of `fd`, IPv4-mapped addresses unmapped.
pub fn peer_addr(fd: RawFd) -> Result<SocketAddr> {
    sockaddr_to_std(with_sock(fd, |s| s.peer_addr())?).map(unmap)
}

/// What [`inspect_tcp`] found out about a descriptor made elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpState {
    /// The address family (`SO_DOMAIN`).
    pub family: Family,
    /// Whether it listens (`SO_ACCEPTCONN`).
    pub listening: bool,
    /// Whether it has a local address with a port (bound, or implicitly by a connect).
    pub bound: bool,
    /// Whether it has a peer (`getpeername`).
    pub connected: bool,
    /// Whether a connect is still in progress (`TCP_INFO` says `SYN_SENT`).
    pub connecting: bool,
}

/// Checks that `fd`, made elsewhere, is a TCP stream socket of `AF_INET` or `AF_INET6`, and
/// finds out its state. Changes nothing.
///
/// # Errors
/// `InvalidArgument` for a negative descriptor or another kind of socket (UDP, Unix, raw),
/// `ENOTSOCK`, `EBADF` (not open), other OS errors.
pub fn inspect_tcp(fd: RawFd) -> Result<TcpState> {
    if fd < 0 {
        return Err(crate::ErrorKind::InvalidArgument.into());
    }
    let not_tcp = || Error::from(crate::ErrorKind::InvalidArgument);
    // No guard here: the caller still owns `fd`, which stays open for the call.
    with_sock(fd, |s| {
        if s.r#type()? != socket2::Type::STREAM {
            return Err(not_tcp());
        }
        let family = match s.domain()? {
            socket2::Domain::IPV4 => Family::V4,
            socket2::Domain::IPV6 => Family::V6,
            _ => return Err(not_tcp()),
        };
        if s.protocol()? != Some(socket2::Protocol::TCP) {
            return Err(not_tcp());
        }
        let listening = s.is_listener()?;
        let connected = match s.peer_addr() {
            Ok(_) => true,
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => false,
            Err(e) => return Err(e.into()),
        };
        let connecting = !listening && !connected && tcp_state(fd)? == TCP_SYN_SENT;
        let bound = s
            .local_addr()?
            .as_socket()
            .is_some_and(|addr| addr.port() != 0);
        Ok(TcpState {
            family,
            listening,
            bound,
            connected,
            connecting,
        })
    })
}

/// `tcpi_state` of a socket whose connect is in progress (`TCP_SYN_SENT` in `linux/tcp.h`).
const TCP_SYN_SENT: u8 = 2;

/// The kernel's TCP state of `fd` (`TCP_INFO`'s `tcpi_state`).
fn tcp_state(fd: RawFd) -> Result<u8> {
    // SAFETY: all-zero bytes are a valid tcp_info.
    let mut info: libc::tcp_info = unsafe { MaybeUninit::zeroed().assume_init() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    syscall!(getsockopt(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_INFO,
        (&mut info as *mut libc::tcp_info).cast(),
        &mut len
    ))?;
    Ok(info.tcpi_state)
}

/// Makes `fd` non-blocking and close-on-exec, as nioxide's own sockets are. `O_NONBLOCK`
/// belongs to the open file description, so duplicates of `fd` see it too.
pub fn adopt_flags(fd: RawFd) -> Result<()> {
    with_sock(fd, |s| {
        s.set_nonblocking(true)?;
        s.set_cloexec(true)
    })?;
    Ok(())
}

/// A descriptor's file status flags (`F_GETFL`) and descriptor flags (`F_GETFD`), to put back
/// with [`restore_file_flags`] what [`adopt_flags`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileFlags {
    status: libc::c_int,
    descriptor: libc::c_int,
}

/// The flags of `fd` now.
pub fn file_flags(fd: RawFd) -> Result<FileFlags> {
    Ok(FileFlags {
        status: syscall!(fcntl(fd, libc::F_GETFL))?,
        descriptor: syscall!(fcntl(fd, libc::F_GETFD))?,
    })
}

/// Puts back flags [`file_flags`] read.
pub fn restore_file_flags(fd: RawFd, flags: FileFlags) -> Result<()> {
    syscall!(fcntl(fd, libc::F_SETFL, flags.status))?;
    syscall!(fcntl(fd, libc::F_SETFD, flags.descriptor))?;
    Ok(())
}

/// Sets or clears `O_NONBLOCK` on `fd`.
pub fn set_nonblocking(fd: RawFd, nonblocking: bool) -> Result<()> {
    Ok(with_sock(fd, |s| s.set_nonblocking(nonblocking))?)
}

/// `bind(2)` then `listen(2)` with `backlog` (0 or less means the system's `SOMAXCONN`).
pub fn bind_listen(fd: RawFd, addr: &SockAddr, backlog: i32) -> Result<()> {
    syscall!(bind(fd, addr.as_ptr().cast(), addr.len()))?;
    let backlog = if backlog <= 0 {
        libc::SOMAXCONN
    } else {
        backlog
    };
    syscall!(listen(fd, backlog))?;
    Ok(())
}

/// `bind(2)` alone.
pub fn bind(fd: RawFd, addr: &SockAddr) -> Result<()> {
    syscall!(bind(fd, addr.as_ptr().cast(), addr.len())).map(drop)
}

/// Starts a connect: `Ok(true)` when connected at once, `Ok(false)` when in progress.
pub fn connect(fd: RawFd, addr: &SockAddr) -> Result<bool> {
    match syscall!(connect(fd, addr.as_ptr().cast(), addr.len())) {
        Ok(_) => Ok(true),
        Err(e) if e.is_os(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The pending socket error (`SO_ERROR`), cleared by reading it.
pub fn take_error(fd: RawFd) -> Result<Option<Error>> {
    Ok(with_sock(fd, |s| s.take_error())?.map(Error::from))
}

/// Whether `fd` has a peer (a finished connect).
pub fn is_connected(fd: RawFd) -> Result<bool> {
    match with_sock(fd, |s| s.peer_addr()) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `accept4(2)`: a new non-blocking close-on-exec descriptor, or `None` if none is pending.
pub fn accept(fd: RawFd) -> Result<Option<RawFd>> {
    match syscall!(accept4(
        fd,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
    )) {
        Ok(new) => Ok(Some(new)),
        Err(e) if e.is_os(libc::EAGAIN) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Outcome of one non-blocking transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// This many bytes moved (0 on a read means end of stream).
    Done(usize),
    /// The call would block.
    WouldBlock,
}

/// Runs one transfer, retrying `EINTR`; `EAGAIN` becomes [`Io::WouldBlock`].
fn io_result(mut call: impl FnMut() -> isize) -> Result<Io> {
    loop {
        let res = call();
        if res >= 0 {
            return Ok(Io::Done(res as usize));
        }
        let err = Error::last_os_error();
        if err.is_os(libc::EAGAIN) {
            return Ok(Io::WouldBlock);
        }
        if !err.is_os(libc::EINTR) {
            return Err(err);
        }
    }
}

/// `read(2)` of `len` bytes into `buf` through `syscall(2)`.
///
/// The transfers on the data path (`read`, `send`, `sendmsg`) enter the kernel through
/// `syscall(2)` rather than libc's wrappers of the same names: those are thread-cancellation
/// points, and the bookkeeping around each call (enabling and disabling asynchronous
/// cancellation) costs more instructions than the rest of a non-blocking transfer. The
/// descriptors are non-blocking, so these calls never wait: cancellation matters only for
/// the calls that do (the waits for readiness, which keep libc's wrappers).
///
/// # Safety
/// `buf` is valid for writes of `len` bytes.
#[inline]
unsafe fn sys_read(fd: RawFd, buf: *mut libc::c_void, len: usize) -> isize {
    // SAFETY: the caller's promise; `read` takes (int, void *, size_t).
    unsafe { libc::syscall(libc::SYS_read, fd, buf, len) as isize }
}

/// `read(2)` into `buf`.
pub fn read(fd: RawFd, buf: &mut [u8]) -> Result<Io> {
    // SAFETY: `buf` is valid for writes of its length.
    io_result(|| unsafe { sys_read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// `read(2)` into memory that need not be initialised (a buffer's spare capacity): the
/// kernel only writes it.
pub fn read_uninit(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> Result<Io> {
    // SAFETY: `buf` is valid for writes of its length; `read(2)` never reads it.
    io_result(|| unsafe { sys_read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// How many bytes the socket's receive queue holds now (`FIONREAD`; 0 also at end of
/// stream).
pub fn bytes_available(fd: RawFd) -> Result<usize> {
    let mut n: libc::c_int = 0;
    syscall!(ioctl(fd, libc::FIONREAD, &mut n as *mut libc::c_int))?;
    Ok(n.max(0) as usize)
}

/// `readv(2)` into `bufs` (scattering read).
pub fn read_vectored(fd: RawFd, bufs: &mut [IoSliceMut<'_>]) -> Result<Io> {
    let n = bufs.len().min(libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: IoSliceMut is ABI-compatible with iovec.
    io_result(|| unsafe { libc::readv(fd, bufs.as_ptr().cast(), n) })
}

/// `send(2)` with `MSG_NOSIGNAL`.
pub fn write(fd: RawFd, buf: &[u8]) -> Result<Io> {
    // SAFETY: `buf` is valid for reads of its length.
    // (`sendto` with no address is `send`; see `sys_read` for why not libc's wrapper.)
    io_result(|| unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::socklen_t,
        ) as isize
    })
}

/// `sendmsg(2)` with `MSG_NOSIGNAL` (gathering write; `writev` could raise `SIGPIPE`).
pub fn write_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> Result<Io> {
    // SAFETY: an all-zero msghdr is valid; IoSlice is ABI-compatible with iovec.
    let mut msg: libc::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::c_int::MAX as usize) as _;
    // SAFETY: `msg` points at the caller's live buffers.
    // (See `sys_read` for why not libc's wrapper.)
    io_result(|| unsafe {
        libc::syscall(libc::SYS_sendmsg, fd, &raw const msg, libc::MSG_NOSIGNAL) as isize
    })
}

/// Which direction `shutdown(2)` closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `SHUT_RD`
    Read,
    /// `SHUT_WR`
    Write,
}

/// `shutdown(2)`; `ENOTCONN` is ignored (the direction is closed either way).
pub fn shutdown(fd: RawFd, how: Shutdown) -> Result<()> {
    let how = match how {
        Shutdown::Read => libc::SHUT_RD,
        Shutdown::Write => libc::SHUT_WR,
    };
    match syscall!(shutdown(fd, how)) {
        Err(e) if !e.is_os(libc::ENOTCONN) => Err(e),
        _ => Ok(()),
    }
}

/// A socket option nioxide exposes (values are integers: booleans as 0/1, sizes in bytes,
/// `Linger` in seconds with a negative value meaning off, the keep-alive times in seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketOption {
    /// `SO_REUSEADDR`
    ReuseAddr,
    /// `SO_REUSEPORT`
    ReusePort,
    /// `TCP_NODELAY`
    TcpNoDelay,
    /// `SO_KEEPALIVE`
    KeepAlive,
    /// `SO_RCVBUF` (Linux doubles the value set; get returns what the kernel uses)
    RcvBuf,
    /// `SO_SNDBUF` (Linux doubles the value set)
    SndBuf,
    /// `SO_LINGER` in seconds; negative = off
    Linger,
    /// `IPV6_V6ONLY` (IPv6 sockets only)
    Ipv6V6Only,
    /// `TCP_KEEPIDLE`: seconds of idleness before the first keep-alive probe (1 to 32767);
    /// takes effect while `SO_KEEPALIVE` is on
    TcpKeepIdle,
    /// `TCP_KEEPINTVL`: seconds between keep-alive probes (1 to 32767)
    TcpKeepIntvl,
    /// `TCP_KEEPCNT`: unanswered probes before the connection is dropped (1 to 127)
    TcpKeepCnt,
}

impl SocketOption {
    /// Every option, in declaration order.
    pub const ALL: &'static [SocketOption] = &[
        SocketOption::ReuseAddr,
        SocketOption::ReusePort,
        SocketOption::TcpNoDelay,
        SocketOption::KeepAlive,
        SocketOption::RcvBuf,
        SocketOption::SndBuf,
        SocketOption::Linger,
        SocketOption::Ipv6V6Only,
        SocketOption::TcpKeepIdle,
        SocketOption::TcpKeepIntvl,
        SocketOption::TcpKeepCnt,
    ];

    /// The conventional name, e.g. `"SO_REUSEADDR"`.
    pub fn name(self) -> &'static str {
        match self {
            SocketOption::ReuseAddr => "SO_REUSEADDR",
            SocketOption::ReusePort => "SO_REUSEPORT",
            SocketOption::TcpNoDelay => "TCP_NODELAY",
            SocketOption::KeepAlive => "SO_KEEPALIVE",
            SocketOption::RcvBuf => "SO_RCVBUF",
            SocketOption::SndBuf => "SO_SNDBUF",
            SocketOption::Linger => "SO_LINGER",
            SocketOption::Ipv6V6Only => "IPV6_V6ONLY",
            SocketOption::TcpKeepIdle => "TCP_KEEPIDLE",
            SocketOption::TcpKeepIntvl => "TCP_KEEPINTVL",
            SocketOption::TcpKeepCnt => "TCP_KEEPCNT",
        }
    }
}

fn check_size(value: i64) -> Result<usize> {
    if value <= 0 || value > i32::MAX as i64 {
        return Err(crate::ErrorKind::InvalidArgument.into());
    }
    Ok(value as usize)
}

/// Sets `opt` on `fd`.
pub fn set_option(fd: RawFd, opt: SocketOption, value: i64) -> Result<()> {
    with_sock(fd, |s| set_option_on(&s, opt, value))
}

fn set_option_on(s: &SockRef<'_>, opt: SocketOption, value: i64) -> Result<()> {
    match opt {
        SocketOption::ReuseAddr => s.set_reuse_address(value != 0)?,
        SocketOption::ReusePort => s.set_reuse_port(value != 0)?,
        SocketOption::TcpNoDelay => s.set_tcp_nodelay(value != 0)?,
        SocketOption::KeepAlive => s.set_keepalive(value != 0)?,
        SocketOption::RcvBuf => s.set_recv_buffer_size(check_size(value)?)?,
        SocketOption::SndBuf => s.set_send_buffer_size(check_size(value)?)?,
        SocketOption::Linger => {
            if value > i32::MAX as i64 {
                return Err(crate::ErrorKind::InvalidArgument.into());
            }
            s.set_linger((value >= 0).then(|| std::time::Duration::from_secs(value as u64)))?
        }
        SocketOption::Ipv6V6Only => s.set_only_v6(value != 0)?,
        // Set alone: socket2's `set_tcp_keepalive` would also switch `SO_KEEPALIVE` on.
        SocketOption::TcpKeepIdle => set_tcp_int(s, libc::TCP_KEEPIDLE, value)?,
        SocketOption::TcpKeepIntvl => set_tcp_int(s, libc::TCP_KEEPINTVL, value)?,
        SocketOption::TcpKeepCnt => set_tcp_int(s, libc::TCP_KEEPCNT, value)?,
    }
    Ok(())
}

/// Sets the `IPPROTO_TCP` integer option `name` to `value`, which must be > 0 and fit an
/// `int` (the kernel checks its own upper bound: `EINVAL`).
fn set_tcp_int(s: &SockRef<'_>, name: libc::c_int, value: i64) -> Result<()> {
    let value = check_size(value)? as libc::c_int;
    syscall!(setsockopt(
        std::os::fd::AsRawFd::as_raw_fd(&**s),
        libc::IPPROTO_TCP,
        name,
        (&value as *const libc::c_int).cast(),
        std::mem::size_of::<libc::c_int>() as libc::socklen_t
    ))?;
    Ok(())
}

/// Reads `opt` from `fd`.
pub fn get_option(fd: RawFd, opt: SocketOption) -> Result<i64> {
    with_sock(fd, |s| get_option_on(&s, opt))
}

fn get_option_on(s: &SockRef<'_>, opt: SocketOption) -> Result<i64> {
    Ok(match opt {
        SocketOption::ReuseAddr => s.reuse_address()? as i64,
        SocketOption::ReusePort => s.reuse_port()? as i64,
        SocketOption::TcpNoDelay => s.tcp_nodelay()? as i64,
        SocketOption::KeepAlive => s.keepalive()? as i64,
        SocketOption::RcvBuf => s.recv_buffer_size()? as i64,
        SocketOption::SndBuf => s.send_buffer_size()? as i64,
        SocketOption::Linger => s.linger()?.map_or(-1, |d| d.as_secs() as i64),
        SocketOption::Ipv6V6Only => s.only_v6()? as i64,
        SocketOption::TcpKeepIdle => s.tcp_keepalive_time()?.as_secs() as i64,
        SocketOption::TcpKeepIntvl => s.tcp_keepalive_interval()?.as_secs() as i64,
        SocketOption::TcpKeepCnt => s.tcp_keepalive_retries()? as i64,
    })
}
