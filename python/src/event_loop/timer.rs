//! `nioxide.Timer`: a reusable timer on an event loop (core's [`LoopTimer`](nx::LoopTimer),
//! libuv's `uv_timer_t`). The callback is a call registered on the loop (see
//! [`super::callback`]): the callable and its arguments, which the loop's registry holds and
//! shows to the collector. The timer object itself is not among them: the callback finds it
//! through a weak reference when it fires (or makes a new one, for an active timer whose
//! object was dropped), so a stopped timer that nothing refers to is freed, with its callback,
//! as core's are.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nioxide_core::event_loop as nx;
use nioxide_core::sync::lock;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyWeakrefMethods, PyWeakrefReference};

use super::EventLoop;
use super::callback::{self, Call, LoopState};
use crate::error::{invalid, timer_error, work_error};
use crate::live::{Class, Live};
use crate::selector::FOREVER;

/// A reusable timer; see the stub for the Python documentation.
#[pyclass(module = "nioxide._nioxide", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct Timer {
    core: nx::LoopTimer,
    state: Arc<LoopState>,
    /// The registry ticket of the callback.
    id: u64,
    /// Counted in `nioxide.live_objects()` while the object lives.
    _live: Live,
}

/// A repeat in seconds: 0 (none) or positive (see [`zero_or_positive`]).
fn repeat(seconds: f64) -> PyResult<Duration> {
    zero_or_positive("repeat", seconds)
}

/// Seconds that are 0 (none, off) or positive (more than [`FOREVER`] is then); negative and
/// NaN are errors naming `what`.
pub(crate) fn zero_or_positive(what: &str, seconds: f64) -> PyResult<Duration> {
    if seconds == 0.0 {
        return Ok(Duration::ZERO);
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) => Ok(d.min(FOREVER)),
        Err(_) if seconds > 0.0 => Ok(FOREVER),
        Err(_) => Err(invalid(format!(
            "{what} must be 0 or a positive number of seconds, not {seconds}"
        ))),
    }
}

/// A timer's timeout in seconds: `<= 0` is the next turn; kept exact however long (core
/// makes one beyond the clock's range never fire); NaN is refused.
fn timer_timeout(seconds: f64) -> PyResult<Duration> {
    if seconds.is_nan() {
        return Err(invalid("timeout must be a number"));
    }
    Ok(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX))
}

impl Timer {
    /// `loop.timer(callback, *args)`: the timer object, whose callback is
    /// `callback(timer, *args)`.
    pub(crate) fn make(
        event_loop: &Bound<'_, EventLoop>,
        callable: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Py<Timer>> {
        let py = event_loop.py();
        let state = EventLoop::state_of(event_loop)?;
        if !callable.is_callable() {
            // Checked before the timer exists (Call::new checks again, once it can be made).
            Call::new(callable, [])?;
        }
        let pending = state.reserve();
        let id = pending.id();
        // The timer object, weakly: the callback hands it on while it lives.
        let object_ref: Arc<Mutex<Option<Py<PyWeakrefReference>>>> = Arc::default();
        let lookup = {
            let (object_ref, state) = (object_ref.clone(), state.clone());
            move |py: Python<'_>, core: &nx::LoopTimer| -> PyResult<Py<PyAny>> {
                let mut slot = lock(&object_ref);
                if let Some(object) = slot.as_ref().and_then(|r| r.bind(py).upgrade()) {
                    return Ok(object.unbind());
                }
                // Dropped while active: a new object for the same timer.
                let object = Bound::new(py, Timer::new(core.clone(), state.clone(), id))?;
                *slot = Some(PyWeakrefReference::new(&object)?.unbind());
                Ok(object.into_any().unbind())
            }
        };
        let lp = &event_loop.get().core;
        let core = lp
            .timer(callback::timer_callback(pending, lookup))
            .map_err(work_error(lp))?;
        let object = Bound::new(py, Timer::new(core.clone(), state.clone(), id))?;
        let registered = PyWeakrefReference::new(&object)
            .and_then(|weak| Ok((weak, Call::new(callable, args.iter())?)));
        match registered {
            Ok((weak, call)) => {
                *lock(&object_ref) = Some(weak.unbind());
                state.fill(id, call);
            }
            Err(err) => {
                core.close();
                return Err(err);
            }
        }
        Ok(object.unbind())
    }

    fn new(core: nx::LoopTimer, state: Arc<LoopState>, id: u64) -> Timer {
        Timer {
            core,
            state,
            id,
            _live: Live::new(Class::Timer),
        }
    }
}

#[pymethods]
impl Timer {
    #[pyo3(signature = (timeout, repeat = 0.0))]
    fn start(&self, timeout: f64, repeat: f64) -> PyResult<()> {
        let timeout = timer_timeout(timeout)?;
        let repeat = self::repeat(repeat)?;
        self.core.start(timeout, repeat).map_err(timer_error)
    }

    fn stop(&self) -> PyResult<()> {
        self.core.stop().map_err(timer_error)
    }

    fn again(&self) -> PyResult<()> {
        self.core.again().map_err(timer_error)
    }

    #[getter(repeat)]
    fn get_repeat(&self) -> f64 {
        self.core.repeat().as_secs_f64()
    }

    #[setter(repeat)]
    fn set_repeat(&self, seconds: f64) -> PyResult<()> {
        self.core.set_repeat(repeat(seconds)?).map_err(timer_error)
    }

    #[getter]
    fn due_in(&self) -> PyResult<Option<f64>> {
        self.state.check()?;
        Ok(self.core.due_in().map(|d| d.as_secs_f64()))
    }

    fn is_active(&self) -> bool {
        self.core.is_active()
    }

    #[pyo3(name = "ref")]
    fn ref_(&self) -> PyResult<()> {
        self.state.check()?;
        self.core.set_ref(true);
        Ok(())
    }

    fn unref(&self) -> PyResult<()> {
        self.state.check()?;
        self.core.set_ref(false);
        Ok(())
    }

    fn has_ref(&self) -> bool {
        self.core.has_ref()
    }

    fn close(&self) {
        if self.state.forked() {
            return; // the parent's loop and registry: left alone
        }
        self.core.close();
        // Dropping the callback released its call; this is for a timer the loop never ran.
        self.state.forget(self.id);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        if self.core.is_closed() {
            return "<nioxide.Timer closed>".to_owned();
        }
        let repeat = self.core.repeat().as_secs_f64();
        // (In a forked child the loop's lock is left alone.)
        let due = if self.state.forked() {
            None
        } else {
            self.core.due_in()
        };
        match due {
            Some(due) => format!(
                "<nioxide.Timer active due_in={:.3} repeat={repeat}>",
                due.as_secs_f64()
            ),
            None => format!("<nioxide.Timer stopped repeat={repeat}>"),
        }
    }
}
