//! One Python object per core object: the binding slot core keeps on each selection key and
//! channel holds a weak reference to its Python wrapper.
//!
//! A call that hands a core object to Python (a selected key, `key.channel`) first looks for
//! a live wrapper there, so the same Python object comes back each time; if the wrapper died
//! it makes a new one (all state lives in core, so nothing is lost) and records it. A weak
//! reference keeps no cycle through Rust that Python's garbage collector could not see.

use std::any::Any;

use pyo3::PyClass;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;

/// What the binding slot holds: a weak reference to the wrapper.
type Slot = Py<PyWeakrefReference>;

/// The weak reference recorded in a binding slot, cloned out of it (so the caller upgrades it
/// after core's lock on the slot is released).
pub(crate) fn recorded(py: Python<'_>, slot: Option<&(dyn Any + Send + Sync)>) -> Option<Slot> {
    slot.and_then(|value| value.downcast_ref::<Slot>())
        .map(|weak| weak.clone_ref(py))
}

/// The live wrapper a weak reference from [`recorded`] points to, if it is still alive.
pub(crate) fn live<'py, T: PyClass>(py: Python<'py>, weak: Option<Slot>) -> Option<Bound<'py, T>> {
    let object = weak?.into_bound(py).upgrade()?;
    object.cast_into::<T>().ok()
}

/// What to store in a binding slot for `object`.
pub(crate) fn record(object: &Bound<'_, PyAny>) -> PyResult<Box<dyn Any + Send + Sync>> {
    Ok(Box::new(PyWeakrefReference::new(object)?.unbind()))
}
