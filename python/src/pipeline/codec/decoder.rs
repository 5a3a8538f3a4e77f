//! `ByteToMessageDecoder` for Python: a base class users subclass with
//! `decode(self, ctx, buffer)`, run by core's `ByteToMessageDecoder` (cumulation, decode while
//! there is progress, the rest handed on at removal, `decode_last` at the end of input,
//! removal inside `decode` deferred as in Netty); and `Cumulation`, the view of the cumulated
//! bytes `decode` gets.
//!
//! The view points at core's cumulation only while `decode` runs (a raw pointer set for the
//! call and cleared after it; every method checks it). Its buffer-protocol export must stay
//! valid as long as the `memoryview` lives, even past the call and across later reads, which
//! may move or reuse the cumulation's storage: so an export first pins the readable bytes
//! (takes them out as a shared buffer and puts them back, no copy) and holds its own reference
//! to them until the export is released.

use std::cell::Cell;
use std::os::raw::c_int;

use nioxide_core::pipeline::codec::{
    ByteToMessageDecoder as CoreHandler, Cumulation as CoreCumulation, Decoder,
};
use nioxide_core::pipeline::{Buffer as CoreBuffer, Context, HandlerResult, Message};
use pyo3::exceptions::{PyException, PyIndexError, PyNotImplementedError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PySlice, PyString, PyTuple};
use pyo3::{ffi, intern};

use super::{NativeHandler, Releasing, Subclass};
use crate::error::{DecoderException, invalid};
use crate::pipeline::message::{Buffer, bytes_of, to_message};

/// The decode step that calls a Python subclass's `decode` / `decode_last`.
#[derive(Debug)]
struct PyDecoder(Subclass);

impl PyDecoder {
    /// Calls `method` (`decode` or `decode_last`) with a view of `input`; the messages it
    /// returns go to `out`. An exception becomes the failure (wrapped in
    /// `DecoderException` unless it is one).
    fn call(
        &mut self,
        ctx: &Context,
        input: &mut CoreCumulation,
        out: &mut Vec<Message>,
        last: bool,
    ) -> HandlerResult {
        self.0.call(ctx, decoder_error, |py, object, ctx_object| {
            let method = if last {
                intern!(py, "decode_last")
            } else {
                intern!(py, "decode")
            };
            let view = Bound::new(
                py,
                Cumulation {
                    input: Cell::new(input as *mut CoreCumulation),
                },
            )?;
            let result = object.call_method1(method, (ctx_object, &view));
            view.borrow().input.set(std::ptr::null_mut());
            collect(&result?, out)
        })
    }

    /// Whether the subclass defines `decode_last`.
    fn has_decode_last(&self) -> bool {
        self.0
            .with(|object| object.hasattr(intern!(object.py(), "decode_last")))
            .and_then(Result::ok)
            .unwrap_or(false)
    }
}

/// An exception from `decode` as the decoder reports it: a `DecoderException` as it is,
/// another `Exception` wrapped in one (its cause), anything else (`KeyboardInterrupt`) as it
/// is.
fn decoder_error(py: Python<'_>, err: PyErr) -> PyErr {
    if err.is_instance_of::<DecoderException>(py) || !err.is_instance_of::<PyException>(py) {
        return err;
    }
    let wrapped = DecoderException::new_err(format!(
        "{}: {}",
        err.get_type(py)
            .qualname()
            .map_or_else(|_| "?".into(), |n| n.to_string()),
        err.value(py)
    ));
    wrapped.set_cause(py, Some(err));
    wrapped
}

/// The messages `decode` returned (`None`, or an iterable of messages) into `out`.
fn collect(result: &Bound<'_, PyAny>, out: &mut Vec<Message>) -> PyResult<()> {
    if result.is_none() {
        return Ok(());
    }
    if result.is_instance_of::<PyBytes>()
        || result.is_instance_of::<PyByteArray>()
        || result.is_instance_of::<PyString>()
        || result.is_instance_of::<Buffer>()
    {
        return Err(PyTypeError::new_err(format!(
            "decode() returns a list (or another iterable) of messages, or None; not a single \
             '{}' (wrap it in a list)",
            result.get_type().name()?
        )));
    }
    for msg in result.try_iter()? {
        out.push(to_message(&msg?)?);
    }
    Ok(())
}

