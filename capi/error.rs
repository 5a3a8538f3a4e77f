//! Error codes: `NX_OK`, nioxide's own `NX_E*` codes, `-errno`, and their names and texts.
//!
//! The single source of nioxide's own errors is the table in `nioxide_core::error`
//! ([`ErrorKind`]: name, code, message). The `NX_E*` constants below are its C spelling, written
//! as literals because cbindgen copies literals into `nioxide.h` (it does not expand macros); a
//! compile-time assertion beside each constant, a unit test (every kind has exactly one
//! constant) and `tests/header.rs` (every `#define NX_E*` in the header matches the table, and
//! its documentation starts with the kind's message, capitalised, as a sentence) keep them in
//! step. A new kind in core needs one constant here, with its assertion and a doc comment that
//! starts with its message, and one line in the tests' `C_NAMES`.
//!
//! [`nx_strerror`] and [`nx_err_name`] read tables built once, on first use, from that table and
//! from the operating system's `strerror` text, so they are thread safe and return static
//! strings.

use std::ffi::{CStr, CString, c_char, c_int};
use std::sync::OnceLock;

use nioxide_core::ErrorKind;

use crate::panic::boundary_or;

/// Success. Every `nx_*` function that returns `int` returns `NX_OK` (0) on success or a
/// negative error code; functions that count return the count (>= 0) on success.
///
/// libuv's two rules hold for the whole API:
///
/// - "a negative number will imply an error";
/// - "When a function which takes a callback returns an error, the callback will never be
///   called."
///
/// Error codes come from two ranges: operating-system errors are `-errno` (compare with
/// `-ECONNRESET`), and nioxide's own errors are the `NX_E*` constants in the reserved range
/// -3000 to -3099. Retired codes stay reserved and are never reused. `nx_strerror()` and
/// `nx_err_name()` describe any code.
pub const NX_OK: c_int = 0;

/// End of stream. The peer closed its side of the connection (reads only).
pub const NX_EOF: c_int = -3000;
const _: () = assert!(NX_EOF == ErrorKind::Eof.code());

/// Invalid argument. A NULL pointer, a handle of the wrong type, an out-of-range enum or value.
pub const NX_EINVAL: c_int = -3001;
const _: () = assert!(NX_EINVAL == ErrorKind::InvalidArgument.code());

/// Object is closed. Only its close and free functions are still allowed.
pub const NX_ECLOSED: c_int = -3002;
const _: () = assert!(NX_ECLOSED == ErrorKind::Closed.code());

/// Closed while the call or operation was pending. Another thread closed the object while this
/// call waited on it (Java's `AsynchronousCloseException`), or the object was closed while the
/// operation was pending.
pub const NX_EASYNCCLOSE: c_int = -3003;
const _: () = assert!(NX_EASYNCCLOSE == ErrorKind::AsyncClose.code());

/// Handle was freed or is not a handle.
pub const NX_EBADHANDLE: c_int = -3004;
const _: () = assert!(NX_EBADHANDLE == ErrorKind::BadHandle.code());

/// Internal panic caught at the API boundary. The call did not complete.
pub const NX_EPANIC: c_int = -3005;
const _: () = assert!(NX_EPANIC == ErrorKind::Panic.code());

/// Object was created before fork() and cannot be used in the child. Create new objects after
/// the fork.
pub const NX_EFORKED: c_int = -3006;
const _: () = assert!(NX_EFORKED == ErrorKind::Forked.code());

/// Timed out. A wait ended before what it waited for happened.
pub const NX_ETIMEDOUT: c_int = -3007;
const _: () = assert!(NX_ETIMEDOUT == ErrorKind::TimedOut.code());

/// Selection key is cancelled.
pub const NX_ECANCELLEDKEY: c_int = -3008;
const _: () = assert!(NX_ECANCELLEDKEY == ErrorKind::CancelledKey.code());

/// Illegal blocking mode for this operation. For example registering a channel in blocking mode
/// with a selector, or switching a registered channel to blocking mode.
pub const NX_EBLOCKINGMODE: c_int = -3009;
const _: () = assert!(NX_EBLOCKINGMODE == ErrorKind::IllegalBlockingMode.code());

/// Interest ops not supported by this channel. For example `NX_OP_ACCEPT` on a socket channel.
pub const NX_EOPS: c_int = -3010;
const _: () = assert!(NX_EOPS == ErrorKind::UnsupportedOps.code());

/// Socket option not supported by this channel.
pub const NX_ENOOPT: c_int = -3011;
const _: () = assert!(NX_ENOOPT == ErrorKind::UnsupportedOption.code());

