//! Python handlers in core pipelines: [`PyHandler`], core's `ChannelHandler` over a Python
//! object, and the rules for adding one.
//!
//! Only the methods a handler's class overrides are dispatched: the class's mask (computed
//! once per class by `ChannelHandler.__init_subclass__` from [`METHODS`], in
//! `nioxide/_pipeline.py`) is the core mask, so core passes every other event by without
//! calling in. Callbacks run on the channel's loop thread inside the loop's callback scope,
//! which already holds the GIL for the whole phase: attaching here costs a counter.
//!
//! A Python exception becomes core's failure with the exception object as its detail, so it
//! is routed as in Netty (an inbound callback's to the same handler's `exception_caught`, an
//! outbound one's to its promise) and comes back to Python as the very object raised.
//!
//! Reference cycles: a handler usually keeps its context (`self.ctx = ctx`), and the context
//! keeps the core context, which keeps this handler. The handler object and the context's
//! Python object are let go in `handler_removed` (the last call, which every channel's
//! teardown makes), so what is left is a cycle between Python objects the collector sees.

use std::sync::Mutex;

use nioxide_core::ErrorKind;
use nioxide_core::event_loop::{Failure, Promise};
use nioxide_core::pipeline::codec::TimeoutKind;
use nioxide_core::pipeline::{
    self as nx, ChannelAddress, ChannelHandler, Context, HandlerResult, Mask, Message,
    UserEvent as CoreEvent,
};
use nioxide_core::sync::lock;
use pyo3::exceptions::{PyBaseException, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};

use super::codec;
use super::context::{self, ChannelHandlerContext};
use super::initializer::init_fn;
use super::message::{from_address, from_event, from_message, optional_address};
use crate::error::{ReadTimeoutException, WriteTimeoutException, invalid, to_pyerr};
use crate::event_loop::callback::{call_fast, call_method_fast};
use crate::gil;

/// A handler class's `handler_added` is its own (not the pass-through default).
pub(crate) const ADDED: u32 = 1 << 28;
/// A handler class's `handler_removed` is its own.
pub(crate) const REMOVED: u32 = 1 << 29;
/// The class is a `ChannelInitializer` (its `init_channel` sets a channel up).
pub(crate) const INITIALIZER: u32 = 1 << 30;

/// The handler methods and their mask bits: core's events and operations, then the binding's
/// own bits (exported as `_nioxide._HANDLER_METHODS` for the mask computation).
pub(crate) const METHODS: &[(&str, u32)] = &[
    ("channel_registered", Mask::REGISTERED.0),
    ("channel_unregistered", Mask::UNREGISTERED.0),
    ("channel_active", Mask::ACTIVE.0),
    ("channel_inactive", Mask::INACTIVE.0),
    ("channel_read", Mask::READ.0),
    ("channel_read_complete", Mask::READ_COMPLETE.0),
    ("user_event_triggered", Mask::USER_EVENT.0),
    ("channel_writability_changed", Mask::WRITABILITY_CHANGED.0),
    ("exception_caught", Mask::EXCEPTION.0),
    ("bind", Mask::BIND.0),
    ("connect", Mask::CONNECT.0),
    ("disconnect", Mask::DISCONNECT.0),
    ("close", Mask::CLOSE.0),
    ("read", Mask::READ_OP.0),
    ("write", Mask::WRITE.0),
    ("flush", Mask::FLUSH.0),
    ("handler_added", ADDED),
    ("handler_removed", REMOVED),
    ("init_channel", INITIALIZER),
];

/// `_nioxide._HANDLER_METHODS`: method name → mask bit.
pub(crate) fn methods_dict(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for (name, bit) in METHODS {
        dict.set_item(name, bit)?;
    }
    Ok(dict)
}

/// The failure for an exception a Python handler raised (or passed to
/// `fire_exception_caught`): its error is `Panic` (the callback failed; what a C observer
/// sees), its detail the exception object.
pub(crate) fn failure_of(py: Python<'_>, err: PyErr) -> Failure {
    Failure {
        error: ErrorKind::Panic.into(),
        detail: Some(Box::new(err.into_value(py).into_any())),
    }
}