impl Decoder for PyDecoder {
    fn decode(
        &mut self,
        ctx: &Context,
        input: &mut CoreCumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        self.call(ctx, input, out, false)
    }

    fn decode_last(
        &mut self,
        ctx: &Context,
        input: &mut CoreCumulation,
        out: &mut Vec<Message>,
    ) -> HandlerResult {
        if self.has_decode_last() {
            return self.call(ctx, input, out, true);
        }
        if input.is_empty() {
            return Ok(());
        }
        self.call(ctx, input, out, false)
    }
}

/// `ByteToMessageDecoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, subclass, frozen)]
#[derive(Debug)]
pub(crate) struct ByteToMessageDecoder {}

#[pymethods]
impl ByteToMessageDecoder {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyAny>>,
    ) -> PyClassInitializer<Self> {
        let make = |object: &Bound<'_, PyAny>| {
            let single = object
                .getattr(intern!(object.py(), "single_decode"))?
                .is_truthy()?;
            let decoder = PyDecoder(Subclass::new(object));
            let core = CoreHandler::new(decoder).with_single_decode(single);
            // The decoder (and the object) goes with core's work at removal.
            let handler = Releasing::new(core, |_| ());
            Ok(Box::new(handler) as _)
        };
        PyClassInitializer::from(NativeHandler::new(Box::new(make)))
            .add_subclass(ByteToMessageDecoder {})
    }

    /// Decode at most one message per read (Netty's `singleDecode`); a subclass sets it to
    /// `True` as a class (or instance) attribute, read when the decoder is added.
    #[classattr]
    fn single_decode() -> bool {
        false
    }

    /// The base's `decode`: a subclass must define its own.
    fn decode(&self, ctx: &Bound<'_, PyAny>, buffer: &Bound<'_, PyAny>) -> PyResult<()> {
        let _ = (ctx, buffer);
        Err(PyNotImplementedError::new_err(
            "a ByteToMessageDecoder subclass defines decode(self, ctx, buffer)",
        ))
    }
}

/// `Cumulation`: the view of a decoder's cumulated bytes; see the stub.
#[pyclass(module = "nioxide._nioxide", unsendable)]
#[derive(Debug)]
pub(crate) struct Cumulation {
    /// Core's cumulation while `decode` runs; null after.
    input: Cell<*mut CoreCumulation>,
}

impl Cumulation {
    /// Runs `f` with the cumulation, or raises for a view used after its `decode` call.
    fn with<R>(&self, f: impl FnOnce(&mut CoreCumulation) -> PyResult<R>) -> PyResult<R> {
        let input = self.input.get();
        if input.is_null() {
            return Err(invalid(
                "the decode buffer is valid only during the decode() call that got it",
            ));
        }
        // SAFETY: the pointer is set only for the length of a `decode` call, during which
        // core lends the cumulation to the decoder and no one else touches it; the view is
        // `unsendable` (the loop's thread only), and `f` (this module's code, which calls no
        // Python code) is the only user of the reference while it runs.
        f(unsafe { &mut *input })
    }

    /// `n` as a count of readable bytes: `0 <= n <= len`.
    fn count(what: &str, n: i64, len: usize) -> PyResult<usize> {
        match usize::try_from(n) {
            Ok(n) if n <= len => Ok(n),
            _ => Err(invalid(format!(
                "{what}({n}) with {len} readable bytes: 0 <= n <= len(buffer)"
            ))),
        }
    }
}

#[pymethods]
impl Cumulation {
    fn __len__(&self) -> PyResult<usize> {
        self.with(|input| Ok(input.len()))
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.with(|input| Ok(PyBytes::new(py, input.as_slice())))
    }

