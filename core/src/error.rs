//! Errors: one table of nioxide's own error kinds, plus operating-system errors.
//!
//! Every fallible operation in nioxide returns [`Result<T>`]. An [`Error`] is either an
//! operating-system error (an `errno` value, for example `ECONNRESET`) or one of nioxide's own
//! [`ErrorKind`]s. The C API reports the first as `-errno` and the second as the kind's
//! [`ErrorKind::code`]; the Python module raises the matching exception class.

use std::fmt;
use std::io;

/// Declares [`ErrorKind`] and its table from one list: variant, C name, code, message. Each
/// variant's documentation starts with its C name, code and message; the C constants'
/// documentation in `capi/error.rs` starts with the message (`tests/header.rs` checks it).
///
/// Codes live in nioxide's reserved block (-3000 to -3099) so they never collide with
/// `-errno`. Retired codes stay reserved: never reuse a number.
macro_rules! error_kinds {
    ($($(#[$doc:meta])* $variant:ident = ($name:literal, $code:literal, $msg:literal),)*) => {
        /// nioxide's own error kinds, each with a stable numeric code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($code), "): ", $msg, ".")]
                #[doc = ""]
                $(#[$doc])*
                $variant,
            )*
        }

        impl ErrorKind {
            /// Every kind, in code order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant,)*];

            /// The stable negative code of this kind, as the C API returns it.
            pub const fn code(self) -> i32 {
                match self { $(ErrorKind::$variant => $code,)* }
            }

            /// The C name of this kind's code, for example `"NX_ECLOSED"`.
            pub const fn name(self) -> &'static str {
                match self { $(ErrorKind::$variant => $name,)* }
            }

            /// A short English description.
            pub const fn message(self) -> &'static str {
                match self { $(ErrorKind::$variant => $msg,)* }
            }

            /// The kind whose code is `code`, if any.
            pub fn from_code(code: i32) -> Option<ErrorKind> {
                match code { $($code => Some(ErrorKind::$variant),)* _ => None }
            }
        }
    };
}

error_kinds! {
    /// End of stream: the peer closed its side (C only; Rust and Python return 0 bytes).
    Eof = ("NX_EOF", -3000, "end of stream"),
    /// An argument is invalid: NULL, a wrong handle type, an out-of-range enum or value.
    InvalidArgument = ("NX_EINVAL", -3001, "invalid argument"),
    /// The object was closed; only close and free are still allowed.
    Closed = ("NX_ECLOSED", -3002, "object is closed"),
    /// The object was closed by another thread while this call waited on it, or while the
    /// operation was pending.
    AsyncClose = ("NX_EASYNCCLOSE", -3003, "closed while the call or operation was pending"),
    /// The handle was freed (or never was a handle).
    BadHandle = ("NX_EBADHANDLE", -3004, "handle was freed or is not a handle"),
    /// A Rust panic was caught at the API boundary.
    Panic = ("NX_EPANIC", -3005, "internal panic caught at the API boundary"),
    /// The object was created before a fork and cannot be used in the child.
    Forked = ("NX_EFORKED", -3006, "object was created before fork() and cannot be used in the child"),
    /// A wait timed out.
    TimedOut = ("NX_ETIMEDOUT", -3007, "timed out"),
    /// The selection key was cancelled.
    CancelledKey = ("NX_ECANCELLEDKEY", -3008, "selection key is cancelled"),
    /// The channel is in blocking mode where non-blocking is required, or registered where
    /// blocking mode was asked for.
    IllegalBlockingMode = ("NX_EBLOCKINGMODE", -3009, "illegal blocking mode for this operation"),
    /// The channel does not support these interest ops.
    UnsupportedOps = ("NX_EOPS", -3010, "interest ops not supported by this channel"),
    /// The channel does not support this socket option.
    UnsupportedOption = ("NX_ENOOPT", -3011, "socket option not supported by this channel"),
    /// The channel is registered with a selector: another one (register), or any one
    /// (detach, which needs the channel free of keys and watches).
    RegisteredElsewhere = ("NX_EREGISTERED", -3012, "channel is registered with a selector"),
    /// The channel is not connected.
    NotYetConnected = ("NX_ENOTCONNECTED", -3013, "channel is not connected"),
    /// The channel is already connected.
    AlreadyConnected = ("NX_EISCONNECTED", -3014, "channel is already connected"),
    /// A non-blocking connect is already in progress.
    ConnectionPending = ("NX_ECONNPENDING", -3015, "a connection is already pending"),
    /// finish_connect was called with no connect in progress.
    NoConnectionPending = ("NX_ENOCONNPENDING", -3016, "no connection is pending"),
    /// The server channel is not bound.
    NotYetBound = ("NX_ENOTBOUND", -3017, "channel is not bound"),
    /// The channel is already bound.
    AlreadyBound = ("NX_EALREADYBOUND", -3018, "channel is already bound"),
    /// A signal handler asked the waiting call to stop (Python: the pending exception).
    Interrupted = ("NX_EINTERRUPTED", -3019, "interrupted by a signal handler"),
    /// A read is already pending on the channel.
    ReadPending = ("NX_EREADPENDING", -3020, "a read is already pending"),
    /// A write is already pending on the channel.
    WritePending = ("NX_EWRITEPENDING", -3021, "a write is already pending"),
    /// The channel's output was shut down (`shutdown_output`); writes are refused.
    Shutdown = ("NX_ESHUTDOWN", -3022, "channel output is shut down"),
    /// The operation or future was cancelled.
    Cancelled = ("NX_ECANCELLED", -3023, "cancelled"),
    /// The event loop is shutting down or terminated and refuses new work.
    Rejected = (
        "NX_EREJECTED",
        -3024,
        "event loop is shutting down or has terminated; work rejected"
    ),
    /// The call would wait for the calling thread's own event loop, which would deadlock.
    WouldDeadlock = ("NX_EDEADLK", -3025, "waiting here would deadlock the event loop"),
    /// The event loop is already running (a re-entrant run) or a library thread drives it.
    Busy = ("NX_EBUSY", -3026, "event loop is already running or driven by a library thread"),
    /// The promise was already completed.
    AlreadyCompleted = ("NX_EALREADYDONE", -3027, "promise already completed"),
    /// An accept is already pending on the asynchronous server channel.
    AcceptPending = ("NX_EACCEPTPENDING", -3028, "an accept is already pending"),
    /// The channel's write queue holds its cap of bytes; the new write was refused.
    QueueFull = ("NX_EQUEUEFULL", -3029, "the write queue is full"),
    /// An earlier read (or write) on the asynchronous channel timed out or was cancelled, so
    /// the channel refuses further reads (or writes): what that operation moved is unknown to
    /// the caller (Java's `IllegalStateException`).
    DirectionDisabled = (
        "NX_EDISABLED",
        -3030,
        "reads or writes are disabled by an earlier timeout or cancellation"
    ),
    /// The asynchronous channel group is shut down and takes no new channels.
    GroupShutdown = ("NX_EGROUPSHUTDOWN", -3031, "the channel group is shut down"),
    /// A decoder met a frame longer than its maximum; the frame is discarded (Netty's
    /// `TooLongFrameException`).
    FrameTooLong = ("NX_ETOOLONG", -3032, "frame too long"),
    /// A decoder met a frame it cannot take apart: a negative length field, or a length
    /// shorter than the frame's own header (Netty's `CorruptedFrameException`).
    CorruptedFrame = ("NX_ECORRUPTED", -3033, "corrupted frame"),
    /// Bytes are not valid in the encoding a strict string decoder expects (Java's
    /// `MalformedInputException`).
    MalformedInput = ("NX_EMALFORMED", -3034, "input is not valid in its encoding"),
    /// A lock overlapping the requested region is held through the same asynchronous file
    /// channel, or being waited for (Java's `OverlappingFileLockException`).
    OverlappingLock = (
        "NX_EOVERLAPPINGLOCK",
        -3035,
        "a lock overlapping this region is held or pending on the channel"
    ),
}

