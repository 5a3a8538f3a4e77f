//! What every channel shares in C: socket option numbers, address families, addresses in and
//! out, scatter/gather buffers, and the bodies of the functions both TCP channel types have
//! (mirrors `nioxide_core::channel`; the `extern "C"` functions themselves are in [`tcp`]).
//!
//! [`tcp`]: crate::channel::tcp

pub mod tcp;

use std::ffi::{c_int, c_void};
use std::io::{IoSlice, IoSliceMut};
use std::mem::{MaybeUninit, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::ptr;
use std::sync::Arc;

use libc::{iovec, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t};
use nioxide_core::channel::{
    Channel, ChannelCore, Family, ServerSocketChannel, SocketChannel, SocketOption,
};
use nioxide_core::{ErrorKind, Result as CoreResult};

use crate::args::{Out, code};
use crate::error::{NX_EINVAL, NX_ENOTBOUND};
use crate::handle::{self, HandleType, RawHandle};
use crate::selector;
use crate::types::{
    nx_free_cb, nx_selection_key_t, nx_selector_t, nx_server_socket_channel_t, nx_socket_channel_t,
};

/// Socket option `SO_REUSEADDR` (0 or 1).
pub const NX_SO_REUSEADDR: c_int = 1;
/// Socket option `SO_REUSEPORT` (0 or 1).
pub const NX_SO_REUSEPORT: c_int = 2;
/// Socket option `TCP_NODELAY` (0 or 1); socket channels only.
pub const NX_TCP_NODELAY: c_int = 3;
/// Socket option `SO_KEEPALIVE` (0 or 1); socket channels only.
pub const NX_SO_KEEPALIVE: c_int = 4;
/// Socket option `SO_RCVBUF` in bytes (> 0). Linux doubles the value set: reading it back
/// gives at least what was set.
pub const NX_SO_RCVBUF: c_int = 5;
/// Socket option `SO_SNDBUF` in bytes (> 0); socket channels only. Linux doubles it too.
pub const NX_SO_SNDBUF: c_int = 6;
/// Socket option `SO_LINGER` in seconds; negative means off. Socket channels only.
pub const NX_SO_LINGER: c_int = 7;
/// Socket option `IPV6_V6ONLY` (0 or 1); IPv6 channels only (new ones start dual-stack, 0).
pub const NX_IPV6_V6ONLY: c_int = 8;

/// Socket option `TCP_KEEPIDLE`: seconds a connection is idle before the first keep-alive
/// probe (1 to 32767); applies while `NX_SO_KEEPALIVE` is on, which setting it does not change.
/// Socket channels only.
pub const NX_TCP_KEEPIDLE: c_int = 9;
/// Socket option `TCP_KEEPINTVL`: seconds between keep-alive probes (1 to 32767). Socket
/// channels only.
pub const NX_TCP_KEEPINTVL: c_int = 10;
/// Socket option `TCP_KEEPCNT`: unanswered keep-alive probes before the connection is dropped
/// (1 to 127). Socket channels only.
pub const NX_TCP_KEEPCNT: c_int = 11;

/// The option numbers of C and core's options, one line each.
const OPTIONS: [(c_int, SocketOption); 11] = [
    (NX_SO_REUSEADDR, SocketOption::ReuseAddr),
    (NX_SO_REUSEPORT, SocketOption::ReusePort),
    (NX_TCP_NODELAY, SocketOption::TcpNoDelay),
    (NX_SO_KEEPALIVE, SocketOption::KeepAlive),
    (NX_SO_RCVBUF, SocketOption::RcvBuf),
    (NX_SO_SNDBUF, SocketOption::SndBuf),
    (NX_SO_LINGER, SocketOption::Linger),
    (NX_IPV6_V6ONLY, SocketOption::Ipv6V6Only),
    (NX_TCP_KEEPIDLE, SocketOption::TcpKeepIdle),
    (NX_TCP_KEEPINTVL, SocketOption::TcpKeepIntvl),
    (NX_TCP_KEEPCNT, SocketOption::TcpKeepCnt),
];

/// Core's option for a C option number; unknown numbers are `NX_EINVAL`.
pub(crate) fn checked_option(option: c_int) -> Result<SocketOption, c_int> {
    OPTIONS
        .iter()
        .find(|(number, _)| *number == option)
        .map(|(_, option)| *option)
        .ok_or(NX_EINVAL)
}

/// The C number of a core option.
fn option_number(option: SocketOption) -> c_int {
    OPTIONS
        .iter()
        .find(|(_, o)| *o == option)
        .map_or(0, |(number, _)| *number)
}

/// Core's family for `AF_INET` or `AF_INET6`; anything else is `NX_EINVAL`.
pub(crate) fn checked_family(family: c_int) -> Result<Family, c_int> {
    match family {
        libc::AF_INET => Ok(Family::V4),
        libc::AF_INET6 => Ok(Family::V6),
        _ => Err(NX_EINVAL),
    }
}

/// Reads a C address (`AF_INET` or `AF_INET6`, `len` at least its structure's size).
///
/// Errors: `NX_EINVAL` for NULL, a short `len` or another family.
pub(crate) fn addr_in(addr: *const sockaddr, len: socklen_t) -> Result<SocketAddr, c_int> {
    if addr.is_null() || (len as usize) < size_of::<libc::sa_family_t>() {
        return Err(NX_EINVAL);
    }
    // SAFETY: the caller passes `len` readable bytes at `addr`; every read below stays within
    // `len` and tolerates any alignment.
    unsafe {
        let family = ptr::addr_of!((*addr).sa_family).read_unaligned();
        match c_int::from(family) {
            libc::AF_INET if len as usize >= size_of::<sockaddr_in>() => {
                let sin = addr.cast::<sockaddr_in>().read_unaligned();
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Ok(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
            }
            libc::AF_INET6 if len as usize >= size_of::<sockaddr_in6>() => {
                let sin6 = addr.cast::<sockaddr_in6>().read_unaligned();
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                let port = u16::from_be(sin6.sin6_port);
                Ok(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
            }
            _ => Err(NX_EINVAL),
        }
    }
}

/// A checked `struct sockaddr_storage *` + `socklen_t *` pair of out-parameters.
pub(crate) struct AddrOut {
    addr: Out<sockaddr_storage>,
    len: Out<socklen_t>,
}

impl AddrOut {
    /// Checks both pointers: NULL is `NX_EINVAL`.
    pub(crate) fn new(addr: *mut sockaddr_storage, len: *mut socklen_t) -> Result<AddrOut, c_int> {
        Ok(AddrOut {
            addr: Out::new(addr)?,
            len: Out::new(len)?,
        })
    }

    /// Writes `address` as a `sockaddr_in` or `sockaddr_in6`, and its length.
    pub(crate) fn set(self, address: SocketAddr) {
        // SAFETY: all-zero bytes are a valid sockaddr_storage (and an empty address).
        let mut storage: sockaddr_storage = unsafe { MaybeUninit::zeroed().assume_init() };
        let at = ptr::addr_of_mut!(storage);
        let len = match address {
            SocketAddr::V4(v4) => {
                // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in.
                let sin = unsafe { &mut *at.cast::<sockaddr_in>() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = v4.port().to_be();
                sin.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
                size_of::<sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in6.
                let sin6 = unsafe { &mut *at.cast::<sockaddr_in6>() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = v6.port().to_be();
                sin6.sin6_flowinfo = v6.flowinfo();
                sin6.sin6_addr.s6_addr = v6.ip().octets();
                sin6.sin6_scope_id = v6.scope_id();
                size_of::<sockaddr_in6>()
            }
        };
        self.addr.set(storage);
        self.len.set(len as socklen_t);
    }
}

/// A C buffer as a byte slice: NULL is allowed only for length 0.
///
/// # Safety
/// Unless NULL, `buf` must be valid for reads (and, for `make`'s mutable slices, writes) of
/// `len` bytes for the whole call.
unsafe fn c_buffer<'a>(buf: *mut c_void, len: usize) -> Result<&'a mut [u8], c_int> {
    if len > isize::MAX as usize || (buf.is_null() && len > 0) {
        return Err(NX_EINVAL);
    }
    if buf.is_null() {
        return Ok(&mut []);
    }
    // SAFETY: the caller's contract above; non-NULL and at most isize::MAX bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) })
}

/// The buffer `buf`/`len` of a read.
///
/// # Safety
/// As [`c_buffer`], writable.
pub(crate) unsafe fn read_buffer<'a>(buf: *mut c_void, len: usize) -> Result<&'a mut [u8], c_int> {
    // SAFETY: forwarded contract.
    unsafe { c_buffer(buf, len) }
}

/// The buffer `buf`/`len` of a write (only read through).
///
/// # Safety
/// As [`c_buffer`], readable.
pub(crate) unsafe fn write_buffer<'a>(buf: *const c_void, len: usize) -> Result<&'a [u8], c_int> {
    // SAFETY: forwarded contract; the slice is only ever read.
    unsafe { c_buffer(buf.cast_mut(), len).map(|s| &*s) }
}

/// How many `iovec`s a scatter/gather call converts on the stack before it allocates.
const STACK_IOVECS: usize = 16;

/// Runs `f` over the C `iovec` array as `S` slices (`IoSlice`/`IoSliceMut`), without
/// allocating for up to [`STACK_IOVECS`] entries. `iovcnt` < 0, a NULL array with
/// `iovcnt` > 0, or a NULL base with a non-zero length is `NX_EINVAL`.
///
/// # Safety
/// `iov` must point to `iovcnt` `iovec`s, each naming memory valid (for reads, and for writes
/// when `S` is `IoSliceMut`) for the whole call, and not overlapping each other.
unsafe fn with_iovecs<S, R>(
    iov: *const iovec,
    iovcnt: c_int,
    make: impl Fn(&'static mut [u8]) -> S,
    f: impl FnOnce(&mut [S]) -> R,
) -> Result<R, c_int> {
    let count = usize::try_from(iovcnt).map_err(|_| NX_EINVAL)?;
    if count > 0 && iov.is_null() {
        return Err(NX_EINVAL);
    }
    // SAFETY: checked non-NULL when non-empty; the caller's contract gives `count` entries.
    let iov: &[iovec] = if count == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(iov, count) }
    };
    let convert = |v: &iovec| -> Result<S, c_int> {
        // SAFETY: the caller's contract for each entry; the slice does not outlive the call.
        Ok(make(unsafe { c_buffer(v.iov_base, v.iov_len)? }))
    };
    if count <= STACK_IOVECS {
        let mut stack: [Option<S>; STACK_IOVECS] = std::array::from_fn(|_| None);
        for (slot, v) in stack.iter_mut().zip(iov) {
            *slot = Some(convert(v)?);
        }
        let mut filled = stack.map(|s| s.unwrap_or_else(|| make(&mut [])));
        return Ok(f(&mut filled[..count]));
    }
    let mut slices = iov.iter().map(convert).collect::<Result<Vec<S>, c_int>>()?;
    Ok(f(&mut slices))
}

/// Runs `f` over a C `iovec` array as the buffers of a scattering read.
///
/// # Safety
/// As [`with_iovecs`], writable.
pub(crate) unsafe fn with_read_iovecs<R>(
    iov: *const iovec,
    iovcnt: c_int,
    f: impl FnOnce(&mut [IoSliceMut<'_>]) -> R,
) -> Result<R, c_int> {
    // SAFETY: forwarded contract.
    unsafe { with_iovecs(iov, iovcnt, IoSliceMut::new, f) }
}

/// Runs `f` over a C `iovec` array as the buffers of a gathering write.
///
/// # Safety
/// As [`with_iovecs`], readable.
pub(crate) unsafe fn with_write_iovecs<R>(
    iov: *const iovec,
    iovcnt: c_int,
    f: impl FnOnce(&[IoSlice<'_>]) -> R,
) -> Result<R, c_int> {
    // SAFETY: forwarded contract; the buffers are only read.
    unsafe { with_iovecs(iov, iovcnt, |b| IoSlice::new(b), |s| f(s)) }
}

/// The calls both TCP channel types answer alike, so their `extern "C"` functions can share
/// one body each.
pub(crate) trait ChannelObject: Clone + Send + Sync + 'static + Into<Channel> {
    /// The options this channel supports.
    fn supported(&self) -> &'static [SocketOption];
    /// Opens a channel (`None`: IPv6 dual-stack, or IPv4 where IPv6 is missing).
    fn open_channel(family: Option<Family>) -> CoreResult<Self>;
    /// Adopts a descriptor made elsewhere, undoing it if `commit` fails (see `from_fd_then`).
    fn adopt_then(
        fd: RawFd,
        commit: impl FnOnce(&Self) -> Result<(), c_int>,
    ) -> CoreResult<Result<Self, c_int>>;
    /// Closes the channel without closing its descriptor, and returns the descriptor.
    fn detach_fd(&self) -> CoreResult<RawFd>;
    /// `Forked` in a forked child, `Closed` once closed.
    fn check_usable(&self) -> CoreResult<()>;
    /// Whether the channel is in blocking mode.
    fn blocking(&self) -> bool;
    /// Switches blocking mode.
    fn set_blocking(&self, block: bool) -> CoreResult<()>;
    /// Sets a socket option.
    fn option_set(&self, option: SocketOption, value: i64) -> CoreResult<()>;
    /// Reads a socket option.
    fn option_get(&self, option: SocketOption) -> CoreResult<i64>;
    /// The local address, `None` before bind.
    fn local(&self) -> CoreResult<Option<SocketAddr>>;
    /// The descriptor.
    fn raw_fd(&self) -> RawFd;
    /// Closes the channel (idempotent).
    fn close_channel(&self);
    /// The channel whose allocation `core` is, if it is a channel of this type.
    fn from_core(core: Arc<ChannelCore>) -> Option<Self>;
    /// The channel's allocation, what its handle names.
    fn into_core(self) -> Arc<ChannelCore>;
}

/// A channel handle type: its handle names the channel's own allocation (no allocation of the
/// handle's own), `Channel` being the channel type it stands for.
pub(crate) trait ChannelHandle: HandleType<Object = ChannelCore> {
    /// The core channel type of the handle.
    type Channel: ChannelObject;
}

impl ChannelHandle for nx_socket_channel_t {
    type Channel = SocketChannel;
}

impl ChannelHandle for nx_server_socket_channel_t {
    type Channel = ServerSocketChannel;
}

/// Implements [`ChannelObject`] for a core channel type by delegation.
macro_rules! channel_object {
    ($type:ty) => {
        impl ChannelObject for $type {
            fn supported(&self) -> &'static [SocketOption] {
                self.supported_options()
            }
            fn open_channel(family: Option<Family>) -> CoreResult<Self> {
                family.map_or_else(<$type>::open, <$type>::open_family)
            }
            fn adopt_then(
                fd: RawFd,
                commit: impl FnOnce(&Self) -> Result<(), c_int>,
            ) -> CoreResult<Result<Self, c_int>> {
                <$type>::from_fd_then(fd, commit)
            }
            fn detach_fd(&self) -> CoreResult<RawFd> {
                self.detach()
            }
            fn check_usable(&self) -> CoreResult<()> {
                self.check()
            }
            fn blocking(&self) -> bool {
                self.is_blocking()
            }
            fn set_blocking(&self, block: bool) -> CoreResult<()> {
                self.configure_blocking(block)
            }
            fn option_set(&self, option: SocketOption, value: i64) -> CoreResult<()> {
                self.set_option(option, value)
            }
            fn option_get(&self, option: SocketOption) -> CoreResult<i64> {
                self.get_option(option)
            }
            fn local(&self) -> CoreResult<Option<SocketAddr>> {
                self.local_address()
            }
            fn raw_fd(&self) -> RawFd {
                self.fd()
            }
            fn close_channel(&self) {
                self.close()
            }
            fn from_core(core: Arc<ChannelCore>) -> Option<Self> {
                <$type>::from_shared(core)
            }
            fn into_core(self) -> Arc<ChannelCore> {
                self.into_shared()
            }
        }
    };
}
channel_object!(SocketChannel);
channel_object!(ServerSocketChannel);

/// The channel behind a C handle, alive for the caller's whole call.
pub(crate) fn channel_of<H>(channel: *mut H) -> Result<H::Channel, c_int>
where
    H: ChannelHandle,
{
    H::Channel::from_core(handle::get(channel)?).ok_or(NX_EINVAL)
}

/// Makes the C handle of a new channel and records its number in the channel's binding slot,
/// so a key can give it back. The caller owns the handle; on error the channel is dropped
/// (closed).
pub(crate) fn new_handle<H>(channel: H::Channel) -> Result<*mut H, c_int>
where
    H: ChannelHandle,
{
    let ptr: *mut H = handle::insert(channel.clone().into_core())?;
    Into::<Channel>::into(channel).set_bound_handle(RawHandle::from_ptr(ptr).to_bits(), None);
    Ok(ptr)
}

/// Body of `nx_*_channel_open` and `nx_*_channel_open_family` (`family`: `None`, or
/// `AF_INET`/`AF_INET6`).
pub(crate) fn open<H>(family: Option<c_int>, channel_out: *mut *mut H) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let out = Out::new(channel_out)?;
    let family = family.map(checked_family).transpose()?;
    let channel = H::Channel::open_channel(family).map_err(code)?;
    out.set(new_handle::<H>(channel)?);
    Ok(())
}

/// Body of `nx_*_channel_open_fd`: on error (also when no handle is left) the caller keeps
/// the descriptor, which stays open.
pub(crate) fn open_fd<H>(fd: c_int, channel_out: *mut *mut H) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let out = Out::new(channel_out)?;
    let mut handle = None;
    // Without a handle the adoption is undone: the descriptor is the caller's, as it was.
    H::Channel::adopt_then(fd, |channel| {
        handle = Some(new_handle::<H>(channel.clone())?);
        Ok(())
    })
    .map_err(code)??;
    if let Some(handle) = handle {
        out.set(handle);
    }
    Ok(())
}

/// Body of `nx_*_channel_detach`.
pub(crate) fn detach<H>(channel: *mut H, fd_out: *mut c_int) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let out = Out::new(fd_out)?;
    out.set(channel_of(channel)?.detach_fd().map_err(code)?);
    Ok(())
}

/// Body of `nx_*_channel_register`.
pub(crate) fn register<H>(
    channel: *mut H,
    selector: *mut nx_selector_t,
    ops: u32,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    key_out: *mut *mut nx_selection_key_t,
) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let channel = channel_of(channel)?;
    selector::register(
        channel.into(),
        selector,
        ops,
        attachment,
        attachment_free,
        key_out,
    )
}

/// Body of `nx_*_channel_local_address`: `NX_ENOTBOUND` before bind (or connect).
pub(crate) fn local_address<H>(
    channel: *mut H,
    addr_out: *mut sockaddr_storage,
    addrlen_out: *mut socklen_t,
) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let out = AddrOut::new(addr_out, addrlen_out)?;
    let address = channel_of(channel)?.local().map_err(code)?;
    out.set(address.ok_or(NX_ENOTBOUND)?);
    Ok(())
}

/// Body of `nx_*_channel_configure_blocking` (`block`: non-zero for blocking).
pub(crate) fn configure_blocking<H>(channel: *mut H, block: c_int) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    channel_of(channel)?.set_blocking(block != 0).map_err(code)
}

