//! What travels through a pipeline, as Python sees it: `Buffer` (core's read-only buffer,
//! bytes-like through the buffer protocol), any Python object as a user message, the
//! built-in user events as singletons, and addresses.
//!
//! A buffer message owns its bytes (core's `Buffer`, a shared `bytes::Bytes`), so a
//! `memoryview` of it stays valid after the callback that received it. A write copies
//! `bytes`, `bytearray` and `memoryview` once, at the call; a `Buffer` is passed on without a
//! copy. A `str` crosses as core's string message (a `Text`, its UTF-8 copied once at the
//! call), so a native `StringEncoder` (or a C handler) can encode it; a string message reaching
//! Python becomes a `str` again (equal, not the same object). Any other object crosses the
//! pipeline as it is (core's user message holding it).

use std::net::IpAddr;
use std::os::raw::c_int;
use std::sync::Arc;

use nioxide_core::channel::Family;
use nioxide_core::pipeline::{self as nx, ChannelAddress, Message, UserEvent as CoreEvent};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString, PyTuple};
use pyo3::{ffi, intern};

use super::channel;
use crate::channel::{address_tuple, socket_addr};
use crate::live::{Class, Live};

/// A read-only byte buffer (core's `Buffer`); see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, sequence)]
#[derive(Debug)]
pub(crate) struct Buffer {
    pub(crate) core: nx::Buffer,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

impl Buffer {
    pub(crate) fn wrap(core: nx::Buffer) -> Buffer {
        Buffer {
            core,
            _live: Live::new(Class::Buffer),
        }
    }
}

/// Copies a bytes-like object (`bytes`, `bytearray`, `memoryview`, anything with the buffer
/// protocol); `None` for an object that is none.
fn copy_bytes(object: &Bound<'_, PyAny>) -> PyResult<Option<nx::Buffer>> {
    if let Ok(bytes) = object.cast::<PyBytes>() {
        return Ok(Some(nx::Buffer::copy_from_slice(bytes.as_bytes())));
    }
    if let Ok(array) = object.cast::<PyByteArray>() {
        // SAFETY: the GIL is held and no Python code runs during the copy, so the array
        // cannot be resized or freed under it.
        return Ok(Some(nx::Buffer::copy_from_slice(unsafe {
            array.as_bytes()
        })));
    }
    if object.is_instance_of::<PyMemoryView>() {
        let view = PyBuffer::<u8>::get(object)?;
        return Ok(Some(nx::Buffer::from_bytes(
            view.to_vec(object.py())?.into(),
        )));
    }
    Ok(None)
}

#[pymethods]
impl Buffer {
    /// `Buffer(data)`: a buffer holding a copy of `data` (bytes-like).
    #[new]
    fn new(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        match copy_bytes(data)? {
            Some(core) => Ok(Buffer::wrap(core)),
            None => Err(PyTypeError::new_err(format!(
                "Buffer() takes bytes, bytearray or memoryview, not '{}'",
                data.get_type().name()?
            ))),
        }
    }

    fn __len__(&self) -> usize {
        self.core.len()
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.core.as_slice())
    }

    /// A read-only export of the bytes the buffer owns (they never move or change).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let data = slf.get().core.as_slice();
        // SAFETY: `view` comes from the interpreter; the bytes live as long as the object,
        // which the view holds (PyBuffer_FillInfo takes a reference), and are read-only
        // (a writable request fails here with BufferError).
        let status = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                data.as_ptr() as *mut std::ffi::c_void,
                data.len() as ffi::Py_ssize_t,
                1,
                flags,
            )
        };
        if status == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    /// The byte at `index` (an int), or a copy of a slice (as `bytes`).
    fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(i) = index.extract::<isize>() {
            let len = self.core.len() as isize;
            let at = if i < 0 { i + len } else { i };
            if at < 0 || at >= len {
                return Err(PyIndexError::new_err("Buffer index out of range"));
            }
            return Ok(self.core[at as usize]
                .into_pyobject(py)?
                .into_any()
                .unbind());
        }
        Ok(self.__bytes__(py).as_any().get_item(index)?.unbind())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        if let Ok(other) = other.cast::<Buffer>() {
            return Ok(self.core.as_slice() == other.get().core.as_slice());
        }
        Ok(match copy_bytes(other) {
            Ok(Some(other)) => self.core.as_slice() == other.as_slice(),
            _ => false,
        })
    }

    fn __repr__(&self) -> String {
        format!("<nioxide.Buffer {} bytes>", self.core.len())
    }

    /// A buffer over `[start:stop]` of these bytes, sharing them (no copy).
    #[pyo3(signature = (start = 0, stop = None))]
    fn slice(&self, start: isize, stop: Option<isize>) -> Buffer {
        let len = self.core.len() as isize;
        let clamp = |i: isize| (if i < 0 { i + len } else { i }).clamp(0, len) as usize;
        let (start, stop) = (clamp(start), clamp(stop.unwrap_or(len)));
        Buffer::wrap(self.core.slice(start..stop.max(start)))
    }

    /// A copy of the bytes.
    fn tobytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.__bytes__(py)
    }

    /// The bytes decoded (as `bytes.decode`).
    #[pyo3(signature = (encoding = "utf-8", errors = "strict"))]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        encoding: &str,
        errors: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.__bytes__(py)
            .call_method1(intern!(py, "decode"), (encoding, errors))
    }
}

