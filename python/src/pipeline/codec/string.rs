//! `StringDecoder` and `StringEncoder` for Python.
//!
//! UTF-8 (the default) is core's `StringDecoder` / `StringEncoder`: decoding runs in Rust and
//! the message reaching Python handlers is a `str` (core's string message, converted when it
//! enters Python). Another encoding, or an error handler other than `"strict"` and
//! `"replace"`, goes through Python's codecs (`codecs.lookup(encoding)`): a Rust handler that
//! takes the GIL (already held in the loop's callback scope) to call the codec's `decode` on
//! each frame, or its `encode` on each string written; the decoded `str` travels as core's
//! string message too, so the two paths look the same to the handlers after them.
//!
//! A `str` written by a Python handler crosses into core as a string message (see
//! `message::to_message`), which is what both encoders take.

use nioxide_core::ErrorKind;
use nioxide_core::event_loop::Failure;
use nioxide_core::pipeline::codec::{
    Encoder, StringDecoder as CoreDecoder, StringEncoder as CoreEncoder,
};
use nioxide_core::pipeline::{
    Buffer as CoreBuffer, ChannelHandler, Context, HandlerResult, Mask, Message,
};
use pyo3::exceptions::PyUnicodeDecodeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::NativeHandler;
use crate::error::{MalformedInputException, invalid};
use crate::gil;
use crate::pipeline::handler::failure_of;
use crate::pipeline::message::{Buffer, to_message};

/// A codec found by name: its canonical name and its `CodecInfo`.
fn lookup<'py>(py: Python<'py>, encoding: &str) -> PyResult<(String, Bound<'py, PyAny>)> {
    let codecs = py.import(intern!(py, "codecs"))?;
    let info = codecs
        .call_method1(intern!(py, "lookup"), (encoding,))
        .map_err(|_| invalid(format!("unknown encoding: {encoding:?}")))?;
    let name: String = info.getattr(intern!(py, "name"))?.extract()?;
    Ok((name, info))
}

/// Checks that `errors` names an error handler Python's codecs know.
fn check_errors(py: Python<'_>, errors: &str) -> PyResult<()> {
    py.import(intern!(py, "codecs"))?
        .call_method1(intern!(py, "lookup_error"), (errors,))
        .map(drop)
        .map_err(|_| invalid(format!("unknown error handler: {errors:?}")))
}

/// A Python codec's function (`decode` or `encode`, called as `function(input, errors)`)
/// and the error handler it is called with.
#[derive(Debug)]
struct Codec {
    function: Py<PyAny>,
    errors: Py<PyString>,
}

impl Codec {
    /// Calls the function on `input`; the first item of its result.
    fn call<'py>(&self, py: Python<'py>, input: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.function
            .bind(py)
            .call1((input, self.errors.bind(py)))?
            .get_item(0)
    }

    fn clone_ref(&self, py: Python<'_>) -> Codec {
        Codec {
            function: self.function.clone_ref(py),
            errors: self.errors.clone_ref(py),
        }
    }
}

/// A string codec's settings: the codec's canonical name and the error handler.
#[derive(Debug)]
struct Settings {
    encoding: String,
    errors: String,
}

impl Settings {
    /// Checks `encoding` and `errors`; with them, the Python codec's `method` unless
    /// `native` says core does this encoding (given the codec's canonical name).
    fn new(
        py: Python<'_>,
        encoding: &str,
        errors: &str,
        method: &Bound<'_, PyString>,
        native: impl FnOnce(&str) -> bool,
    ) -> PyResult<(Settings, Option<Codec>)> {
        let (name, info) = lookup(py, encoding)?;
        check_errors(py, errors)?;
        let codec = if native(&name) {
            None
        } else {
            Some(Codec {
                function: info.getattr(method)?.unbind(),
                errors: PyString::new(py, errors).unbind(),
            })
        };
        let settings = Settings {
            encoding: name,
            errors: errors.to_string(),
        };
        Ok((settings, codec))
    }

    /// `nioxide.CLASS("encoding", errors="errors")`.
    fn repr(&self, class: &str) -> String {
        format!(
            "nioxide.{class}({:?}, errors={:?})",
            self.encoding, self.errors
        )
    }
}

/// A string decoder through a Python codec's `decode`.
#[derive(Debug)]
struct CodecDecoder(Codec);

impl CodecDecoder {
    /// Decodes one frame: a string message, or the failure (a `UnicodeDecodeError` as
    /// `MalformedInputException` with it as the cause).
    fn decode(&self, py: Python<'_>, buffer: CoreBuffer) -> Result<Message, Failure> {
        let run = || -> PyResult<Message> {
            let frame = Bound::new(py, Buffer::wrap(buffer))?;
            to_message(&self.0.call(py, frame.as_any())?)
        };
        run().map_err(|err| {
            if err.is_instance_of::<PyUnicodeDecodeError>(py) {
                let malformed = MalformedInputException::new_err(err.to_string());
                malformed.set_cause(py, Some(err));
                return failure_of(py, malformed);
            }
            failure_of(py, err)
        })
    }
}

