//! Python's `ChannelInitializer` in core: the function core's initializer (or a bootstrap)
//! runs for each new channel. A `ChannelInitializer` subclass runs its `init_channel`; any
//! other handler given to a bootstrap is added to each channel's pipeline instead.

use std::sync::Arc;

use nioxide_core::pipeline as nx;
use pyo3::intern;
use pyo3::prelude::*;

use super::handler::{failure_of, is_initializer};
use crate::gil;

/// The function core runs to set a channel up with a Python `ChannelInitializer`
/// (`init_channel(channel)`), or, for another handler, to add that handler to the channel's
/// pipeline. An exception fails it (core fires it and closes the channel).
pub(crate) fn init_fn(handler: &Bound<'_, PyAny>) -> nx::InitFn {
    let initializer = is_initializer(handler).unwrap_or(false);
    let handler = handler.clone().unbind();
    Arc::new(move |channel: &nx::Channel| {
        gil::attach_loop(|py| {
            let run = || -> PyResult<()> {
                let handler = handler.bind(py);
                if initializer {
                    let channel = super::channel::object(py, channel)?;
                    handler.call_method1(intern!(py, "init_channel"), (channel,))?;
                    return Ok(());
                }
                super::list::add(&channel.pipeline(), nx::Position::Last, handler, None).map(drop)
            };
            run().map_err(|err| failure_of(py, err))
        })
        .unwrap_or(Ok(()))
    })
}