/// A Python object travelling through a pipeline as a user message or a user event.
#[derive(Debug)]
pub(crate) struct PyMessage(pub(crate) Py<PyAny>);

/// A message of core's that Python has no object for (another binding's user message): it
/// can be passed on, and nothing else.
#[pyclass(module = "nioxide._nioxide", frozen)]
#[derive(Debug)]
pub(crate) struct OpaqueMessage {
    message: Message,
}

#[pymethods]
impl OpaqueMessage {
    fn __repr__(&self) -> &'static str {
        "<nioxide.OpaqueMessage>"
    }
}

/// The core buffer of a `Buffer` (shared) or of a bytes-like object (copied); `None` for an
/// object that is neither.
pub(crate) fn buffer_of(object: &Bound<'_, PyAny>) -> PyResult<Option<nx::Buffer>> {
    if let Ok(buffer) = object.cast::<Buffer>() {
        return Ok(Some(buffer.get().core.clone()));
    }
    copy_bytes(object)
}

/// A copy of the bytes of a `Buffer` or a bytes-like object; `None` for an object that is
/// neither.
pub(crate) fn bytes_of(object: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    Ok(buffer_of(object)?.map(|b| b.as_slice().to_vec()))
}

/// The core message for a Python object: a `Buffer` shares its bytes, bytes-like objects are
/// copied, a `str` is core's string message (its UTF-8 copied; a lone surrogate raises
/// `UnicodeEncodeError`), a pipeline channel (an accepted one passed on) is core's channel
/// message, any other object travels as itself.
pub(crate) fn to_message(object: &Bound<'_, PyAny>) -> PyResult<Message> {
    if let Ok(text) = object.cast::<PyString>() {
        return Ok(Message::text(text.to_str()?));
    }
    if let Some(buffer) = buffer_of(object)? {
        return Ok(Message::Buffer(buffer));
    }
    if let Ok(ch) = object.cast::<channel::Channel>() {
        return Ok(Message::user(ch.get().core.clone()));
    }
    if let Ok(opaque) = object.cast::<OpaqueMessage>() {
        return Ok(opaque.get().message.clone());
    }
    Ok(Message::User(Arc::new(PyMessage(object.clone().unbind()))))
}

/// The Python object for a core message (moving a buffer into a new `Buffer`, no copy).
pub(crate) fn from_message<'py>(py: Python<'py>, message: Message) -> PyResult<Bound<'py, PyAny>> {
    match message {
        Message::Buffer(buffer) => Ok(Bound::new(py, Buffer::wrap(buffer))?.into_any()),
        Message::User(value) => {
            if let Some(object) = value.downcast_ref::<PyMessage>() {
                return Ok(object.0.bind(py).clone());
            }
            if let Some(ch) = value.downcast_ref::<nx::Channel>() {
                return Ok(channel::object(py, ch)?.into_any());
            }
            let message = Message::User(value);
            if let Some(text) = message.as_str() {
                return Ok(PyString::new(py, text).into_any());
            }
            Ok(Bound::new(py, OpaqueMessage { message })?.into_any())
        }
    }
}

/// A built-in user event (Netty's `ChannelInputShutdownEvent.INSTANCE` and its kin): one
/// object each, the module's `CHANNEL_*` constants.
#[pyclass(module = "nioxide._nioxide", frozen)]
#[derive(Debug)]
pub(crate) struct UserEvent {
    name: &'static str,
}

#[pymethods]
impl UserEvent {
    #[getter]
    fn name(&self) -> &'static str {
        self.name
    }

    fn __repr__(&self) -> String {
        format!("nioxide.{}", self.name)
    }

    fn __reduce__(&self) -> String {
        self.name.to_string()
    }
}

