//! `nioxide.SocketChannel` and `nioxide.ServerSocketChannel`: thin wrappers over core's
//! [`tcp`](nioxide_core::channel::tcp) channels.
//!
//! Every call that may wait (accept, connect, finish_connect, reads, writes in blocking mode)
//! goes through [`gil::blocking`]: the GIL is released, Ctrl-C interrupts it, `close()` from
//! another thread wakes it with `AsynchronousCloseError`. On a non-blocking channel, `accept`,
//! `read`, `read_into` and `write` call core's `try_` variants, which never wait and take no
//! lock whatever the mode, so they keep the GIL (no hand-off per read or write in a select
//! loop).
//! Reads go straight into the caller's buffer (no copy); `read(n)` is the one that allocates.

use nioxide_core::channel::{self as nx, Channel};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use super::{
    Buffer, io_slices, io_slices_mut, option, option_numbers, optional_address, socket_addr,
};
use crate::error::{invalid, to_pyerr};
use crate::gil;
use crate::live::{Class, Live};
use crate::selector::{SelectionKey, Selector};

/// The most bytes one `read(n)` asks the socket for (reads may return fewer anyway).
const MAX_READ: usize = 64 << 20;

/// A TCP connection (Java's `SocketChannel`); see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct SocketChannel {
    inner: nx::SocketChannel,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// A TCP listener (Java's `ServerSocketChannel`).
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct ServerSocketChannel {
    inner: nx::ServerSocketChannel,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

impl From<nx::SocketChannel> for SocketChannel {
    fn from(inner: nx::SocketChannel) -> Self {
        SocketChannel {
            inner,
            _live: Live::new(Class::SocketChannel),
        }
    }
}

impl From<nx::ServerSocketChannel> for ServerSocketChannel {
    fn from(inner: nx::ServerSocketChannel) -> Self {
        ServerSocketChannel {
            inner,
            _live: Live::new(Class::ServerSocketChannel),
        }
    }
}

impl SocketChannel {
    /// The core channel (for a loop to watch).
    pub(crate) fn channel(&self) -> Channel {
        Channel::from(self.inner.clone())
    }
}

impl ServerSocketChannel {
    /// The core channel (for a loop to watch).
    pub(crate) fn channel(&self) -> Channel {
        Channel::from(self.inner.clone())
    }
}

/// `repr()` of a channel.
fn repr(class: &str, fd: i32, open: bool, local: Option<std::net::SocketAddr>) -> String {
    match (open, local) {
        (false, _) => format!("<nioxide.{class} closed>"),
        (true, Some(addr)) => format!("<nioxide.{class} fd={fd} local={addr}>"),
        (true, None) => format!("<nioxide.{class} fd={fd}>"),
    }
}

/// The `#[pymethods]` of a channel class: its own `methods`, then the methods every channel
/// has (Java's `NetworkChannel` and `SelectableChannel`), written once.
macro_rules! channel_methods {
    ($class:ident, $core:ty, $name:literal, { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            $($methods)*

            #[getter]
            fn local_address<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
                optional_address(py, self.inner.local_address())
            }

            fn configure_blocking(&self, block: bool) -> PyResult<()> {
                self.inner.configure_blocking(block).map_err(to_pyerr)
            }

            fn is_blocking(&self) -> bool {
                self.inner.is_blocking()
            }

            fn is_registered(&self) -> bool {
                self.inner.is_registered()
            }

            fn set_option(&self, opt: i64, value: i64) -> PyResult<()> {
                self.inner.set_option(option(opt)?, value).map_err(to_pyerr)
            }

            fn get_option(&self, opt: i64) -> PyResult<i64> {
                self.inner.get_option(option(opt)?).map_err(to_pyerr)
            }

            fn supported_options(&self) -> Vec<i64> {
                option_numbers(self.inner.supported_options())
            }

            #[pyo3(signature = (selector, ops, attachment=None))]
            fn register(
                slf: &Bound<'_, Self>,
                selector: &Bound<'_, Selector>,
                #[pyo3(from_py_with = crate::selector::interest_ops)] ops: u32,
                attachment: Option<Py<PyAny>>,
            ) -> PyResult<Py<SelectionKey>> {
                let channel = Channel::from(slf.get().inner.clone());
                super::register(slf.as_any(), channel, selector, ops, attachment)
            }

            fn fileno(&self) -> i32 {
                if self.inner.is_open() {
                    self.inner.fd()
                } else {
                    -1
                }
            }

            #[staticmethod]
            fn from_socket(sock: &Bound<'_, PyAny>) -> PyResult<Self> {
                let fd = super::socket_fd(sock)?;
                // The socket object lets go of its descriptor only once the channel has it;
                // if it refuses, the adoption is undone and the socket is as it was.
                let inner = <$core>::from_fd_then(fd, |_| sock.call_method0("detach").map(drop))
                    .map_err(to_pyerr)??;
                Ok(Self::from(inner))
            }

            fn detach(&self, py: Python<'_>) -> PyResult<i32> {
                // Waits for calls in flight on other threads, which may need the GIL back.
                gil::blocking(py, to_pyerr, || self.inner.detach())
            }

            fn close(&self) {
                self.inner.close();
            }

            fn is_open(&self) -> bool {
                self.inner.is_open()
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            fn __exit__(
                &self,
                _exc_type: &Bound<'_, PyAny>,
                _exc_value: &Bound<'_, PyAny>,
                _traceback: &Bound<'_, PyAny>,
            ) -> bool {
                self.inner.close();
                false
            }

            fn __repr__(&self) -> String {
                let local = self.inner.local_address().ok().flatten();
                repr($name, self.inner.fd(), self.inner.is_open(), local)
            }
        }

        impl Drop for $class {
            /// A channel whose last object goes away open, and which no selector key or
            /// loop watch holds (those keep it, and `key.channel` makes a new object), is
            /// abandoned: a `ResourceWarning`, and closed (as `socket.socket` does).
            fn drop(&mut self) {
                if self.inner.is_open() && !self.inner.is_registered() {
                    crate::error::warn_unclosed(&self.__repr__());
                    self.inner.close();
                }
            }
        }
    };
}

channel_methods!(SocketChannel, nx::SocketChannel, "SocketChannel", {
    #[new]
    #[pyo3(signature = (family=None))]
    fn new(family: Option<i32>) -> PyResult<Self> {
        let inner = match super::family(family)? {
            None => nx::SocketChannel::open(),
            Some(f) => nx::SocketChannel::open_family(f),
        };
        Ok(SocketChannel::from(inner.map_err(to_pyerr)?))
    }

    fn connect(&self, py: Python<'_>, address: &Bound<'_, PyAny>) -> PyResult<bool> {
        let addr = socket_addr(address, self.inner.family())?;
        gil::blocking(py, to_pyerr, || self.inner.connect(addr))
    }

    fn finish_connect(&self, py: Python<'_>) -> PyResult<bool> {
        gil::blocking(py, to_pyerr, || self.inner.finish_connect())
    }

    fn is_connection_pending(&self) -> bool {
        self.inner.is_connection_pending()
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    fn is_input_shutdown(&self) -> bool {
        self.inner.is_input_shutdown()
    }

    fn is_output_shutdown(&self) -> bool {
        self.inner.is_output_shutdown()
    }

    fn bind(&self, address: &Bound<'_, PyAny>) -> PyResult<()> {
        let addr = socket_addr(address, self.inner.family())?;
        self.inner.bind(addr).map_err(to_pyerr)
    }

    fn read_into(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        let export = Buffer::get(buffer, true)?;
        let raw = export.raw();
        if !self.inner.is_blocking() {
            // Never waits and takes no lock (see `try_read`): no need to release the GIL.
            // SAFETY: `export` is writable and held until the call returns.
            return self
                .inner
                .try_read(unsafe { raw.slice_mut() })
                .map_err(to_pyerr);
        }
        // SAFETY: `export` is writable and held until the call returns.
        gil::blocking(py, to_pyerr, move || {
            self.inner.read(unsafe { raw.slice_mut() })
        })
    }

    fn read<'py>(&self, py: Python<'py>, n: i64) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let n = usize::try_from(n).map_err(|_| invalid("n must be >= 0"))?;
        // A read returns what is there, at most `n` bytes: a larger buffer than any read can
        // fill would only risk the allocation (which aborts the process when it fails).
        let mut data = vec![0u8; n.min(MAX_READ)];
        let got = if self.inner.is_blocking() {
            gil::blocking(py, to_pyerr, || self.inner.read(&mut data))?
        } else {
            self.inner.try_read(&mut data).map_err(to_pyerr)?
        };
        Ok(got.map(|len| PyBytes::new(py, &data[..len])))
    }

    fn readv_into(&self, py: Python<'_>, buffers: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        let exports = Buffer::get_all(buffers, true)?;
        let raws: Vec<_> = exports.iter().map(Buffer::raw).collect();
        gil::blocking(py, to_pyerr, move || {
            // SAFETY: the exports are writable and held until the call returns; a caller
            // passing one buffer twice gets what two overlapping reads give.
            let mut slices = unsafe { io_slices_mut(&raws) };
            self.inner.read_vectored(&mut slices)
        })
    }

    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let export = Buffer::get(data, false)?;
        let raw = export.raw();
        if !self.inner.is_blocking() {
            // Never waits and takes no lock (see `try_write`): no need to release the GIL.
            // SAFETY: the export is held until the call returns.
            return self
                .inner
                .try_write(unsafe { raw.slice() })
                .map_err(to_pyerr);
        }
        // SAFETY: the export is held until the call returns.
        gil::blocking(py, to_pyerr, move || {
            self.inner.write(unsafe { raw.slice() })
        })
    }

    fn writev(&self, py: Python<'_>, buffers: &Bound<'_, PyAny>) -> PyResult<usize> {
        let exports = Buffer::get_all(buffers, false)?;
        let raws: Vec<_> = exports.iter().map(Buffer::raw).collect();
        gil::blocking(py, to_pyerr, move || {
            // SAFETY: the exports are held until the call returns.
            let slices = unsafe { io_slices(&raws) };
            self.inner.write_vectored(&slices)
        })
    }

    fn shutdown_input(&self) -> PyResult<()> {
        self.inner.shutdown_input().map_err(to_pyerr)
    }

    fn shutdown_output(&self) -> PyResult<()> {
        self.inner.shutdown_output().map_err(to_pyerr)
    }

    #[getter]
    fn remote_address<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        optional_address(py, self.inner.remote_address())
    }
});

channel_methods!(
    ServerSocketChannel,
    nx::ServerSocketChannel,
    "ServerSocketChannel",
    {
        #[new]
        #[pyo3(signature = (family=None))]
        fn new(family: Option<i32>) -> PyResult<Self> {
            let inner = match super::family(family)? {
                None => nx::ServerSocketChannel::open(),
                Some(f) => nx::ServerSocketChannel::open_family(f),
            };
            Ok(ServerSocketChannel::from(inner.map_err(to_pyerr)?))
        }

        #[pyo3(signature = (address, backlog=0))]
        fn bind(&self, address: &Bound<'_, PyAny>, backlog: i32) -> PyResult<()> {
            let addr = socket_addr(address, self.inner.family())?;
            self.inner.bind(addr, backlog).map_err(to_pyerr)
        }

        fn accept(&self, py: Python<'_>) -> PyResult<Option<SocketChannel>> {
            let accepted = if self.inner.is_blocking() {
                gil::blocking(py, to_pyerr, || self.inner.accept())?
            } else {
                self.inner.try_accept().map_err(to_pyerr)?
            };
            Ok(accepted.map(SocketChannel::from))
        }
    }
);
