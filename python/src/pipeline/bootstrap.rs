//! `nioxide.ServerBootstrap` and `nioxide.Bootstrap`: core's bootstraps, configured by
//! chained calls as in Netty (`ServerBootstrap().group(boss, workers).child_handler(init)
//! .bind(("127.0.0.1", 0))`). `bind` and `connect` return a `ChannelFuture` whose `channel`
//! is the new channel.
//!
//! A handler given to `handler()` or `child_handler()` is usually a `ChannelInitializer`
//! (its `init_channel` runs for each channel, on that channel's loop); any other handler is
//! added to each channel's pipeline, so a Python child handler must be sharable. A native
//! handler (a codec, an `IdleStateHandler`) is taken too: it joins the first channel's
//! pipeline, and a later `bind`/`connect` raises the error a second add of a handler that is
//! not sharable raises; a later accepted channel's add fails with it (that channel is closed
//! and the error goes to its loop's exception handler, as an initializer's error does), as
//! does a `connect` made before the previous one's channel took the handler.

use std::sync::Mutex;

use nioxide_core::pipeline::{self as nx, ChannelKind};
use nioxide_core::sync::lock;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use super::channel::{
    self, LocalChannel, LocalServerChannel, TcpChannel, TcpServerChannel, promise_object,
};
use super::codec::{ensure_unclaimed, is_native};
use super::config;
use super::handler::{is_initializer, is_sharable};
use super::initializer::init_fn;
use super::message::{host_name, to_address};
use crate::error::{invalid, to_pyerr};
use crate::event_loop::group::EventLoopGroup;
use crate::event_loop::promise::Future;

/// The kind a channel class names (`nioxide.TcpChannel`, ...).
fn kind_of(class: &Bound<'_, PyType>) -> PyResult<ChannelKind> {
    let py = class.py();
    let kinds = [
        (py.get_type::<TcpChannel>(), ChannelKind::Tcp),
        (py.get_type::<TcpServerChannel>(), ChannelKind::TcpServer),
        (py.get_type::<LocalChannel>(), ChannelKind::Local),
        (
            py.get_type::<LocalServerChannel>(),
            ChannelKind::LocalServer,
        ),
    ];
    kinds
        .into_iter()
        .find(|(t, _)| t.is(class))
        .map(|(_, kind)| kind)
        .ok_or_else(|| {
            PyTypeError::new_err(
                "channel() takes nioxide.TcpChannel, TcpServerChannel, LocalChannel or \
                 LocalServerChannel",
            )
        })
}

/// What a bootstrap's `handler(...)` keeps for `handler`: the initializer each channel runs,
/// and the handler itself when it is native (one pipeline only: checked at each bind or
/// connect).
///
/// Raises `TypeError` unless `handler` is one a pipeline takes: a native handler, or a
/// Python handler or initializer.
fn handler_parts(handler: &Bound<'_, PyAny>) -> PyResult<(nx::InitFn, Option<Py<PyAny>>)> {
    let native = is_native(handler);
    if !native {
        is_initializer(handler)?;
    }
    Ok((init_fn(handler), native.then(|| handler.clone().unbind())))
}

/// The future of a bind or connect, with its channel.
fn channel_future(py: Python<'_>, started: nx::ChannelFuture) -> PyResult<Py<Future>> {
    let channel = channel::object(py, &started.channel)?;
    promise_object(&channel, started.future, false, true)
}

/// Sets server channels up; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen)]
#[derive(Debug)]
pub(crate) struct ServerBootstrap {
    core: Mutex<nx::ServerBootstrap>,
    /// The groups' objects, kept alive with the bootstrap.
    groups: Mutex<Vec<Py<EventLoopGroup>>>,
    /// The server channel's handler when it is a native one (checked at each bind).
    native: Mutex<Option<Py<PyAny>>>,
}

impl ServerBootstrap {
    fn update(&self, f: impl FnOnce(nx::ServerBootstrap) -> nx::ServerBootstrap) {
        let mut core = lock(&self.core);
        *core = f(std::mem::take(&mut *core));
    }
}

#[pymethods]
impl ServerBootstrap {
    #[new]
    fn new() -> Self {
        ServerBootstrap {
            core: Mutex::new(nx::ServerBootstrap::new()),
            groups: Mutex::new(Vec::new()),
            native: Mutex::new(None),
        }
    }

