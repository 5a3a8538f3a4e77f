//! `MessageToByteEncoder` for Python: a base class users subclass with
//! `encode(self, ctx, msg)` (and optionally `accept_outbound_message(self, msg)`), run by core's
//! `MessageToByteEncoder` (the bytes written with the original promise; other messages pass
//! by).

use nioxide_core::pipeline::codec::{Encoder, MessageToByteEncoder as CoreHandler};
use nioxide_core::pipeline::{Buffer as CoreBuffer, Context, HandlerResult, Message};
use pyo3::exceptions::{PyNotImplementedError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::{NativeHandler, Releasing};
use crate::gil;
use crate::pipeline::context::{ChannelHandlerContext, new_object};
use crate::pipeline::handler::failure_of;
use crate::pipeline::message::{buffer_of, from_message};

/// The encode step that calls a Python subclass's `encode`.
#[derive(Debug)]
struct PyEncoder {
    /// The encoder object; `None` once dropped.
    object: Option<Py<PyAny>>,
    /// The context's Python object, made on the first call.
    ctx: Option<Py<ChannelHandlerContext>>,
    /// The subclass defines `accept_outbound_message` (otherwise every message is taken).
    filters: bool,
}

/// One buffer of what `encode` returned: a `Buffer` (shared) or a bytes-like object (copied).
fn encoded(item: &Bound<'_, PyAny>) -> PyResult<CoreBuffer> {
    match buffer_of(item)? {
        Some(buffer) => Ok(buffer),
        None => Err(PyTypeError::new_err(format!(
            "encode() returns bytes-like objects (bytes, bytearray, memoryview, Buffer), a \
             list of them, or None; not '{}'",
            item.get_type().name()?
        ))),
    }
}

impl Encoder for PyEncoder {
    fn accepts(&self, msg: &Message) -> bool {
        let (Some(object), true) = (&self.object, self.filters) else {
            return self.object.is_some();
        };
        // An exception there is reported as unraisable and the message passes by.
        gil::attach_loop(|py| {
            let ask = || -> PyResult<bool> {
                let msg = from_message(py, msg.clone())?;
                object
                    .bind(py)
                    .call_method1(intern!(py, "accept_outbound_message"), (msg,))?
                    .is_truthy()
            };
            ask().unwrap_or_else(|err| {
                err.write_unraisable(py, Some(object.bind(py)));
                false
            })
        })
        .unwrap_or(false)
    }

    fn encode(&mut self, ctx: &Context, msg: Message, out: &mut Vec<CoreBuffer>) -> HandlerResult {
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
                let msg = from_message(py, msg)?;
                let result = object
                    .bind(py)
                    .call_method1(intern!(py, "encode"), (ctx_object, msg))?;
                if result.is_none() {
                    return Ok(());
                }
                if result.is_instance_of::<PyList>() || result.is_instance_of::<PyTuple>() {
                    for item in result.try_iter()? {
                        out.push(encoded(&item?)?);
                    }
                    return Ok(());
                }
                out.push(encoded(&result)?);
                Ok(())
            };
            run().map_err(|err| failure_of(py, err))
        })
        .unwrap_or(Ok(()))
    }
}

impl PyEncoder {
    /// Lets go of the encoder object and the context's (at removal; then it encodes nothing
    /// more), attached so their reference counts drop now.
    fn release(&mut self) {
        let objects = (self.object.take(), self.ctx.take());
        let _ = gil::attach_loop(move |_| drop(objects));
    }
}

impl Drop for PyEncoder {
    fn drop(&mut self) {
        self.release();
    }
}

/// `MessageToByteEncoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, subclass, frozen)]
#[derive(Debug)]
pub(crate) struct MessageToByteEncoder {}

#[pymethods]
impl MessageToByteEncoder {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyAny>>,
    ) -> PyClassInitializer<Self> {
        let make = |object: &Bound<'_, PyAny>| {
            let filters = object.hasattr(intern!(object.py(), "accept_outbound_message"))?;
            let encoder = PyEncoder {
                object: Some(object.clone().unbind()),
                ctx: None,
                filters,
            };
            let handler = Releasing::new(CoreHandler::new(encoder), |h| {
                h.with_encoder(PyEncoder::release);
            });
            Ok(Box::new(handler) as _)
        };
        PyClassInitializer::from(NativeHandler::new(Box::new(make)))
            .add_subclass(MessageToByteEncoder {})
    }

    /// The base's `encode`: a subclass must define its own.
    fn encode(&self, ctx: &Bound<'_, PyAny>, msg: &Bound<'_, PyAny>) -> PyResult<()> {
        let _ = (ctx, msg);
        Err(PyNotImplementedError::new_err(
            "a MessageToByteEncoder subclass defines encode(self, ctx, msg)",
        ))
    }
}
