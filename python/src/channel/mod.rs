//! Channels: what the TCP classes share. Addresses as Python tuples, socket options as the
//! `SO_*` integers, buffers borrowed through the buffer protocol, registration, and the
//! Python object of a core channel.
//!
//! Mirrors core's [`channel`](nioxide_core::channel); [`tcp`] has the classes.

pub(crate) mod tcp;

use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use nioxide_core::ErrorKind;
use nioxide_core::channel::{Channel, Family, SocketOption};
use pyo3::PyClass;
use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::{PyBufferError, PyTypeError, PyUnicodeError};
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::types::{PyString, PyTuple, PyWeakrefReference};

use crate::binding;
use crate::error::{UnresolvedAddressError, closed_selector, invalid, to_pyerr};
use crate::selector::{self, SelectionKey, Selector};

/// The Python numbers of the socket options, as C's `NX_SO_*` constants.
pub(crate) const OPTIONS: &[(&str, i64, SocketOption)] = &[
    ("SO_REUSEADDR", 1, SocketOption::ReuseAddr),
    ("SO_REUSEPORT", 2, SocketOption::ReusePort),
    ("TCP_NODELAY", 3, SocketOption::TcpNoDelay),
    ("SO_KEEPALIVE", 4, SocketOption::KeepAlive),
    ("SO_RCVBUF", 5, SocketOption::RcvBuf),
    ("SO_SNDBUF", 6, SocketOption::SndBuf),
    ("SO_LINGER", 7, SocketOption::Linger),
    ("IPV6_V6ONLY", 8, SocketOption::Ipv6V6Only),
    ("TCP_KEEPIDLE", 9, SocketOption::TcpKeepIdle),
    ("TCP_KEEPINTVL", 10, SocketOption::TcpKeepIntvl),
    ("TCP_KEEPCNT", 11, SocketOption::TcpKeepCnt),
];

/// The core option for a Python option number.
pub(crate) fn option(number: i64) -> PyResult<SocketOption> {
    OPTIONS
        .iter()
        .find(|(_, n, _)| *n == number)
        .map(|(_, _, opt)| *opt)
        .ok_or_else(|| invalid(format!("unknown socket option {number}")))
}

/// The Python numbers of `options`.
pub(crate) fn option_numbers(options: &[SocketOption]) -> Vec<i64> {
    options
        .iter()
        .filter_map(|opt| {
            OPTIONS
                .iter()
                .find(|(_, _, o)| o == opt)
                .map(|(_, n, _)| *n)
        })
        .collect()
}

/// The family a constructor asks for: `socket.AF_INET`, `socket.AF_INET6`, or `None` for the
/// default (IPv6 dual-stack, IPv4 where IPv6 is unavailable).
pub(crate) fn family(family: Option<i32>) -> PyResult<Option<Family>> {
    match family {
        None => Ok(None),
        Some(libc::AF_INET) => Ok(Some(Family::V4)),
        Some(libc::AF_INET6) => Ok(Some(Family::V6)),
        Some(other) => Err(invalid(format!(
            "family must be AF_INET, AF_INET6 or None, not {other}"
        ))),
    }
}

/// A socket address from a Python address: `(host, port)`, or `(host, port, flowinfo,
/// scope_id)` for IPv6, as the socket module takes them. `host` is an IP address, `""` for
/// any address of the socket's family, or a name resolved with `socket.getaddrinfo`.
pub(crate) fn socket_addr(address: &Bound<'_, PyAny>, family: Family) -> PyResult<SocketAddr> {
    let tuple = address
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("address must be a (host, port) tuple"))?;
    let (host, port, flowinfo, scope_id): (Bound<'_, PyAny>, i64, u32, u32) = match tuple.len() {
        2 => (tuple.get_item(0)?, tuple.get_item(1)?.extract()?, 0, 0),
        4 => (
            tuple.get_item(0)?,
            tuple.get_item(1)?.extract()?,
            tuple.get_item(2)?.extract()?,
            tuple.get_item(3)?.extract()?,
        ),
        n => {
            return Err(PyTypeError::new_err(format!(
                "address must be a tuple of 2 or 4 items, not {n}"
            )));
        }
    };
    let port = u16::try_from(port).map_err(|_| invalid("port must be 0-65535"))?;
    let host = host
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("host must be a str"))?
        .to_cow()?
        .into_owned();
    let ip = match host.as_str() {
        "" => match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        },
        text => match text.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return resolve(address.py(), &host, port, family),
        },
    };
    Ok(match ip {
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, flowinfo, scope_id)),
        IpAddr::V4(_) if tuple.len() == 4 => return Err(invalid("a 4-tuple address must be IPv6")),
        v4 => SocketAddr::new(v4, port),
    })
}