    /// `parent` accepts, `child` (default: `parent`) serves the accepted channels.
    #[pyo3(signature = (parent, child = None))]
    fn group<'py>(
        slf: Bound<'py, Self>,
        parent: &Bound<'py, EventLoopGroup>,
        child: Option<&Bound<'py, EventLoopGroup>>,
    ) -> PyResult<Bound<'py, Self>> {
        let child = child.unwrap_or(parent);
        let (p, c) = (parent.get().core()?.clone(), child.get().core()?.clone());
        let this = slf.get();
        this.update(|b| b.group(p, c));
        *lock(&this.groups) = vec![parent.clone().unbind(), child.clone().unbind()];
        Ok(slf)
    }

    fn channel<'py>(
        slf: Bound<'py, Self>,
        class: &Bound<'py, PyType>,
    ) -> PyResult<Bound<'py, Self>> {
        let kind = kind_of(class)?;
        if !nx::ServerBootstrap::makes(kind) {
            return Err(invalid(
                "a ServerBootstrap makes TcpServerChannel or LocalServerChannel channels",
            ));
        }
        slf.get().update(|b| b.channel(kind));
        Ok(slf)
    }

    fn option<'py>(
        slf: Bound<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let option = config::option(name, value)?;
        slf.get().update(|b| b.option(option));
        Ok(slf)
    }

    fn child_option<'py>(
        slf: Bound<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let option = config::option(name, value)?;
        slf.get().update(|b| b.child_option(option));
        Ok(slf)
    }

    /// The server channel's handler (a `ChannelInitializer`, or a Python or native handler
    /// added to its pipeline).
    fn handler<'py>(
        slf: Bound<'py, Self>,
        handler: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let (init, native) = handler_parts(handler)?;
        let this = slf.get();
        this.update(|b| b.handler(move |ch| init(ch)));
        *lock(&this.native) = native;
        Ok(slf)
    }

    /// Each accepted channel's handler: a `ChannelInitializer`, or a sharable handler added
    /// to each accepted channel's pipeline. A native handler is taken, for the first
    /// accepted channel only (a later one's add fails).
    fn child_handler<'py>(
        slf: Bound<'py, Self>,
        handler: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        if !is_native(handler) && !is_initializer(handler)? && !is_sharable(handler)? {
            return Err(invalid(format!(
                "a child handler joins every accepted channel's pipeline: {} must be a \
                 ChannelInitializer or set sharable = True",
                handler.get_type().qualname()?
            )));
        }
        let init = init_fn(handler);
        slf.get().update(|b| b.child_handler(move |ch| init(ch)));
        Ok(slf)
    }

    /// Makes, registers and binds a server channel; the future completes once it is bound.
    fn bind(&self, py: Python<'_>, local: &Bound<'_, PyAny>) -> PyResult<Py<Future>> {
        if let Some(native) = &*lock(&self.native) {
            ensure_unclaimed(native.bind(py))?;
        }
        let local = to_address(local)?;
        let core = lock(&self.core).clone();
        let started = core.bind(local).map_err(to_pyerr)?;
        channel_future(py, started)
    }
}

/// Sets client channels up; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen)]
#[derive(Debug)]
pub(crate) struct Bootstrap {
    core: Mutex<nx::Bootstrap>,
    /// The group's object, kept alive with the bootstrap.
    group: Mutex<Option<Py<EventLoopGroup>>>,
    /// The channels' handler when it is a native one (checked at each connect).
    native: Mutex<Option<Py<PyAny>>>,
}

impl Bootstrap {
    fn update(&self, f: impl FnOnce(nx::Bootstrap) -> nx::Bootstrap) {
        let mut core = lock(&self.core);
        *core = f(std::mem::take(&mut *core));
    }
}

#[pymethods]
impl Bootstrap {
    #[new]
    fn new() -> Self {
        Bootstrap {
            core: Mutex::new(nx::Bootstrap::new()),
            group: Mutex::new(None),
            native: Mutex::new(None),
        }
    }

    fn group<'py>(
        slf: Bound<'py, Self>,
        group: &Bound<'py, EventLoopGroup>,
    ) -> PyResult<Bound<'py, Self>> {
        let core = group.get().core()?.clone();
        let this = slf.get();
        this.update(|b| b.group(core));
        *lock(&this.group) = Some(group.clone().unbind());
        Ok(slf)
    }

    fn channel<'py>(
        slf: Bound<'py, Self>,
        class: &Bound<'py, PyType>,
    ) -> PyResult<Bound<'py, Self>> {
        let kind = kind_of(class)?;
        if !nx::Bootstrap::makes(kind) {
            return Err(invalid(
                "a Bootstrap makes TcpChannel or LocalChannel channels",
            ));
        }
        slf.get().update(|b| b.channel(kind));
        Ok(slf)
    }

    fn option<'py>(
        slf: Bound<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let option = config::option(name, value)?;
        slf.get().update(|b| b.option(option));
        Ok(slf)
    }

    /// Each channel's handler: a `ChannelInitializer`, or a Python or native handler added
    /// to the channel's pipeline (one that is not sharable serves one connect).
    fn handler<'py>(
        slf: Bound<'py, Self>,
        handler: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let (init, native) = handler_parts(handler)?;
        let this = slf.get();
        this.update(|b| b.handler(move |ch| init(ch)));
        *lock(&this.native) = native;
        Ok(slf)
    }

    /// Makes, registers and connects a channel; the future completes once it is connected.
    /// A host name is resolved off the loop's thread.
    fn connect(&self, py: Python<'_>, remote: &Bound<'_, PyAny>) -> PyResult<Py<Future>> {
        if let Some(native) = &*lock(&self.native) {
            ensure_unclaimed(native.bind(py))?;
        }
        let core = lock(&self.core).clone();
        let started = match host_name(remote) {
            Some((host, port)) => core.connect_host(&host, port),
            None => core.connect(to_address(remote)?),
        }
        .map_err(to_pyerr)?;
        channel_future(py, started)
    }
}