/// The exception object for a failure: the one a Python handler raised, or core's error as
/// nioxide's exception (a reset: `ConnectionResetError`; a codec's error with its message:
/// `TooLongFrameException`, ...).
pub(crate) fn exception_of<'py>(py: Python<'py>, failure: &Failure) -> Bound<'py, PyAny> {
    match failure
        .detail
        .as_ref()
        .and_then(|d| d.downcast_ref::<Py<PyAny>>())
    {
        Some(exception) => exception.bind(py).clone(),
        None => timeout_error(failure)
            .or_else(|| codec::failure_error(failure))
            .unwrap_or_else(|| to_pyerr(failure.error))
            .into_value(py)
            .into_bound(py)
            .into_any(),
    }
}

/// The exception of a timeout handler's failure (`ReadTimeoutException`,
/// `WriteTimeoutException`), if it is one.
fn timeout_error(failure: &Failure) -> Option<PyErr> {
    let kind = TimeoutKind::of(failure)?;
    let args = (libc::ETIMEDOUT, kind.message());
    Some(match kind {
        TimeoutKind::Read => ReadTimeoutException::new_err(args),
        TimeoutKind::Write => WriteTimeoutException::new_err(args),
    })
}

/// An exception object (or class, instantiated) as a failure.
pub(crate) fn failure_from(exception: &Bound<'_, PyAny>) -> PyResult<Failure> {
    let exception = match exception.cast::<PyType>() {
        Ok(class) if class.is_subclass_of::<PyBaseException>()? => class.call0()?,
        _ => exception.clone(),
    };
    if !exception.is_instance_of::<PyBaseException>() {
        return Err(PyTypeError::new_err(format!(
            "an exception event takes an exception, not '{}'",
            exception.get_type().name()?
        )));
    }
    Ok(failure_of(exception.py(), PyErr::from_value(exception)))
}

/// The methods called once or more per request, whose class functions a handler keeps (see
/// [`PyHandler::hot`]), by index.
const HOT: [(&str, u32); 4] = [
    ("channel_read", Mask::READ.0),
    ("channel_read_complete", Mask::READ_COMPLETE.0),
    ("write", Mask::WRITE.0),
    ("flush", Mask::FLUSH.0),
];
const HOT_READ: usize = 0;
const HOT_READ_COMPLETE: usize = 1;
const HOT_WRITE: usize = 2;
const HOT_FLUSH: usize = 3;

/// A Python handler object in a core pipeline.
#[derive(Debug)]
pub(crate) struct PyHandler {
    /// The handler object, until `handler_removed`.
    object: Mutex<Option<Py<PyAny>>>,
    /// The context's Python object, made on first use, until `handler_removed`.
    context: Mutex<Option<Py<ChannelHandlerContext>>>,
    /// The class's mask (core's bits and [`ADDED`], [`REMOVED`]).
    mask: u32,
    /// For each of the [`HOT`] methods the class overrides with a plain function: that
    /// function, called with the handler object as its first argument. This spares each
    /// call the attribute lookup on the instance and the bound method it makes; as the mask,
    /// it is the class's method when the handler was added.
    hot: [Option<Py<PyAny>>; 4],
}

impl PyHandler {
    /// The handler object, while the handler is in its pipeline.
    pub(crate) fn object(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        lock(&self.object).as_ref().map(|o| o.clone_ref(py))
    }

    /// The context's Python object (the same one each time while the handler is added).
    pub(crate) fn context_object(
        &self,
        py: Python<'_>,
        ctx: &Context,
    ) -> PyResult<Py<ChannelHandlerContext>> {
        if let Some(object) = lock(&self.context).as_ref() {
            return Ok(object.clone_ref(py));
        }
        // Made without the lock held: making a Python object may run Python code.
        let object = context::new_object(py, ctx.clone())?;
        if self.object(py).is_none() {
            return Ok(object); // removed: not kept (nothing would let it go)
        }
        let mut slot = lock(&self.context);
        Ok(slot.get_or_insert(object).clone_ref(py))
    }
}

