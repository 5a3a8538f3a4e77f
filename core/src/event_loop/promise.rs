//! Promises and futures: the result of an operation that completes later (Netty's
//! `Promise`/`Future`, Java's `Future`).
//!
//! A [`Promise`] is completed exactly once: with a value ([`Promise::try_success`]), a failure
//! ([`Promise::try_failure`]) or by [`Promise::cancel`]. The `try_` calls say whether they won.
//! Listeners added with [`Promise::add_listener`] run on the promise's event loop, on a later
//! loop turn, in the order they were added — also when added after completion; a promise
//! without a loop (or whose loop has terminated) runs them on the completing (or adding)
//! thread instead. [`Promise::wait`] blocks a thread that is not the loop's own.
//!
//! Listeners run on the completing thread nest: one that completes another promise runs that
//! promise's listeners inside itself. The nesting is bounded ([`MAX_INLINE_DEPTH`], Netty's
//! `MAX_LISTENER_STACK_DEPTH`): deeper listeners wait in a per-thread queue that the outermost
//! one drains when it returns, so a chain of any length completes on a bounded stack. Such a
//! deferred listener runs after the call that completed its promise has returned: a listener
//! must not wait for a promise that another listener completes.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{EventLoop, WeakEventLoop};
use crate::sync::lock;
use crate::sys::wait;
use crate::{Error, ErrorKind, Result};

/// A result value: any value, owned by the promise.
pub type Value = Box<dyn Any + Send + Sync>;

/// Why a promise failed: an error code, plus an optional value with details (the Python
/// module keeps the exception object there).
#[derive(Debug)]
pub struct Failure {
    /// The error; [`ErrorKind::Cancelled`] for a cancelled promise.
    pub error: Error,
    /// Details the failing code attached, if any.
    pub detail: Option<Value>,
}

impl Failure {
    /// A failure with no details.
    pub fn new(error: Error) -> Failure {
        Failure {
            error,
            detail: None,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::new(error)
    }
}

/// How a promise completed.
#[derive(Debug)]
pub enum Outcome {
    /// Success, with an optional value.
    Success(Option<Value>),
    /// Failure (a cancelled promise fails with [`ErrorKind::Cancelled`]).
    Failure(Failure),
}

/// A callback run once the promise completes.
pub type Listener = Box<dyn FnOnce(&Promise) + Send>;

/// How deeply listeners run on the completing thread may nest before the next ones are
/// deferred to the outermost (Netty's `MAX_LISTENER_STACK_DEPTH`).
const MAX_INLINE_DEPTH: usize = 8;

/// The listeners a thread runs itself (no loop to run them): how deeply they nest now, and
/// those deferred because the nesting was too deep, in the order they were due.
#[derive(Default)]
struct InlineListeners {
    depth: usize,
    deferred: VecDeque<(Promise, Listener)>,
}

thread_local! {
    static INLINE: RefCell<InlineListeners> = RefCell::new(InlineListeners::default());
}

/// Leaves one level of inline nesting, also when a listener panics.
struct Nested;

impl Drop for Nested {
    fn drop(&mut self) {
        let _ = INLINE.try_with(|i| i.borrow_mut().depth -= 1);
    }
}

/// Runs `listener` on this thread: now, if the listeners running here nest less than
/// [`MAX_INLINE_DEPTH`] deep; else after the outermost of them returns. The outermost one
/// runs what was deferred, in order, before it returns.
fn run_inline(promise: &Promise, listener: Listener) {
    let entered = INLINE.try_with(|i| {
        let mut i = i.borrow_mut();
        if i.depth >= MAX_INLINE_DEPTH {
            return None;
        }
        i.depth += 1;
        Some(i.depth == 1)
    });
    let outermost = match entered {
        Ok(Some(outermost)) => outermost,
        Ok(None) => {
            INLINE.with(|i| {
                i.borrow_mut()
                    .deferred
                    .push_back((promise.clone(), listener))
            });
            return;
        }
        // The thread is exiting (its locals are gone): nothing to nest with.
        Err(_) => return listener(promise),
    };
    let nested = Nested;
    if !outermost {
        listener(promise);
        drop(nested);
        return;
    }
    // The outermost runs what was deferred also when a listener panics (then the first
    // panic goes on once the queue is empty), so nothing is left behind on the thread.
    let catch = |listener: Listener, promise: &Promise| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener(promise))).err()
    };
    let mut panic = catch(listener, promise);
    while let Some((promise, listener)) = INLINE.with(|i| i.borrow_mut().deferred.pop_front()) {
        let more = catch(listener, &promise);
        panic = panic.or(more);
    }
    drop(nested);
    if let Some(panic) = panic {
        std::panic::resume_unwind(panic);
    }
}

/// A result that completes later. Cloning gives another handle to the same promise.
/// Thread-safe: complete, cancel, query and add listeners from any thread.
#[derive(Clone)]
pub struct Promise {
    inner: Arc<PromiseInner>,
}

/// The read side of a [`Promise`]; the same type (as in Netty, a promise is a future).
pub type Future = Promise;

