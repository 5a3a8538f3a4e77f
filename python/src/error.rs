//! Errors: nioxide's exception classes (defined in Python, in `nioxide/exceptions.py`) and the
//! one mapping from core's [`Error`] to a Python exception.
//!
//! The classes live in Python so they can inherit both `NioxideError` and the built-in class
//! for the same condition (`ConnectionRefusedError`, `TimeoutError`, ...), as cryptography
//! does; `import_exception!` makes them usable from Rust. OS errors are built with
//! `(errno, strerror)`, so `.errno` is set (pyo3's own `io::Error` conversion would leave it
//! `None`).

use std::ffi::CString;

use nioxide_core::{Error, ErrorKind};
use pyo3::exceptions::PyResourceWarning;
use pyo3::prelude::*;

/// Declares the Rust types of the Python-defined exception classes.
macro_rules! import_exceptions {
    ($($name:ident),* $(,)?) => {
        $(pyo3::import_exception!(nioxide.exceptions, $name);)*
    };
}

import_exceptions!(
    NioxideError,
    NioxideOSError,
    ClosedChannelError,
    ClosedSelectorError,
    AsynchronousCloseError,
    CancelledKeyError,
    IllegalBlockingModeError,
    UnsupportedOperationError,
    UnsupportedOptionError,
    AlreadyRegisteredError,
    NotYetConnectedError,
    AlreadyConnectedError,
    ConnectionPendingError,
    NoConnectionPendingError,
    NotYetBoundError,
    AlreadyBoundError,
    ForkedError,
    ReadPendingError,
    WritePendingError,
    InvalidArgumentError,
    ChannelShutdownError,
    TimeoutError,
    ConnectionRefusedError,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    ClosedEventLoopError,
    CancelledError,
    RejectedExecutionError,
    DeadlockError,
    LoopBusyError,
    InvalidStateError,
    UnresolvedAddressError,
    AcceptPendingError,
    WriteQueueFullError,
    DirectionDisabledError,
    ShutdownChannelGroupError,
    ReadTimeoutException,
    WriteTimeoutException,
    DecoderException,
    TooLongFrameException,
    CorruptedFrameException,
    MalformedInputException,
    OverlappingFileLockError,
);

/// The Python exception for a core error. The one mapping: every error nioxide raises comes
/// through here (or through [`selector_error`], [`loop_error`] or [`timer_error`], which only
/// refine `Closed`, and [`work_error`], which refines `Rejected`).
pub(crate) fn to_pyerr(err: Error) -> PyErr {
    match err {
        Error::Os(errno) => os_error(errno),
        Error::Kind(kind) => kind_error(kind),
    }
}

/// As [`to_pyerr`], for calls on a selector: `Closed` becomes `ClosedSelectorError`.
pub(crate) fn selector_error(err: Error) -> PyErr {
    match err {
        Error::Kind(ErrorKind::Closed) => closed_selector(),
        err => to_pyerr(err),
    }
}

/// As [`to_pyerr`], for calls on an event loop: `Closed` becomes `ClosedEventLoopError`.
pub(crate) fn loop_error(err: Error) -> PyErr {
    match err {
        Error::Kind(ErrorKind::Closed) => {
            ClosedEventLoopError::new_err((libc::EBADF, "event loop is closed (terminated)"))
        }
        err => to_pyerr(err),
    }
}

/// As [`loop_error`], for work offered to the loop `core`: `Rejected` says which of its two
/// causes it is (core's message, which C shares, names both).
pub(crate) fn work_error(core: &nioxide_core::event_loop::EventLoop) -> impl Fn(Error) -> PyErr {
    move |err| match err {
        Error::Kind(ErrorKind::Rejected) if core.is_terminated() => {
            RejectedExecutionError::new_err("event loop has terminated; work rejected")
        }
        Error::Kind(ErrorKind::Rejected) => {
            RejectedExecutionError::new_err("event loop is shutting down; work rejected")
        }
        err => loop_error(err),
    }
}

/// `RejectedExecutionError` for a new loop or group once the interpreter exits (the `atexit`
/// hook has begun).
pub(crate) fn interpreter_exiting() -> PyErr {
    RejectedExecutionError::new_err("the interpreter is exiting; no new event loops")
}

/// As [`loop_error`], for calls on a timer: `Closed` (the timer is closed) becomes
/// `InvalidStateError`.
pub(crate) fn timer_error(err: Error) -> PyErr {
    match err {
        Error::Kind(ErrorKind::Closed) => InvalidStateError::new_err("timer is closed"),
        err => loop_error(err),
    }
}

/// `ClosedSelectorError`.
pub(crate) fn closed_selector() -> PyErr {
    ClosedSelectorError::new_err((libc::EBADF, "selector is closed"))
}

/// An OS error as `(errno, strerror)`, in the class for its errno.
fn os_error(errno: i32) -> PyErr {
    let args = (errno, nioxide_core::error::os_message(errno));
    match errno {
        libc::ECONNREFUSED => ConnectionRefusedError::new_err(args),
        libc::ECONNRESET => ConnectionResetError::new_err(args),
        libc::ECONNABORTED => ConnectionAbortedError::new_err(args),
        libc::EPIPE => BrokenPipeError::new_err(args),
        libc::ETIMEDOUT => TimeoutError::new_err(args),
        _ => NioxideOSError::new_err(args),
    }
}