/// Body of `nx_*_channel_is_blocking`.
pub(crate) fn is_blocking<H>(channel: *mut H) -> Result<bool, c_int>
where
    H: ChannelHandle,
{
    let channel = channel_of(channel)?;
    channel.check_usable().map_err(code)?;
    Ok(channel.blocking())
}

/// Body of `nx_*_channel_is_open`: false once closed (not `NX_ECLOSED`).
pub(crate) fn is_open<H>(channel: *mut H) -> Result<bool, c_int>
where
    H: ChannelHandle,
{
    match channel_of(channel)?.check_usable() {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == Some(ErrorKind::Closed) => Ok(false),
        Err(e) => Err(code(e)),
    }
}

/// Body of `nx_*_channel_set_option`.
pub(crate) fn set_option<H>(channel: *mut H, option: c_int, value: i64) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let option = checked_option(option)?;
    channel_of(channel)?.option_set(option, value).map_err(code)
}

/// Body of `nx_*_channel_get_option`.
pub(crate) fn get_option<H>(
    channel: *mut H,
    option: c_int,
    value_out: *mut i64,
) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let out = Out::new(value_out)?;
    let option = checked_option(option)?;
    out.set(channel_of(channel)?.option_get(option).map_err(code)?);
    Ok(())
}

/// Body of `nx_*_channel_supported_options`: the first `capacity` option numbers go to
/// `options_out` (which may be NULL when `capacity` is 0), their total to `*count_out`.
pub(crate) fn supported_options<H>(
    channel: *mut H,
    options_out: *mut c_int,
    capacity: usize,
    count_out: *mut usize,
) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let count = Out::new(count_out)?;
    if options_out.is_null() && capacity > 0 {
        return Err(NX_EINVAL);
    }
    let channel = channel_of(channel)?;
    channel.check_usable().map_err(code)?;
    let supported = channel.supported();
    for (i, option) in supported.iter().take(capacity).enumerate() {
        // SAFETY: the caller passes room for `capacity` ints; `i < capacity`.
        unsafe { options_out.add(i).write(option_number(*option)) };
    }
    count.set(supported.len());
    Ok(())
}