struct PromiseInner {
    executor: Option<WeakEventLoop>,
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    outcome: Option<Outcome>,
    uncancellable: bool,
    listeners: Vec<Listener>,
    /// The completing thread is still handing listeners to the loop: one added now joins the
    /// list (after them) instead of going straight to the loop (before them).
    dispatching: bool,
    on_cancel: Option<Box<dyn FnOnce() + Send>>,
    /// A cancel has won and is running its hook; the outcome follows.
    cancelling: bool,
    /// Threads blocked in `wait` (completion signals the condition variable only for them:
    /// a notify costs a system call even when nobody waits).
    waiters: usize,
}

impl std::fmt::Debug for Promise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("Promise")
            .field("outcome", &state.outcome)
            .finish_non_exhaustive()
    }
}

impl Promise {
    /// A new, incomplete promise whose listeners run on `executor` (or, with `None`, on the
    /// completing thread).
    pub fn new(executor: Option<&EventLoop>) -> Promise {
        Promise {
            inner: Arc::new(PromiseInner {
                executor: executor.map(EventLoop::downgrade),
                state: Mutex::new(State::default()),
                done: Condvar::new(),
            }),
        }
    }

    /// The loop that runs this promise's listeners, if it still exists.
    pub fn executor(&self) -> Option<EventLoop> {
        self.inner
            .executor
            .as_ref()
            .and_then(WeakEventLoop::upgrade)
    }

