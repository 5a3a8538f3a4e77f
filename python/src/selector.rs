//! `nioxide.Selector` and `nioxide.SelectionKey`: thin wrappers over core's
//! [`selector`](nioxide_core::selector), with Python's conventions (seconds as floats, `None`
//! for "forever", lists, context managers).
//!
//! The same `SelectionKey` object comes back for a channel each time (see [`crate::binding`]).
//! Attachments are Python objects kept in core (`Box<Py<PyAny>>`); for the garbage collector
//! they belong to the `Selector` that holds their keys, whose `__traverse__` visits each one
//! exactly once and whose `__clear__` closes it. A `SelectionKey` object holds its `Selector`,
//! so a key ↔ attachment cycle is a Python cycle through the selector and is collected.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nioxide_core::selector::{self as nx, Attachment};
use pyo3::exceptions::PyOverflowError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::{PyTraverseError, intern};

use crate::binding;
use crate::channel;
use crate::error::{invalid, selector_error, to_pyerr, warn_unclosed};
use crate::gil;
use crate::live::{Class, Live};

/// A multiplexor of channels (Java's `Selector`); see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct Selector {
    pub(crate) inner: nx::Selector,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
    /// Closed by the collector (`__clear__`) while still open: warned of when it is freed.
    cleared_open: AtomicBool,
    /// The epoll descriptor's number while it was open, for the warning (a close releases
    /// the descriptor, and the collector's close comes before the warning).
    fd: i32,
}

/// A channel's registration with a selector (Java's `SelectionKey`).
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct SelectionKey {
    key: nx::SelectionKey,
    selector: Py<Selector>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// Longer than any wait can be (about 136 years): as good as forever, and still small enough
/// to add to an `Instant` (a larger duration would overflow it).
pub(crate) const FOREVER: Duration = Duration::from_secs(1 << 32);

/// Seconds as Python gives them (`None` = forever; `<= 0` = do not wait, as `selectors` does).
pub(crate) fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_nan() => Err(invalid("timeout must be a number or None")),
        Some(s) if s <= 0.0 => Ok(Some(Duration::ZERO)),
        // Too long to represent, or to add to a clock reading: as good as forever.
        Some(s) => Ok(Duration::try_from_secs_f64(s).ok().filter(|d| *d < FOREVER)),
    }
}

/// A Python attachment as core stores it (`None` stores nothing).
/// Interest ops from Python (`register`, `interest_ops`, a watch's `interest`): an `int` of
/// `OP_*` bits. A negative number, or one beyond 32 bits, is no mask: `InvalidArgumentError` (a
/// `ValueError`, as for unsupported bits) rather than the `OverflowError` of a plain `u32`.
pub(crate) fn interest_ops(ops: &Bound<'_, PyAny>) -> PyResult<u32> {
    match ops.extract::<u32>() {
        Err(e) if e.is_instance_of::<PyOverflowError>(ops.py()) => Err(invalid(format!(
            "interest ops must be a mask of OP_* bits, not {}",
            ops.repr()?
        ))),
        extracted => extracted,
    }
}

pub(crate) fn attachment(object: Option<Py<PyAny>>, py: Python<'_>) -> Option<Attachment> {
    object
        .filter(|o| !o.is_none(py))
        .map(|o| Box::new(o) as Attachment)
}

/// The Python object in a core attachment (`None` when there is none).
fn attachment_object(py: Python<'_>, attachment: Option<&Attachment>) -> Py<PyAny> {
    attachment
        .and_then(|a| a.downcast_ref::<Py<PyAny>>())
        .map_or_else(|| py.None(), |o| o.clone_ref(py))
}

/// The `SelectionKey` object of `key`, which belongs to `selector`: the live one if there is
/// one, a new one otherwise.
pub(crate) fn key_object(
    py: Python<'_>,
    selector: &Py<Selector>,
    key: nx::SelectionKey,
) -> PyResult<Py<SelectionKey>> {
    let weak = key.with_binding(|slot| binding::recorded(py, slot));
    if let Some(object) = binding::live::<SelectionKey>(py, weak) {
        return Ok(object.unbind());
    }
    let object = Bound::new(
        py,
        SelectionKey {
            key: key.clone(),
            selector: selector.clone_ref(py),
            _live: Live::new(Class::SelectionKey),
        },
    )?;
    key.set_binding(binding::record(object.as_any())?);
    Ok(object.unbind())
}

