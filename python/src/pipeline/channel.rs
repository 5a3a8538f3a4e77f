//! `nioxide.Channel` and its kinds (`TcpChannel`, `TcpServerChannel`, `LocalChannel`,
//! `LocalServerChannel`): core's pipeline [`Channel`](nx::Channel).
//!
//! One Python object per channel: core's binding slot holds the channel's object strongly
//! while the channel is open, so its attributes (per-channel state: `ch.count = 0`) live as
//! long as the channel; once the channel's close future completes the slot keeps only a weak
//! reference, so a cycle through the attributes is the collector's to break. A channel whose
//! object died after its close gets a new one (without the old attributes).
//!
//! An exception that reaches a pipeline's tail goes to the exception handler of the channel's
//! loop (core's per-loop exception handler, [`exception_handler`]); the channel stays open.

use std::sync::{Arc, OnceLock};

use nioxide_core::event_loop::{EventLoop as CoreLoop, ExceptionHandler, Failure, Promise};
use nioxide_core::pipeline::{self as nx, ChannelKind, CloseWhen};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::types::{PyTuple, PyWeakrefReference};

use super::config;
use super::context::core_promise;
use super::handler::exception_of;
use super::list::ChannelPipeline;
use super::message::{optional_address, to_address, to_message};
use crate::error::to_pyerr;
use crate::event_loop::callback::{Call, LoopState};
use crate::event_loop::promise::Future;
use crate::event_loop::{EventLoop, state_for};
use crate::gil;
use crate::live::{Class, Live};

/// What a core channel's binding slot holds: its Python object.
enum Slot {
    /// While the channel is open.
    Strong(Py<PyAny>),
    /// Once its close future completed.
    Weak(Py<PyWeakrefReference>),
}

impl Slot {
    fn object<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        match self {
            Slot::Strong(object) => Some(object.bind(py).clone()),
            Slot::Weak(weak) => weak.bind(py).upgrade(),
        }
    }
}

/// A pipeline channel; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", subclass, frozen, dict, weakref)]
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) core: nx::Channel,
    /// The state of the channel's loop (its futures' registry, its exception handler).
    state: Arc<LoopState>,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// A TCP connection of the pipeline model.
#[pyclass(module = "nioxide._nioxide", extends = Channel, frozen)]
#[derive(Debug)]
pub(crate) struct TcpChannel;

/// A TCP listener of the pipeline model.
#[pyclass(module = "nioxide._nioxide", extends = Channel, frozen)]
#[derive(Debug)]
pub(crate) struct TcpServerChannel;

/// An in-memory connection to a `LocalServerChannel` of the same process.
#[pyclass(module = "nioxide._nioxide", extends = Channel, frozen)]
#[derive(Debug)]
pub(crate) struct LocalChannel;

/// An in-memory listener, bound to a name in the process's registry.
#[pyclass(module = "nioxide._nioxide", extends = Channel, frozen)]
#[derive(Debug)]
pub(crate) struct LocalServerChannel;

/// The initializer of a new Python object for `core`.
fn base(core: &nx::Channel) -> PyClassInitializer<Channel> {
    PyClassInitializer::from(Channel {
        core: core.clone(),
        state: state_for(core.event_loop()),
        _live: Live::new(Class::Channel),
    })
}

/// The Python object of `core`: the one it keeps, or a new one of its kind's class.
pub(crate) fn object<'py>(py: Python<'py>, core: &nx::Channel) -> PyResult<Bound<'py, Channel>> {
    let kept = core.with_binding(|slot| {
        slot.and_then(|s| s.downcast_ref::<Slot>())
            .and_then(|s| s.object(py))
    });
    if let Some(object) = kept {
        return Ok(object.cast_into::<Channel>()?);
    }
    let init = base(core);
    let object = match core.kind() {
        ChannelKind::Tcp => Bound::new(py, init.add_subclass(TcpChannel))?.into_any(),
        ChannelKind::TcpServer => Bound::new(py, init.add_subclass(TcpServerChannel))?.into_any(),
        ChannelKind::Local => Bound::new(py, init.add_subclass(LocalChannel))?.into_any(),
        ChannelKind::LocalServer => {
            Bound::new(py, init.add_subclass(LocalServerChannel))?.into_any()
        }
        ChannelKind::Embedded => Bound::new(py, init)?.into_any(),
    };
    keep(core, &object)?;
    Ok(object.cast_into::<Channel>()?)
}

