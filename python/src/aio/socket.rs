//! `nioxide.AsynchronousSocketChannel`: core's
//! [`AsynchronousSocketChannel`](nx::AsynchronousSocketChannel) with Python handlers,
//! futures and buffers (see [`super`]). A read at end of stream gives -1, as in Java.

use std::sync::Arc;

use nioxide_core::aio::{self as nx, QueueFullPolicy};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::group::AsynchronousChannelGroup;
use super::{borrow, count, nothing, read_count, start};
use crate::binding;
use crate::channel::{family, live_or_new, optional_address, socket_addr};
use crate::error::{invalid, to_pyerr};
use crate::event_loop::callback::LoopState;
use crate::event_loop::promise::Future;
use crate::live::{Class, Live};
use crate::selector::timeout;

/// An asynchronous TCP connection; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct AsynchronousSocketChannel {
    core: nx::AsynchronousSocketChannel,
    /// The Python state of the channel's loop (its exception handler, its futures).
    state: Arc<LoopState>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// The Python object of a channel nioxide made (an accepted one): the live one recorded in
/// its binding slot, or a new one.
pub(crate) fn accepted(
    py: Python<'_>,
    core: nx::AsynchronousSocketChannel,
) -> PyResult<Bound<'_, PyAny>> {
    let weak = core.with_binding(|slot| binding::recorded(py, slot));
    let state = super::loop_state(core.event_loop())?;
    let object = live_or_new(py, weak, || {
        AsynchronousSocketChannel::wrap(core.clone(), state)
    })?;
    core.set_binding(binding::record(&object)?);
    Ok(object)
}

impl AsynchronousSocketChannel {
    fn wrap(core: nx::AsynchronousSocketChannel, state: Arc<LoopState>) -> Self {
        AsynchronousSocketChannel {
            core,
            state,
            _live: Live::new(Class::AsynchronousSocketChannel),
        }
    }
}

aio_channel_methods!(AsynchronousSocketChannel, {
    #[staticmethod]
    #[pyo3(signature = (group = None, family = None))]
    fn open<'py>(
        py: Python<'py>,
        group: Option<&Bound<'py, AsynchronousChannelGroup>>,
        family: Option<i32>,
    ) -> PyResult<Bound<'py, Self>> {
        let group = AsynchronousChannelGroup::or_default(py, group)?;
        let g = &group.get().core;
        let core = match self::family(family)? {
            None => nx::AsynchronousSocketChannel::open(g),
            Some(f) => nx::AsynchronousSocketChannel::open_family(g, f),
        }
        .map_err(to_pyerr)?;
        let state = match group.get().state_of(core.event_loop()) {
            Ok(state) => state,
            Err(e) => {
                core.close();
                return Err(e);
            }
        };
        let object = Bound::new(py, Self::wrap(core, state))?;
        let this = object.get();
        this.core.set_binding(binding::record(object.as_any())?);
        Ok(object)
    }

    fn bind(&self, address: &Bound<'_, PyAny>) -> PyResult<()> {
        let addr = socket_addr(address, self.core.channel().family())?;
        self.core.bind(addr).map_err(to_pyerr)
    }

    #[pyo3(signature = (address, attachment = None, handler = None, *, timeout = None))]
    fn connect(
        &self,
        address: &Bound<'_, PyAny>,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<Future>>> {
        let addr = socket_addr(address, self.core.channel().family())?;
        let limit = self::timeout(timeout)?;
        let core = &self.core;
        start(
            address.py(),
            &self.state,
            attachment,
            handler,
            nothing,
            (),
            |(), h| core.connect(addr, limit, h),
            |()| core.connect_future(addr, limit),
        )
    }

    #[pyo3(signature = (buffer, attachment = None, handler = None, *, timeout = None))]
    fn read(
        &self,
        buffer: &Bound<'_, PyAny>,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<Future>>> {
        let limit = self::timeout(timeout)?;
        let bufs = borrow(buffer, true)?;
        let core = &self.core;
        start(
            buffer.py(),
            &self.state,
            attachment,
            handler,
            read_count,
            bufs,
            |b, h| core.read(b, limit, h),
            |b| core.read_future(b, limit),
        )
    }

    #[pyo3(signature = (buffer, attachment = None, handler = None, *, timeout = None))]
    fn write(
        &self,
        buffer: &Bound<'_, PyAny>,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<Future>>> {
        let limit = self::timeout(timeout)?;
        let bufs = borrow(buffer, false)?;
        let core = &self.core;
        start(
            buffer.py(),
            &self.state,
            attachment,
            handler,
            count,
            bufs,
            |b, h| core.write(b, limit, h),
            |b| core.write_future(b, limit),
        )
    }

    #[pyo3(signature = (buffer, attachment = None, handler = None))]
    fn write_all(
        &self,
        buffer: &Bound<'_, PyAny>,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Py<Future>>> {
        let bufs = borrow(buffer, false)?;
        let core = &self.core;
        start(
            buffer.py(),
            &self.state,
            attachment,
            handler,
            count,
            bufs,
            |b, h| core.write_all(b, h),
            |b| core.write_all_future(b),
        )
    }

    #[pyo3(signature = (cap, policy = "fail"))]
    fn set_write_queue_cap(&self, cap: usize, policy: &str) -> PyResult<()> {
        let policy = match policy {
            "fail" => QueueFullPolicy::FailNewCall,
            "close" => QueueFullPolicy::Close,
            other => {
                return Err(invalid(format!(
                    "policy must be 'fail' or 'close', not {other:?}"
                )));
            }
        };
        self.core.set_write_queue_cap(cap, policy);
        Ok(())
    }

    #[getter]
    fn queued_bytes(&self) -> usize {
        self.core.queued_bytes()
    }

    fn shutdown_input(&self) -> PyResult<()> {
        self.core.shutdown_input().map_err(to_pyerr)
    }

    fn shutdown_output(&self) -> PyResult<()> {
        self.core.shutdown_output().map_err(to_pyerr)
    }

    #[getter]
    fn remote_address<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        optional_address(py, self.core.remote_address())
    }

    fn fileno(&self) -> i32 {
        if self.core.is_open() {
            self.core.channel().fd()
        } else {
            -1
        }
    }

    fn __repr__(&self) -> String {
        let state = if self.core.is_open() {
            "open"
        } else {
            "closed"
        };
        match self.core.remote_address().ok().flatten() {
            Some(peer) => format!("<nioxide.AsynchronousSocketChannel {state} peer={peer}>"),
            None => format!("<nioxide.AsynchronousSocketChannel {state}>"),
        }
    }
});