impl ChannelHandler for CodecDecoder {
    fn mask(&self) -> Mask {
        Mask::READ
    }

    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let Message::Buffer(buffer) = msg else {
            ctx.fire_channel_read(msg);
            return Ok(());
        };
        // Without an interpreter (at exit) the frame is dropped: nothing could read it.
        if let Some(text) = gil::attach_loop(|py| self.decode(py, buffer)) {
            ctx.fire_channel_read(text?);
        }
        Ok(())
    }
}

/// `StringDecoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct StringDecoder {
    settings: Settings,
}

#[pymethods]
impl StringDecoder {
    #[new]
    #[pyo3(signature = (encoding = "utf-8", errors = "replace"))]
    fn new(py: Python<'_>, encoding: &str, errors: &str) -> PyResult<PyClassInitializer<Self>> {
        let native = |name: &str| name == "utf-8" && matches!(errors, "strict" | "replace");
        let method = intern!(py, "decode");
        let (settings, codec) = Settings::new(py, encoding, errors, method, native)?;
        let make: super::MakeHandler = match codec {
            None => {
                let strict = errors == "strict";
                Box::new(move |_: &Bound<'_, PyAny>| {
                    Ok(Box::new(CoreDecoder::with_strict(strict)) as _)
                })
            }
            Some(codec) => Box::new(move |object: &Bound<'_, PyAny>| {
                Ok(Box::new(CodecDecoder(codec.clone_ref(object.py()))) as _)
            }),
        };
        Ok(PyClassInitializer::from(NativeHandler::new(make))
            .add_subclass(StringDecoder { settings }))
    }

    #[getter]
    fn encoding(&self) -> &str {
        &self.settings.encoding
    }

    #[getter]
    fn errors(&self) -> &str {
        &self.settings.errors
    }

    fn __repr__(&self) -> String {
        self.settings.repr("StringDecoder")
    }
}

/// A string encoder through a Python codec's `encode`.
#[derive(Debug)]
struct CodecEncoder(Codec);

impl Encoder for CodecEncoder {
    fn accepts(&self, msg: &Message) -> bool {
        msg.as_str().is_some()
    }

    fn encode(&mut self, _ctx: &Context, msg: Message, out: &mut Vec<CoreBuffer>) -> HandlerResult {
        let Some(text) = msg.as_str() else {
            return Err(Failure {
                error: ErrorKind::InvalidArgument.into(),
                detail: Some(Box::new("StringEncoder encodes strings only".to_string())),
            });
        };
        let encoded = gil::attach_loop(|py| {
            let run = || -> PyResult<CoreBuffer> {
                let bytes = self.0.call(py, PyString::new(py, text).as_any())?;
                let bytes = bytes.cast::<PyBytes>()?;
                Ok(CoreBuffer::copy_from_slice(bytes.as_bytes()))
            };
            // A character the encoding cannot represent fails the write with the codec's
            // `UnicodeEncodeError`.
            run().map_err(|err| failure_of(py, err))
        });
        if let Some(encoded) = encoded {
            out.push(encoded?);
        }
        Ok(())
    }
}

/// `StringEncoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct StringEncoder {
    settings: Settings,
}

#[pymethods]
impl StringEncoder {
    #[new]
    #[pyo3(signature = (encoding = "utf-8", errors = "strict"))]
    fn new(py: Python<'_>, encoding: &str, errors: &str) -> PyResult<PyClassInitializer<Self>> {
        let method = intern!(py, "encode");
        let (settings, codec) = Settings::new(py, encoding, errors, method, |n| n == "utf-8")?;
        let make: super::MakeHandler = match codec {
            None => Box::new(|_: &Bound<'_, PyAny>| Ok(CoreEncoder::new().into_handler().boxed())),
            Some(codec) => Box::new(move |object: &Bound<'_, PyAny>| {
                let encoder = CodecEncoder(codec.clone_ref(object.py()));
                Ok(encoder.into_handler().boxed())
            }),
        };
        Ok(PyClassInitializer::from(NativeHandler::new(make))
            .add_subclass(StringEncoder { settings }))
    }

    #[getter]
    fn encoding(&self) -> &str {
        &self.settings.encoding
    }

    #[getter]
    fn errors(&self) -> &str {
        &self.settings.errors
    }

    fn __repr__(&self) -> String {
        self.settings.repr("StringEncoder")
    }
}