impl Selector {
    fn key_objects(
        slf: &Bound<'_, Self>,
        keys: Vec<nx::SelectionKey>,
    ) -> PyResult<Vec<Py<SelectionKey>>> {
        let owner = slf.clone().unbind();
        keys.into_iter()
            .map(|key| key_object(slf.py(), &owner, key))
            .collect()
    }

    fn selected(slf: &Bound<'_, Self>) -> PyResult<Vec<Py<SelectionKey>>> {
        let keys = slf.get().inner.selected_keys().map_err(selector_error)?;
        Self::key_objects(slf, keys)
    }

    /// The keys a select that just returned selected; none if another thread closed the
    /// selector meanwhile (the select returned because of that close).
    fn just_selected(slf: &Bound<'_, Self>) -> PyResult<Vec<Py<SelectionKey>>> {
        match slf.get().inner.selected_keys() {
            Ok(keys) => Self::key_objects(slf, keys),
            Err(_) if !slf.get().inner.is_open() => Ok(Vec::new()),
            Err(e) => Err(selector_error(e)),
        }
    }
}

#[pymethods]
impl Selector {
    #[new]
    fn new() -> PyResult<Self> {
        let inner = nx::Selector::open().map_err(to_pyerr)?;
        Ok(Selector {
            fd: inner.fd(),
            inner,
            _live: Live::new(Class::Selector),
            cleared_open: AtomicBool::new(false),
        })
    }

    #[pyo3(signature = (timeout=None))]
    fn select(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<Vec<Py<SelectionKey>>> {
        let wait = self::timeout(timeout)?;
        let inner = &slf.get().inner;
        gil::blocking(slf.py(), selector_error, || inner.select(wait))?;
        Self::just_selected(slf)
    }

    fn select_now(slf: &Bound<'_, Self>) -> PyResult<Vec<Py<SelectionKey>>> {
        let inner = &slf.get().inner;
        // Detached too: it waits for a select running in another thread.
        gil::blocking(slf.py(), selector_error, || inner.select_now())?;
        Self::just_selected(slf)
    }

    fn wakeup(&self) -> PyResult<()> {
        self.inner.wakeup().map_err(selector_error)
    }

    fn close(&self) {
        self.inner.close();
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }

    fn keys(slf: &Bound<'_, Self>) -> PyResult<Vec<Py<SelectionKey>>> {
        let keys = slf.get().inner.keys().map_err(selector_error)?;
        Self::key_objects(slf, keys)
    }

    fn selected_keys(slf: &Bound<'_, Self>) -> PyResult<Vec<Py<SelectionKey>>> {
        Self::selected(slf)
    }

    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.counters();
        let dict = PyDict::new(py);
        dict.set_item(intern!(py, "waits"), c.waits)?;
        dict.set_item(intern!(py, "ctl"), c.ctl)?;
        dict.set_item(intern!(py, "events"), c.events)?;
        dict.set_item(intern!(py, "empty_waits"), c.empty_waits)?;
        Ok(dict)
    }

    fn fileno(&self) -> i32 {
        if self.inner.is_open() {
            self.inner.fd()
        } else {
            -1
        }
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
        let state = if self.inner.is_open() {
            "open"
        } else {
            "closed"
        };
        format!("<nioxide.Selector fd={} {state}>", self.fileno())
    }

    /// Visits the attachment of every registered key, each exactly once.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A closed selector holds no attachments; in a forked child they are not visited.
        let Ok(keys) = self.inner.keys() else {
            return Ok(());
        };
        for key in keys {
            key.with_attachment(|a| match a.and_then(|a| a.downcast_ref::<Py<PyAny>>()) {
                Some(object) => visit.call(object),
                None => Ok(()),
            })?;
        }
        Ok(())
    }

    /// Breaks cycles through attachments: an unreachable selector is closed, which drops them.
    fn __clear__(&self) {
        if self.inner.is_open() {
            self.cleared_open.store(true, Ordering::Relaxed);
        }
        self.inner.close();
    }
}