/// Channel is registered with a selector. Another one (register), or any one (detach, which
/// needs the channel free of keys and watches).
pub const NX_EREGISTERED: c_int = -3012;
const _: () = assert!(NX_EREGISTERED == ErrorKind::RegisteredElsewhere.code());

/// Channel is not connected.
pub const NX_ENOTCONNECTED: c_int = -3013;
const _: () = assert!(NX_ENOTCONNECTED == ErrorKind::NotYetConnected.code());

/// Channel is already connected.
pub const NX_EISCONNECTED: c_int = -3014;
const _: () = assert!(NX_EISCONNECTED == ErrorKind::AlreadyConnected.code());

/// A connection is already pending. A non-blocking connect is in progress.
pub const NX_ECONNPENDING: c_int = -3015;
const _: () = assert!(NX_ECONNPENDING == ErrorKind::ConnectionPending.code());

/// No connection is pending. Finishing a connect was asked for with no connect in progress.
pub const NX_ENOCONNPENDING: c_int = -3016;
const _: () = assert!(NX_ENOCONNPENDING == ErrorKind::NoConnectionPending.code());

/// Channel is not bound.
pub const NX_ENOTBOUND: c_int = -3017;
const _: () = assert!(NX_ENOTBOUND == ErrorKind::NotYetBound.code());

/// Channel is already bound.
pub const NX_EALREADYBOUND: c_int = -3018;
const _: () = assert!(NX_EALREADYBOUND == ErrorKind::AlreadyBound.code());

/// Interrupted by a signal handler. The handler asked the waiting call to stop.
pub const NX_EINTERRUPTED: c_int = -3019;
const _: () = assert!(NX_EINTERRUPTED == ErrorKind::Interrupted.code());

/// A read is already pending. The channel allows one pending read at a time.
pub const NX_EREADPENDING: c_int = -3020;
const _: () = assert!(NX_EREADPENDING == ErrorKind::ReadPending.code());

/// A write is already pending. The channel allows one pending write at a time.
pub const NX_EWRITEPENDING: c_int = -3021;
const _: () = assert!(NX_EWRITEPENDING == ErrorKind::WritePending.code());

/// Channel output is shut down. Writes after `shutdown_output` are refused.
pub const NX_ESHUTDOWN: c_int = -3022;
const _: () = assert!(NX_ESHUTDOWN == ErrorKind::Shutdown.code());

/// Cancelled. The operation or future was cancelled.
pub const NX_ECANCELLED: c_int = -3023;
const _: () = assert!(NX_ECANCELLED == ErrorKind::Cancelled.code());

/// Event loop is shutting down or has terminated; work rejected. A loop that is shutting down
/// refuses work from other threads, a terminated one all work; the caller keeps what it passed.
pub const NX_EREJECTED: c_int = -3024;
const _: () = assert!(NX_EREJECTED == ErrorKind::Rejected.code());

/// Waiting here would deadlock the event loop. The call would wait for the calling thread's own
/// event loop.
pub const NX_EDEADLK: c_int = -3025;
const _: () = assert!(NX_EDEADLK == ErrorKind::WouldDeadlock.code());

/// Event loop is already running or driven by a library thread. A re-entrant run, a run while
/// another thread runs the loop, or a run of a loop a library thread drives.
pub const NX_EBUSY: c_int = -3026;
const _: () = assert!(NX_EBUSY == ErrorKind::Busy.code());

/// Promise already completed.
pub const NX_EALREADYDONE: c_int = -3027;
const _: () = assert!(NX_EALREADYDONE == ErrorKind::AlreadyCompleted.code());

/// An accept is already pending. A second accept on an asynchronous server channel while one
/// is pending; the pending one is untouched.
pub const NX_EACCEPTPENDING: c_int = -3028;
const _: () = assert!(NX_EACCEPTPENDING == ErrorKind::AcceptPending.code());

/// The write queue is full. The channel's queued bytes would pass its cap; the write was
/// refused and nothing was queued.
pub const NX_EQUEUEFULL: c_int = -3029;
const _: () = assert!(NX_EQUEUEFULL == ErrorKind::QueueFull.code());

/// Reads or writes are disabled by an earlier timeout or cancellation. An asynchronous
/// channel's read (or write) timed out or was cancelled, so that direction refuses further
/// operations (Java's `IllegalStateException`).
pub const NX_EDISABLED: c_int = -3030;
const _: () = assert!(NX_EDISABLED == ErrorKind::DirectionDisabled.code());

