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

use super::{NativeHandler, Releasing, Subclass};
use crate::pipeline::message::{buffer_of, from_message};

/// The encode step that calls a Python subclass's `encode`.
#[derive(Debug)]
struct PyEncoder {
    subclass: Subclass,
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
        if !self.filters {
            return self.subclass.is_held();
        }
        // An exception there is reported as unraisable and the message passes by.
        self.subclass
            .with(|object| {
                let py = object.py();
                let ask = || -> PyResult<bool> {
                    let msg = from_message(py, msg.clone())?;
                    object
                        .call_method1(intern!(py, "accept_outbound_message"), (msg,))?
                        .is_truthy()
                };
                ask().unwrap_or_else(|err| {
                    err.write_unraisable(py, Some(object));
                    false
                })
            })
            .unwrap_or(false)
    }

    fn encode(&mut self, ctx: &Context, msg: Message, out: &mut Vec<CoreBuffer>) -> HandlerResult {
        let as_is = |_: Python<'_>, err: PyErr| err;
        self.subclass.call(ctx, as_is, |py, object, ctx_object| {
            let msg = from_message(py, msg)?;
            let result = object.call_method1(intern!(py, "encode"), (ctx_object, msg))?;
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
        })
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
                subclass: Subclass::new(object),
                filters,
            };
            let handler = Releasing::new(CoreHandler::new(encoder), |h| {
                h.with_encoder(|e| e.subclass.release());
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