/// An error from a nioxide operation: an OS `errno` or one of nioxide's own kinds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// An operating-system error, by its positive `errno` value.
    Os(i32),
    /// One of nioxide's own errors.
    Kind(ErrorKind),
}

/// The result type of nioxide operations.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error for the calling thread's current `errno`.
    pub fn last_os_error() -> Error {
        Error::Os(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// The C API's code: `-errno` for OS errors, [`ErrorKind::code`] otherwise.
    pub fn code(self) -> i32 {
        match self {
            Error::Os(errno) => -errno,
            Error::Kind(kind) => kind.code(),
        }
    }

    /// The OS `errno`, if this is an OS error.
    pub fn raw_os_error(self) -> Option<i32> {
        match self {
            Error::Os(errno) => Some(errno),
            Error::Kind(_) => None,
        }
    }

    /// nioxide's own kind, if this is not an OS error.
    pub fn kind(self) -> Option<ErrorKind> {
        match self {
            Error::Os(_) => None,
            Error::Kind(kind) => Some(kind),
        }
    }

    /// Whether this is the OS error `errno`.
    pub fn is_os(self, errno: i32) -> bool {
        self == Error::Os(errno)
    }

    /// A description: the kind's message, or the OS's `strerror` text.
    pub fn message(self) -> String {
        match self {
            Error::Os(errno) => os_message(errno),
            Error::Kind(kind) => kind.message().to_owned(),
        }
    }
}

/// The OS's description of `errno` (what `strerror` says), without the "(os error N)" suffix.
pub fn os_message(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::Kind(kind)
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Error {
        match err.raw_os_error() {
            Some(errno) => Error::Os(errno),
            None if err.kind() == io::ErrorKind::TimedOut => Error::Kind(ErrorKind::TimedOut),
            None => Error::Kind(ErrorKind::InvalidArgument),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os(errno) => write!(f, "Os({errno}: {})", os_message(*errno)),
            Error::Kind(kind) => write!(f, "{}", kind.name()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_reserved() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()), "{} reused", kind.name());
            assert!((-3099..=-3000).contains(&kind.code()));
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
        }
    }

    #[test]
    fn os_errors_are_negative_errno() {
        let err = Error::Os(libc::ECONNRESET);
        assert_eq!(err.code(), -libc::ECONNRESET);
        assert!(!err.message().contains("os error"));
    }
}