    fn complete(&self, outcome: Outcome, cancelling: bool) -> bool {
        if cancelling {
            // The cancel hook runs before the outcome can be seen: once a waiter or a
            // listener learns of the cancel, what the hook stops (an operation writing into
            // memory its caller lent it) has stopped. Meanwhile the promise is decided:
            // other completions and `set_uncancellable` fail.
            let hook = {
                let mut state = lock(&self.inner.state);
                if state.outcome.is_some() || state.uncancellable || state.cancelling {
                    return false;
                }
                state.cancelling = true;
                state.on_cancel.take()
            };
            // A hook that panics still lets the cancel complete (nobody waits forever); the
            // panic goes on once it has.
            let panicked = hook.and_then(|hook| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)).err()
            });
            let completed = self.finish_completion(outcome, true);
            if let Some(panic) = panicked {
                std::panic::resume_unwind(panic);
            }
            return completed;
        }
        self.finish_completion(outcome, false)
    }

    /// Records `outcome` (unless the promise is decided otherwise) and hands the listeners on.
    fn finish_completion(&self, outcome: Outcome, cancelling: bool) -> bool {
        let (listeners, waiters) = {
            let mut state = lock(&self.inner.state);
            if state.outcome.is_some() || (state.cancelling && !cancelling) {
                return false;
            }
            state.outcome = Some(outcome);
            state.on_cancel = None;
            state.dispatching = true;
            (std::mem::take(&mut state.listeners), state.waiters)
        };
        if waiters > 0 {
            self.inner.done.notify_all();
        }
        let mut listeners = listeners;
        loop {
            for listener in listeners {
                self.notify(listener);
            }
            // Listeners added meanwhile went to the list: hand them on too, in order.
            let mut state = lock(&self.inner.state);
            if state.listeners.is_empty() {
                state.dispatching = false;
                return true;
            }
            listeners = std::mem::take(&mut state.listeners);
        }
    }

    fn notify(&self, listener: Listener) {
        let Some(executor) = self.executor() else {
            // No loop: run it on this thread.
            run_inline(self, listener);
            return;
        };
        let promise = self.clone();
        let mut task: Option<super::Task> = Some(Box::new(move |_: &EventLoop| listener(&promise)));
        if executor.execute_internal(&mut task).is_err() {
            // The loop has terminated: run it on this thread.
            if let Some(task) = task {
                run_inline(self, Box::new(move |_: &Promise| task(&executor)));
            }
        }
    }

    /// Completes with success; `false` if it was already complete.
    pub fn try_success(&self, value: Option<Value>) -> bool {
        self.complete(Outcome::Success(value), false)
    }

    /// Completes with a failure; `false` if it was already complete.
    pub fn try_failure(&self, failure: Failure) -> bool {
        self.complete(Outcome::Failure(failure), false)
    }

    /// Completes with success.
    ///
    /// # Errors
    /// `AlreadyCompleted`.
    pub fn set_success(&self, value: Option<Value>) -> Result<()> {
        if self.try_success(value) {
            Ok(())
        } else {
            Err(ErrorKind::AlreadyCompleted.into())
        }
    }

    /// Completes with a failure.
    ///
    /// # Errors
    /// `AlreadyCompleted`.
    pub fn set_failure(&self, failure: Failure) -> Result<()> {
        if self.try_failure(failure) {
            Ok(())
        } else {
            Err(ErrorKind::AlreadyCompleted.into())
        }
    }

    /// Cancels: fails the promise with [`ErrorKind::Cancelled`] unless it already completed
    /// or was made uncancellable. Returns whether this call cancelled it.
    pub fn cancel(&self) -> bool {
        self.complete(
            Outcome::Failure(Failure::new(ErrorKind::Cancelled.into())),
            true,
        )
    }

    /// Makes the promise uncancellable (the operation has started). `false` if it was
    /// cancelled already.
    pub fn set_uncancellable(&self) -> bool {
        let mut state = lock(&self.inner.state);
        if state.cancelling {
            return false;
        }
        match &state.outcome {
            None => {
                state.uncancellable = true;
                true
            }
            Some(Outcome::Failure(f)) if f.error == ErrorKind::Cancelled.into() => false,
            Some(_) => true,
        }
    }

    /// Runs `hook` once if the promise gets cancelled, before the cancel is visible (used by
    /// scheduled tasks and asynchronous operations).
    pub(crate) fn on_cancel(&self, hook: Box<dyn FnOnce() + Send>) {
        lock(&self.inner.state).on_cancel = Some(hook);
    }

    /// Whether the promise completed (in any way).
    pub fn is_done(&self) -> bool {
        lock(&self.inner.state).outcome.is_some()
    }

    /// Whether the promise completed with success.
    pub fn is_success(&self) -> bool {
        matches!(lock(&self.inner.state).outcome, Some(Outcome::Success(_)))
    }

    /// Whether the promise was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cause() == Some(ErrorKind::Cancelled.into())
    }

    /// Whether the operation is running: the promise is pending and was made uncancellable
    /// ([`set_uncancellable`](Self::set_uncancellable): a task that has started).
    pub fn is_running(&self) -> bool {
        let state = lock(&self.inner.state);
        state.outcome.is_none() && state.uncancellable
    }

    /// The failure's error, if the promise failed.
    pub fn cause(&self) -> Option<Error> {
        match &lock(&self.inner.state).outcome {
            Some(Outcome::Failure(f)) => Some(f.error),
            _ => None,
        }
    }

    /// Runs `f` with the outcome (`None` while incomplete).
    pub fn with_outcome<R>(&self, f: impl FnOnce(Option<&Outcome>) -> R) -> R {
        f(lock(&self.inner.state).outcome.as_ref())
    }

    /// Adds a listener. It runs once the promise completes, on the promise's loop on a later
    /// turn (never inside this call), after the listeners added before it. Without a loop (or
    /// once it terminated) it runs on the completing thread, or in this call if the promise is
    /// complete already; nested inside another listener more than a few levels deep, it runs
    /// once the outermost listener returns (see the module docs).
    pub fn add_listener(&self, listener: Listener) {
        let mut state = lock(&self.inner.state);
        if state.outcome.is_none() || state.dispatching {
            state.listeners.push(listener);
            return;
        }
        drop(state);
        self.notify(listener);
    }

    /// Waits until the promise completes or `timeout` passes (`None` = forever); returns
    /// whether it completed. The thread's interrupt hook runs on its slices (Python: Ctrl-C).
    ///
    /// # Errors
    /// `WouldDeadlock` on the thread of the promise's own loop; the interrupt hook's error.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        if let Some(executor) = self.executor() {
            if executor.in_event_loop() && !self.is_done() {
                return Err(ErrorKind::WouldDeadlock.into());
            }
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let slice = wait::interrupt_slice();
        let mut state = lock(&self.inner.state);
        loop {
            if state.outcome.is_some() {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(false);
            }
            let step = match (left, slice) {
                (Some(l), Some(s)) => Some(l.min(s)),
                (l, s) => l.or(s),
            };
            state.waiters += 1;
            state = match step {
                Some(step) => {
                    self.inner
                        .done
                        .wait_timeout(state, step)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self
                    .inner
                    .done
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner()),
            };
            state.waiters -= 1;
            if slice.is_some() && state.outcome.is_none() {
                drop(state);
                wait::check_interrupt()?;
                state = lock(&self.inner.state);
            }
        }
    }

    /// Whether both values are the same promise.
    pub fn same(&self, other: &Promise) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_hook_runs_before_the_cancel_is_visible() {
        let promise = Promise::new(None);
        let seen = Arc::new(Mutex::new(None));
        let (p, s) = (promise.clone(), seen.clone());
        promise.on_cancel(Box::new(move || {
            // Inside the hook: not done yet, and nothing else can complete or start it.
            *s.lock().unwrap() = Some((p.is_done(), p.try_success(None), p.set_uncancellable()));
        }));
        assert!(promise.cancel());
        assert_eq!(*seen.lock().unwrap(), Some((false, false, false)));
        assert!(promise.is_cancelled());
        assert!(!promise.cancel(), "once");
    }

    #[test]
    fn a_panicking_cancel_hook_still_completes_the_cancel() {
        let promise = Promise::new(None);
        promise.on_cancel(Box::new(|| panic!("hook")));
        let cancel = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| promise.cancel()));
        assert!(cancel.is_err(), "the panic goes on");
        assert!(promise.is_cancelled());
        assert!(promise.wait(Some(Duration::ZERO)).unwrap());
    }
}