/// Records `object` in `core`'s slot: strongly until the close future completes, then weakly.
fn keep(core: &nx::Channel, object: &Bound<'_, PyAny>) -> PyResult<()> {
    let close_future = core.close_future();
    if close_future.is_done() {
        core.set_binding(Some(Box::new(Slot::Weak(
            PyWeakrefReference::new(object)?.unbind(),
        ))));
        return Ok(());
    }
    core.set_binding(Some(Box::new(Slot::Strong(object.clone().unbind()))));
    let ch = core.clone();
    close_future.add_listener(Box::new(move |_| {
        let weakened = gil::attach_loop(|py| {
            let strong = ch.with_binding(|slot| {
                slot.and_then(|s| s.downcast_ref::<Slot>())
                    .and_then(|s| s.object(py))
            });
            let weak = strong.and_then(|o| PyWeakrefReference::new(&o).ok());
            ch.set_binding(weak.map(|w| Box::new(Slot::Weak(w.unbind())) as _));
        });
        if weakened.is_none() {
            ch.set_binding(None);
        }
    }));
    Ok(())
}

/// A Python future for a promise of `channel` (a `ChannelFuture`).
pub(crate) fn promise_object(
    channel: &Bound<'_, Channel>,
    promise: Promise,
    user: bool,
    owner: bool,
) -> PyResult<Py<Future>> {
    let state = channel.get().state.clone();
    Future::channel_object(channel.py(), promise, state, user, owner, channel.as_any())
}