/// Body of `nx_*_channel_fd`.
pub(crate) fn fd<H>(channel: *mut H, fd_out: *mut c_int) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let out = Out::new(fd_out)?;
    let channel = channel_of(channel)?;
    channel.check_usable().map_err(code)?;
    out.set(channel.raw_fd());
    Ok(())
}

/// Body of `nx_*_channel_close`: 0 every time.
pub(crate) fn close<H>(channel: *mut H) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    channel_of(channel)?.close_channel();
    Ok(())
}

/// Body of `nx_*_channel_free`: closes, then invalidates the handle.
pub(crate) fn free<H>(channel: *mut H) -> Result<(), c_int>
where
    H: ChannelHandle,
{
    let core = handle::remove(channel)?;
    H::Channel::from_core(core)
        .ok_or(NX_EINVAL)?
        .close_channel();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_has_one_number() {
        for option in SocketOption::ALL {
            let number = option_number(*option);
            assert_eq!(checked_option(number), Ok(*option), "{}", option.name());
        }
        assert_eq!(checked_option(0), Err(NX_EINVAL));
        assert_eq!(checked_option(12), Err(NX_EINVAL));
        assert_eq!(checked_option(-1), Err(NX_EINVAL));
    }

    #[test]
    fn addresses_round_trip() {
        for text in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%2]:1"] {
            let address: SocketAddr = text.parse().unwrap();
            let mut storage = MaybeUninit::<sockaddr_storage>::uninit();
            let mut len: socklen_t = 0;
            AddrOut::new(storage.as_mut_ptr(), &mut len)
                .unwrap()
                .set(address);
            let back = addr_in(storage.as_ptr().cast(), len).unwrap();
            assert_eq!(back, address);
            assert_eq!(addr_in(storage.as_ptr().cast(), len - 1), Err(NX_EINVAL));
        }
        assert_eq!(addr_in(ptr::null(), 16), Err(NX_EINVAL));
    }

    #[test]
    fn iovecs_are_checked() {
        let mut a = [1u8; 3];
        let iov = [iovec {
            iov_base: a.as_mut_ptr().cast(),
            iov_len: 3,
        }; 20];
        for count in [0, 1, 16, 17, 20] {
            // SAFETY: every entry names `a`; only lengths are read.
            let total = unsafe {
                with_write_iovecs(iov.as_ptr(), count, |s| {
                    s.iter().map(|b| b.len()).sum::<usize>()
                })
            };
            assert_eq!(total, Ok(3 * count as usize));
        }
        // SAFETY: as above.
        unsafe {
            assert_eq!(with_write_iovecs(iov.as_ptr(), -1, |_| ()), Err(NX_EINVAL));
            assert_eq!(with_write_iovecs(ptr::null(), 1, |_| ()), Err(NX_EINVAL));
            let null = [iovec {
                iov_base: ptr::null_mut(),
                iov_len: 1,
            }];
            assert_eq!(with_write_iovecs(null.as_ptr(), 1, |_| ()), Err(NX_EINVAL));
            let empty = [iovec {
                iov_base: ptr::null_mut(),
                iov_len: 0,
            }];
            assert_eq!(with_read_iovecs(empty.as_ptr(), 1, |s| s.len()), Ok(1));
        }
    }
}
