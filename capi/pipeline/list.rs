//! Pipelines in C: `nx_pipeline_*` over `nioxide_core::pipeline::Pipeline` (Netty's
//! `ChannelPipeline`): add a C handler first, last, before or after another, remove or
//! replace one, get a context by name, list the names.
//!
//! Changes may come from any thread and from inside a handler. Names and order are decided at
//! the call (a duplicate name fails at once); `handler_added` and `handler_removed` run on the
//! channel's loop thread (inside the call there, queued from elsewhere). An added handler gets
//! `handler_added` before any event; a removed one gets no event after `handler_removed`.

// These are C functions: the pointers come from C and their validity is the documented
// contract of each function (an `unsafe fn` would mean nothing to a C caller).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use nioxide_core::pipeline::{Channel, ChannelHandler, Position};
use nioxide_core::sync::lock;
use nioxide_core::sys::fork;

use super::handler::{CHandler, nx_channel_handler_t};
use super::{binding, channel_of, context_handle, failure, message_event, message_of};
use crate::args::{OptOut, Out, code, status};
use crate::attachment::CAttachment;
use crate::error::{NX_EBADHANDLE, NX_EFORKED, NX_EINVAL};
use crate::handle::{self, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{
    ContextObject, nx_channel_t, nx_context_t, nx_free_cb, nx_handler_t, nx_message_t,
};

/// `nx_pipeline_add`: right after the head (`base` unused).
pub const NX_PIPELINE_FIRST: c_int = 1;
/// `nx_pipeline_add`: right before the tail (`base` unused).
pub const NX_PIPELINE_LAST: c_int = 2;
/// `nx_pipeline_add`: before the handler named `base`.
pub const NX_PIPELINE_BEFORE: c_int = 3;
/// `nx_pipeline_add`: after the handler named `base`.
pub const NX_PIPELINE_AFTER: c_int = 4;

/// A C string argument, borrowed for the call: UTF-8, not NULL.
fn text_arg<'a>(text: *const c_char) -> Result<&'a str, c_int> {
    if text.is_null() {
        return Err(NX_EINVAL);
    }
    // SAFETY: the caller passes a NUL-terminated string, read during the call only.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| NX_EINVAL)
}

/// What adding or replacing does with the new context: core's call, given the handler.
type Add<'a> = dyn FnOnce(Box<dyn ChannelHandler>) -> nioxide_core::Result<nioxide_core::pipeline::Context>
    + 'a;

/// What an add undoes when core refused the handler.
type Undo = Box<dyn FnOnce()>;

/// Makes the new context's core handler, given the context's handle and object: the handler
/// and what to undo if core refuses it.
type Make<'a> = dyn FnOnce(RawHandle, &Arc<ContextObject>) -> Result<(Box<dyn ChannelHandler>, Undo), c_int>
    + 'a;

/// The body of every add and replace, of a C handler table or a built-in handler: makes the
/// context's handle (recorded with the channel, freed at its teardown), the handler
/// (`make`), and calls `add`. On error nioxide keeps nothing and frees nothing (`make`'s undo
/// gives back what it took).
fn add_context(
    channel: &Channel,
    ctx_out: *mut *mut nx_context_t,
    make: Box<Make<'_>>,
    add: Box<Add<'_>>,
) -> Result<(), c_int> {
    let binding = binding(channel);
    let object = Arc::new(ContextObject::default());
    let ptr: *mut nx_context_t = handle::insert_owned(object.clone(), channel.event_loop())?;
    let raw = RawHandle::from_ptr(ptr);
    let made = binding
        .add_context(raw)
        .and_then(|()| make(raw, &object).inspect_err(|_| binding.forget_context(raw)));
    let (handler, undo) = match made {
        Ok(made) => made,
        Err(e) => {
            let _ = handle::remove(ptr);
            return Err(e);
        }
    };
    match add(handler) {
        Ok(ctx) => {
            ctx.set_binding(Some(Box::new(raw)));
            object.fill(&ctx);
            OptOut::new(ctx_out).set(ptr);
            Ok(())
        }
        Err(e) => {
            undo();
            binding.forget_context(raw);
            let _ = handle::remove(ptr);
            Err(code(e))
        }
    }
}

/// Adds (or replaces with) a C handler: a copy of `table`, owning `attachment` once added.
fn add_handler(
    channel: &Channel,
    table: *const nx_channel_handler_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    ctx_out: *mut *mut nx_context_t,
    add: Box<Add<'_>>,
) -> Result<(), c_int> {
    let table = nx_channel_handler_t::copy_from(table)?.shared();
    let make = move |raw: RawHandle, object: &Arc<ContextObject>| {
        // Without a free function there is nothing to free or to give back: no slot.
        let slot = attachment_free
            .map(|free| Arc::new(Mutex::new(Some(CAttachment::new(attachment, Some(free))))));
        let handler = CHandler::new(table, raw, object, attachment, slot.clone());
        let undo: Undo = Box::new(move || {
            if let Some(kept) = slot.and_then(|slot| lock(&slot).take()) {
                let _ = kept.into_parts(); // the caller keeps its attachment
            }
        });
        Ok((Box::new(handler) as Box<dyn ChannelHandler>, undo))
    };
    add_context(channel, ctx_out, Box::new(make), add)
}

/// Adds (or replaces with) the built-in handler `handler` names: its core handler is made
/// now; once added, the handle is gone (the pipeline has the handler). An add of the same
/// handle under way on another thread makes this one fail with `NX_EBADHANDLE`.
fn add_builtin(
    channel: &Channel,
    handler: *mut nx_handler_t,
    ctx_out: *mut *mut nx_context_t,
    add: Box<Add<'_>>,
) -> Result<(), c_int> {
    let builtin = handle::get(handler)?;
    if fork::is_forked(builtin.generation) {
        return Err(NX_EFORKED);
    }
    let taken = builtin.clone();
    let make = move |_: RawHandle, object: &Arc<ContextObject>| {
        if taken.taken.swap(true, Ordering::AcqRel) {
            return Err(NX_EBADHANDLE);
        }
        object.builtin.store(true, Ordering::Release);
        let core = (taken.make)();
        let undo: Undo = Box::new(move || taken.taken.store(false, Ordering::Release));
        Ok((core, undo))
    };
    add_context(channel, ctx_out, Box::new(make), add)?;
    let _ = handle::remove(handler);
    Ok(())
}

/// The arguments both replace functions share, from their C form: the channel, the name of
/// the handler replaced and the new one's.
fn replace_args(
    channel: *mut nx_channel_t,
    old: *const c_char,
    name: *const c_char,
) -> Result<(Channel, &'static str, &'static str), c_int> {
    Ok((channel_of(channel)?, text_arg(old)?, text_arg(name)?))
}

/// The arguments every add function shares, from their C form: the channel, the new
/// handler's name and its position.
fn add_args(
    channel: *mut nx_channel_t,
    position: c_int,
    base: *const c_char,
    name: *const c_char,
) -> Result<(Channel, &'static str, Position<'static>), c_int> {
    let channel = channel_of(channel)?;
    let name = text_arg(name)?;
    let position = match position {
        NX_PIPELINE_FIRST => Position::First,
        NX_PIPELINE_LAST => Position::Last,
        NX_PIPELINE_BEFORE => Position::Before(text_arg(base)?),
        NX_PIPELINE_AFTER => Position::After(text_arg(base)?),
        _ => return Err(NX_EINVAL),
    };
    Ok((channel, name, position))
}

/// Adds a C handler named `name` to the channel's pipeline at `position`
/// (`NX_PIPELINE_FIRST`, `NX_PIPELINE_LAST`, or `NX_PIPELINE_BEFORE`/`NX_PIPELINE_AFTER` the
/// handler named `base`). nioxide copies `*handler` (see `nx_channel_handler_t`); `name` and
/// `base` are borrowed during the call. On success, if `ctx_out` is not NULL, `*ctx_out` is the
/// new handler's context, which belongs to nioxide (see `nx_context_t`).
///
/// Ownership: the handler owns `attachment`: `attachment_free(attachment)` (if not NULL) runs
/// exactly once, on the channel's loop thread, after `handler_removed` once every callback of
/// this handler has returned (or, for a handler removed before it was ever added, when it is
/// dropped). On error nioxide keeps nothing and frees nothing.
///
/// Thread safety: safe from any thread, also from inside a handler. On the loop thread
/// `handler_added` runs inside this call; from another thread it is queued.
///
/// Errors: `NX_EINVAL` (NULL or bad arguments, the name is taken, no handler named `base`),
/// `NX_ECLOSED` (the channel is torn down), `NX_EREJECTED` (the loop refuses work from this
/// thread), `NX_EBADHANDLE`, `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_add(
    channel: *mut nx_channel_t,
    position: c_int,
    base: *const c_char,
    name: *const c_char,
    handler: *const nx_channel_handler_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    ctx_out: *mut *mut nx_context_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (channel, name, position) = add_args(channel, position, base, name)?;
            let pipeline = channel.pipeline();
            add_handler(&channel, handler, attachment, attachment_free, ctx_out,
                Box::new(|h| pipeline.add(position, name, h)))
        })
    }
}