/// The channel group is shut down. It takes no new channels.
pub const NX_EGROUPSHUTDOWN: c_int = -3031;
const _: () = assert!(NX_EGROUPSHUTDOWN == ErrorKind::GroupShutdown.code());

/// Frame too long. A decoder met a frame longer than its maximum; the frame is discarded
/// and the next one decodes.
pub const NX_ETOOLONG: c_int = -3032;
const _: () = assert!(NX_ETOOLONG == ErrorKind::FrameTooLong.code());

/// Corrupted frame. A decoder met a negative length field or a length shorter than the
/// frame's own header; decoding goes on with what follows.
pub const NX_ECORRUPTED: c_int = -3033;
const _: () = assert!(NX_ECORRUPTED == ErrorKind::CorruptedFrame.code());

/// Input is not valid in its encoding. A strict string decoder met malformed bytes; the
/// frame is dropped.
pub const NX_EMALFORMED: c_int = -3034;
const _: () = assert!(NX_EMALFORMED == ErrorKind::MalformedInput.code());
/// A lock overlapping this region is held or pending on the channel. An asynchronous file
/// channel refuses a lock that overlaps one it holds or waits for (Java's
/// `OverlappingFileLockException`).
pub const NX_EOVERLAPPINGLOCK: c_int = -3035;
const _: () = assert!(NX_EOVERLAPPINGLOCK == ErrorKind::OverlappingLock.code());

/// The C constants above, by name: the unit tests check them against [`ErrorKind::ALL`]
/// (each kind has exactly one), `tests/header.rs` checks the header's `#define`s.
#[cfg(test)]
const C_NAMES: &[(&str, c_int)] = &[
    ("NX_EOF", NX_EOF),
    ("NX_EINVAL", NX_EINVAL),
    ("NX_ECLOSED", NX_ECLOSED),
    ("NX_EASYNCCLOSE", NX_EASYNCCLOSE),
    ("NX_EBADHANDLE", NX_EBADHANDLE),
    ("NX_EPANIC", NX_EPANIC),
    ("NX_EFORKED", NX_EFORKED),
    ("NX_ETIMEDOUT", NX_ETIMEDOUT),
    ("NX_ECANCELLEDKEY", NX_ECANCELLEDKEY),
    ("NX_EBLOCKINGMODE", NX_EBLOCKINGMODE),
    ("NX_EOPS", NX_EOPS),
    ("NX_ENOOPT", NX_ENOOPT),
    ("NX_EREGISTERED", NX_EREGISTERED),
    ("NX_ENOTCONNECTED", NX_ENOTCONNECTED),
    ("NX_EISCONNECTED", NX_EISCONNECTED),
    ("NX_ECONNPENDING", NX_ECONNPENDING),
    ("NX_ENOCONNPENDING", NX_ENOCONNPENDING),
    ("NX_ENOTBOUND", NX_ENOTBOUND),
    ("NX_EALREADYBOUND", NX_EALREADYBOUND),
    ("NX_EINTERRUPTED", NX_EINTERRUPTED),
    ("NX_EREADPENDING", NX_EREADPENDING),
    ("NX_EWRITEPENDING", NX_EWRITEPENDING),
    ("NX_ESHUTDOWN", NX_ESHUTDOWN),
    ("NX_ECANCELLED", NX_ECANCELLED),
    ("NX_EREJECTED", NX_EREJECTED),
    ("NX_EDEADLK", NX_EDEADLK),
    ("NX_EBUSY", NX_EBUSY),
    ("NX_EALREADYDONE", NX_EALREADYDONE),
    ("NX_EACCEPTPENDING", NX_EACCEPTPENDING),
    ("NX_EQUEUEFULL", NX_EQUEUEFULL),
    ("NX_EDISABLED", NX_EDISABLED),
    ("NX_EGROUPSHUTDOWN", NX_EGROUPSHUTDOWN),
    ("NX_ETOOLONG", NX_ETOOLONG),
    ("NX_ECORRUPTED", NX_ECORRUPTED),
    ("NX_EMALFORMED", NX_EMALFORMED),
    ("NX_EOVERLAPPINGLOCK", NX_EOVERLAPPINGLOCK),
];

/// The first (highest) code of nioxide's reserved block.
const RESERVED_FIRST: c_int = -3000;
/// How many codes the reserved block holds (-3000 down to -3099).
const RESERVED_LEN: usize = 100;

/// The text of codes that are neither success, nor nioxide's, nor a known `errno`.
const UNKNOWN_TEXT: &CStr = c"unknown error";
/// The name of such codes.
const UNKNOWN_NAME: &CStr = c"UNKNOWN";