/// Runs `f` attached, with the handler object and its context's object; an exception
/// becomes the callback's failure. A handler already let go (or no interpreter) does nothing.
fn dispatch(
    handler: &PyHandler,
    ctx: &Context,
    f: impl for<'py> FnOnce(
        Python<'py>,
        &Bound<'py, PyAny>,
        Bound<'py, ChannelHandlerContext>,
    ) -> PyResult<()>,
) -> HandlerResult {
    gil::attach_loop(|py| {
        let Some(object) = handler.object(py) else {
            return Ok(());
        };
        let run = || -> PyResult<()> {
            let ctx = handler.context_object(py, ctx)?.into_bound(py);
            f(py, object.bind(py), ctx)
        };
        run().map_err(|err| failure_of(py, err))
    })
    .unwrap_or(Ok(()))
}

/// Calls the handler's method `name` with `args`: through its class function `hot` if it
/// keeps one (the handler object first), else looked up on the object; either way without an
/// argument tuple or a bound method ([`call_fast`], [`call_method_fast`]).
fn call_hot<'py>(
    object: &Bound<'py, PyAny>,
    hot: Option<&Py<PyAny>>,
    name: &Bound<'py, PyString>,
    args: &[&Bound<'py, PyAny>],
) -> PyResult<()> {
    let args = args.iter().map(|arg| arg.as_borrowed());
    match hot {
        Some(function) => {
            let with_object = std::iter::once(object.as_borrowed()).chain(args);
            call_fast(function.bind(object.py()), with_object).map(drop)
        }
        None => call_method_fast(object, name, args).map(drop),
    }
}

/// The class functions a handler of `handler`'s class keeps for the [`HOT`] methods in
/// `mask`: those the class defines as plain Python functions (a method made another way,
/// such as a `staticmethod`, a `classmethod` or a callable object, is looked up on the
/// handler at each call, as every other method is).
fn hot_functions(handler: &Bound<'_, PyAny>, mask: u32) -> [Option<Py<PyAny>>; 4] {
    let py = handler.py();
    static FUNCTION_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let Ok(function_type) = FUNCTION_TYPE.import(py, "types", "FunctionType") else {
        return Default::default();
    };
    let Ok(mro) = handler.get_type().getattr(intern!(py, "__mro__")) else {
        return Default::default();
    };
    HOT.map(|(name, bit)| {
        if mask & bit == 0 {
            return None;
        }
        // The attribute as the class defines it (a staticmethod stays one, where the class's
        // own lookup would unwrap it to its function): the first class in the MRO with it.
        let function = mro.try_iter().ok()?.find_map(|class| {
            let class = class.ok()?;
            let dict = class.getattr(intern!(py, "__dict__")).ok()?;
            dict.get_item(name).ok()
        })?;
        function
            .get_type()
            .is(function_type)
            .then(|| function.unbind())
    })
}

/// A promise as Python sees it in an outbound handler: a `ChannelFuture` it may complete
/// (or `None` for an operation without one).
fn promise_object<'py>(
    py: Python<'py>,
    ctx: &Bound<'py, ChannelHandlerContext>,
    promise: Option<Promise>,
) -> PyResult<Bound<'py, PyAny>> {
    match promise {
        None => Ok(py.None().into_bound(py)),
        Some(promise) => Ok(context::alias_promise(py, ctx, promise)?.into_any()),
    }
}

/// A handler method for an inbound event that carries nothing but the context.
macro_rules! inbound {
    ($method:ident, $name:literal) => {
        fn $method(&self, ctx: &Context) -> HandlerResult {
            dispatch(self, ctx, |py, object, ctx| {
                object.call_method1(intern!(py, $name), (ctx,)).map(drop)
            })
        }
    };
}

