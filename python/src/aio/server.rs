//! `nioxide.AsynchronousServerSocketChannel`: core's
//! [`AsynchronousServerSocketChannel`](nx::AsynchronousServerSocketChannel); an accepted
//! connection is handed over as its `AsynchronousSocketChannel` object.

use std::sync::Arc;

use nioxide_core::aio as nx;
use nioxide_core::channel::Family;
use pyo3::prelude::*;

use super::group::AsynchronousChannelGroup;
use super::start;
use crate::channel::{family, socket_addr};
use crate::error::to_pyerr;
use crate::event_loop::callback::LoopState;
use crate::event_loop::promise::Future;
use crate::live::{Class, Live};

/// An asynchronous TCP listener; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct AsynchronousServerSocketChannel {
    core: nx::AsynchronousServerSocketChannel,
    /// The family asked for at open (`""` binds the any-address of this family).
    family: Family,
    state: Arc<LoopState>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

aio_channel_methods!(AsynchronousServerSocketChannel, {
    #[staticmethod]
    #[pyo3(signature = (group = None, family = None))]
    fn open(
        py: Python<'_>,
        group: Option<&Bound<'_, AsynchronousChannelGroup>>,
        family: Option<i32>,
    ) -> PyResult<Self> {
        let group = AsynchronousChannelGroup::or_default(py, group)?;
        let g = &group.get().core;
        let asked = self::family(family)?;
        let core = match asked {
            None => nx::AsynchronousServerSocketChannel::open(g),
            Some(f) => nx::AsynchronousServerSocketChannel::open_family(g, f),
        }
        .map_err(to_pyerr)?;
        let state = match group.get().state_of(core.event_loop()) {
            Ok(state) => state,
            Err(e) => {
                core.close();
                return Err(e);
            }
        };
        Ok(AsynchronousServerSocketChannel {
            core,
            family: asked.unwrap_or(Family::V6),
            state,
            _live: Live::new(Class::AsynchronousServerSocketChannel),
        })
    }

    #[pyo3(signature = (address, backlog = 0))]
    fn bind(&self, address: &Bound<'_, PyAny>, backlog: i32) -> PyResult<()> {
        let addr = socket_addr(address, self.family)?;
        self.core.bind(addr, backlog).map_err(to_pyerr)
    }

    #[pyo3(signature = (attachment = None, handler = None))]
    fn accept(
        &self,
        py: Python<'_>,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Py<Future>>> {
        let core = &self.core;
        start(
            py,
            &self.state,
            attachment,
            handler,
            super::socket::accepted,
            (),
            |(), h| core.accept(h),
            |()| core.accept_future(),
        )
    }

    fn __repr__(&self) -> String {
        let state = if self.core.is_open() {
            "open"
        } else {
            "closed"
        };
        match self.core.local_address().ok().flatten() {
            Some(local) => {
                format!("<nioxide.AsynchronousServerSocketChannel {state} local={local}>")
            }
            None => format!("<nioxide.AsynchronousServerSocketChannel {state}>"),
        }
    }
});
