//! `DelimiterBasedFrameDecoder` for Python: core's delimiter decoder as a native handler.

use nioxide_core::pipeline::codec::{Decoder, DelimiterBasedFrameDecoder as Core};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use super::line::py_bool;
use super::{NativeHandler, config_error, size};
use crate::pipeline::message::bytes_of;

/// `DelimiterBasedFrameDecoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct DelimiterBasedFrameDecoder {
    max_frame_length: usize,
    delimiters: Vec<Vec<u8>>,
    strip_delimiter: bool,
    fail_fast: bool,
}

/// Core's decoder for a checked configuration.
fn core(
    max_frame_length: usize,
    delimiters: &[Vec<u8>],
    strip_delimiter: bool,
    fail_fast: bool,
) -> PyResult<Core> {
    Ok(Core::new(max_frame_length, delimiters)
        .map_err(config_error)?
        .with_strip_delimiter(strip_delimiter)
        .with_fail_fast(fail_fast))
}

#[pymethods]
impl DelimiterBasedFrameDecoder {
    #[new]
    #[pyo3(signature = (max_frame_length, *delimiters, strip_delimiter = true, fail_fast = true))]
    fn new(
        max_frame_length: i64,
        delimiters: &Bound<'_, PyTuple>,
        strip_delimiter: bool,
        fail_fast: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let max_frame_length = size("max_frame_length", max_frame_length)?;
        let delimiters = delimiters
            .iter()
            .map(|d| {
                bytes_of(&d)?.ok_or_else(|| {
                    PyTypeError::new_err(format!(
                        "a delimiter is bytes-like (bytes, bytearray, memoryview, Buffer), \
                         not '{}'",
                        d.get_type()
                            .name()
                            .map_or_else(|_| "?".into(), |n| n.to_string())
                    ))
                })
            })
            .collect::<PyResult<Vec<Vec<u8>>>>()?;
        core(max_frame_length, &delimiters, strip_delimiter, fail_fast)?;
        let kept = delimiters.clone();
        let make = move |_: &Bound<'_, PyAny>| {
            Ok(core(max_frame_length, &kept, strip_delimiter, fail_fast)?
                .into_handler()
                .boxed())
        };
        Ok(
            PyClassInitializer::from(NativeHandler::new(Box::new(make))).add_subclass(
                DelimiterBasedFrameDecoder {
                    max_frame_length,
                    delimiters,
                    strip_delimiter,
                    fail_fast,
                },
            ),
        )
    }

    #[getter]
    fn max_frame_length(&self) -> usize {
        self.max_frame_length
    }

    #[getter]
    fn delimiters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.delimiters.iter().map(|d| PyBytes::new(py, d)))
    }

    #[getter]
    fn strip_delimiter(&self) -> bool {
        self.strip_delimiter
    }

    #[getter]
    fn fail_fast(&self) -> bool {
        self.fail_fast
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut delimiters = String::new();
        for d in &self.delimiters {
            delimiters.push_str(", ");
            delimiters.push_str(&PyBytes::new(py, d).repr()?.to_string());
        }
        Ok(format!(
            "nioxide.DelimiterBasedFrameDecoder({}{delimiters}, strip_delimiter={}, \
             fail_fast={})",
            self.max_frame_length,
            py_bool(self.strip_delimiter),
            py_bool(self.fail_fast)
        ))
    }
}
