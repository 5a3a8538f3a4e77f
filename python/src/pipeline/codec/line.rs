//! `LineBasedFrameDecoder` for Python: core's line decoder as a native handler.

use nioxide_core::pipeline::codec::{Decoder, LineBasedFrameDecoder as Core};
use pyo3::prelude::*;

use super::{NativeHandler, config_error, size};

/// `LineBasedFrameDecoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct LineBasedFrameDecoder {
    max_length: usize,
    strip_delimiter: bool,
    fail_fast: bool,
}

/// Core's decoder for a checked configuration.
fn core(max_length: usize, strip_delimiter: bool, fail_fast: bool) -> PyResult<Core> {
    Ok(Core::new(max_length)
        .map_err(config_error)?
        .with_strip_delimiter(strip_delimiter)
        .with_fail_fast(fail_fast))
}

#[pymethods]
impl LineBasedFrameDecoder {
    #[new]
    #[pyo3(signature = (max_length, strip_delimiter = true, fail_fast = false))]
    fn new(
        max_length: i64,
        strip_delimiter: bool,
        fail_fast: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let max_length = size("max_length", max_length)?;
        core(max_length, strip_delimiter, fail_fast)?;
        let make = move |_: &Bound<'_, PyAny>| {
            Ok(core(max_length, strip_delimiter, fail_fast)?
                .into_handler()
                .boxed())
        };
        Ok(
            PyClassInitializer::from(NativeHandler::new(Box::new(make))).add_subclass(
                LineBasedFrameDecoder {
                    max_length,
                    strip_delimiter,
                    fail_fast,
                },
            ),
        )
    }

    #[getter]
    fn max_length(&self) -> usize {
        self.max_length
    }

    #[getter]
    fn strip_delimiter(&self) -> bool {
        self.strip_delimiter
    }

    #[getter]
    fn fail_fast(&self) -> bool {
        self.fail_fast
    }

    fn __repr__(&self) -> String {
        format!(
            "nioxide.LineBasedFrameDecoder({}, strip_delimiter={}, fail_fast={})",
            self.max_length,
            py_bool(self.strip_delimiter),
            py_bool(self.fail_fast)
        )
    }
}

/// `True` or `False`, as Python writes them.
pub(crate) fn py_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}
