//! `nioxide.ChannelPipeline`: core's [`Pipeline`](nx::Pipeline), a channel's ordered list of
//! named handlers between its head and tail.
//!
//! Changes may come from any thread and from inside a handler (core decides names and order
//! at the call; `handler_added` and `handler_removed` run on the loop). A handler added
//! without a name is named after its class, `"EchoHandler#0"`, as Netty does.

use nioxide_core::pipeline::{self as nx, Position};
use nioxide_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::channel;
use super::codec;
use super::context::{self, ChannelHandlerContext};
use super::handler::{boxed, handler_object, unclaim};
use crate::error::{invalid, to_pyerr};
use crate::event_loop::promise::Future;

/// A channel's pipeline; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen)]
#[derive(Debug)]
pub(crate) struct ChannelPipeline {
    core: nx::Pipeline,
}

impl ChannelPipeline {
    pub(crate) fn wrap(core: nx::Pipeline) -> ChannelPipeline {
        ChannelPipeline { core }
    }
}

/// A name for `handler` not taken in `pipeline`: its class's name and the first free number.
fn generated_name(pipeline: &nx::Pipeline, handler: &Bound<'_, PyAny>) -> PyResult<String> {
    let class = handler.get_type().name()?.to_string();
    let names = pipeline.names();
    Ok((0..)
        .map(|n| format!("{class}#{n}"))
        .find(|name| !names.contains(name))
        .unwrap_or(class))
}

/// Adds the Python `handler` to `pipeline` at `position`, named `name` (or a generated name);
/// returns its context. Refuses a handler that is no handler, or one that is not sharable
/// and was added before.
pub(crate) fn add(
    pipeline: &nx::Pipeline,
    position: Position<'_>,
    handler: &Bound<'_, PyAny>,
    name: Option<&str>,
) -> PyResult<nx::Context> {
    let name = match name {
        Some(name) => name.to_string(),
        None => generated_name(pipeline, handler)?,
    };
    let core_handler = boxed(handler)?;
    let ctx = pipeline.add(position, &name, core_handler).map_err(|err| {
        unclaim(handler);
        match err {
            Error::Kind(ErrorKind::InvalidArgument) => invalid(match position {
                Position::Before(base) | Position::After(base) if pipeline.get(base).is_none() => {
                    format!("no handler named {base:?} in the pipeline")
                }
                _ => format!("the pipeline has a handler named {name:?} already"),
            }),
            other => to_pyerr(other),
        }
    })?;
    codec::remember(&ctx, handler);
    Ok(ctx)
}

/// The context of the handler `key` names: a name (`str`) or the handler object itself.
fn find(pipeline: &nx::Pipeline, key: &Bound<'_, PyAny>) -> PyResult<Option<nx::Context>> {
    if let Ok(name) = key.cast::<PyString>() {
        return Ok(pipeline.get(&name.to_cow()?));
    }
    let py = key.py();
    Ok(pipeline.names().iter().find_map(|name| {
        let ctx = pipeline.get(name)?;
        let object = handler_object(py, &ctx)?;
        object.bind(py).is(key).then_some(ctx)
    }))
}

fn missing(key: &Bound<'_, PyAny>) -> PyErr {
    let shown = key.repr().map_or_else(|_| "?".into(), |r| r.to_string());
    invalid(format!("no handler {shown} in the pipeline"))
}

pipeline_methods!(ChannelPipeline {
    #[getter]
    fn channel<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, channel::Channel>> {
        channel::object(py, self.core.channel())
    }

    #[pyo3(signature = (handler, name = None))]
    fn add_first<'py>(
        slf: Bound<'py, Self>,
        handler: &Bound<'_, PyAny>,
        name: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        add(&slf.get().core, Position::First, handler, name)?;
        Ok(slf)
    }

    #[pyo3(signature = (handler, name = None))]
    fn add_last<'py>(
        slf: Bound<'py, Self>,
        handler: &Bound<'_, PyAny>,
        name: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        add(&slf.get().core, Position::Last, handler, name)?;
        Ok(slf)
    }

    #[pyo3(signature = (base, handler, name = None))]
    fn add_before<'py>(
        slf: Bound<'py, Self>,
        base: &str,
        handler: &Bound<'_, PyAny>,
        name: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        add(&slf.get().core, Position::Before(base), handler, name)?;
        Ok(slf)
    }

    #[pyo3(signature = (base, handler, name = None))]
    fn add_after<'py>(
        slf: Bound<'py, Self>,
        base: &str,
        handler: &Bound<'_, PyAny>,
        name: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        add(&slf.get().core, Position::After(base), handler, name)?;
        Ok(slf)
    }

    /// Removes the handler `key` names (a name or the handler) and returns it.
    fn remove(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let py = key.py();
        let ctx = find(&self.core, key)?.ok_or_else(|| missing(key))?;
        let object = handler_object(py, &ctx);
        self.core.remove_context(&ctx).map_err(|_| missing(key))?;
        Ok(object)
    }

    /// Replaces the handler `old` names with `handler` (named `name`, or a generated name)
    /// in the same place; returns the old one.
    #[pyo3(signature = (old, handler, name = None))]
    fn replace(
        &self,
        old: &Bound<'_, PyAny>,
        handler: &Bound<'_, PyAny>,
        name: Option<&str>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let py = old.py();
        let ctx = find(&self.core, old)?.ok_or_else(|| missing(old))?;
        let object = handler_object(py, &ctx);
        let name = match name {
            Some(name) => name.to_string(),
            None => generated_name(&self.core, handler)?,
        };
        let core_handler = boxed(handler)?;
        let added = self
            .core
            .replace(ctx.name(), &name, core_handler)
            .map_err(|_| {
                unclaim(handler);
                invalid(format!(
                    "cannot replace {:?} with a handler named {name:?} (the name is taken)",
                    ctx.name()
                ))
            })?;
        codec::remember(&added, handler);
        Ok(object)
    }

    fn get(&self, py: Python<'_>, name: &str) -> Option<Py<PyAny>> {
        handler_object(py, &self.core.get(name)?)
    }

    fn context(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<Py<ChannelHandlerContext>>> {
        match find(&self.core, key)? {
            Some(ctx) => Ok(Some(context::object(key.py(), &ctx)?)),
            None => Ok(None),
        }
    }

    fn names(&self) -> Vec<String> {
        self.core.names()
    }

    fn first(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        handler_object(py, &self.core.first()?)
    }

    fn last(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        handler_object(py, &self.core.last()?)
    }

    fn __len__(&self) -> usize {
        self.core.names().len()
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(find(&self.core, key)?.is_some())
    }

    fn __repr__(&self) -> String {
        format!("<nioxide.ChannelPipeline {:?}>", self.core.names())
    }
});
