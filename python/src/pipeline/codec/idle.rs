//! Idle-state handlers for Python: `IdleStateHandler`, `ReadTimeoutHandler` and
//! `WriteTimeoutHandler` (native handlers over core's), `IdleState`, and `IdleStateEvent`
//! with Netty's six singletons, the only instances there are: an idle event a Python
//! handler gets is one of them, so `event is IdleStateEvent.FIRST_READER_IDLE_STATE_EVENT`
//! works. Timeouts reach `exception_caught` as `nioxide.ReadTimeoutException` /
//! `nioxide.WriteTimeoutException` (see `handler::exception_of`).

use std::time::Duration;

use nioxide_core::pipeline::codec::{
    self as nx, IdleStateHandler as CoreIdle, ReadTimeoutHandler as CoreRead,
    WriteTimeoutHandler as CoreWrite,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use super::NativeHandler;
use crate::event_loop::timer::zero_or_positive;

/// Which kind of idleness an `IdleStateEvent` reports; see the stub. (Its members are
/// core's [`nx::IdleState`]s; the singletons hold the class's own member objects.)
#[pyclass(module = "nioxide._nioxide", eq, eq_int, frozen, hash)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum IdleState {
    #[pyo3(name = "READER_IDLE")]
    Reader,
    #[pyo3(name = "WRITER_IDLE")]
    Writer,
    #[pyo3(name = "ALL_IDLE")]
    All,
}

/// An idle event; see the stub. Only the six singletons exist.
#[pyclass(module = "nioxide._nioxide", frozen)]
#[derive(Debug)]
pub(crate) struct IdleStateEvent {
    core: nx::IdleStateEvent,
    /// The `IdleState` member (the class's own attribute, so `is` compares).
    state: Py<PyAny>,
}

/// Netty's names of the six singletons, in [`index`] order.
const EVENT_NAMES: [&str; 6] = [
    "READER_IDLE_STATE_EVENT",
    "FIRST_READER_IDLE_STATE_EVENT",
    "WRITER_IDLE_STATE_EVENT",
    "FIRST_WRITER_IDLE_STATE_EVENT",
    "ALL_IDLE_STATE_EVENT",
    "FIRST_ALL_IDLE_STATE_EVENT",
];

/// The singletons' index of a core event.
fn index(event: nx::IdleStateEvent) -> usize {
    let state = nx::IdleState::ALL
        .iter()
        .position(|s| *s == event.state)
        .unwrap_or(0);
    2 * state + usize::from(event.first)
}

static EVENTS: PyOnceLock<[Py<IdleStateEvent>; 6]> = PyOnceLock::new();

/// The six singletons.
fn events(py: Python<'_>) -> PyResult<&[Py<IdleStateEvent>; 6]> {
    EVENTS.get_or_try_init(py, || {
        let class = py.get_type::<IdleState>();
        let make = |i: usize| -> PyResult<Py<IdleStateEvent>> {
            let state = nx::IdleState::ALL[i / 2];
            let name = match state {
                nx::IdleState::ReaderIdle => "READER_IDLE",
                nx::IdleState::WriterIdle => "WRITER_IDLE",
                nx::IdleState::AllIdle => "ALL_IDLE",
            };
            let core = nx::IdleStateEvent::new(state, i % 2 == 1);
            let state = class.getattr(name)?.unbind();
            Py::new(py, IdleStateEvent { core, state })
        };
        Ok([make(0)?, make(1)?, make(2)?, make(3)?, make(4)?, make(5)?])
    })
}

/// The Python singleton of a core idle event.
pub(crate) fn event_object<'py>(
    py: Python<'py>,
    event: nx::IdleStateEvent,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(events(py)?[index(event)].bind(py).clone().into_any())
}

/// The core idle event of a Python object, if it is one of the singletons.
pub(crate) fn core_event(object: &Bound<'_, PyAny>) -> Option<nx::IdleStateEvent> {
    object.cast::<IdleStateEvent>().ok().map(|e| e.get().core)
}

#[pymethods]
impl IdleStateEvent {
    #[getter]
    fn state(&self, py: Python<'_>) -> Py<PyAny> {
        self.state.clone_ref(py)
    }

    #[getter]
    fn is_first(&self) -> bool {
        self.core.first
    }

    fn __repr__(&self) -> String {
        format!("nioxide.IdleStateEvent.{}", EVENT_NAMES[index(self.core)])
    }

    fn __reduce__(&self) -> String {
        format!("IdleStateEvent.{}", EVENT_NAMES[index(self.core)])
    }
}