/// The built-in events' names, in core's order.
pub(crate) const EVENT_NAMES: [&str; 3] = [
    "CHANNEL_INPUT_SHUTDOWN",
    "CHANNEL_INPUT_SHUTDOWN_READ_COMPLETE",
    "CHANNEL_OUTPUT_SHUTDOWN",
];

static EVENTS: PyOnceLock<[Py<UserEvent>; 3]> = PyOnceLock::new();

/// The three singletons.
pub(crate) fn events(py: Python<'_>) -> PyResult<&[Py<UserEvent>; 3]> {
    EVENTS.get_or_try_init(py, || {
        let make = |name| Py::new(py, UserEvent { name });
        Ok([
            make(EVENT_NAMES[0])?,
            make(EVENT_NAMES[1])?,
            make(EVENT_NAMES[2])?,
        ])
    })
}

/// The core event for a Python object: a built-in singleton, or the user's own object.
pub(crate) fn to_event(object: &Bound<'_, PyAny>) -> PyResult<CoreEvent> {
    let [input, input_complete, output] = events(object.py())?;
    if object.is(input) {
        return Ok(CoreEvent::InputShutdown);
    }
    if object.is(input_complete) {
        return Ok(CoreEvent::InputShutdownReadComplete);
    }
    if object.is(output) {
        return Ok(CoreEvent::OutputShutdown);
    }
    if let Some(idle) = super::codec::idle::core_event(object) {
        return Ok(CoreEvent::Idle(idle));
    }
    if let Ok(opaque) = object.cast::<OpaqueMessage>() {
        if let Message::User(value) = &opaque.get().message {
            return Ok(CoreEvent::Custom(value.clone()));
        }
    }
    Ok(CoreEvent::Custom(Arc::new(PyMessage(
        object.clone().unbind(),
    ))))
}

/// The Python object for a core event.
pub(crate) fn from_event<'py>(py: Python<'py>, event: CoreEvent) -> PyResult<Bound<'py, PyAny>> {
    let [input, input_complete, output] = events(py)?;
    Ok(match event {
        CoreEvent::InputShutdown => input.bind(py).clone().into_any(),
        CoreEvent::InputShutdownReadComplete => input_complete.bind(py).clone().into_any(),
        CoreEvent::OutputShutdown => output.bind(py).clone().into_any(),
        CoreEvent::Idle(idle) => super::codec::idle::event_object(py, idle)?,
        CoreEvent::Custom(value) => from_message(py, Message::User(value))?,
    })
}

/// A channel address from Python: a `str` names a local channel; a `(host, port)` tuple is
/// a TCP address (a host name is resolved here, with `getaddrinfo`).
pub(crate) fn to_address(object: &Bound<'_, PyAny>) -> PyResult<ChannelAddress> {
    if let Ok(name) = object.cast::<PyString>() {
        return Ok(ChannelAddress::local(&name.to_cow()?));
    }
    if object.is_instance_of::<PyTuple>() {
        return Ok(ChannelAddress::Inet(socket_addr(object, Family::V6)?));
    }
    Err(PyTypeError::new_err(format!(
        "an address is a (host, port) tuple or a local channel's name (str), not '{}'",
        object.get_type().name()?
    )))
}

/// A `(host, port)` tuple whose host is not an IP address: the host and port, for a connect
/// that resolves the name off the loop's thread.
pub(crate) fn host_name(object: &Bound<'_, PyAny>) -> Option<(String, u16)> {
    let tuple = object.cast::<PyTuple>().ok()?;
    if tuple.len() != 2 {
        return None;
    }
    let host: String = tuple.get_item(0).ok()?.extract().ok()?;
    let port: u16 = tuple.get_item(1).ok()?.extract().ok()?;
    (!host.is_empty() && host.parse::<IpAddr>().is_err()).then_some((host, port))
}

/// The Python form of a channel address: a tuple, or a local name.
pub(crate) fn from_address<'py>(
    py: Python<'py>,
    address: &ChannelAddress,
) -> PyResult<Bound<'py, PyAny>> {
    match address {
        ChannelAddress::Inet(addr) => Ok(address_tuple(py, *addr)?.into_any()),
        ChannelAddress::Local(name) => Ok(PyString::new(py, name).into_any()),
    }
}

/// The Python form of an optional address.
pub(crate) fn optional_address<'py>(
    py: Python<'py>,
    address: Option<ChannelAddress>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    address.map(|a| from_address(py, &a)).transpose()
}
