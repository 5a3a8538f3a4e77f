//! Completion-handler AIO (Java NIO.2) for Python: thin wrappers over core's
//! [`aio`](nioxide_core::aio). [`group`] has `AsynchronousChannelGroup`, [`server`]
//! `AsynchronousServerSocketChannel`, [`socket`] `AsynchronousSocketChannel` and [`file`]
//! `AsynchronousFileChannel` with `FileLock`; this file has what they share.
//!
//! # Handlers
//!
//! A Python handler is an object with `completed(result, attachment)` and
//! `failed(exc, attachment)`, or a pair of callables. It becomes one [`Completion`]: a
//! [`Call`] of `completed` with the attachment, in the `contextvars` context of the starting
//! call, and `failed` beside it. Core runs the handler on the channel's loop thread inside the
//! loop's callback scope, which holds the GIL for the whole phase, so a turn takes the GIL once
//! for all its handlers; the one exception is an operation a loop shutdown drops, whose handler
//! runs on the dropping thread, so the handler attaches itself ([`gil::attach_loop`], a counter
//! increment when the scope holds the GIL already). An exception a handler raises goes to the
//! loop's exception handler and the loop goes on.
//!
//! # Buffers
//!
//! A buffer is borrowed through the buffer protocol: the export is the operation's keep-alive
//! owner ([`IoBufs::from_raw`]), held until core lets go of the memory, right before the
//! handler starts or the future completes. While it is held a `bytearray` cannot be resized
//! (`BufferError`), so the memory stays put, and nothing is copied.
//!
//! # Futures
//!
//! Without a handler an operation returns a `nioxide.Future` over core's promise (so
//! cancelling it cancels the operation); its value is converted when Python reads it
//! ([`future_value`]).

/// The `#[pymethods]` of a socket or server channel class: its own `methods`, then the
/// methods both have (options, local address, close, the context manager), written once; and
/// the `Drop` that closes a channel whose object goes away open, with a `ResourceWarning` (as
/// `socket.socket` does).
macro_rules! aio_channel_methods {
    ($class:ident, { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            $($methods)*

            fn set_option(&self, opt: i64, value: i64) -> PyResult<()> {
                self.core
                    .set_option(crate::channel::option(opt)?, value)
                    .map_err(crate::error::to_pyerr)
            }

            fn get_option(&self, opt: i64) -> PyResult<i64> {
                self.core
                    .get_option(crate::channel::option(opt)?)
                    .map_err(crate::error::to_pyerr)
            }

            fn supported_options(&self) -> Vec<i64> {
                crate::channel::option_numbers(self.core.supported_options())
            }

            #[getter]
            fn local_address<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<Option<Bound<'py, pyo3::types::PyTuple>>> {
                crate::channel::optional_address(py, self.core.local_address())
            }

            fn is_open(&self) -> bool {
                self.core.is_open()
            }

            fn close(&self) {
                self.core.close();
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
                self.core.close();
                false
            }
        }

        impl Drop for $class {
            fn drop(&mut self) {
                if self.core.is_open() {
                    crate::error::warn_unclosed(&self.__repr__());
                    self.core.close();
                }
            }
        }
    };
}

pub(crate) mod file;
pub(crate) mod group;
pub(crate) mod server;
pub(crate) mod socket;

use std::sync::{Arc, Mutex, Weak};

use nioxide_core::aio::{self as nx, IoBuf, IoBufs, ReadOutcome};
use nioxide_core::event_loop as el;
use nioxide_core::sync::lock;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use pyo3::{IntoPyObjectExt, intern};

use crate::channel::Buffer;
use crate::error::to_pyerr;
use crate::event_loop::callback::{LoopState, call_method_fast, check_callable, copy_context};
use crate::event_loop::promise::Future;
use crate::gil;

/// A Python completion handler with its attachment, ready to run once.
///
/// Its parts are kept apart (no argument tuple is made when the operation starts or when the
/// handler runs): the handler then runs as `context.run(completed, result, attachment)`.
#[derive(Debug)]
pub(crate) struct Completion {
    /// The `contextvars.Context` copied when the operation started: the handler runs in it.
    context: Py<PyAny>,
    /// `completed`: the first of a pair, or the handler's bound method.
    completed: Py<PyAny>,
    /// `failed` of a `(completed, failed)` pair, or an instance's own `failed` attribute;
    /// `None` when `failed` is a method of the handler's class, looked up only if the
    /// operation fails (most never do, and a bound method costs an allocation).
    failed: Option<Py<PyAny>>,
    /// The handler as given (for the exception handler's context, and its `failed`).
    handler: Py<PyAny>,
    /// The attachment (`None` when none was given).
    attachment: Py<PyAny>,
    state: Arc<LoopState>,
}