    /// A read-only export of the readable bytes, pinned for as long as the export lives.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let pinned = slf.borrow().with(|input| {
            let pinned = input.take_all();
            input.append(pinned.clone());
            Ok(pinned)
        })?;
        // SAFETY: `view` comes from the interpreter; the bytes are immutable and held by
        // `pinned`, which the export owns (`internal`) until `__releasebuffer__`.
        let status = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                pinned.as_slice().as_ptr() as *mut std::ffi::c_void,
                pinned.len() as ffi::Py_ssize_t,
                1,
                flags,
            )
        };
        if status == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        // SAFETY: as above; `internal` is the exporter's own field.
        unsafe { (*view).internal = Box::into_raw(Box::new(pinned)).cast() };
        Ok(())
    }

    /// Lets go of the bytes an export pinned.
    unsafe fn __releasebuffer__(&self, view: *mut ffi::Py_buffer) {
        // SAFETY: `internal` was set by `__getbuffer__` to a boxed buffer, released once.
        unsafe {
            let pinned = (*view).internal.cast::<CoreBuffer>();
            if !pinned.is_null() {
                (*view).internal = std::ptr::null_mut();
                drop(Box::from_raw(pinned));
            }
        }
    }

    /// The byte at `index` (an int), or a copy of a slice (`bytes`).
    fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(slice) = index.cast::<PySlice>() {
            let bytes = self.__bytes__(py)?;
            return Ok(bytes.as_any().get_item(slice)?.unbind());
        }
        let i: isize = index.extract()?;
        let byte = self.with(|input| {
            let len = input.len() as isize;
            let at = if i < 0 { i + len } else { i };
            if at < 0 || at >= len {
                return Err(PyIndexError::new_err("decode buffer index out of range"));
            }
            Ok(input.as_slice()[at as usize])
        })?;
        Ok(byte.into_pyobject(py)?.into_any().unbind())
    }

    /// A copy of the first `n` readable bytes (all of them by default), not consumed.
    #[pyo3(signature = (n = None))]
    fn peek<'py>(&self, py: Python<'py>, n: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        self.with(|input| {
            let data = input.as_slice();
            let n = match n {
                Some(n) => Cumulation::count("peek", n, data.len())?,
                None => data.len(),
            };
            Ok(PyBytes::new(py, &data[..n]))
        })
    }

    /// The index of the first occurrence of `sub` (bytes-like, or one byte as an int) at or
    /// after `start` (negative: from the end), or -1.
    #[pyo3(signature = (sub, start = 0))]
    fn find(&self, sub: &Bound<'_, PyAny>, start: i64) -> PyResult<i64> {
        let len = self.with(|input| Ok(input.len()))?;
        // As `bytes.find`: a negative start counts from the end.
        let start = if start < 0 {
            len.saturating_sub(start.unsigned_abs() as usize)
        } else {
            start as usize
        };
        let found = if let Ok(byte) = sub.extract::<u8>() {
            self.with(|input| Ok(input.find_byte(byte, start)))?
        } else {
            let needle = bytes_of(sub)?.ok_or_else(|| {
                PyTypeError::new_err("find() takes a bytes-like object or a byte (an int)")
            })?;
            self.with(|input| Ok(input.find(&needle, start)))?
        };
        Ok(found.map_or(-1, |at| at as i64))
    }

    /// Consumes the first `n` readable bytes and returns them as a `Buffer` message sharing
    /// them (no copy).
    fn read(&self, n: i64) -> PyResult<Buffer> {
        self.with(|input| {
            let n = Cumulation::count("read", n, input.len())?;
            Ok(Buffer::wrap(input.take(n)))
        })
    }

    /// Consumes (drops) the first `n` readable bytes.
    fn skip(&self, n: i64) -> PyResult<()> {
        self.with(|input| {
            let n = Cumulation::count("skip", n, input.len())?;
            input.skip(n);
            Ok(())
        })
    }

    fn __repr__(&self) -> String {
        match self.with(|input| Ok(input.len())) {
            Ok(len) => format!("<nioxide.Cumulation {len} bytes>"),
            Err(_) => "<nioxide.Cumulation (released)>".to_string(),
        }
    }
}
