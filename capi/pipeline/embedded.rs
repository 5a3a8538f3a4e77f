//! Embedded channels in C: `nx_embedded_channel_*` over
//! `nioxide_core::pipeline::EmbeddedChannel` (Netty's `EmbeddedChannel`), for testing C
//! handlers without I/O.
//!
//! An embedded channel is an `nx_channel_t` (add handlers with `nx_pipeline_add_last`, query
//! and write it with `nx_channel_*`), driven by the thread that made it: every call runs its
//! handlers inside the call, and its queued work (promise listeners, writability events)
//! runs in the calls below. Messages written inbound travel the pipeline as reads; what
//! reaches the tail is kept for `nx_embedded_channel_read_inbound`; messages written
//! outbound and flushed are kept for `nx_embedded_channel_read_outbound`. An exception that
//! reached the tail is returned by the next call below (Netty's `checkException`). Tasks of
//! `nx_channel_schedule`, and those scheduled on the channel's loop itself
//! (`nx_channel_event_loop`: `nx_loop_schedule*`, timers), run on a virtual clock that
//! `nx_embedded_channel_advance_time` moves (as Netty's `EmbeddedEventLoop`; real time
//! moves the loop's clock too).

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use nioxide_core::event_loop::Failure;
use nioxide_core::pipeline::{Channel, ChannelInitializer, EmbeddedChannel, Message};
use nioxide_core::sync::lock;

use super::bootstrap::nx_channel_init_cb;
use super::{binding, handle_of, message_of, owned_message};
use crate::args::{Out, code, status};
use crate::error::NX_EINVAL;
use crate::handle;
use crate::nx_ffi_boundary;
use crate::types::{nx_channel_t, nx_message_t};

/// The embedded channel behind a C handle (`NX_EINVAL` for any other channel).
fn embedded_of(channel: *mut nx_channel_t) -> Result<Arc<EmbeddedChannel>, c_int> {
    handle::with(channel, |o| lock(&o.embedded).clone())?.ok_or(NX_EINVAL)
}

/// A count, or the code of the exception a call returned.
fn outcome(result: Result<bool, Failure>) -> c_int {
    match result {
        Ok(more) => c_int::from(more),
        Err(failure) => failure.error.code(),
    }
}

/// Makes an embedded channel on a loop of its own that the calling thread drives: first
/// `init(channel, attachment)` (if not NULL) sets its pipeline up, inside this call (Netty's
/// `new EmbeddedChannel(initializer)`), then the channel is registered and active, so the
/// handlers it added get `channel_registered` and `channel_active`. `attachment` is only
/// passed to `init`, never kept. On success `*channel_out` is the caller's until
/// `nx_channel_free` (which closes it and runs what is pending); on error nothing is left and
/// it is unchanged. A negative return of `init` fails the call with that code.
///
/// Thread safety: use the channel from the thread that made it (other threads' operations are
/// queued and run in the calls that drive it).
///
/// Errors: `init`'s code, `NX_EINVAL`, OS errors making the loop, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_new(
    init: nx_channel_init_cb,
    attachment: *mut c_void,
    channel_out: *mut *mut nx_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            let failed = Arc::new(AtomicI32::new(0));
            let seen = failed.clone();
            let attachment = attachment as usize;
            let setup = ChannelInitializer::new(move |channel: &Channel| {
                let Some(init) = init else { return Ok(()) };
                let rc = match handle_of(channel) {
                    // SAFETY: the user gave us this function to call with this attachment,
                    // inside this call.
                    Ok(handle) => unsafe { init(handle, attachment as *mut c_void) },
                    Err(e) => e,
                };
                if rc < 0 {
                    seen.store(rc, Ordering::Relaxed);
                }
                Ok(())
            });
            let embedded = EmbeddedChannel::new(vec![Box::new(setup)]).map_err(code)?;
            let rc = failed.load(Ordering::Relaxed);
            if rc < 0 {
                return Err(rc); // dropping `embedded` closes it
            }
            let channel = embedded.channel().clone();
            let raw = binding(&channel).user_handle(&channel, Some(embedded))?;
            out.set(raw.as_ptr());
            Ok(())
        })
    }
}