impl Drop for Selector {
    /// A selector nobody can reach any more is closed (as a socket is), so its channels are
    /// free to register elsewhere or switch back to blocking mode; if it was open, with a
    /// `ResourceWarning`.
    fn drop(&mut self) {
        if self.inner.is_open() || self.cleared_open.load(Ordering::Relaxed) {
            warn_unclosed(&format!("<nioxide.Selector fd={}>", self.fd));
        }
        self.inner.close();
    }
}

#[pymethods]
impl SelectionKey {
    #[getter]
    fn get_interest_ops(&self) -> PyResult<u32> {
        self.key.interest_ops().map_err(to_pyerr)
    }

    #[setter]
    fn set_interest_ops(&self, ops: &Bound<'_, PyAny>) -> PyResult<()> {
        self.key
            .set_interest_ops(interest_ops(ops)?)
            .map_err(to_pyerr)
    }

    fn interest_ops_or(&self, #[pyo3(from_py_with = interest_ops)] ops: u32) -> PyResult<u32> {
        self.key.interest_ops_or(ops).map_err(to_pyerr)
    }

    fn interest_ops_and(&self, ops: &Bound<'_, PyAny>) -> PyResult<u32> {
        // `~OP_WRITE` is negative in Python: a mask is taken as 32 bits, two's complement.
        let bad = || invalid(format!("interest ops must be a 32-bit mask, not {ops}"));
        let ops = match ops.extract::<i64>() {
            Ok(v) if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) => v,
            Ok(_) => return Err(bad()),
            Err(e) if e.is_instance_of::<PyOverflowError>(ops.py()) => return Err(bad()),
            Err(e) => return Err(e),
        };
        self.key.interest_ops_and(ops as u32).map_err(to_pyerr)
    }

    #[getter]
    fn ready_ops(&self) -> PyResult<u32> {
        self.key.ready_ops().map_err(to_pyerr)
    }

    #[getter]
    fn attachment(&self, py: Python<'_>) -> Py<PyAny> {
        self.key.with_attachment(|a| attachment_object(py, a))
    }

    /// Replaces the attachment; returns the previous one.
    #[pyo3(signature = (obj))]
    fn attach(&self, py: Python<'_>, obj: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let previous = self.key.attach(attachment(obj, py)).map_err(to_pyerr)?;
        Ok(attachment_object(py, previous.as_ref()))
    }

    #[getter]
    fn channel(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        channel::channel_object(py, self.key.channel())
    }

    #[getter]
    fn selector(&self, py: Python<'_>) -> Py<Selector> {
        self.selector.clone_ref(py)
    }

    #[getter]
    fn get_edge_triggered(&self) -> bool {
        self.key.is_edge_triggered()
    }

    #[setter]
    fn set_edge_triggered(&self, edge: bool) -> PyResult<()> {
        self.key.set_edge_triggered(edge).map_err(to_pyerr)
    }

    fn is_readable(&self) -> PyResult<bool> {
        self.key.is_readable().map_err(to_pyerr)
    }

    fn is_writable(&self) -> PyResult<bool> {
        self.key.is_writable().map_err(to_pyerr)
    }

    fn is_acceptable(&self) -> PyResult<bool> {
        self.key.is_acceptable().map_err(to_pyerr)
    }

    fn is_connectable(&self) -> PyResult<bool> {
        self.key.is_connectable().map_err(to_pyerr)
    }

    fn is_valid(&self) -> bool {
        self.key.is_valid()
    }

    fn cancel(&self) {
        self.key.cancel();
    }

    fn __repr__(&self) -> String {
        match (self.key.interest_ops(), self.key.ready_ops()) {
            (Ok(interest), Ok(ready)) => {
                format!("<nioxide.SelectionKey interest_ops={interest} ready_ops={ready}>")
            }
            _ => "<nioxide.SelectionKey cancelled>".to_owned(),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.selector)
    }
}