/// Resolves a host name with `socket.getaddrinfo` (which releases the GIL itself): the first
/// address of the socket's family (either family for a dual-stack socket). A name that does
/// not resolve raises `UnresolvedAddressError` (a `NioxideError` and a `socket.gaierror`)
/// with getaddrinfo's `errno` and `strerror`, chained to its `gaierror`; one the socket
/// module cannot encode, `InvalidArgumentError`.
fn resolve(py: Python<'_>, host: &str, port: u16, family: Family) -> PyResult<SocketAddr> {
    let socket = py.import("socket")?;
    let af = match family {
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_UNSPEC,
    };
    let infos = match socket.call_method1("getaddrinfo", (host, port, af, libc::SOCK_STREAM)) {
        Ok(infos) => infos,
        Err(e) if e.is_instance(py, &socket.getattr("gaierror")?) => {
            let raised = e.value(py);
            let args = (
                raised.getattr("errno")?.unbind(),
                raised.getattr("strerror")?.unbind(),
            );
            let unresolved = UnresolvedAddressError::new_err(args);
            unresolved.set_cause(py, Some(e));
            return Err(unresolved);
        }
        // The IDNA codec refuses the name (an empty label, one over 63 bytes).
        Err(e) if e.is_instance_of::<PyUnicodeError>(py) => {
            let refused = invalid(format!("invalid host name {host:?}"));
            refused.set_cause(py, Some(e));
            return Err(refused);
        }
        Err(e) => return Err(e),
    };
    for info in infos.try_iter()? {
        let sockaddr = info?.get_item(4)?;
        let numeric: String = sockaddr.get_item(0)?.extract()?;
        if numeric.parse::<IpAddr>().is_ok() {
            return socket_addr(&sockaddr, family);
        }
    }
    Err(UnresolvedAddressError::new_err((
        libc::EAI_NONAME,
        format!("no address of the socket's family for {host:?}"),
    )))
}

/// A socket address as the socket module gives it: `(host, port)` for IPv4,
/// `(host, port, flowinfo, scope_id)` for IPv6.
pub(crate) fn address_tuple<'py>(
    py: Python<'py>,
    addr: SocketAddr,
) -> PyResult<Bound<'py, PyTuple>> {
    match addr {
        SocketAddr::V4(v4) => (v4.ip().to_string(), v4.port()).into_pyobject(py),
        SocketAddr::V6(v6) => {
            (v6.ip().to_string(), v6.port(), v6.flowinfo(), v6.scope_id()).into_pyobject(py)
        }
    }
}

/// The optional address core returns, as a tuple or `None`.
pub(crate) fn optional_address(
    py: Python<'_>,
    addr: nioxide_core::Result<Option<SocketAddr>>,
) -> PyResult<Option<Bound<'_, PyTuple>>> {
    addr.map_err(to_pyerr)?
        .map(|a| address_tuple(py, a))
        .transpose()
}

/// A buffer export held for the length of a call: the memory stays put (a `bytearray`
/// cannot resize while exported) and nothing is copied.
pub(crate) struct Buffer {
    export: PyUntypedBuffer,
}

/// The memory of a [`Buffer`], to use while detached. Valid while the `Buffer` lives.
#[derive(Clone, Copy)]
pub(crate) struct RawBuffer {
    pub(crate) ptr: *mut u8,
    pub(crate) len: usize,
}

// SAFETY: a RawBuffer is only dereferenced during the call that holds its `Buffer`, whose
// export keeps the memory alive and in place; the GIL is not needed to touch the bytes.
unsafe impl Send for RawBuffer {}

impl Buffer {
    /// Exports `object`'s buffer: any C-contiguous bytes-like object (a `bytes`, `bytearray`,
    /// `memoryview`, `array`); with `writable`, a read-only one (`bytes`) is a `TypeError`.
    pub(crate) fn get(object: &Bound<'_, PyAny>, writable: bool) -> PyResult<Buffer> {
        let export = PyUntypedBuffer::get(object)?;
        if writable && export.readonly() {
            return Err(PyTypeError::new_err(format!(
                "a writable bytes-like object is required (bytearray, memoryview, array), not '{}'",
                object.get_type().name()?
            )));
        }
        if !export.is_c_contiguous() {
            return Err(PyBufferError::new_err("the buffer must be C-contiguous"));
        }
        Ok(Buffer { export })
    }

    /// Exports every buffer of an iterable (for scattering and gathering calls).
    pub(crate) fn get_all(objects: &Bound<'_, PyAny>, writable: bool) -> PyResult<Vec<Buffer>> {
        objects
            .try_iter()?
            .map(|o| Buffer::get(&o?, writable))
            .collect()
    }

    /// The exported memory, to hand to a detached call.
    pub(crate) fn raw(&self) -> RawBuffer {
        RawBuffer {
            ptr: self.export.buf_ptr().cast(),
            len: self.export.len_bytes(),
        }
    }
}

