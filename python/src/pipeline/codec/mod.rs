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
//! `make` gets the Python object being added: the bases users subclass
//! (`ByteToMessageDecoder`, `MessageToByteEncoder`) make a core handler that calls it.
//!
//! # The codecs
//! One file per core module: [`line`], [`delimiter`], [`length_field`], [`fixed_length`]
//! (framing decoders, and the length-field prepender), [`string`] (`StringDecoder`,
//! `StringEncoder`), [`decoder`] (`ByteToMessageDecoder` and the `Cumulation` view its
//! `decode` gets), [`encoder`] (`MessageToByteEncoder`). Each constructor checks its
//! arguments by core's rules and raises `InvalidArgumentError` (a `ValueError`) with core's
//! message; the failures the codecs fire reach Python as `TooLongFrameException`,
//! `CorruptedFrameException` and `MalformedInputException` ([`failure_error`]).

pub(crate) mod decoder;
pub(crate) mod delimiter;
pub(crate) mod encoder;
pub(crate) mod fixed_length;
pub(crate) mod idle;
pub(crate) mod length_field;
pub(crate) mod line;
pub(crate) mod string;

use std::sync::atomic::{AtomicBool, Ordering};

use nioxide_core::event_loop::Failure;
use nioxide_core::pipeline::codec::failure_message;
use nioxide_core::pipeline::{self as nx, ChannelHandler};
use nioxide_core::{Error, ErrorKind};
use pyo3::prelude::*;

use crate::error::{codec_error, invalid};
use crate::gil;
use crate::pipeline::context::{ChannelHandlerContext, new_object};
use crate::pipeline::handler::failure_of;

/// Makes the core handler a native handler stands for, from its checked configuration and
/// the Python object being added.
pub(crate) type MakeHandler =
    Box<dyn Fn(&Bound<'_, PyAny>) -> PyResult<Box<dyn ChannelHandler>> + Send + Sync>;

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
        return Some(Err(joined_already(handler)));
    }
    let made = (native.get().make)(handler);
    if made.is_err() {
        native.get().added.store(false, Ordering::Release);
    }
    Some(made)
}

/// The error for a native handler added a second time.
fn joined_already(handler: &Bound<'_, PyAny>) -> PyErr {
    let class = handler
        .get_type()
        .qualname()
        .map_or_else(|_| "?".into(), |n| n.to_string());
    invalid(format!(
        "{class} is a native handler: an instance joins one pipeline only (make one per \
         channel)"
    ))
}

/// Raises the error of a second add if `handler` is a native handler that joined a pipeline
/// already (a bootstrap checks before it makes a channel whose set-up would add it again).
pub(crate) fn ensure_unclaimed(handler: &Bound<'_, PyAny>) -> PyResult<()> {
    match handler.cast::<NativeHandler>() {
        Ok(native) if native.get().added.load(Ordering::Acquire) => Err(joined_already(handler)),
        _ => Ok(()),
    }
}

/// Whether `handler` is a native handler (an instance of a `NativeHandler` subclass).
pub(crate) fn is_native(handler: &Bound<'_, PyAny>) -> bool {
    handler.is_instance_of::<NativeHandler>()
}

/// Gives a native handler back its claim when the add that claimed it failed.
pub(crate) fn untake(handler: &Bound<'_, PyAny>) {
    if let Ok(native) = handler.cast::<NativeHandler>() {
        native.get().added.store(false, Ordering::Release);
    }
}