/// `nx_pipeline_add` at `NX_PIPELINE_LAST` (Netty's `addLast`), the common case. Ownership
/// of `attachment` and `*ctx_out` as `nx_pipeline_add`.
///
/// Thread safety: safe from any thread, also from inside a handler.
///
/// Errors: as `nx_pipeline_add`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_add_last(
    channel: *mut nx_channel_t,
    name: *const c_char,
    handler: *const nx_channel_handler_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    ctx_out: *mut *mut nx_context_t,
) -> c_int {
    nx_pipeline_add(
        channel,
        NX_PIPELINE_LAST,
        std::ptr::null(),
        name,
        handler,
        attachment,
        attachment_free,
        ctx_out,
    )
}

/// Replaces the handler named `old` with a C handler named `name` in the same place: the new
/// one's `handler_added` runs before the old one's `handler_removed`. Arguments, ownership
/// and `ctx_out` as `nx_pipeline_add`.
///
/// Thread safety: safe from any thread, also from inside a handler.
///
/// Errors: `NX_EINVAL` (no handler named `old`, `name` taken by another), and as
/// `nx_pipeline_add`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_replace(
    channel: *mut nx_channel_t,
    old: *const c_char,
    name: *const c_char,
    handler: *const nx_channel_handler_t,
    attachment: *mut c_void,
    attachment_free: nx_free_cb,
    ctx_out: *mut *mut nx_context_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (channel, old, name) = replace_args(channel, old, name)?;
            let pipeline = channel.pipeline();
            add_handler(&channel, handler, attachment, attachment_free, ctx_out,
                Box::new(|h| pipeline.replace(old, name, h)))
        })
    }
}

