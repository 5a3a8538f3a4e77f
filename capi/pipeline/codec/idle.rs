//! Idle-state handlers in C: `nx_codec_idle_state_handler`, `nx_codec_read_timeout_handler`,
//! `nx_codec_write_timeout_handler` over core's `IdleStateHandler`, `ReadTimeoutHandler` and
//! `WriteTimeoutHandler`, and the `NX_EVENT_*_IDLE` tags of the idle events.
//!
//! An idle event reaches a C handler's `user_event_triggered` as a user message whose tag
//! (`nx_message_user`) says both the kind and whether it is the first since the last
//! activity: six tags, one per Netty `IdleStateEvent` singleton, so a handler switches on
//! the tag alone. A timeout reaches `exception_caught` as `NX_ETIMEDOUT`; the channel is then
//! closed.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::c_int;
use std::time::Duration;

use nioxide_core::pipeline::ChannelHandler;
use nioxide_core::pipeline::codec::{
    IdleState, IdleStateEvent, IdleStateHandler, ReadTimeoutHandler, WriteTimeoutHandler,
};

use crate::args::status;
use crate::error::NX_EINVAL;
use crate::nx_ffi_boundary;
use crate::pipeline::handler::new_builtin;
use crate::types::nx_handler_t;

/// The tag of the idle event fired when nothing was read for the reader-idle time, after
/// the first such event (`NX_EVENT_FIRST_READER_IDLE`) since the last read.
pub const NX_EVENT_READER_IDLE: c_int = -4;
/// The tag of the first reader-idle event since the last read (or since the start).
pub const NX_EVENT_FIRST_READER_IDLE: c_int = -5;
/// The tag of the idle event fired when no write completed for the writer-idle time, after
/// the first such event since the last write.
pub const NX_EVENT_WRITER_IDLE: c_int = -6;
/// The tag of the first writer-idle event since the last completed write (or the start).
pub const NX_EVENT_FIRST_WRITER_IDLE: c_int = -7;
/// The tag of the idle event fired when nothing was read or written for the all-idle time,
/// after the first such event since the last activity.
pub const NX_EVENT_ALL_IDLE: c_int = -8;
/// The tag of the first all-idle event since the last read or write (or the start).
pub const NX_EVENT_FIRST_ALL_IDLE: c_int = -9;

/// The tags in [`IdleState::ALL`] order, each `(later, first)`.
const TAGS: [(c_int, c_int); 3] = [
    (NX_EVENT_READER_IDLE, NX_EVENT_FIRST_READER_IDLE),
    (NX_EVENT_WRITER_IDLE, NX_EVENT_FIRST_WRITER_IDLE),
    (NX_EVENT_ALL_IDLE, NX_EVENT_FIRST_ALL_IDLE),
];

/// The C tag of an idle event.
pub(crate) fn event_tag(event: IdleStateEvent) -> c_int {
    let at = IdleState::ALL.iter().position(|s| *s == event.state);
    let (later, first) = TAGS[at.unwrap_or(0)];
    if event.first { first } else { later }
}

/// The idle event a C tag stands for, if it is one of the six.
pub(crate) fn tag_event(tag: c_int) -> Option<IdleStateEvent> {
    IdleState::ALL
        .into_iter()
        .zip(TAGS)
        .find_map(|(state, (later, first))| {
            (tag == later || tag == first).then(|| IdleStateEvent::new(state, tag == first))
        })
}

/// A time in milliseconds as a handler takes it: zero is off, negative is refused.
fn millis(ms: i64) -> Result<Duration, c_int> {
    u64::try_from(ms)
        .map(Duration::from_millis)
        .map_err(|_| NX_EINVAL)
}

/// The body of the timeout handlers' constructors: the checked timeout, and `make` over it.
fn timeout_handler<H: ChannelHandler>(
    timeout_ms: i64,
    make: fn(Duration) -> H,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let timeout = millis(timeout_ms)?;
            new_builtin(Box::new(move || Box::new(make(timeout))), out)
        })
    }
}

