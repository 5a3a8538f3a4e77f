//! `FixedLengthFrameDecoder` for Python: core's fixed-length decoder as a native handler.

use nioxide_core::pipeline::codec::{Decoder, FixedLengthFrameDecoder as Core};
use pyo3::prelude::*;

use super::{NativeHandler, config_error, size};

/// `FixedLengthFrameDecoder`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct FixedLengthFrameDecoder {
    frame_length: usize,
}

#[pymethods]
impl FixedLengthFrameDecoder {
    #[new]
    fn new(frame_length: i64) -> PyResult<PyClassInitializer<Self>> {
        let frame_length = size("frame_length", frame_length)?;
        Core::new(frame_length).map_err(config_error)?;
        let make = move |_: &Bound<'_, PyAny>| {
            Ok(Core::new(frame_length)
                .map_err(config_error)?
                .into_handler()
                .boxed())
        };
        Ok(PyClassInitializer::from(NativeHandler::new(Box::new(make)))
            .add_subclass(FixedLengthFrameDecoder { frame_length }))
    }

    #[getter]
    fn frame_length(&self) -> usize {
        self.frame_length
    }

    fn __repr__(&self) -> String {
        format!("nioxide.FixedLengthFrameDecoder({})", self.frame_length)
    }
}