/// Builds the `(errno, "ENAME")` table from `libc`'s constants, so the numbers are right on
/// every Linux architecture.
macro_rules! errno_names {
    ($($name:ident),* $(,)?) => {
        &[$((libc::$name, match CStr::from_bytes_with_nul(
            concat!(stringify!($name), "\0").as_bytes()
        ) {
            Ok(name) => name,
            Err(_) => panic!("errno name with a NUL byte"),
        }),)*]
    };
}

/// Linux's `errno` values by their usual names. Aliases (`EWOULDBLOCK`, `EDEADLOCK`,
/// `ENOTSUP`) are left out so each number has one name, the one `<errno.h>` defines first.
#[rustfmt::skip]
const ERRNO_NAMES: &[(c_int, &CStr)] = errno_names![
    EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD, EAGAIN, ENOMEM,
    EACCES, EFAULT, ENOTBLK, EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR, EISDIR, EINVAL, ENFILE,
    EMFILE, ENOTTY, ETXTBSY, EFBIG, ENOSPC, ESPIPE, EROFS, EMLINK, EPIPE, EDOM, ERANGE, EDEADLK,
    ENAMETOOLONG, ENOLCK, ENOSYS, ENOTEMPTY, ELOOP, ENOMSG, EIDRM, ECHRNG, EL2NSYNC, EL3HLT,
    EL3RST, ELNRNG, EUNATCH, ENOCSI, EL2HLT, EBADE, EBADR, EXFULL, ENOANO, EBADRQC, EBADSLT,
    EBFONT, ENOSTR, ENODATA, ETIME, ENOSR, ENONET, ENOPKG, EREMOTE, ENOLINK, EADV, ESRMNT,
    ECOMM, EPROTO, EMULTIHOP, EDOTDOT, EBADMSG, EOVERFLOW, ENOTUNIQ, EBADFD, EREMCHG, ELIBACC,
    ELIBBAD, ELIBSCN, ELIBMAX, ELIBEXEC, EILSEQ, ERESTART, ESTRPIPE, EUSERS, ENOTSOCK,
    EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT, EPROTONOSUPPORT, ESOCKTNOSUPPORT,
    EOPNOTSUPP, EPFNOSUPPORT, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH,
    ENETRESET, ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN, ENOTCONN, ESHUTDOWN, ETOOMANYREFS,
    ETIMEDOUT, ECONNREFUSED, EHOSTDOWN, EHOSTUNREACH, EALREADY, EINPROGRESS, ESTALE, EUCLEAN,
    ENOTNAM, ENAVAIL, EISNAM, EREMOTEIO, EDQUOT, ENOMEDIUM, EMEDIUMTYPE, ECANCELED, ENOKEY,
    EKEYEXPIRED, EKEYREVOKED, EKEYREJECTED, EOWNERDEAD, ENOTRECOVERABLE, ERFKILL, EHWPOISON,
];

/// A code's name and text, both NUL-terminated and alive for the whole process.
struct Described {
    name: &'static CStr,
    text: CString,
}

/// The tables behind [`nx_strerror`] and [`nx_err_name`], built once.
struct Tables {
    /// nioxide's reserved block, indexed by `RESERVED_FIRST - code`.
    kinds: Vec<Option<Described>>,
    /// Known `errno` values, indexed by `errno`.
    os: Vec<Option<Described>>,
}

impl Tables {
    /// The process-wide tables, built on first use (thread safe).
    fn get() -> &'static Tables {
        static TABLES: OnceLock<Tables> = OnceLock::new();
        TABLES.get_or_init(Tables::build)
    }

    fn build() -> Tables {
        let mut kinds: Vec<Option<Described>> = (0..RESERVED_LEN).map(|_| None).collect();
        for kind in ErrorKind::ALL {
            let index = reserved_index(kind.code()).expect("ErrorKind code outside -3000..-3099");
            let name = leak_c_string(kind.name());
            kinds[index] = Some(Described {
                name,
                text: c_string(kind.message()),
            });
        }

        let max = ERRNO_NAMES
            .iter()
            .map(|(errno, _)| *errno)
            .max()
            .unwrap_or(0);
        let mut os: Vec<Option<Described>> = (0..=max).map(|_| None).collect();
        for (errno, name) in ERRNO_NAMES {
            let text = c_string(&nioxide_core::error::os_message(*errno));
            os[*errno as usize] = Some(Described { name, text });
        }
        Tables { kinds, os }
    }

    /// The entry for `code`, if it is nioxide's or a known `-errno`.
    fn describe(&self, code: c_int) -> Option<&Described> {
        if let Some(index) = reserved_index(code) {
            return self.kinds[index].as_ref();
        }
        let errno = usize::try_from(code.checked_neg()?).ok()?;
        self.os.get(errno)?.as_ref()
    }
}