/// Makes an idle-state handler (Netty's `IdleStateHandler`), stored in `*out`: it fires a
/// user event tagged `NX_EVENT_FIRST_READER_IDLE`/`NX_EVENT_READER_IDLE` when nothing was
/// read for `reader_ms` milliseconds, `NX_EVENT_FIRST_WRITER_IDLE`/`NX_EVENT_WRITER_IDLE`
/// when no write completed for `writer_ms`, `NX_EVENT_FIRST_ALL_IDLE`/`NX_EVENT_ALL_IDLE`
/// when neither happened for `all_ms` (0 turns a kind off; 1 ms is the shortest time).
/// While the channel stays idle the event repeats every period; the `FIRST_` tag marks the
/// first since the last activity. A read counts when its read batch completes; a write when
/// it completes (a write without a promise still fires the exception event if it fails).
/// The timers run on the channel's loop (an embedded channel's virtual clock) from when the
/// channel is active until it is inactive or the handler removed. A write in progress does
/// not count (`nx_codec_idle_state_handler_flags` with `NX_IDLE_OBSERVE_OUTPUT` makes it).
///
/// Ownership: `*out` is the caller's until `nx_pipeline_add_handler` takes it or
/// `nx_handler_free` frees it. On error `*out` is unchanged.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, a negative time), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_idle_state_handler(
    reader_ms: i64,
    writer_ms: i64,
    all_ms: i64,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| idle_state_handler(reader_ms, writer_ms, all_ms, false, out))
    }
}

/// A flag of `nx_codec_idle_state_handler_flags`: a write in progress counts as activity
/// for the writer-idle and all-idle times (Netty's `observeOutput`).
pub const NX_IDLE_OBSERVE_OUTPUT: u32 = 1;

/// As `nx_codec_idle_state_handler`, with `flags` (0, or `NX_IDLE_OBSERVE_OUTPUT`). With
/// `NX_IDLE_OBSERVE_OUTPUT`, output in progress counts as write activity: after the first
/// writer-idle (all-idle) event, a period in which the channel's outbound buffer changed
/// (bytes of its oldest message went out to the peer, or messages were queued or completed)
/// fires no event. A write that moves no bytes for a whole period (a peer that does not
/// read) is still idle.
///
/// Ownership: as `nx_codec_idle_state_handler`.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, a negative time, an unknown flag), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_idle_state_handler_flags(
    reader_ms: i64,
    writer_ms: i64,
    all_ms: i64,
    flags: u32,
    out: *mut *mut nx_handler_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if flags & !NX_IDLE_OBSERVE_OUTPUT != 0 {
                return Err(NX_EINVAL);
            }
            let observe = flags & NX_IDLE_OBSERVE_OUTPUT != 0;
            idle_state_handler(reader_ms, writer_ms, all_ms, observe, out)
        })
    }
}

/// Makes the idle-state handler of both constructors.
fn idle_state_handler(
    reader_ms: i64,
    writer_ms: i64,
    all_ms: i64,
    observe: bool,
    out: *mut *mut nx_handler_t,
) -> Result<(), c_int> {
    let (reader, writer, all) = (millis(reader_ms)?, millis(writer_ms)?, millis(all_ms)?);
    new_builtin(
        Box::new(move || {
            Box::new(IdleStateHandler::with_observe_output(
                observe, reader, writer, all,
            ))
        }),
        out,
    )
}

/// Makes a read-timeout handler (Netty's `ReadTimeoutHandler`), stored in `*out`: when
/// nothing was read for `timeout_ms` milliseconds (0: off), it fires the exception event
/// with `NX_ETIMEDOUT` ("read timed out") and closes the channel, once.
///
/// Ownership: as `nx_codec_idle_state_handler`.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, a negative time), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_read_timeout_handler(
    timeout_ms: i64,
    out: *mut *mut nx_handler_t,
) -> c_int {
    timeout_handler(timeout_ms, ReadTimeoutHandler::new, out)
}

/// Makes a write-timeout handler (Netty's `WriteTimeoutHandler`), stored in `*out`: when a
/// write has not completed `timeout_ms` milliseconds after it was written (0: off), it fires
/// the exception event with `NX_ETIMEDOUT` ("write timed out") and closes the channel,
/// once (the close fails the writes still queued).
///
/// Ownership: as `nx_codec_idle_state_handler`.
///
/// Thread safety: safe from any thread; the handler runs on its channel's loop thread.
///
/// Errors: `NX_EINVAL` (NULL `out`, a negative time), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_codec_write_timeout_handler(
    timeout_ms: i64,
    out: *mut *mut nx_handler_t,
) -> c_int {
    timeout_handler(timeout_ms, WriteTimeoutHandler::new, out)
}