impl ChannelHandler for PyHandler {
    fn mask(&self) -> Mask {
        Mask(self.mask & Mask::ALL.0)
    }

    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        Some(self)
    }

    fn handler_added(&self, ctx: &Context) -> HandlerResult {
        if self.mask & ADDED == 0 {
            return Ok(());
        }
        dispatch(self, ctx, |py, object, ctx| {
            object
                .call_method1(intern!(py, "handler_added"), (ctx,))
                .map(drop)
        })
    }

    fn handler_removed(&self, ctx: &Context) -> HandlerResult {
        let result = if self.mask & REMOVED != 0 {
            dispatch(self, ctx, |py, object, ctx| {
                object
                    .call_method1(intern!(py, "handler_removed"), (ctx,))
                    .map(drop)
            })
        } else {
            Ok(())
        };
        // No event reaches the handler any more: let its objects go (see the module docs),
        // attached so their reference counts drop now (without an interpreter the unrun
        // closure drops them into pyo3's pool).
        let object = lock(&self.object).take();
        let context = lock(&self.context).take();
        let _ = gil::attach_loop(move |_| drop((object, context)));
        result
    }

    inbound!(channel_registered, "channel_registered");
    inbound!(channel_unregistered, "channel_unregistered");
    inbound!(channel_active, "channel_active");
    inbound!(channel_inactive, "channel_inactive");

    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        let hot = self.hot[HOT_READ_COMPLETE].as_ref();
        dispatch(self, ctx, |py, object, ctx| {
            call_hot(
                object,
                hot,
                intern!(py, "channel_read_complete"),
                &[ctx.as_any()],
            )
        })
    }
    inbound!(channel_writability_changed, "channel_writability_changed");

    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let hot = self.hot[HOT_READ].as_ref();
        dispatch(self, ctx, |py, object, ctx| {
            let msg = from_message(py, msg)?;
            call_hot(
                object,
                hot,
                intern!(py, "channel_read"),
                &[ctx.as_any(), &msg],
            )
        })
    }

    fn user_event_triggered(&self, ctx: &Context, event: CoreEvent) -> HandlerResult {
        dispatch(self, ctx, |py, object, ctx| {
            let event = from_event(py, event)?;
            object
                .call_method1(intern!(py, "user_event_triggered"), (ctx, event))
                .map(drop)
        })
    }

    fn exception_caught(&self, ctx: &Context, failure: Failure) -> HandlerResult {
        // Core calls this for a failure of this handler's own callbacks whatever the mask:
        // a class that does not override it passes the exception on without Python.
        if self.mask & Mask::EXCEPTION.0 == 0 {
            ctx.fire_exception_caught(failure);
            return Ok(());
        }
        dispatch(self, ctx, |py, object, ctx| {
            let exception = exception_of(py, &failure);
            object
                .call_method1(intern!(py, "exception_caught"), (ctx, exception))
                .map(drop)
        })
    }

    fn bind(
        &self,
        ctx: &Context,
        local: ChannelAddress,
        promise: Option<Promise>,
    ) -> HandlerResult {
        dispatch(self, ctx, |py, object, ctx| {
            let local = from_address(py, &local)?;
            let promise = promise_object(py, &ctx, promise)?;
            object
                .call_method1(intern!(py, "bind"), (ctx, local, promise))
                .map(drop)
        })
    }

    fn connect(
        &self,
        ctx: &Context,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    ) -> HandlerResult {
        dispatch(self, ctx, |py, object, ctx| {
            let remote = from_address(py, &remote)?;
            let local = optional_address(py, local)?;
            let promise = promise_object(py, &ctx, promise)?;
            object
                .call_method1(intern!(py, "connect"), (ctx, remote, local, promise))
                .map(drop)
        })
    }

    fn disconnect(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        dispatch(self, ctx, |py, object, ctx| {
            let promise = promise_object(py, &ctx, promise)?;
            object
                .call_method1(intern!(py, "disconnect"), (ctx, promise))
                .map(drop)
        })
    }

    fn close(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        dispatch(self, ctx, |py, object, ctx| {
            let promise = promise_object(py, &ctx, promise)?;
            object
                .call_method1(intern!(py, "close"), (ctx, promise))
                .map(drop)
        })
    }

    fn read(&self, ctx: &Context) -> HandlerResult {
        dispatch(self, ctx, |py, object, ctx| {
            object.call_method1(intern!(py, "read"), (ctx,)).map(drop)
        })
    }

    fn write(&self, ctx: &Context, msg: Message, promise: Option<Promise>) -> HandlerResult {
        let hot = self.hot[HOT_WRITE].as_ref();
        dispatch(self, ctx, |py, object, ctx| {
            let msg = from_message(py, msg)?;
            let promise = promise_object(py, &ctx, promise)?;
            call_hot(
                object,
                hot,
                intern!(py, "write"),
                &[ctx.as_any(), &msg, &promise],
            )
        })
    }

    fn flush(&self, ctx: &Context) -> HandlerResult {
        let hot = self.hot[HOT_FLUSH].as_ref();
        dispatch(self, ctx, |py, object, ctx| {
            call_hot(object, hot, intern!(py, "flush"), &[ctx.as_any()])
        })
    }
}