/// Records a native handler's object with the context it was added as.
pub(crate) fn remember(ctx: &nx::Context, handler: &Bound<'_, PyAny>) {
    if is_native(handler) {
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

/// The Python side of a subclass's core handler: the object it calls, and its context's
/// Python object (made on the first call, the same one after).
#[derive(Debug)]
pub(crate) struct Subclass {
    /// The subclass instance; `None` once let go.
    object: Option<Py<PyAny>>,
    ctx: Option<Py<ChannelHandlerContext>>,
}

impl Subclass {
    /// For the instance `object`.
    pub(crate) fn new(object: &Bound<'_, PyAny>) -> Subclass {
        Subclass {
            object: Some(object.clone().unbind()),
            ctx: None,
        }
    }

    /// Whether the object is still held (it is let go at removal).
    pub(crate) fn is_held(&self) -> bool {
        self.object.is_some()
    }

    /// Runs `f` attached with the object and the Python object of `ctx`; nothing (`Ok`) once
    /// the object was let go or without an interpreter. An exception becomes the failure
    /// `error` makes of it.
    pub(crate) fn call(
        &mut self,
        ctx: &nx::Context,
        error: fn(Python<'_>, PyErr) -> PyErr,
        f: impl for<'py> FnOnce(
            Python<'py>,
            &Bound<'py, PyAny>,
            Py<ChannelHandlerContext>,
        ) -> PyResult<()>,
    ) -> nx::HandlerResult {
        let Some(object) = &self.object else {
            return Ok(());
        };
        let cached = &mut self.ctx;
        gil::attach_loop(|py| {
            let run = || -> PyResult<()> {
                let ctx_object = match cached {
                    Some(o) => o.clone_ref(py),
                    None => cached.insert(new_object(py, ctx.clone())?).clone_ref(py),
                };
                f(py, object.bind(py), ctx_object)
            };
            run().map_err(|err| failure_of(py, error(py, err)))
        })
        .unwrap_or(Ok(()))
    }

    /// Runs `f` attached with the object; `None` once it was let go or without an
    /// interpreter.
    pub(crate) fn with<R>(&self, f: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> R) -> Option<R> {
        let object = self.object.as_ref()?;
        gil::attach_loop(|py| f(object.bind(py)))
    }

    /// Lets go of the object and the context's, attached so their reference counts drop now
    /// (unattached, pyo3 defers it).
    pub(crate) fn release(&mut self) {
        let objects = (self.object.take(), self.ctx.take());
        let _ = gil::attach_loop(move |_| drop(objects));
    }
}

impl Drop for Subclass {
    fn drop(&mut self) {
        self.release();
    }
}

/// The core handler of a Python subclass (`ByteToMessageDecoder`, `MessageToByteEncoder`),
/// which may keep its context (`self.ctx = ctx`): a cycle through Rust (the object, its
/// context's Python object, core's context, whose binding holds the object) that Python's
/// collector cannot see. At removal (which every channel's teardown makes) the handler lets
/// go of the object it calls (`release`) and the context's binding, so only Python objects
/// are left in the cycle.
pub(crate) struct Releasing<H: ChannelHandler> {
    inner: H,
    release: fn(&H),
}

impl<H: ChannelHandler> Releasing<H> {
    /// `inner`, with `release` run at removal after its own `handler_removed`.
    pub(crate) fn new(inner: H, release: fn(&H)) -> Releasing<H> {
        Releasing { inner, release }
    }
}

impl<H: ChannelHandler> ChannelHandler for Releasing<H> {
    fn mask(&self) -> nx::Mask {
        self.inner.mask()
    }

    fn handler_removed(&self, ctx: &nx::Context) -> nx::HandlerResult {
        let result = self.inner.handler_removed(ctx);
        (self.release)(&self.inner);
        // Attached, so the object's reference count drops now (unattached, pyo3 defers it).
        if gil::attach_loop(|_| ctx.set_binding(None)).is_none() {
            ctx.set_binding(None);
        }
        result
    }

    fn channel_inactive(&self, ctx: &nx::Context) -> nx::HandlerResult {
        self.inner.channel_inactive(ctx)
    }

    fn channel_read(&self, ctx: &nx::Context, msg: nx::Message) -> nx::HandlerResult {
        self.inner.channel_read(ctx, msg)
    }

    fn channel_read_complete(&self, ctx: &nx::Context) -> nx::HandlerResult {
        self.inner.channel_read_complete(ctx)
    }

    fn user_event_triggered(&self, ctx: &nx::Context, event: nx::UserEvent) -> nx::HandlerResult {
        self.inner.user_event_triggered(ctx, event)
    }

    fn exception_caught(&self, ctx: &nx::Context, failure: Failure) -> nx::HandlerResult {
        self.inner.exception_caught(ctx, failure)
    }

    fn write(
        &self,
        ctx: &nx::Context,
        msg: nx::Message,
        promise: Option<nioxide_core::event_loop::Promise>,
    ) -> nx::HandlerResult {
        self.inner.write(ctx, msg, promise)
    }
}

/// The exception for a failure a codec fired with a message (core's `String` detail): its
/// kind's class (`TooLongFrameException`, ...) for a codec's kind, `InvalidArgumentError`
/// for `InvalidArgument` (a refused message, a decoder's bug); `None` for another kind or a
/// failure without a message.
pub(crate) fn failure_error(failure: &Failure) -> Option<PyErr> {
    let message = failure_message(failure)?.to_string();
    Some(match failure.error {
        Error::Kind(
            kind
            @ (ErrorKind::FrameTooLong | ErrorKind::CorruptedFrame | ErrorKind::MalformedInput),
        ) => codec_error(kind, message),
        Error::Kind(ErrorKind::InvalidArgument) => invalid(message),
        _ => return None,
    })
}

/// A refused configuration as the exception constructors raise: `InvalidArgumentError` with
/// core's message.
pub(crate) fn config_error(failure: Failure) -> PyErr {
    invalid(failure_message(&failure).unwrap_or("invalid codec configuration"))
}

/// A size argument (a length, a count of bytes): a negative one is refused by name.
pub(crate) fn size(name: &str, value: i64) -> PyResult<usize> {
    usize::try_from(value).map_err(|_| invalid(format!("{name} must not be negative, not {value}")))
}

/// Adds the native handler classes, the codecs and the idle-state types to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeHandler>()?;
    m.add_class::<line::LineBasedFrameDecoder>()?;
    m.add_class::<delimiter::DelimiterBasedFrameDecoder>()?;
    m.add_class::<length_field::LengthFieldBasedFrameDecoder>()?;
    m.add_class::<length_field::LengthFieldPrepender>()?;
    m.add_class::<fixed_length::FixedLengthFrameDecoder>()?;
    m.add_class::<string::StringDecoder>()?;
    m.add_class::<string::StringEncoder>()?;
    m.add_class::<decoder::ByteToMessageDecoder>()?;
    m.add_class::<decoder::Cumulation>()?;
    m.add_class::<encoder::MessageToByteEncoder>()?;
    idle::register(m)
}
