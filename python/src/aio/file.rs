//! `nioxide.AsynchronousFileChannel` and `nioxide.FileLock`: core's
//! [`AsynchronousFileChannel`](nx::AsynchronousFileChannel) (positional reads and writes on
//! the group's pool of blocking threads, completions on the channel's loop thread) and its
//! locks. Options are Java's `StandardOpenOption` names in lower case.

use std::path::PathBuf;
use std::sync::Arc;

use nioxide_core::aio::{self as nx, OpenOptions};
use nioxide_core::event_loop::{Failure, Promise};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::group::AsynchronousChannelGroup;
use super::{Completion, borrow, count, read_count, start};
use crate::error::{invalid, to_pyerr};
use crate::event_loop::callback::LoopState;
use crate::event_loop::promise::Future;
use crate::gil;
use crate::live::{Class, Live};

/// A file with asynchronous positional I/O; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct AsynchronousFileChannel {
    core: nx::AsynchronousFileChannel,
    state: Arc<LoopState>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// A lock on a region of a file; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen)]
#[derive(Debug)]
pub(crate) struct FileLock {
    core: nx::FileLock,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// The `FileLock` object of a lock taken.
pub(crate) fn lock_object(py: Python<'_>, core: nx::FileLock) -> PyResult<Bound<'_, PyAny>> {
    let lock = FileLock {
        core,
        _live: Live::new(Class::FileLock),
    };
    Ok(Bound::new(py, lock)?.into_any())
}

/// The open options named by `options` (at least one of `"read"` and `"write"`).
fn open_options(options: &Bound<'_, PyTuple>) -> PyResult<OpenOptions> {
    let mut open = OpenOptions::default();
    for option in options.iter() {
        let name: String = option.str()?.extract()?;
        match name.to_ascii_lowercase().as_str() {
            "read" => open.read = true,
            "write" => open.write = true,
            "create" => open.create = true,
            "create_new" => open.create_new = true,
            "truncate_existing" | "truncate" => open.truncate = true,
            other => {
                return Err(invalid(format!(
                    "unknown open option {other:?} (read, write, create, create_new, \
                     truncate_existing)"
                )));
            }
        }
    }
    if options.is_empty() {
        open.read = true;
    }
    Ok(open)
}

/// A file position or size: non-negative (`ValueError` otherwise, as Java's
/// `IllegalArgumentException`).
fn position(value: i64, what: &str) -> PyResult<u64> {
    u64::try_from(value).map_err(|_| invalid(format!("{what} must be non-negative, not {value}")))
}

#[pymethods]
impl AsynchronousFileChannel {
    #[staticmethod]
    #[pyo3(signature = (path, *options, group = None))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        options: &Bound<'_, PyTuple>,
        group: Option<&Bound<'_, AsynchronousChannelGroup>>,
    ) -> PyResult<Self> {
        let group = AsynchronousChannelGroup::or_default(py, group)?;
        let open = open_options(options)?;
        let g = group.get().core.clone();
        // Opening a file may block (a network file system): without the GIL.
        let core = gil::blocking(py, to_pyerr, || {
            nx::AsynchronousFileChannel::open(&g, &path, open)
        })?;
        let state = match group.get().state_of(core.event_loop()) {
            Ok(state) => state,
            Err(e) => {
                core.close();
                return Err(e);
            }
        };
        Ok(AsynchronousFileChannel {
            core,
            state,
            _live: Live::new(Class::AsynchronousFileChannel),
        })
    }

    #[pyo3(signature = (buffer, position, attachment = None, handler = None))]
    fn read(
        &self,
        buffer: &Bound<'_, PyAny>,
        position: i64,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Py<Future>>> {
        let at = self::position(position, "position")?;
        let bufs = borrow(buffer, true)?;
        let core = &self.core;
        start(
            buffer.py(),
            &self.state,
            attachment,
            handler,
            read_count,
            bufs,
            |b, h| core.read(b, at, h),
            |b| core.read_future(b, at),
        )
    }

    #[pyo3(signature = (buffer, position, attachment = None, handler = None))]
    fn write(
        &self,
        buffer: &Bound<'_, PyAny>,
        position: i64,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Py<Future>>> {
        let at = self::position(position, "position")?;
        let bufs = borrow(buffer, false)?;
        let core = &self.core;
        start(
            buffer.py(),
            &self.state,
            attachment,
            handler,
            count,
            bufs,
            |b, h| core.write(b, at, h),
            |b| core.write_future(b, at),
        )
    }

    fn size(&self, py: Python<'_>) -> PyResult<u64> {
        let core = &self.core;
        gil::blocking(py, to_pyerr, || core.size())
    }

    fn truncate(&self, py: Python<'_>, size: i64) -> PyResult<()> {
        let size = position(size, "size")?;
        let core = &self.core;
        gil::blocking(py, to_pyerr, || core.truncate(size))
    }

    #[pyo3(signature = (metadata = false))]
    fn force(&self, py: Python<'_>, metadata: bool) -> PyResult<()> {
        let core = &self.core;
        gil::blocking(py, to_pyerr, || core.force(metadata))
    }

    #[pyo3(signature = (position = 0, size = 0, shared = false, attachment = None, handler = None))]
    fn lock(
        &self,
        py: Python<'_>,
        position: i64,
        size: i64,
        shared: bool,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Py<Future>>> {
        let at = self::position(position, "position")?;
        let size = self::position(size, "size")?;
        if let Some(handler) = handler {
            let completion = Completion::new(self.state.clone(), attachment, handler)?;
            let h = super::handler(completion, lock_object);
            self.core.lock(at, size, shared, h).map_err(to_pyerr)?;
            return Ok(None);
        }
        super::future_only(attachment)?;
        // Core's lock future holds a `FileLock` Python cannot take out of it: this one holds
        // its Python object. (A lock cannot be cancelled once asked for, as in core.)
        let promise = Promise::new(Some(self.core.event_loop()));
        let completing = promise.clone();
        let state = self.state.clone();
        let h = nx::Handler::new(move |result: nioxide_core::Result<nx::FileLock>| {
            gil::attach_loop(move |py| match result {
                Ok(core) => match lock_object(py, core) {
                    Ok(object) => {
                        let kept = object.clone().unbind();
                        if !completing.try_success(Some(Box::new(object.unbind()))) {
                            release_unused(py, kept);
                        }
                    }
                    Err(err) => {
                        completing.try_failure(state.failure(py, None, err));
                    }
                },
                Err(error) => {
                    completing.try_failure(Failure::new(error));
                }
            });
        });
        self.core.lock(at, size, shared, h).map_err(to_pyerr)?;
        Ok(Some(Future::new_object(
            py,
            promise,
            self.state.clone(),
            false,
        )?))
    }

    #[pyo3(signature = (position = 0, size = 0, shared = false))]
    fn try_lock<'py>(
        &self,
        py: Python<'py>,
        position: i64,
        size: i64,
        shared: bool,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let at = self::position(position, "position")?;
        let size = self::position(size, "size")?;
        match self.core.try_lock(at, size, shared).map_err(to_pyerr)? {
            Some(lock) => Ok(Some(lock_object(py, lock)?)),
            None => Ok(None),
        }
    }

    fn is_open(&self) -> bool {
        self.core.is_open()
    }

    fn close(&self, py: Python<'_>) {
        // Waits for a system call of a pending operation on its memory: without the GIL.
        let core = &self.core;
        let _ = gil::blocking(py, to_pyerr, || {
            core.close();
            Ok(())
        });
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        let state = if self.core.is_open() {
            "open"
        } else {
            "closed"
        };
        format!("<nioxide.AsynchronousFileChannel {state}>")
    }
}

impl Drop for AsynchronousFileChannel {
    /// A file channel whose object goes away open gets a `ResourceWarning` and is closed.
    fn drop(&mut self) {
        if self.core.is_open() {
            crate::error::warn_unclosed(&self.__repr__());
            self.core.close();
        }
    }
}

/// Releases the lock of a `FileLock` object no future took (its future was cancelled).
fn release_unused(py: Python<'_>, object: Py<PyAny>) {
    if let Ok(lock) = object.bind(py).cast::<FileLock>() {
        let _ = lock.get().core.release();
    }
}

#[pymethods]
impl FileLock {
    #[getter]
    fn position(&self) -> u64 {
        self.core.position()
    }

    #[getter]
    fn size(&self) -> u64 {
        self.core.size()
    }

    fn is_shared(&self) -> bool {
        self.core.is_shared()
    }

    fn is_valid(&self) -> bool {
        self.core.is_valid()
    }

    fn release(&self) -> PyResult<()> {
        self.core.release().map_err(to_pyerr)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.release()?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let kind = if self.core.is_shared() {
            "shared"
        } else {
            "exclusive"
        };
        let valid = if self.core.is_valid() {
            "valid"
        } else {
            "released"
        };
        format!(
            "<nioxide.FileLock {kind} position={} size={} {valid}>",
            self.core.position(),
            self.core.size()
        )
    }
}