impl Completion {
    /// `handler` (an object with `completed` and `failed`, or a pair of callables) with
    /// `attachment`, reporting to the exception handler of the loop `state` belongs to.
    pub(crate) fn new(
        state: Arc<LoopState>,
        attachment: Option<&Bound<'_, PyAny>>,
        handler: &Bound<'_, PyAny>,
    ) -> PyResult<Completion> {
        let py = handler.py();
        let (completed, failed) = if let Ok(pair) = handler.cast::<PyTuple>() {
            if pair.len() != 2 {
                return Err(not_a_handler(handler)?);
            }
            (pair.get_item(0)?, Some(pair.get_item(1)?))
        } else {
            // One lookup each: a missing attribute is what makes it no handler.
            let Ok(completed) = handler.getattr(intern!(py, "completed")) else {
                return Err(not_a_handler(handler)?);
            };
            match handler.get_type().getattr(intern!(py, "failed")) {
                // A method of the class: checked now, bound if the operation fails.
                Ok(method) if method.is_callable() => (completed, None),
                _ => match handler.getattr(intern!(py, "failed")) {
                    Ok(failed) => (completed, Some(failed)),
                    Err(_) => return Err(not_a_handler(handler)?),
                },
            }
        };
        if let Some(failed) = &failed {
            if !failed.is_callable() {
                return Err(not_a_handler(handler)?);
            }
        }
        check_callable(&completed)?;
        let attachment = match attachment {
            Some(attachment) => attachment.clone().unbind(),
            None => py.None(),
        };
        Ok(Completion {
            context: copy_context(py)?.unbind(),
            completed: completed.unbind(),
            failed: failed.map(Bound::unbind),
            handler: handler.clone().unbind(),
            attachment,
            state,
        })
    }

    /// Runs `completed` with the value, or `failed` with the exception, in the context of
    /// the starting call; an exception from either goes to the loop's exception handler.
    fn run(self, py: Python<'_>, outcome: PyResult<Bound<'_, PyAny>>) {
        let context = self.context.bind(py);
        let attachment = self.attachment.bind(py).as_borrowed();
        let ran = match outcome {
            Ok(value) => {
                let args = [
                    self.completed.bind(py).as_borrowed(),
                    value.as_borrowed(),
                    attachment,
                ];
                call_method_fast(context, intern!(py, "run"), args)
            }
            Err(err) => {
                let exception = err.into_value(py).into_bound(py).into_any();
                let failed = match &self.failed {
                    Some(failed) => Ok(failed.bind(py).clone()),
                    None => self.handler.bind(py).getattr(intern!(py, "failed")),
                };
                failed.and_then(|failed| {
                    let args = [failed.as_borrowed(), exception.as_borrowed(), attachment];
                    call_method_fast(context, intern!(py, "run"), args)
                })
            }
        };
        if let Err(err) = ran {
            let handler = self.handler.bind(py).clone();
            self.state.report(
                py,
                None,
                err,
                "Exception in completion handler",
                &[("handler", Ok(handler))],
            );
        }
    }
}

fn not_a_handler(handler: &Bound<'_, PyAny>) -> PyResult<PyErr> {
    Ok(PyTypeError::new_err(format!(
        "a handler has completed(result, attachment) and failed(exc, attachment), or is a \
         (completed, failed) pair of callables, not '{}'",
        handler.get_type().name()?
    )))
}

/// How a core result becomes the Python value a handler or future gets.
pub(crate) type Convert<V> = for<'py> fn(Python<'py>, V) -> PyResult<Bound<'py, PyAny>>;

/// The core handler that runs `completion` with the result `convert`ed.
pub(crate) fn handler<V: 'static>(completion: Completion, convert: Convert<V>) -> nx::Handler<V> {
    nx::Handler::new(move |result: nioxide_core::Result<V>| {
        // Inside the loop's callback scope this only counts; an operation a shutdown dropped
        // reports on the dropping thread, which attaches here.
        gil::attach_loop(move |py| {
            let outcome = result.map_err(to_pyerr).and_then(|v| convert(py, v));
            completion.run(py, outcome);
        });
    })
}