/// Adds the built-in handler `handler` (one an `nx_codec_*` constructor made) named `name`
/// to the channel's pipeline at `position` (as `nx_pipeline_add`: `NX_PIPELINE_FIRST`,
/// `NX_PIPELINE_LAST`, or `NX_PIPELINE_BEFORE`/`NX_PIPELINE_AFTER` the handler named
/// `base`). Its events stay inside nioxide: it is a Rust handler, called with no C code in
/// between. `name` and `base` are borrowed during the call. On success, if `ctx_out` is not
/// NULL, `*ctx_out` is the new handler's context, which belongs to nioxide (see
/// `nx_context_t`; it is closed, `NX_ECLOSED`, once the handler was removed).
///
/// Ownership: on success the pipeline takes the handler and `handler`'s handle is gone (any
/// later call on it returns `NX_EBADHANDLE`; do not free it). On error the caller still owns
/// it: add it again, or free it with `nx_handler_free`.
///
/// Thread safety: safe from any thread, also from inside a handler. On the loop thread the
/// handler's `handler_added` runs inside this call; from another thread it is queued. Two
/// threads adding the same handle at once: one succeeds, the other gets `NX_EBADHANDLE`.
///
/// Errors: `NX_EINVAL` (NULL or bad arguments, the name is taken, no handler named `base`),
/// `NX_ECLOSED` (the channel is torn down), `NX_EREJECTED` (the loop refuses work from this
/// thread), `NX_EBADHANDLE` (also: `handler` was added already), `NX_EFORKED`, `-ENOMEM`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_add_handler(
    channel: *mut nx_channel_t,
    position: c_int,
    base: *const c_char,
    name: *const c_char,
    handler: *mut nx_handler_t,
    ctx_out: *mut *mut nx_context_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (channel, name, position) = add_args(channel, position, base, name)?;
            let pipeline = channel.pipeline();
            add_builtin(&channel, handler, ctx_out, Box::new(|h| pipeline.add(position, name, h)))
        })
    }
}

/// Replaces the handler named `old` with the built-in handler `handler` named `name`, in the
/// same place: the new one's `handler_added` runs before the old one's `handler_removed`.
/// Ownership of `handler` and `ctx_out` as `nx_pipeline_add_handler`.
///
/// Thread safety: safe from any thread, also from inside a handler (the one replaced
/// included).
///
/// Errors: `NX_EINVAL` (no handler named `old`, `name` taken by another), and as
/// `nx_pipeline_add_handler`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_replace_handler(
    channel: *mut nx_channel_t,
    old: *const c_char,
    name: *const c_char,
    handler: *mut nx_handler_t,
    ctx_out: *mut *mut nx_context_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (channel, old, name) = replace_args(channel, old, name)?;
            let pipeline = channel.pipeline();
            add_builtin(&channel, handler, ctx_out, Box::new(|h| pipeline.replace(old, name, h)))
        })
    }
}

/// Removes the handler named `name` (borrowed during the call): its `handler_removed` runs
/// (inside this call on the loop thread, else queued) and no event reaches it afterwards.
///
/// Thread safety: safe from any thread, also from inside a handler (the handler itself
/// included).
///
/// Errors: `NX_EINVAL` (no such handler), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_remove(channel: *mut nx_channel_t, name: *const c_char) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let channel = channel_of(channel)?;
            channel.pipeline().remove(text_arg(name)?).map_err(code)?;
            Ok(())
        })
    }
}

