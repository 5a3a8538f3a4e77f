//! Pipeline messages in C: `nx_message_*` over `nioxide_core::pipeline::Message`.
//!
//! A message is bytes (a read-only buffer: pointer + length), a user message (a `void *` with
//! its free function and a tag the user chooses), or an accepted channel (what a server
//! channel reads). A message handle given to a callback is lent until the callback returns;
//! `nx_message_retain` gives an owned handle, released once with `nx_message_release`. Firing
//! a read or writing a message never consumes the caller's handle: nioxide takes another
//! reference (bytes are shared, never copied).

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_int, c_void};
use std::sync::{Arc, OnceLock};

use nioxide_core::pipeline::{Buffer, Channel, Message};

use super::{handle_of, message_of, owned_message, take_owned_message};
use crate::args::{Out, status};
use crate::attachment::{CAttachment, FreeFn};
use crate::error::NX_EINVAL;
use crate::handle;
use crate::nx_ffi_boundary;
use crate::types::{MessageObject, nx_channel_t, nx_free_cb, nx_message_t};

/// `nx_message_type`: bytes (`nx_message_bytes`).
pub const NX_MESSAGE_BUFFER: c_int = 1;
/// `nx_message_type`: a user message (`nx_message_user`), built-in user events included.
pub const NX_MESSAGE_USER: c_int = 2;
/// `nx_message_type`: an accepted channel, what a server channel reads
/// (`nx_message_channel`).
pub const NX_MESSAGE_CHANNEL: c_int = 3;
/// `nx_message_type`: a message of another binding (a Rust or Python value) that C cannot
/// look into; it can be passed on and written.
pub const NX_MESSAGE_OTHER: c_int = 4;
/// `nx_message_type`: a string (UTF-8 text: what `nx_codec_string_decoder` produces and
/// `nx_codec_string_encoder` encodes; `nx_message_string`, `nx_message_new_string`).
pub const NX_MESSAGE_STRING: c_int = 5;

/// The tag of the built-in user event fired when the input side was shut down (end of stream
/// with `NX_OPTION_ALLOW_HALF_CLOSURE`, or `nx_channel_shutdown_input`); the channel stays
/// open and writable. Built-in tags are negative; the user's are not.
pub const NX_EVENT_INPUT_SHUTDOWN: c_int = -1;
/// The tag of the built-in user event that follows `NX_EVENT_INPUT_SHUTDOWN` once the read
/// batch that saw the end of the input has completed.
pub const NX_EVENT_INPUT_SHUTDOWN_READ_COMPLETE: c_int = -2;
/// The tag of the built-in user event fired when the output side was shut down
/// (`nx_channel_shutdown_output`).
pub const NX_EVENT_OUTPUT_SHUTDOWN: c_int = -3;

/// A user message of C: the user's tag and pointer, freed (if a free function was given)
/// when the last reference to the message goes, on that thread.
pub(crate) struct UserValue {
    pub(crate) tag: c_int,
    value: CAttachment,
}

impl UserValue {
    /// A built-in event's message (no pointer).
    pub(crate) fn builtin(tag: c_int) -> UserValue {
        UserValue {
            tag,
            value: CAttachment::new(std::ptr::null_mut(), None),
        }
    }
}

impl std::fmt::Debug for UserValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserValue")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

/// The user's memory behind a buffer message: released with `release(data)` when the last
/// reference to the bytes goes, on that thread, once armed (a call that fails before it
/// armed the release calls nothing).
struct UserMemory {
    data: *const u8,
    len: usize,
    release: Arc<OnceLock<FreeFn>>,
}

// SAFETY: as `Send`: the memory is only read, from any thread.
unsafe impl Sync for UserMemory {}

// SAFETY: the caller hands the memory over for reading from any thread until its release.
unsafe impl Send for UserMemory {}