/// The exception handler Python sets on each core loop it makes (core's
/// [`EventLoop::set_exception_handler`](nioxide_core::event_loop::EventLoop::set_exception_handler)):
/// what reaches a pipeline's tail (or a failing `exception_caught`) goes to the exception
/// handler of the loop's `EventLoop` object, with the channel under `"channel"`. Loops made
/// by C keep core's default (standard error). One shared handler for every loop.
pub(crate) fn exception_handler() -> ExceptionHandler {
    static HANDLER: OnceLock<ExceptionHandler> = OnceLock::new();
    HANDLER
        .get_or_init(|| {
            Arc::new(
                |event_loop: &CoreLoop, failure: &Failure, source: &dyn std::any::Any| {
                    gil::attach_loop(|py| {
                        let state = state_for(event_loop);
                        let err = PyErr::from_value(exception_of(py, failure));
                        let channel = source
                            .downcast_ref::<nx::Channel>()
                            .map(|c| object(py, c).map(Bound::into_any));
                        let details: Vec<(&str, PyResult<Bound<'_, PyAny>>)> =
                            channel.into_iter().map(|c| ("channel", c)).collect();
                        state.report(
                            py,
                            Some(event_loop),
                            err,
                            "An exception reached the tail of the pipeline",
                            &details,
                        );
                    });
                },
            )
        })
        .clone()
}

impl Channel {
    /// The channel loop's `EventLoop` object, while it lives.
    pub(crate) fn event_loop(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state.loop_object(py).map(Bound::unbind)
    }

    /// A new promise of the channel for Python code to pass to an operation (and complete,
    /// if it does not).
    pub(crate) fn new_promise_object(
        &self,
        py: Python<'_>,
        slf: &Py<Channel>,
    ) -> PyResult<Py<Future>> {
        promise_object(slf.bind(py), self.core.new_promise(), true, true)
    }

    /// A future core made for an operation of the channel.
    fn op_future(slf: &Bound<'_, Self>, promise: Promise) -> PyResult<Py<Future>> {
        promise_object(slf, promise, false, true)
    }
}

#[pymethods]
impl Channel {
    /// Made by bootstraps and accepts, or by `TcpChannel.open(loop)` and its kin.
    #[new]
    fn new() -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "a Channel is made by a bootstrap, or by TcpChannel.open(loop), LocalChannel.open(loop), ...",
        ))
    }

    #[getter]
    fn id(&self) -> u64 {
        self.core.id()
    }

    #[getter(event_loop)]
    fn get_event_loop(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.event_loop(py)
    }

    #[getter]
    fn parent<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, Channel>>> {
        self.core.parent().map(|p| object(py, p)).transpose()
    }

    #[getter]
    fn pipeline(&self) -> ChannelPipeline {
        ChannelPipeline::wrap(self.core.pipeline())
    }

    #[getter]
    fn local_address<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        optional_address(py, self.core.local_address())
    }

    #[getter]
    fn remote_address<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        optional_address(py, self.core.remote_address())
    }

    #[getter]
    fn close_future(slf: &Bound<'_, Self>) -> PyResult<Py<Future>> {
        promise_object(slf, slf.get().core.close_future(), false, false)
    }

    fn is_open(&self) -> bool {
        self.core.is_open()
    }

    fn is_active(&self) -> bool {
        self.core.is_active()
    }

    fn is_registered(&self) -> bool {
        self.core.is_registered()
    }

    fn is_writable(&self) -> bool {
        self.core.is_writable()
    }

    fn bytes_before_unwritable(&self) -> usize {
        self.core.bytes_before_unwritable()
    }

    fn bytes_before_writable(&self) -> usize {
        self.core.bytes_before_writable()
    }

    fn queued_bytes(&self) -> usize {
        self.core.queued_bytes()
    }

    fn set_option(&self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.core
            .set_option(config::option(name, value)?)
            .map_err(to_pyerr)
    }

    fn get_option<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        config::get(py, &self.core, name)
    }

    fn new_promise(slf: &Bound<'_, Self>) -> PyResult<Py<Future>> {
        promise_object(slf, slf.get().core.new_promise(), true, true)
    }

    fn register(slf: &Bound<'_, Self>) -> PyResult<Py<Future>> {
        Self::op_future(slf, slf.get().core.register())
    }

    fn bind(slf: &Bound<'_, Self>, local: &Bound<'_, PyAny>) -> PyResult<Py<Future>> {
        let local = to_address(local)?;
        Self::op_future(slf, slf.get().core.bind(local))
    }

    fn connect(slf: &Bound<'_, Self>, remote: &Bound<'_, PyAny>) -> PyResult<Py<Future>> {
        let remote = to_address(remote)?;
        Self::op_future(slf, slf.get().core.connect(remote))
    }

    fn close(slf: &Bound<'_, Self>) -> PyResult<Py<Future>> {
        Self::op_future(slf, slf.get().core.close())
    }

    fn read(&self) {
        self.core.read();
    }

    #[pyo3(signature = (msg, promise = None))]
    fn write(
        &self,
        msg: &Bound<'_, PyAny>,
        promise: Option<Bound<'_, Future>>,
    ) -> PyResult<Option<Py<Future>>> {
        self.core
            .write(to_message(msg)?, core_promise(promise.as_ref()));
        Ok(promise.map(Bound::unbind))
    }

    fn flush(&self) {
        self.core.flush();
    }

    #[pyo3(signature = (msg, promise = None))]
    fn write_and_flush(
        &self,
        msg: &Bound<'_, PyAny>,
        promise: Option<Bound<'_, Future>>,
    ) -> PyResult<Option<Py<Future>>> {
        self.core
            .write_and_flush(to_message(msg)?, core_promise(promise.as_ref()));
        Ok(promise.map(Bound::unbind))
    }

    fn shutdown_output(slf: &Bound<'_, Self>) -> PyResult<Py<Future>> {
        Self::op_future(slf, slf.get().core.shutdown_output())
    }

    fn shutdown_input(slf: &Bound<'_, Self>) -> PyResult<Py<Future>> {
        Self::op_future(slf, slf.get().core.shutdown_input())
    }

    #[pyo3(signature = (delay, callable, /, *args))]
    fn schedule(
        slf: &Bound<'_, Self>,
        delay: f64,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<Future>> {
        let this = slf.get();
        let mut pending = this.state.register(Call::new(callable, args.iter())?);
        let task: nx::ChannelTask = Box::new(move |ch: &nx::Channel| {
            gil::attach_loop(|py| {
                let Some(call) = pending.take() else { return };
                if let Err(err) = call.invoke(py, None) {
                    pending.state().report(
                        py,
                        Some(ch.event_loop()),
                        err,
                        "Exception in a channel's scheduled task",
                        &[("callback", call.callable(py))],
                    );
                }
            });
        });
        let future = this
            .core
            .schedule(crate::event_loop::delay(delay)?, task)
            .map_err(to_pyerr)?;
        Future::new_object(slf.py(), future, this.state.clone(), false)
    }

    /// `nioxide.CLOSE` / `CLOSE_ON_FAILURE` as a listener of `future`: core closes the channel
    /// when it completes (always, or only on failure), with no Python call.
    fn _close_when(&self, future: &Bound<'_, Future>, on_failure: bool) {
        let when = if on_failure {
            CloseWhen::OnFailure
        } else {
            CloseWhen::Always
        };
        self.core.close_when(future.get().core(), when);
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Channel>()
            .is_ok_and(|o| o.get().core.same(&self.core))
    }

    fn __hash__(&self) -> u64 {
        self.core.id()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let class = slf.get_type().name()?;
        let state = if this.core.is_active() {
            "active"
        } else if this.core.is_open() {
            "open"
        } else {
            "closed"
        };
        let mut text = format!("<nioxide.{class} id={} {state}", this.core.id());
        if let Some(local) = optional_address(py, this.core.local_address())? {
            text.push_str(&format!(" local={}", local.repr()?));
        }
        if let Some(remote) = optional_address(py, this.core.remote_address())? {
            text.push_str(&format!(" remote={}", remote.repr()?));
        }
        text.push('>');
        Ok(text)
    }
}