/// Stores in `*ctx_out` the context of the C handler named `name` (borrowed during the call).
/// The handle belongs to nioxide (see `nx_context_t`). On error it is unchanged.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (no handler of that name, or it is not a C handler), `NX_EBADHANDLE`,
/// `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_get(
    channel: *mut nx_channel_t,
    name: *const c_char,
    ctx_out: *mut *mut nx_context_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let out = Out::new(ctx_out)?;
            let channel = channel_of(channel)?;
            let ctx = channel.pipeline().get(text_arg(name)?).ok_or(NX_EINVAL)?;
            out.set(context_handle(&ctx).ok_or(NX_EINVAL)?.as_ptr());
            Ok(())
        })
    }
}

/// Writes the names of the pipeline's handlers, head to tail (the head and tail themselves
/// not included), into `buf` as one NUL-terminated string, separated by commas (`"a,b,c"`;
/// `""` for none), and its length without the NUL into `*len_out`. If `cap` is too small
/// (`*len_out + 1` bytes are needed) nothing is written to `buf`, `*len_out` says what is
/// needed and the call returns `-ERANGE`.
///
/// Thread safety: safe from any thread; the pipeline may change as soon as it is read.
///
/// Errors: `NX_EINVAL` (NULL `len_out`, NULL `buf` with a `cap`), `-ERANGE`,
/// `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_names(
    channel: *mut nx_channel_t,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let len = Out::new(len_out)?;
            if buf.is_null() && cap > 0 {
                return Err(NX_EINVAL);
            }
            let names = channel_of(channel)?.pipeline().names().join(",");
            len.set(names.len());
            if names.len() >= cap {
                return Err(-libc::ERANGE);
            }
            // SAFETY: the caller passes `cap` writable bytes at `buf`; `names.len() + 1` fit.
            unsafe {
                std::ptr::copy_nonoverlapping(names.as_ptr(), buf.cast::<u8>(), names.len());
                *buf.add(names.len()) = 0;
            }
            Ok(())
        })
    }
}

/// Fires a read of `msg` at the pipeline's head (Netty's `pipeline.fireChannelRead`): it
/// travels to the tail through every handler that takes reads, as if the channel had read it.
/// `msg` is not consumed (nioxide takes a reference).
///
/// Thread safety: safe from any thread (queued from other threads than the loop's).
///
/// Errors: `NX_EINVAL` (NULL or not a message), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_fire_channel_read(
    channel: *mut nx_channel_t,
    msg: *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let (channel, msg) = (channel_of(channel)?, message_of(msg)?);
            channel.pipeline().fire_channel_read(msg);
            Ok(())
        })
    }
}

/// Fires `channel_read_complete` at the pipeline's head (`pipeline.fireChannelReadComplete`).
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL`, `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_fire_channel_read_complete(channel: *mut nx_channel_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            channel_of(channel)?.pipeline().fire_channel_read_complete();
            Ok(())
        })
    }
}

/// Fires a user event at the pipeline's head (`pipeline.fireUserEventTriggered`): a user
/// message (`nx_message_new_user`), not consumed.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (not a user message), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_fire_user_event(
    channel: *mut nx_channel_t,
    event: *mut nx_message_t,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            let channel = channel_of(channel)?;
            let event = message_event(message_of(event)?)?;
            channel.pipeline().fire_user_event_triggered(event);
            Ok(())
        })
    }
}

/// Fires an exception at the pipeline's head (`pipeline.fireExceptionCaught`): `error` is a
/// negative code.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (also a non-negative `error`), `NX_EBADHANDLE`, `NX_EFORKED`.
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_fire_exception_caught(
    channel: *mut nx_channel_t,
    error: c_int,
) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            if error >= 0 {
                return Err(NX_EINVAL);
            }
            channel_of(channel)?.pipeline().fire_exception_caught(failure(error));
            Ok(())
        })
    }
}

/// How many exceptions reached a pipeline's tail (or failed an exception callback) in this
/// process so far: each is reported on standard error and counted here and by the channel's
/// loop (`NX_LOOP_COUNTER_UNHANDLED_EXCEPTIONS`); the channel stays open. Stored in
/// `*count_out`.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL `count_out`).
#[unsafe(no_mangle)]
pub extern "C" fn nx_pipeline_unhandled_exceptions(count_out: *mut u64) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            Out::new(count_out)?.set(nioxide_core::pipeline::unhandled_exceptions());
            Ok(())
        })
    }
}