/// Fires `msg` as a read, then a read complete, and runs pending tasks. `msg` is not consumed.
/// Returns 1 if messages wait at the tail (`nx_embedded_channel_read_inbound`), 0 if not, or
/// the negative code of the exception that reached the tail (once).
///
/// Thread safety: the driving thread.
///
/// Errors: the exception's code, `NX_ECLOSED` (closed), `NX_EINVAL` (not an embedded
/// channel, not a message), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_write_inbound(
    channel: *mut nx_channel_t,
    msg: *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        match (embedded_of(channel), message_of(msg)) {
            (Ok(e), Ok(m)) => outcome(e.write_inbound([m])),
            (Err(e), _) | (_, Err(e)) => e,
        }
    }
}

/// Writes `msg` through the pipeline from the tail, flushes and runs pending tasks. `msg` is
/// not consumed. Returns 1 if written messages wait (`nx_embedded_channel_read_outbound`), 0
/// if not, or the negative code of the exception that reached the tail, or of the write's
/// failure.
///
/// Thread safety: the driving thread.
///
/// Errors: as `nx_embedded_channel_write_inbound`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_write_outbound(
    channel: *mut nx_channel_t,
    msg: *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        match (embedded_of(channel), message_of(msg)) {
            (Ok(e), Ok(m)) => outcome(e.write_outbound([m])),
            (Err(e), _) | (_, Err(e)) => e,
        }
    }
}

/// Takes the next message that reached the tail: returns 1 and stores an owned handle in
/// `*msg_out` (`nx_message_release`), or returns 0 (none; `*msg_out` unchanged).
///
/// Thread safety: the driving thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `-ENOMEM` (the message is released then).
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_read_inbound(
    channel: *mut nx_channel_t,
    msg_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        take(channel, msg_out, EmbeddedChannel::read_inbound)
    }
}

/// Takes the next message written and flushed, as `nx_embedded_channel_read_inbound`.
///
/// Thread safety: the driving thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_read_outbound(
    channel: *mut nx_channel_t,
    msg_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        take(channel, msg_out, EmbeddedChannel::read_outbound)
    }
}

/// The body of the two reads.
fn take(
    channel: *mut nx_channel_t,
    msg_out: *mut *mut nx_message_t,
    read: fn(&EmbeddedChannel) -> Option<Message>,
) -> c_int {
    let body = || {
        let out = Out::new(msg_out)?;
        match read(&*embedded_of(channel)?) {
            Some(msg) => {
                out.set(owned_message(msg)?);
                Ok(1)
            }
            None => Ok(0),
        }
    };
    body().unwrap_or_else(|e| e)
}

/// Runs the queued work (promise listeners, writability events, operations from other
/// threads) and the tasks due on the virtual clock; then returns 0, or the negative code of
/// an exception that reached the tail (once).
///
/// Thread safety: the driving thread.
///
/// Errors: the exception's code, `NX_EINVAL`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_run_pending_tasks(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let e = embedded_of(channel)?;
            e.run_pending_tasks();
            e.check_exception().map_err(|f| f.error.code())
        })
    }
}

/// Moves the virtual clock, and the clock of the channel's loop with it, forward by `ms`
/// milliseconds (negative: 0) and runs what came due (the channel's scheduled tasks, and the
/// loop's tasks and timers), as `nx_embedded_channel_run_pending_tasks`.
///
/// Thread safety: the driving thread.
///
/// Errors: as `nx_embedded_channel_run_pending_tasks`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_advance_time(channel: *mut nx_channel_t, ms: i64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let e = embedded_of(channel)?;
            e.advance_time_by(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
            e.check_exception().map_err(|f| f.error.code())
        })
    }
}

/// Returns 0, or the negative code of the exception that reached the tail since the last
/// check (once).
///
/// Thread safety: the driving thread.
///
/// Errors: the exception's code, `NX_EINVAL`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_check_exception(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        status(|| embedded_of(channel)?.check_exception().map_err(|f| f.error.code()))
    }
}

/// Closes the channel, runs what is pending and checks for an exception (Netty's `finish`).
/// Returns 1 if messages were left in either direction, 0 if not, or the exception's code.
/// The handle stays the caller's (`nx_channel_free`); read what was left first, or free it
/// to release it.
///
/// Thread safety: the driving thread.
///
/// Errors: the exception's code, `NX_EINVAL`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_embedded_channel_finish(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        embedded_of(channel).map_or_else(|e| e, |e| outcome(e.finish()))
    }
}
