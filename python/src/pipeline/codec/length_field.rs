//! `LengthFieldBasedFrameDecoder` and `LengthFieldPrepender` for Python: core's length-field
//! codecs as native handlers.

use nioxide_core::pipeline::codec::{
    ByteOrder, Decoder, Encoder, LengthFieldBasedFrameDecoder as CoreDecoder,
    LengthFieldPrepender as CorePrepender,
};
use pyo3::prelude::*;

use super::line::py_bool;
use super::{NativeHandler, config_error, size};
use crate::error::invalid;

/// A byte order by Python's names (`int.to_bytes`' `byteorder`).
fn byte_order(name: &str) -> PyResult<ByteOrder> {
    match name {
        "big" => Ok(ByteOrder::BigEndian),
        "little" => Ok(ByteOrder::LittleEndian),
        other => Err(invalid(format!(
            "byteorder must be 'big' or 'little', not {other:?}"
        ))),
    }
}

/// Python's name of a byte order.
fn order_name(order: ByteOrder) -> &'static str {
    match order {
        ByteOrder::BigEndian => "big",
        ByteOrder::LittleEndian => "little",
    }
}

/// The checked layout of a `LengthFieldBasedFrameDecoder`.
#[derive(Clone, Copy, Debug)]
struct Layout {
    max_frame_length: usize,
    length_field_offset: usize,
    length_field_length: usize,
    length_adjustment: i64,
    initial_bytes_to_strip: usize,
    fail_fast: bool,
    byte_order: ByteOrder,
}

impl Layout {
    /// Core's decoder for this layout.
    fn core(&self) -> PyResult<CoreDecoder> {
        Ok(CoreDecoder::new(
            self.max_frame_length,
            self.length_field_offset,
            self.length_field_length,
            self.length_adjustment,
            self.initial_bytes_to_strip,
        )
        .map_err(config_error)?
        .with_fail_fast(self.fail_fast)
        .with_byte_order(self.byte_order))
    }
}

/// `LengthFieldBasedFrameDecoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct LengthFieldBasedFrameDecoder {
    layout: Layout,
}

#[pymethods]
impl LengthFieldBasedFrameDecoder {
    #[new]
    #[pyo3(signature = (
        max_frame_length,
        length_field_offset,
        length_field_length,
        length_adjustment = 0,
        initial_bytes_to_strip = 0,
        fail_fast = true,
        byteorder = "big",
    ))]
    fn new(
        max_frame_length: i64,
        length_field_offset: i64,
        length_field_length: i64,
        length_adjustment: i64,
        initial_bytes_to_strip: i64,
        fail_fast: bool,
        byteorder: &str,
    ) -> PyResult<PyClassInitializer<Self>> {
        let layout = Layout {
            max_frame_length: size("max_frame_length", max_frame_length)?,
            length_field_offset: size("length_field_offset", length_field_offset)?,
            length_field_length: size("length_field_length", length_field_length)?,
            length_adjustment,
            initial_bytes_to_strip: size("initial_bytes_to_strip", initial_bytes_to_strip)?,
            fail_fast,
            byte_order: byte_order(byteorder)?,
        };
        layout.core()?;
        let make = move |_: &Bound<'_, PyAny>| Ok(layout.core()?.into_handler().boxed());
        Ok(PyClassInitializer::from(NativeHandler::new(Box::new(make)))
            .add_subclass(LengthFieldBasedFrameDecoder { layout }))
    }

    #[getter]
    fn max_frame_length(&self) -> usize {
        self.layout.max_frame_length
    }

    #[getter]
    fn length_field_offset(&self) -> usize {
        self.layout.length_field_offset
    }

    #[getter]
    fn length_field_length(&self) -> usize {
        self.layout.length_field_length
    }

    #[getter]
    fn length_adjustment(&self) -> i64 {
        self.layout.length_adjustment
    }

    #[getter]
    fn initial_bytes_to_strip(&self) -> usize {
        self.layout.initial_bytes_to_strip
    }

    #[getter]
    fn fail_fast(&self) -> bool {
        self.layout.fail_fast
    }

    #[getter]
    fn byteorder(&self) -> &'static str {
        order_name(self.layout.byte_order)
    }

    fn __repr__(&self) -> String {
        let l = &self.layout;
        format!(
            "nioxide.LengthFieldBasedFrameDecoder({}, {}, {}, length_adjustment={}, \
             initial_bytes_to_strip={}, fail_fast={}, byteorder='{}')",
            l.max_frame_length,
            l.length_field_offset,
            l.length_field_length,
            l.length_adjustment,
            l.initial_bytes_to_strip,
            py_bool(l.fail_fast),
            order_name(l.byte_order)
        )
    }
}

/// The checked configuration of a `LengthFieldPrepender`.
#[derive(Clone, Copy, Debug)]
struct Prefix {
    length_field_length: usize,
    length_adjustment: i64,
    includes_field: bool,
    byte_order: ByteOrder,
}

impl Prefix {
    /// Core's encoder for this configuration.
    fn core(&self) -> PyResult<CorePrepender> {
        Ok(CorePrepender::new(self.length_field_length)
            .map_err(config_error)?
            .with_length_adjustment(self.length_adjustment)
            .with_length_includes_length_field_length(self.includes_field)
            .with_byte_order(self.byte_order))
    }
}

/// `LengthFieldPrepender`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct LengthFieldPrepender {
    prefix: Prefix,
}

#[pymethods]
impl LengthFieldPrepender {
    #[new]
    #[pyo3(signature = (
        length_field_length,
        length_adjustment = 0,
        length_includes_length_field_length = false,
        byteorder = "big",
    ))]
    fn new(
        length_field_length: i64,
        length_adjustment: i64,
        length_includes_length_field_length: bool,
        byteorder: &str,
    ) -> PyResult<PyClassInitializer<Self>> {
        let prefix = Prefix {
            length_field_length: size("length_field_length", length_field_length)?,
            length_adjustment,
            includes_field: length_includes_length_field_length,
            byte_order: byte_order(byteorder)?,
        };
        prefix.core()?;
        let make = move |_: &Bound<'_, PyAny>| Ok(prefix.core()?.into_handler().boxed());
        Ok(PyClassInitializer::from(NativeHandler::new(Box::new(make)))
            .add_subclass(LengthFieldPrepender { prefix }))
    }

    #[getter]
    fn length_field_length(&self) -> usize {
        self.prefix.length_field_length
    }

    #[getter]
    fn length_adjustment(&self) -> i64 {
        self.prefix.length_adjustment
    }

    #[getter]
    fn length_includes_length_field_length(&self) -> bool {
        self.prefix.includes_field
    }

    #[getter]
    fn byteorder(&self) -> &'static str {
        order_name(self.prefix.byte_order)
    }

    fn __repr__(&self) -> String {
        let p = &self.prefix;
        format!(
            "nioxide.LengthFieldPrepender({}, length_adjustment={}, \
             length_includes_length_field_length={}, byteorder='{}')",
            p.length_field_length,
            p.length_adjustment,
            py_bool(p.includes_field),
            order_name(p.byte_order)
        )
    }
}