/// The Python object of a context's handler: a Python handler's, or a native handler's
/// (`None` for a handler of another binding).
pub(crate) fn handler_object(py: Python<'_>, ctx: &Context) -> Option<Py<PyAny>> {
    match ctx.handler_as::<PyHandler>() {
        Some(handler) => handler.object(py),
        None => codec::object(py, ctx),
    }
}

/// The mask of `handler`'s class (`_nioxide_mask`, set by `ChannelHandler.__init_subclass__`).
fn class_mask(handler: &Bound<'_, PyAny>) -> PyResult<u32> {
    let py = handler.py();
    handler
        .get_type()
        .getattr(intern!(py, "_nioxide_mask"))
        .and_then(|m| m.extract::<u32>())
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "a pipeline takes a handler (a subclass of nioxide.ChannelInboundHandler, \
                 ChannelOutboundHandler, ChannelDuplexHandler or ChannelInitializer), not '{}'",
                handler
                    .get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })
}

/// Whether `handler` is a `ChannelInitializer` (an object with a handler mask and
/// `init_channel`).
pub(crate) fn is_initializer(handler: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(class_mask(handler)? & INITIALIZER != 0)
}

/// Whether `handler`'s class sets `sharable = True`.
pub(crate) fn is_sharable(handler: &Bound<'_, PyAny>) -> PyResult<bool> {
    handler
        .get_type()
        .getattr(intern!(handler.py(), "sharable"))?
        .is_truthy()
}

/// Marks a handler that is not sharable as added (Netty's `added` flag: such an instance
/// joins one pipeline, once); raises if it was added before.
fn claim(handler: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = handler.py();
    if is_sharable(handler)? {
        return Ok(());
    }
    let added = intern!(py, "_nioxide_added");
    if handler.getattr(added)?.is_truthy()? {
        return Err(invalid(format!(
            "{} is not sharable: an instance joins one pipeline only (set sharable = True \
             on the class to share one instance)",
            handler.get_type().qualname()?
        )));
    }
    handler.setattr(added, true)
}

/// Gives a handler back its claim when the add that claimed it failed.
pub(crate) fn unclaim(handler: &Bound<'_, PyAny>) {
    codec::untake(handler);
    if let Ok(false) = is_sharable(handler) {
        let _ = handler.setattr(intern!(handler.py(), "_nioxide_added"), false);
    }
}

/// The core handler for a Python handler object: a `ChannelInitializer` becomes core's
/// initializer running its `init_channel`; any other handler a [`PyHandler`], claimed for
/// its one pipeline unless its class is sharable.
pub(crate) fn boxed(handler: &Bound<'_, PyAny>) -> PyResult<Box<dyn ChannelHandler>> {
    if let Some(native) = codec::take(handler) {
        return native;
    }
    let mask = class_mask(handler)?;
    if mask & INITIALIZER != 0 {
        return Ok(Box::new(nx::ChannelInitializer::from_shared(init_fn(
            handler,
        ))));
    }
    claim(handler)?;
    Ok(Box::new(PyHandler {
        object: Mutex::new(Some(handler.clone().unbind())),
        context: Mutex::new(None),
        mask,
        hot: hot_functions(handler, mask),
    }))
}