/// The index of `code` in the reserved block, if it lies there.
fn reserved_index(code: c_int) -> Option<usize> {
    let offset = usize::try_from(RESERVED_FIRST.checked_sub(code)?).ok()?;
    (offset < RESERVED_LEN).then_some(offset)
}

/// `text` as a C string (interior NUL bytes, which no message has, are dropped).
fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

/// `text` as a C string that lives for the rest of the process (built once per kind).
fn leak_c_string(text: &str) -> &'static CStr {
    Box::leak(c_string(text).into_boxed_c_str())
}

/// The C name of `code`, as a static string.
pub(crate) fn err_name(code: c_int) -> &'static CStr {
    if code == NX_OK {
        return c"NX_OK";
    }
    Tables::get()
        .describe(code)
        .map_or(UNKNOWN_NAME, |d| d.name)
}

/// The English description of `code`, as a static string.
pub(crate) fn strerror(code: c_int) -> &'static CStr {
    if code == NX_OK {
        return c"success";
    }
    Tables::get()
        .describe(code)
        .map_or(UNKNOWN_TEXT, |d| d.text.as_c_str())
}

/// Returns a short English description of the error code `code`.
///
/// `code` is any value an `nx_*` function returned: `NX_OK` ("success"), one of the `NX_E*`
/// codes, or `-errno` for an operating-system error (the text is the system's `strerror`
/// text, read once per process). Any other value gives "unknown error".
///
/// Ownership: the returned string is static; never free or modify it. It is never NULL.
///
/// Thread safety: safe to call from any thread at any time.
///
/// Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn nx_strerror(code: c_int) -> *const c_char {
    boundary_or(UNKNOWN_TEXT.as_ptr(), || strerror(code).as_ptr())
}

/// Returns the C name of the error code `code`: `"NX_OK"`, `"NX_ECLOSED"` for nioxide's own
/// codes, `"ECONNRESET"` for `-ECONNRESET` (the `errno` name, without the minus sign), and
/// `"UNKNOWN"` for any other value.
///
/// Ownership: the returned string is static; never free or modify it. It is never NULL.
///
/// Thread safety: safe to call from any thread at any time.
///
/// Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn nx_err_name(code: c_int) -> *const c_char {
    boundary_or(UNKNOWN_NAME.as_ptr(), || err_name(code).as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(code: c_int) -> String {
        // SAFETY: nx_err_name returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(nx_err_name(code)) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn text_of(code: c_int) -> String {
        // SAFETY: nx_strerror returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(nx_strerror(code)) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn every_kind_has_exactly_one_constant() {
        assert_eq!(C_NAMES.len(), ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            let found: Vec<_> = C_NAMES
                .iter()
                .filter(|(name, _)| *name == kind.name())
                .collect();
            assert_eq!(
                found.len(),
                1,
                "{} needs one constant in capi/error.rs",
                kind.name()
            );
            assert_eq!(found[0].1, kind.code(), "{}", kind.name());
        }
    }

    #[test]
    fn names_and_texts_come_from_the_core_table() {
        for kind in ErrorKind::ALL {
            assert_eq!(name_of(kind.code()), kind.name());
            assert_eq!(text_of(kind.code()), kind.message());
        }
        assert_eq!(name_of(NX_OK), "NX_OK");
        assert_eq!(text_of(NX_OK), "success");
    }

    #[test]
    fn os_errors_use_errno_names_and_system_text() {
        assert_eq!(name_of(-libc::ECONNRESET), "ECONNRESET");
        assert_eq!(name_of(-libc::EAGAIN), "EAGAIN");
        assert_eq!(
            text_of(-libc::ECONNRESET),
            nioxide_core::error::os_message(libc::ECONNRESET)
        );
    }

    #[test]
    fn unknown_codes() {
        for code in [
            1,
            42,
            -2999,
            -3099,
            -3100,
            -4095,
            -100_000,
            c_int::MIN,
            c_int::MAX,
        ] {
            assert_eq!(name_of(code), "UNKNOWN", "{code}");
            assert_eq!(text_of(code), "unknown error", "{code}");
        }
    }

    #[test]
    fn errno_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (errno, name) in ERRNO_NAMES {
            assert!(seen.insert(*errno), "{name:?} repeats errno {errno}");
        }
    }
}