/// One of nioxide's own kinds. Classes that are also `OSError`s get an errno.
fn kind_error(kind: ErrorKind) -> PyErr {
    let msg = kind.message();
    match kind {
        // The "closed" classes are `OSError`s with `EBADF`, as the socket module's.
        ErrorKind::Closed => ClosedChannelError::new_err((libc::EBADF, msg)),
        ErrorKind::AsyncClose => AsynchronousCloseError::new_err((libc::EBADF, msg)),
        ErrorKind::CancelledKey => CancelledKeyError::new_err(msg),
        ErrorKind::IllegalBlockingMode => IllegalBlockingModeError::new_err(msg),
        ErrorKind::UnsupportedOps => UnsupportedOperationError::new_err(msg),
        ErrorKind::UnsupportedOption => UnsupportedOptionError::new_err(msg),
        ErrorKind::RegisteredElsewhere => AlreadyRegisteredError::new_err(msg),
        ErrorKind::NotYetConnected => NotYetConnectedError::new_err(msg),
        ErrorKind::AlreadyConnected => AlreadyConnectedError::new_err(msg),
        ErrorKind::ConnectionPending => ConnectionPendingError::new_err(msg),
        ErrorKind::NoConnectionPending => NoConnectionPendingError::new_err(msg),
        ErrorKind::NotYetBound => NotYetBoundError::new_err(msg),
        ErrorKind::AlreadyBound => AlreadyBoundError::new_err(msg),
        ErrorKind::Forked => ForkedError::new_err(msg),
        ErrorKind::ReadPending => ReadPendingError::new_err(msg),
        ErrorKind::WritePending => WritePendingError::new_err(msg),
        ErrorKind::InvalidArgument => InvalidArgumentError::new_err(msg),
        ErrorKind::TimedOut => TimeoutError::new_err((libc::ETIMEDOUT, msg)),
        ErrorKind::Shutdown => ChannelShutdownError::new_err((libc::EPIPE, msg)),
        ErrorKind::Cancelled => CancelledError::new_err(msg),
        ErrorKind::Rejected => RejectedExecutionError::new_err(msg),
        ErrorKind::WouldDeadlock => DeadlockError::new_err(msg),
        ErrorKind::Busy => LoopBusyError::new_err(msg),
        ErrorKind::AlreadyCompleted => InvalidStateError::new_err(msg),
        ErrorKind::AcceptPending => AcceptPendingError::new_err(msg),
        ErrorKind::QueueFull => WriteQueueFullError::new_err(msg),
        ErrorKind::DirectionDisabled => DirectionDisabledError::new_err(msg),
        ErrorKind::GroupShutdown => ShutdownChannelGroupError::new_err(msg),
        kind
        @ (ErrorKind::FrameTooLong | ErrorKind::CorruptedFrame | ErrorKind::MalformedInput) => {
            codec_error(kind, msg.to_string())
        }
        ErrorKind::OverlappingLock => OverlappingFileLockError::new_err(msg),
        // Not raised from Python (end of stream is a return value, handles and panics are C
        // matters, an interrupt re-raises the signal handler's exception): the root class,
        // with the C name in the message.
        other => NioxideError::new_err(format!("{}: {}", other.name(), other.message())),
    }
}

/// The exception of a codec's error kind (`FrameTooLong`, `CorruptedFrame`,
/// `MalformedInput`) with `msg` (the codec's detail); `DecoderException` for another kind.
pub(crate) fn codec_error(kind: ErrorKind, msg: String) -> PyErr {
    match kind {
        ErrorKind::FrameTooLong => TooLongFrameException::new_err(msg),
        ErrorKind::CorruptedFrame => CorruptedFrameException::new_err(msg),
        ErrorKind::MalformedInput => MalformedInputException::new_err(msg),
        _ => DecoderException::new_err(msg),
    }
}

/// An `InvalidArgumentError` (a `ValueError`) with `msg`.
pub(crate) fn invalid(msg: impl Into<String>) -> PyErr {
    InvalidArgumentError::new_err(msg.into())
}

/// Warns that an object is freed without having been closed: a `ResourceWarning`
/// `"unclosed <repr>"`, as `socket.socket` gives. The callers then close it.
///
/// It is called from `Drop`, while pyo3 frees the object (pyo3 calls no finalizer before
/// that), so the warning has no `source` object (`repr` says what it was), and it cannot
/// raise: a warning turned into an error (`-W error::ResourceWarning`) is reported as an
/// unraisable exception, as CPython does for its own finalizers. An exception being raised
/// meanwhile is kept.
pub(crate) fn warn_unclosed(repr: &str) {
    Python::attach(|py| {
        let pending = PyErr::take(py);
        let message = CString::new(format!("unclosed {repr}")).unwrap_or_default();
        let category = py.get_type::<PyResourceWarning>();
        if let Err(raised) = PyErr::warn(py, category.as_any(), &message, 1) {
            raised.write_unraisable(py, None);
        }
        if let Some(pending) = pending {
            pending.restore(py);
        }
    });
}