impl AsRef<[u8]> for UserMemory {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller promised `len` readable bytes at `data` until the release.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for UserMemory {
    fn drop(&mut self) {
        if let Some(release) = self.release.get() {
            // SAFETY: the user gave us this function to release this memory, once.
            unsafe { release(self.data.cast_mut().cast::<c_void>()) }
        }
    }
}

/// A C buffer as bytes: NULL only with length 0.
///
/// # Safety
/// Unless NULL, `data` must be readable for `len` bytes during the call.
pub(crate) unsafe fn c_bytes<'a>(data: *const c_void, len: usize) -> Result<&'a [u8], c_int> {
    if len > isize::MAX as usize || (data.is_null() && len > 0) {
        return Err(NX_EINVAL);
    }
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: the caller's contract above.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// A buffer message over the user's memory, and the arming of its release: call it once
/// nothing can fail any more; from then on `release(data)` runs once the bytes are no longer
/// used (never, if `release` is NULL: static memory).
pub(crate) fn owned_bytes(
    data: *const c_void,
    len: usize,
    release: nx_free_cb,
) -> Result<(Message, impl FnOnce()), c_int> {
    // SAFETY: only checks the pointer and length; the bytes are read later, as documented.
    unsafe { c_bytes(data, len) }?;
    let armed = Arc::new(OnceLock::new());
    let memory = UserMemory {
        data: data.cast::<u8>(),
        len,
        release: armed.clone(),
    };
    let msg = Message::Buffer(Buffer::from_owner(memory));
    Ok((msg, move || {
        if let Some(release) = release {
            let _ = armed.set(release);
        }
    }))
}

/// Stores where the bytes `slice_of` finds in the message lie (pointer and length, never
/// copied) in the out-parameters; `NX_EINVAL` if it finds none. The bytes live as long as the
/// handle holds the message.
pub(crate) fn read_slice<T>(
    msg: *mut nx_message_t,
    data_out: *mut *const T,
    len_out: *mut usize,
    slice_of: impl FnOnce(&Message) -> Option<&[u8]>,
) -> Result<(), c_int> {
    let (data, len) = (Out::new(data_out)?, Out::new(len_out)?);
    let (ptr, n) = handle::with_lent(msg, |o: &MessageObject| {
        slice_of(o.msg()?)
            .map(|s| (s.as_ptr().cast::<T>(), s.len()))
            .ok_or(NX_EINVAL)
    })??;
    data.set(ptr);
    len.set(n);
    Ok(())
}

/// The bytes of a buffer message: `*data_out` and `*len_out` (pointer and length, never
/// copied). The bytes are read-only and stay valid while the handle does (a lent handle:
/// until the callback returns; an owned one: until `nx_message_release`). On error the
/// out-parameters are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or not a message, NULL out-parameters, a message that is not a
/// buffer), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_bytes(
    msg: *mut nx_message_t,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| read_slice(msg, data_out, len_out, |m| m.as_buffer().map(|b| b.as_slice())))
    }
}

/// What kind of message it is: `NX_MESSAGE_BUFFER`, `NX_MESSAGE_USER`, `NX_MESSAGE_CHANNEL`,
/// `NX_MESSAGE_STRING` or `NX_MESSAGE_OTHER` (positive), or a negative error.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_type(msg: *mut nx_message_t) -> c_int {
    nx_ffi_boundary! {
        handle::with(msg, |o: &MessageObject| match o.msg() {
            Ok(Message::Buffer(_)) => NX_MESSAGE_BUFFER,
            Ok(Message::User(v)) if v.is::<UserValue>() => NX_MESSAGE_USER,
            Ok(Message::User(v)) if v.is::<Channel>() => NX_MESSAGE_CHANNEL,
            Ok(m @ Message::User(_)) if m.as_str().is_some() => NX_MESSAGE_STRING,
            Ok(Message::User(_)) => NX_MESSAGE_OTHER,
            Err(e) => e,
        })
        .unwrap_or_else(|e| e)
    }
}

/// The tag and pointer of a user message (`*ptr_out` may be NULL: a built-in event's is). The
/// pointer stays the message's: it is freed with the message's last reference. On error the
/// out-parameters are unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (not a C user message, NULL out-parameters), `NX_EBADHANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_user(
    msg: *mut nx_message_t,
    tag_out: *mut c_int,
    ptr_out: *mut *mut c_void,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (tag, ptr) = (Out::new(tag_out)?, Out::new(ptr_out)?);
            let (t, p) = handle::with(msg, |o: &MessageObject| {
                o.msg()?
                    .downcast_ref::<UserValue>()
                    .map(|v| (v.tag, v.value.ptr()))
                    .ok_or(NX_EINVAL)
            })??;
            tag.set(t);
            ptr.set(p);
            Ok(())
        })
    }
}

/// The accepted channel a server channel read: `*channel_out` is its handle, which belongs to
/// nioxide until the channel is torn down (`nx_channel_retain` makes it yours). On error it
/// is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (not a channel message), `NX_ECLOSED` (the channel is torn down),
/// `NX_EBADHANDLE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_channel(
    msg: *mut nx_message_t,
    channel_out: *mut *mut nx_channel_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(channel_out)?;
            let msg = message_of(msg)?;
            let channel = msg.downcast_ref::<Channel>().ok_or(NX_EINVAL)?;
            out.set(handle_of(channel)?);
            Ok(())
        })
    }
}

