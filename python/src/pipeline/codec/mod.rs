//! Handlers nioxide ships, for Python (over `nioxide_core::pipeline::codec`): native
//! handlers, written in Rust, that a pipeline runs with no Python in between.
//!
//! # Native handlers
//! A native handler class extends [`NativeHandler`] (`nioxide._nioxide.NativeHandler`,
//! which Python code cannot instantiate itself). Its constructor checks the arguments
//! (raising for bad ones) and keeps a closure that makes the core handler. When
//! `pipeline.add_last(handler)` (or `add_first`, `add_before`, `add_after`, `replace`, or
//! `EmbeddedChannel(...)`) gets one, it adds that core handler directly: its events never
//! enter Python and never take the GIL. As for a Python handler that is not `sharable`, one
//! instance joins one pipeline, once (a second add raises); a failed add leaves it free to
//! add again. `pipeline.get(name)`, `pipeline.remove(name)` and `ctx.handler` give back the
//! Python object.
//!
//! Adding a native handler class takes a `#[pyclass(extends = NativeHandler)]` whose
//! `#[new]` returns
//! `PyClassInitializer::from(NativeHandler::new(make)).add_subclass(..)`, registered in [`register`], with its
//! stub. Built-in events it fires get Python singletons (see `message::from_event`).

pub(crate) mod idle;

use std::sync::atomic::{AtomicBool, Ordering};

use nioxide_core::pipeline::{self as nx, ChannelHandler};
use pyo3::prelude::*;

use crate::error::invalid;

/// Makes the core handler a native handler stands for, from its checked configuration.
pub(crate) type MakeHandler = Box<dyn Fn() -> Box<dyn ChannelHandler> + Send + Sync>;

/// The base class of native handlers; see the module docs and the stub.
#[pyclass(module = "nioxide._nioxide", subclass, frozen)]
pub(crate) struct NativeHandler {
    make: MakeHandler,
    /// The instance was added to a pipeline (or an add is under way).
    added: AtomicBool,
}

impl std::fmt::Debug for NativeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeHandler")
            .field("added", &self.added)
            .finish_non_exhaustive()
    }
}

impl NativeHandler {
    /// A base whose handler `make` makes.
    pub(crate) fn new(make: MakeHandler) -> NativeHandler {
        NativeHandler {
            make,
            added: AtomicBool::new(false),
        }
    }
}

/// The handler object a context keeps for a native handler (`pipeline.get`, `ctx.handler`).
struct NativeObject(Py<PyAny>);

/// The core handler for `handler` if it is a native one (`None` if it is not), claiming the
/// instance: an instance added before raises.
pub(crate) fn take(handler: &Bound<'_, PyAny>) -> Option<PyResult<Box<dyn ChannelHandler>>> {
    let native = handler.cast::<NativeHandler>().ok()?;
    if native.get().added.swap(true, Ordering::AcqRel) {
        let class = handler
            .get_type()
            .qualname()
            .map_or_else(|_| "?".into(), |n| n.to_string());
        return Some(Err(invalid(format!(
            "{class} is a native handler: an instance joins one pipeline only (make one per \
             channel)"
        ))));
    }
    Some(Ok((native.get().make)()))
}

/// Gives a native handler back its claim when the add that claimed it failed.
pub(crate) fn untake(handler: &Bound<'_, PyAny>) {
    if let Ok(native) = handler.cast::<NativeHandler>() {
        native.get().added.store(false, Ordering::Release);
    }
}

/// Records a native handler's object with the context it was added as.
pub(crate) fn remember(ctx: &nx::Context, handler: &Bound<'_, PyAny>) {
    if handler.is_instance_of::<NativeHandler>() {
        ctx.set_binding(Some(Box::new(NativeObject(handler.clone().unbind()))));
    }
}

/// The object of a native handler's context, if it is one.
pub(crate) fn object(py: Python<'_>, ctx: &nx::Context) -> Option<Py<PyAny>> {
    ctx.with_binding(|slot| {
        slot?
            .downcast_ref::<NativeObject>()
            .map(|o| o.0.clone_ref(py))
    })
}

/// Adds the native handler classes and the idle-state types to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeHandler>()?;
    idle::register(m)
}