/// Starts an operation on `args` (its memory, if it borrows any) with a handler (returns
/// `None`) or, without one, with a future.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start<A, V: 'static>(
    py: Python<'_>,
    state: &Arc<LoopState>,
    attachment: Option<&Bound<'_, PyAny>>,
    handler: Option<&Bound<'_, PyAny>>,
    convert: Convert<V>,
    args: A,
    with_handler: impl FnOnce(A, nx::Handler<V>) -> nioxide_core::Result<()>,
    with_future: impl FnOnce(A) -> nioxide_core::Result<el::Future>,
) -> PyResult<Option<Py<Future>>> {
    match handler {
        Some(handler) => {
            let completion = Completion::new(state.clone(), attachment, handler)?;
            with_handler(args, self::handler(completion, convert)).map_err(to_pyerr)?;
            Ok(None)
        }
        None => {
            future_only(attachment)?;
            let promise = with_future(args).map_err(to_pyerr)?;
            Ok(Some(Future::new_object(py, promise, state.clone(), false)?))
        }
    }
}

/// Refuses an attachment given without a handler (it would go nowhere: a future has none).
pub(crate) fn future_only(attachment: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    match attachment {
        Some(a) if !a.is_none() => Err(PyTypeError::new_err(
            "an attachment needs a handler (without one the operation returns a future)",
        )),
        _ => Ok(()),
    }
}

/// A count of bytes.
pub(crate) fn count(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyAny>> {
    n.into_bound_py_any(py)
}

/// A read's result: the count, or -1 at end of stream (Java's).
pub(crate) fn read_count(py: Python<'_>, outcome: ReadOutcome) -> PyResult<Bound<'_, PyAny>> {
    match outcome {
        ReadOutcome::Bytes(n) => n.into_bound_py_any(py),
        ReadOutcome::EndOfStream => (-1).into_bound_py_any(py),
    }
}

/// An operation with no value (connect): `None`.
pub(crate) fn nothing(py: Python<'_>, (): ()) -> PyResult<Bound<'_, PyAny>> {
    Ok(py.None().into_bound(py))
}

/// The Python value of an AIO future's core value (`None` for a value of another kind).
pub(crate) fn future_value(py: Python<'_>, value: &el::Value) -> Option<Py<PyAny>> {
    let converted = if let Some(n) = value.downcast_ref::<usize>() {
        count(py, *n)
    } else if let Some(outcome) = value.downcast_ref::<ReadOutcome>() {
        read_count(py, *outcome)
    } else if let Some(channel) = value.downcast_ref::<nx::AsynchronousSocketChannel>() {
        socket::accepted(py, channel.clone())
    } else {
        return None;
    };
    Some(match converted {
        Ok(object) => object.unbind(),
        Err(err) => err.into_value(py).into_any(),
    })
}

/// Borrows `object` for an operation: one bytes-like object, or a list or tuple of them (a
/// scattering read or gathering write). `writable` for reads (`bytes` is refused).
pub(crate) fn borrow(object: &Bound<'_, PyAny>, writable: bool) -> PyResult<IoBufs> {
    let region = |buffer: &Buffer| {
        let raw = buffer.raw();
        IoBuf::new(raw.ptr, raw.len)
    };
    if object.is_instance_of::<PyList>() || object.is_instance_of::<PyTuple>() {
        let exports = Buffer::get_all(object, writable)?;
        let regions: Vec<IoBuf> = exports.iter().map(region).collect();
        // SAFETY: each export keeps its memory alive and in place until the owner is
        // dropped, which core does before the handler starts; Python code cannot resize an
        // exported buffer. Overlapping regions (one buffer passed twice) only make the
        // kernel write the same bytes twice.
        return Ok(unsafe { IoBufs::from_raw_vectored(&regions, Some(Box::new(exports))) });
    }
    let export = Buffer::get(object, writable)?;
    let one = region(&export);
    // SAFETY: as above, for one export.
    Ok(unsafe { IoBufs::from_raw(one, Some(Box::new(export))) })
}

/// The Python state of every AIO group's loops, by core loop: a channel nioxide makes (an
/// accepted one) finds its loop's exception handler and futures' home here.
static STATES: Mutex<Vec<(el::WeakEventLoop, Weak<LoopState>)>> = Mutex::new(Vec::new());

/// Records the state of `event_loop`'s Python object.
pub(crate) fn remember_loop(event_loop: &el::EventLoop, state: &Arc<LoopState>) {
    let mut states = lock(&STATES);
    states.retain(|(_, state)| state.strong_count() > 0);
    states.push((event_loop.downgrade(), Arc::downgrade(state)));
}

/// The state recorded for `event_loop`.
pub(crate) fn loop_state(event_loop: &el::EventLoop) -> PyResult<Arc<LoopState>> {
    // Searched outside the lock: a loop upgraded here may be dropped as its last handle.
    let entries = lock(&STATES).clone();
    let found = entries.iter().find_map(|(lp, state)| {
        let lp = lp.upgrade()?;
        lp.same(event_loop).then(|| state.upgrade()).flatten()
    });
    found.ok_or_else(|| to_pyerr(nioxide_core::ErrorKind::Closed.into()))
}