impl RawBuffer {
    /// The bytes, to read.
    ///
    /// # Safety
    /// The `Buffer` this came from must be alive for `'a`.
    pub(crate) unsafe fn slice<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the export keeps `len` bytes at `ptr` alive (caller's contract).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, to write into.
    ///
    /// # Safety
    /// The `Buffer` this came from must be writable and alive for `'a`, and not used through
    /// another `RawBuffer` during `'a`.
    pub(crate) unsafe fn slice_mut<'a>(self) -> &'a mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as above, and the export is writable (checked in `Buffer::get`).
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// `IoSlice`s over raw buffers.
///
/// # Safety
/// As [`RawBuffer::slice`].
pub(crate) unsafe fn io_slices<'a>(raws: &[RawBuffer]) -> Vec<IoSlice<'a>> {
    // SAFETY: forwarded to the caller.
    raws.iter()
        .map(|r| IoSlice::new(unsafe { r.slice() }))
        .collect()
}

/// `IoSliceMut`s over raw buffers.
///
/// # Safety
/// As [`RawBuffer::slice_mut`]; the buffers must not overlap.
pub(crate) unsafe fn io_slices_mut<'a>(raws: &[RawBuffer]) -> Vec<IoSliceMut<'a>> {
    // SAFETY: forwarded to the caller.
    raws.iter()
        .map(|r| IoSliceMut::new(unsafe { r.slice_mut() }))
        .collect()
}

/// The descriptor of a `socket.socket` that `from_socket` may take over: an open TCP socket
/// object, not an `ssl.SSLSocket` (whose TLS state would be lost).
pub(crate) fn socket_fd(sock: &Bound<'_, PyAny>) -> PyResult<i32> {
    let py = sock.py();
    if !sock.is_instance(&py.import("socket")?.getattr("socket")?)? {
        return Err(PyTypeError::new_err(format!(
            "from_socket() takes a socket.socket, not '{}'",
            sock.get_type().name()?
        )));
    }
    // Only if the program uses ssl at all: importing it here would cost every caller.
    if let Ok(ssl) = py.import("sys")?.getattr("modules")?.get_item("ssl") {
        if sock.is_instance(&ssl.getattr("SSLSocket")?)? {
            return Err(PyTypeError::new_err(
                "from_socket() cannot take over an ssl.SSLSocket: its TLS state would be lost",
            ));
        }
    }
    let fd: i32 = sock.call_method0("fileno")?.extract()?;
    if fd < 0 {
        return Err(invalid("the socket is closed"));
    }
    Ok(fd)
}

/// Registers `channel` (whose Python object is `object`) with `selector`; returns its key.
pub(crate) fn register(
    object: &Bound<'_, PyAny>,
    channel: Channel,
    selector: &Bound<'_, Selector>,
    ops: u32,
    attachment: Option<Py<PyAny>>,
) -> PyResult<Py<SelectionKey>> {
    let py = object.py();
    let mut attachment = selector::attachment(attachment, py);
    let sel = &selector.get().inner;
    let key = match sel.register(channel.clone(), ops, &mut attachment) {
        Ok(key) => key,
        Err(e) if e.kind() == Some(ErrorKind::Closed) && !sel.is_open() => {
            return Err(closed_selector());
        }
        Err(e) => return Err(to_pyerr(e)),
    };
    // `key.channel` gives this object back while it lives.
    channel.set_binding(binding::record(object)?);
    selector::key_object(py, &selector.clone().unbind(), key)
}

/// The core channel of a Python channel object (`None` for any other object).
pub(crate) fn core_channel(object: &Bound<'_, PyAny>) -> Option<Channel> {
    if let Ok(channel) = object.cast::<tcp::SocketChannel>() {
        return Some(channel.get().channel());
    }
    if let Ok(channel) = object.cast::<tcp::ServerSocketChannel>() {
        return Some(channel.get().channel());
    }
    None
}

/// The Python object of a core channel: the live one if there is one, a new one otherwise.
pub(crate) fn channel_object(py: Python<'_>, channel: Channel) -> PyResult<Py<PyAny>> {
    let weak = channel.with_binding(|slot| binding::recorded(py, slot));
    let object = match &channel {
        Channel::Socket(c) => live_or_new(py, weak, || tcp::SocketChannel::from(c.clone()))?,
        Channel::Server(c) => live_or_new(py, weak, || tcp::ServerSocketChannel::from(c.clone()))?,
        // Core's `Channel` is #[non_exhaustive]; Python registers only the kinds above.
        #[allow(unreachable_patterns)]
        _ => {
            return Err(PyTypeError::new_err(
                "this kind of channel has no Python class",
            ));
        }
    };
    channel.set_binding(binding::record(&object)?);
    Ok(object.unbind())
}

/// The live wrapper `weak` points to, or a new one made by `new`.
pub(crate) fn live_or_new<'py, T: PyClass + Into<PyClassInitializer<T>>>(
    py: Python<'py>,
    weak: Option<Py<PyWeakrefReference>>,
    new: impl FnOnce() -> T,
) -> PyResult<Bound<'py, PyAny>> {
    match binding::live::<T>(py, weak) {
        Some(object) => Ok(object.into_any()),
        None => Ok(Bound::new(py, new())?.into_any()),
    }
}
