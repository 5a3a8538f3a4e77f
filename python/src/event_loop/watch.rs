//! `nioxide.Watch`: a readiness watch on an event loop (core's [`Watch`](nx::Watch), libuv's
//! `uv_poll_t`). The callback is a call registered on the loop (see [`super::callback`]), so
//! the watch object holds no Python object itself.

use std::sync::Arc;

use nioxide_core::channel::Channel;
use nioxide_core::event_loop as nx;
use pyo3::prelude::*;

use super::callback::LoopState;
use crate::channel;
use crate::error::to_pyerr;
use crate::live::{Class, Live};

/// A readiness watch; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct Watch {
    core: nx::Watch,
    state: Arc<LoopState>,
    /// The registry ticket of the callback.
    id: u64,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

impl Watch {
    pub(crate) fn new(core: nx::Watch, state: Arc<LoopState>, id: u64) -> Watch {
        Watch {
            core,
            state,
            id,
            _live: Live::new(Class::Watch),
        }
    }
}

#[pymethods]
impl Watch {
    #[getter]
    fn get_interest(&self) -> PyResult<u32> {
        self.core.interest().map_err(to_pyerr)
    }

    #[setter]
    fn set_interest(&self, ops: &Bound<'_, PyAny>) -> PyResult<()> {
        let ops = crate::selector::interest_ops(ops)?;
        self.core.set_interest(ops).map_err(to_pyerr)
    }

    /// The watched channel object, or the descriptor number of a raw descriptor.
    #[getter]
    fn channel(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.core.channel() {
            Channel::Fd(fd) => Ok(fd.fd().into_pyobject(py)?.into_any().unbind()),
            other => channel::channel_object(py, other),
        }
    }

    fn close(&self) {
        self.core.close();
        // Dropping the callback released its call; this is for a watch the loop never ran.
        self.state.forget(self.id);
    }

    fn is_active(&self) -> bool {
        self.core.is_active()
    }

    #[pyo3(name = "ref")]
    fn ref_(&self) {
        self.core.set_ref(true);
    }

    fn unref(&self) {
        self.core.set_ref(false);
    }

    fn has_ref(&self) -> bool {
        self.core.has_ref()
    }

    fn __repr__(&self) -> String {
        match self.core.interest() {
            Ok(ops) if self.core.is_active() => format!("<nioxide.Watch interest={ops}>"),
            _ => "<nioxide.Watch closed>".to_owned(),
        }
    }
}