/// A new, unregistered channel of `kind` on `event_loop`: `register()` it, set its pipeline
/// up, then `connect()` or `bind()` (what a bootstrap does).
fn open_on<'py>(
    event_loop: &Bound<'py, EventLoop>,
    kind: ChannelKind,
) -> PyResult<Bound<'py, Channel>> {
    EventLoop::state_of(event_loop)?;
    let lp = &event_loop.get().core;
    let core = match kind {
        ChannelKind::Tcp => nx::TcpChannel::open(lp).map_err(to_pyerr)?,
        ChannelKind::TcpServer => nx::TcpServerChannel::open(lp, None).map_err(to_pyerr)?,
        ChannelKind::Local => nx::LocalChannel::open(lp),
        _ => nx::LocalServerChannel::open(lp, None),
    };
    object(event_loop.py(), &core)
}

macro_rules! kind_open {
    ($class:ident, $kind:expr) => {
        #[pymethods]
        impl $class {
            #[staticmethod]
            fn open<'py>(event_loop: &Bound<'py, EventLoop>) -> PyResult<Bound<'py, Channel>> {
                open_on(event_loop, $kind)
            }
        }
    };
}

kind_open!(TcpChannel, ChannelKind::Tcp);
kind_open!(TcpServerChannel, ChannelKind::TcpServer);
kind_open!(LocalChannel, ChannelKind::Local);
kind_open!(LocalServerChannel, ChannelKind::LocalServer);