/// Makes a buffer message holding a copy of `len` bytes at `data` (only read during the
/// call; NULL with 0 is an empty buffer). On success `*msg_out` is an owned handle: release it
/// with `nx_message_release` (writing it first takes a reference of its own). On error it is
/// unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `msg_out`, NULL `data` with a length), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_new_bytes(
    data: *const c_void,
    len: usize,
    msg_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(msg_out)?;
            // SAFETY: the caller passes `len` readable bytes at `data`.
            let bytes = unsafe { c_bytes(data, len) }?;
            out.set(owned_message(Message::copy_from_slice(bytes))?);
            Ok(())
        })
    }
}

/// Makes a buffer message over the caller's memory, without a copy: the `len` bytes at `data`
/// must stay readable and unchanged until nioxide calls `release(data)`, exactly once, when
/// the last reference goes (after a write: once its bytes went to the kernel, or it failed),
/// on the thread that drops it. NULL `release`: the memory is never released (static data).
/// On success `*msg_out` is an owned handle (`nx_message_release`). On error nioxide keeps
/// nothing and calls nothing; `*msg_out` is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_new_owned(
    data: *const c_void,
    len: usize,
    release: nx_free_cb,
    msg_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(msg_out)?;
            let (msg, arm) = owned_bytes(data, len, release)?;
            out.set(owned_message(msg)?);
            arm();
            Ok(())
        })
    }
}

/// Makes a user message: `tag` (zero or positive; the negative ones are nioxide's
/// `NX_EVENT_*`) and `ptr`, which the message owns: `ptr_free(ptr)` (if not NULL) runs exactly
/// once, when the message's last reference goes, on that thread. Any handler may pass it on;
/// a TCP channel's head refuses to write it (`NX_EINVAL`), a local channel carries it to its
/// peer. On success `*msg_out` is an owned handle (`nx_message_release`). On error nioxide
/// keeps nothing and frees nothing.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `msg_out`, a negative tag), `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_new_user(
    tag: c_int,
    ptr: *mut c_void,
    ptr_free: nx_free_cb,
    msg_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(msg_out)?;
            if tag < 0 {
                return Err(NX_EINVAL);
            }
            let value = Arc::new(UserValue { tag, value: CAttachment::new(ptr, None) });
            let handle = owned_message(Message::User(value.clone()))?;
            if let Some(free) = ptr_free {
                value.value.arm(free);
            }
            out.set(handle);
            Ok(())
        })
    }
}

/// Makes a buffer message over `len` bytes of `msg` from `offset`, sharing them (no copy; it
/// keeps the whole buffer alive). On success `*slice_out` is an owned handle
/// (`nx_message_release`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (not a buffer, or the range is out of it), `NX_EBADHANDLE`,
/// `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_slice(
    msg: *mut nx_message_t,
    offset: usize,
    len: usize,
    slice_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(slice_out)?;
            let msg = message_of(msg)?;
            let buffer = msg.as_buffer().ok_or(NX_EINVAL)?;
            let end = offset.checked_add(len).filter(|end| *end <= buffer.len()).ok_or(NX_EINVAL)?;
            out.set(owned_message(Message::Buffer(buffer.slice(offset..end)))?);
            Ok(())
        })
    }
}

/// Retains a message past the callback it was lent to (Netty's `retain`): `*owned_out` is a
/// new handle to the same message (its bytes shared, not copied), the caller's until
/// `nx_message_release`. Works on owned handles too (a second reference).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_retain(
    msg: *mut nx_message_t,
    owned_out: *mut *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(owned_out)?;
            out.set(owned_message(message_of(msg)?)?);
            Ok(())
        })
    }
}

/// Releases an owned message handle (from `nx_message_new_*`, `nx_message_retain`,
/// `nx_message_slice` or `nx_embedded_channel_read_*`), exactly once: the handle is invalid
/// afterwards, and the message is freed once nothing else holds it. A handle lent to a
/// callback is not the caller's to release.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL, not a message, or a lent handle), `NX_EBADHANDLE` (released
/// already).
#[unsafe(no_mangle)]
pub extern "C" fn nx_message_release(msg: *mut nx_message_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            take_owned_message(msg)?;
            Ok(())
        })
    }
}

/// How many byte buffers are alive in the process (testing builds only): read it before and
/// after a test to check that no buffer leaked (each lent, retained, queued or read buffer
/// counts while it lives).
///
/// Thread safety: safe from any thread; the count may change as soon as it is read.
///
/// Errors: none (a count).
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "C" fn nx_debug_live_buffers() -> usize {
    nx_ffi_boundary! {
        usize::try_from(nioxide_core::pipeline::live_buffers()).unwrap_or(usize::MAX)
    }
}