/// A time in seconds as a handler takes it: 0 is off; negative and NaN are refused.
fn idle_time(name: &str, seconds: f64) -> PyResult<Duration> {
    zero_or_positive(name, seconds)
}

/// `IdleStateHandler`; see the stub.
#[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
#[derive(Debug)]
pub(crate) struct IdleStateHandler {
    times: [Duration; 3],
    observe_output: bool,
}

#[pymethods]
impl IdleStateHandler {
    #[new]
    #[pyo3(signature = (reader_idle_time, writer_idle_time, all_idle_time, *, observe_output = false))]
    fn new(
        reader_idle_time: f64,
        writer_idle_time: f64,
        all_idle_time: f64,
        observe_output: bool,
    ) -> PyResult<PyClassInitializer<Self>> {
        let reader = idle_time("reader_idle_time", reader_idle_time)?;
        let writer = idle_time("writer_idle_time", writer_idle_time)?;
        let all = idle_time("all_idle_time", all_idle_time)?;
        let core = CoreIdle::with_observe_output(observe_output, reader, writer, all);
        let times = [
            core.reader_idle_time(),
            core.writer_idle_time(),
            core.all_idle_time(),
        ];
        let make = move |_: &Bound<'_, PyAny>| {
            let core = CoreIdle::with_observe_output(observe_output, reader, writer, all);
            Ok(Box::new(core) as _)
        };
        Ok(
            PyClassInitializer::from(NativeHandler::new(Box::new(make))).add_subclass(
                IdleStateHandler {
                    times,
                    observe_output,
                },
            ),
        )
    }

    #[getter]
    fn reader_idle_time(&self) -> f64 {
        self.times[0].as_secs_f64()
    }

    #[getter]
    fn writer_idle_time(&self) -> f64 {
        self.times[1].as_secs_f64()
    }

    #[getter]
    fn all_idle_time(&self) -> f64 {
        self.times[2].as_secs_f64()
    }

    #[getter]
    fn observe_output(&self) -> bool {
        self.observe_output
    }

    fn __repr__(&self) -> String {
        let observe = if self.observe_output {
            ", observe_output=True"
        } else {
            ""
        };
        format!(
            "nioxide.IdleStateHandler({:?}, {:?}, {:?}{observe})",
            self.times[0].as_secs_f64(),
            self.times[1].as_secs_f64(),
            self.times[2].as_secs_f64()
        )
    }
}

/// A timeout handler class (`ReadTimeoutHandler`, `WriteTimeoutHandler`) over core's `$core`;
/// see the stub.
macro_rules! timeout_handler {
    ($name:ident, $core:ty) => {
        #[doc = concat!("`", stringify!($name), "`; see the stub.")]
        #[pyclass(module = "nioxide._nioxide", extends = NativeHandler, frozen)]
        #[derive(Debug)]
        pub(crate) struct $name {
            timeout: Duration,
        }

        #[pymethods]
        impl $name {
            #[new]
            fn new(timeout: f64) -> PyResult<PyClassInitializer<Self>> {
                let timeout = idle_time("timeout", timeout)?;
                let make = move |_: &Bound<'_, PyAny>| Ok(Box::new(<$core>::new(timeout)) as _);
                let timeout = <$core>::new(timeout).timeout();
                Ok(PyClassInitializer::from(NativeHandler::new(Box::new(make)))
                    .add_subclass($name { timeout }))
            }

            #[getter]
            fn timeout(&self) -> f64 {
                self.timeout.as_secs_f64()
            }

            fn __repr__(&self) -> String {
                format!(
                    concat!("nioxide.", stringify!($name), "({:?})"),
                    self.timeout.as_secs_f64()
                )
            }
        }
    };
}

timeout_handler!(ReadTimeoutHandler, CoreRead);
timeout_handler!(WriteTimeoutHandler, CoreWrite);

/// Adds the idle classes, and the singletons as class attributes of `IdleStateEvent`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<IdleState>()?;
    m.add_class::<IdleStateEvent>()?;
    m.add_class::<IdleStateHandler>()?;
    m.add_class::<ReadTimeoutHandler>()?;
    m.add_class::<WriteTimeoutHandler>()?;
    let class: Bound<'_, PyType> = py.get_type::<IdleStateEvent>();
    for (name, event) in EVENT_NAMES.iter().zip(events(py)?) {
        class.setattr(*name, event.clone_ref(py))?;
    }
    Ok(())
}
