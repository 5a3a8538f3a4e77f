//! A handler in C: `nx_channel_handler_t`, a table of optional function pointers (one per
//! inbound event and outbound operation, NULL passes it on), and [`CHandler`], the core
//! handler that calls it.
//!
//! The table's mask (what core dispatches to it) is made from the functions that are set, so
//! NULL entries cost nothing. Each callback gets the handler's context handle and its
//! attachment; messages and promises are lent for the call ([`lend_message`]). The
//! attachment is freed after `handler_removed`, once every callback of the handler on the
//! stack has returned (a handler removed from inside its own `channel_read` keeps it until
//! that `channel_read` returns, and may still pass the read on through its context, as
//! Netty's one-shot handlers do); from then on its context handle is closed.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::mem::{MaybeUninit, size_of};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use libc::{sockaddr, sockaddr_storage, socklen_t};
use nioxide_core::event_loop::{Failure, Promise};
use nioxide_core::pipeline::{
    ChannelAddress, ChannelHandler, Context, HandlerResult, Mask, Message, UserEvent,
};
use nioxide_core::sync::lock;

use super::{address_to, event_message, failure, lend_message, lend_promise};
use nioxide_core::sys::fork;

use crate::args::{Out, status};
use crate::attachment::CAttachment;
use crate::error::NX_EINVAL;
use crate::handle::{self, RawHandle};
use crate::nx_ffi_boundary;
use crate::types::{
    ContextObject, HandlerObject, MakeHandler, nx_context_t, nx_handler_t, nx_message_t,
    nx_promise_t,
};

/// A handler callback with no argument but the context: `handler_added`, `handler_removed`,
/// the inbound events without data, and the `read` and `flush` operations. Returns 0, or a
/// negative code: from an inbound event it goes to the same handler's `exception_caught`;
/// from an outbound operation it fires the exception event; from `handler_added` the handler
/// is removed again and the exception event fired; from `handler_removed` it is reported.
#[allow(non_camel_case_types)]
pub type nx_handler_cb =
    Option<unsafe extern "C" fn(ctx: *mut nx_context_t, attachment: *mut c_void) -> c_int>;

/// `channel_read` and `user_event_triggered`: `msg` is lent for the call (see
/// `nx_message_t`); pass it on with `nx_context_fire_channel_read` (or
/// `nx_context_fire_user_event`), keep it with `nx_message_retain`, or leave it to be
/// released when the callback returns.
#[allow(non_camel_case_types)]
pub type nx_handler_message_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut nx_context_t,
        msg: *mut nx_message_t,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// `exception_caught`: `error` is the failure's code (`-errno` or `NX_E*`). Pass it on with
/// `nx_context_fire_exception_caught`; a negative return is only reported, never looped.
#[allow(non_camel_case_types)]
pub type nx_handler_exception_cb = Option<
    unsafe extern "C" fn(ctx: *mut nx_context_t, error: c_int, attachment: *mut c_void) -> c_int,
>;

/// `disconnect` and `close`: `promise` (NULL for none) is lent for the call and belongs to
/// nioxide: pass it on (`nx_context_close`) or complete it (later, through a handle of
/// `nx_promise_retain`). A negative return fails it.
#[allow(non_camel_case_types)]
pub type nx_handler_promise_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut nx_context_t,
        promise: *mut nx_promise_t,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// `bind`: the local address (borrowed for the call) and the lent promise, as
/// [`nx_handler_promise_cb`].
#[allow(non_camel_case_types)]
pub type nx_handler_bind_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut nx_context_t,
        local: *const sockaddr,
        local_len: socklen_t,
        promise: *mut nx_promise_t,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// `connect`: the remote address, the local one (NULL and 0 for none), both borrowed for the
/// call, and the lent promise, as [`nx_handler_promise_cb`].
#[allow(non_camel_case_types)]
pub type nx_handler_connect_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut nx_context_t,
        remote: *const sockaddr,
        remote_len: socklen_t,
        local: *const sockaddr,
        local_len: socklen_t,
        promise: *mut nx_promise_t,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// `write`: the message (lent, as for `channel_read`: pass it on with `nx_context_write`)
/// and the lent promise (NULL for a write without one), as [`nx_handler_promise_cb`].
#[allow(non_camel_case_types)]
pub type nx_handler_write_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut nx_context_t,
        msg: *mut nx_message_t,
        promise: *mut nx_promise_t,
        attachment: *mut c_void,
    ) -> c_int,
>;

/// A channel handler (Netty's `ChannelInboundHandler` and `ChannelOutboundHandler` in one):
/// set the callbacks you take, leave the others NULL (the event or operation then passes to
/// the next handler, without calling anything). Set `size` to `sizeof(nx_channel_handler_t)`:
/// nioxide copies the table when the handler is added, and fields past `size` (from a newer
/// header than the caller was built with) count as NULL.
///
/// Every callback runs on the channel's loop thread, inside the call that passes the event or
/// operation to it (so a callback that writes reaches this handler's own `write` inline).
/// Inbound events go head to tail: `channel_registered`, `channel_active`, `channel_read`s and
/// `channel_read_complete`s, `channel_inactive`, `channel_unregistered`, each at most once
/// (reads aside), then `handler_removed`. One table added to several pipelines (or used by a
/// child initializer) runs on several loops at once, each with the attachment of its add.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct nx_channel_handler_t {
    /// `sizeof(nx_channel_handler_t)` as the caller was compiled.
    pub size: usize,
    /// The handler was added: called before any event reaches it.
    pub handler_added: nx_handler_cb,
    /// The handler was removed: no event reaches it afterwards. The last call.
    pub handler_removed: nx_handler_cb,
    /// The channel was registered with its loop.
    pub channel_registered: nx_handler_cb,
    /// The channel was unregistered (after `channel_inactive`).
    pub channel_unregistered: nx_handler_cb,
    /// The channel became active (connected; bound, for a server).
    pub channel_active: nx_handler_cb,
    /// The channel became inactive (closed), once, only after `channel_active`.
    pub channel_inactive: nx_handler_cb,
    /// A message was read: bytes (`NX_MESSAGE_BUFFER`), or on a server an accepted channel
    /// (`NX_MESSAGE_CHANNEL`).
    pub channel_read: nx_handler_message_cb,
    /// A read batch ended (flush here what the reads wrote).
    pub channel_read_complete: nx_handler_cb,
    /// A user event: built-in ones are user messages tagged `NX_EVENT_*`.
    pub user_event_triggered: nx_handler_message_cb,
    /// The channel's writability changed (`nx_channel_is_writable`).
    pub channel_writability_changed: nx_handler_cb,
    /// An exception was fired, or a callback of this handler for an inbound event failed.
    pub exception_caught: nx_handler_exception_cb,
    /// The `bind` operation.
    pub bind: nx_handler_bind_cb,
    /// The `connect` operation.
    pub connect: nx_handler_connect_cb,
    /// The `disconnect` operation.
    pub disconnect: nx_handler_promise_cb,
    /// The `close` operation.
    pub close: nx_handler_promise_cb,
    /// The `read` operation (asks for a read batch).
    pub read: nx_handler_cb,
    /// The `write` operation.
    pub write: nx_handler_write_cb,
    /// The `flush` operation.
    pub flush: nx_handler_cb,
}

impl nx_channel_handler_t {
    /// Copies the caller's table: the fields within its first `size` bytes, the rest NULL.
    ///
    /// Errors: `NX_EINVAL` for NULL or a `size` too small to hold `size` itself.
    pub(crate) fn copy_from(table: *const nx_channel_handler_t) -> Result<Self, c_int> {
        // SAFETY: every field is a nullable function pointer or the size: all zeros is a
        // table with every callback NULL.
        unsafe { copy_sized(table) }
    }

    /// The shared copy of this table's content: the one every handler with the same size
    /// and functions uses (the usual case: one static table for every connection), made on
    /// first use, so a handler costs no table of its own per channel. Copies live while a
    /// handler uses them.
    pub(crate) fn shared(self) -> Arc<nx_channel_handler_t> {
        let mut tables = lock(&TABLES);
        if let Some(found) = tables
            .iter()
            .filter_map(Weak::upgrade)
            .find(|t| t.bytes() == self.bytes())
        {
            return found;
        }
        tables.retain(|t| t.strong_count() > 0);
        let table = Arc::new(self);
        tables.push(Arc::downgrade(&table));
        table
    }

    /// The table as bytes (pointer-sized fields only, so no padding), for comparing copies.
    fn bytes(&self) -> &[u8] {
        // SAFETY: `self` is `size_of::<Self>()` initialised bytes (a `repr(C)` struct of
        // pointer-sized fields).
        unsafe { std::slice::from_raw_parts(std::ptr::from_ref(self).cast(), size_of::<Self>()) }
    }

    /// What the table takes: a bit for each callback that is set.
    fn mask(&self) -> Mask {
        let bits = [
            (self.channel_registered.is_some(), Mask::REGISTERED),
            (self.channel_unregistered.is_some(), Mask::UNREGISTERED),
            (self.channel_active.is_some(), Mask::ACTIVE),
            (self.channel_inactive.is_some(), Mask::INACTIVE),
            (self.channel_read.is_some(), Mask::READ),
            (self.channel_read_complete.is_some(), Mask::READ_COMPLETE),
            (self.user_event_triggered.is_some(), Mask::USER_EVENT),
            (
                self.channel_writability_changed.is_some(),
                Mask::WRITABILITY_CHANGED,
            ),
            (self.exception_caught.is_some(), Mask::EXCEPTION),
            (self.bind.is_some(), Mask::BIND),
            (self.connect.is_some(), Mask::CONNECT),
            (self.disconnect.is_some(), Mask::DISCONNECT),
            (self.close.is_some(), Mask::CLOSE),
            (self.read.is_some(), Mask::READ_OP),
            (self.write.is_some(), Mask::WRITE),
            (self.flush.is_some(), Mask::FLUSH),
        ];
        bits.into_iter()
            .filter(|(set, _)| *set)
            .fold(Mask::NONE, |mask, (_, bit)| mask | bit)
    }
}

/// The handler tables in use (see [`nx_channel_handler_t::shared`]).
static TABLES: Mutex<Vec<Weak<nx_channel_handler_t>>> = Mutex::new(Vec::new());

/// Copies a caller's input struct that starts with its `size` (`sizeof` as the caller was
/// compiled): the fields within its first `size` bytes, the others zero (fields from a newer
/// header than this library knows are ignored).
///
/// Errors: `NX_EINVAL` for NULL or a `size` too small to hold `size` itself.
///
/// # Safety
/// `T` must be `#[repr(C)]`, start with a `usize` size, have fields that no cut at a multiple
/// of the pointer width splits (pointer-wide ones, or narrower ones filling a word), and be
/// valid when all its bytes are zero; unless NULL, `table` must have `size` readable bytes.
pub(crate) unsafe fn copy_sized<T: Copy>(table: *const T) -> Result<T, c_int> {
    if table.is_null() {
        return Err(NX_EINVAL);
    }
    // SAFETY: the caller passes a struct that starts with its size.
    let size = unsafe { table.cast::<usize>().read_unaligned() };
    if size < size_of::<usize>() {
        return Err(NX_EINVAL);
    }
    let mut copy = MaybeUninit::<T>::zeroed();
    // Whole fields only (each is one pointer wide): a field that `size` cuts is past it.
    let n = size.min(size_of::<T>()) / size_of::<usize>() * size_of::<usize>();
    // SAFETY: the caller's struct has `size` readable bytes; all-zero bytes are a valid `T`
    // (this function's contract), and only `n` of them are overwritten.
    let copy = unsafe {
        std::ptr::copy_nonoverlapping(table.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), n);
        copy.assume_init()
    };
    Ok(copy)
}

/// Passes an event or operation on (what a NULL callback means).
fn pass(f: impl FnOnce()) -> HandlerResult {
    f();
    Ok(())
}

/// The user's attachment of one add, shared with the call that adds the handler so that a
/// failed add gives it back unfreed.
/// `None` when the attachment has no free function (nothing to free or give back).
pub(crate) type AttachmentSlot = Option<Arc<Mutex<Option<CAttachment>>>>;

/// The core handler over a C table (one per add). Called on the channel's loop thread only.
pub(crate) struct CHandler {
    table: Arc<nx_channel_handler_t>,
    /// The handler's context handle, and the object behind it (filled in with the context at
    /// `handler_added`; weak, since the context holds this handler).
    ctx: RawHandle,
    object: Weak<ContextObject>,
    ptr: *mut c_void,
    attachment: AttachmentSlot,
    /// Callbacks of this handler on the stack now, and whether `handler_removed` returned.
    depth: Cell<u32>,
    removed: Cell<bool>,
}

// SAFETY: `ptr` is the user's attachment, never dereferenced here; the cells are touched only
// by the channel's loop thread, where core calls handlers (moving the handler between
// threads before that is what `Send` allows).
unsafe impl Send for CHandler {}

impl CHandler {
    pub(crate) fn new(
        table: Arc<nx_channel_handler_t>,
        ctx: RawHandle,
        object: &Arc<ContextObject>,
        ptr: *mut c_void,
        attachment: AttachmentSlot,
    ) -> CHandler {
        CHandler {
            table,
            ctx,
            object: Arc::downgrade(object),
            ptr,
            attachment,
            depth: Cell::new(0),
            removed: Cell::new(false),
        }
    }

    /// Runs one callback: counts it on the stack, frees the attachment if the handler was
    /// removed meanwhile and this was the last one, and turns a negative code into a failure.
    fn call(&self, f: impl FnOnce(*mut nx_context_t, *mut c_void) -> c_int) -> HandlerResult {
        self.depth.set(self.depth.get() + 1);
        let rc = f(self.ctx.as_ptr(), self.ptr);
        self.depth.set(self.depth.get() - 1);
        self.settle();
        if rc < 0 { Err(failure(rc)) } else { Ok(()) }
    }

    /// Once the handler was removed and none of its callbacks is on the stack any more: the
    /// context handle is closed (`NX_ECLOSED`) and the attachment freed. Until then a callback
    /// may still use its context (Netty's one-shot handler removes itself, then passes the
    /// event on).
    #[inline]
    fn settle(&self) {
        if self.removed.get() && self.depth.get() == 0 {
            self.finish_removal();
        }
    }

    /// [`settle`](Self::settle)'s work: closes the context handle, frees the attachment.
    #[cold]
    #[inline(never)]
    fn finish_removal(&self) {
        if let Some(object) = self.object.upgrade() {
            object.removed.store(true, Ordering::Release);
        }
        if let Some(slot) = &self.attachment {
            drop(lock(slot).take());
        }
    }

    /// [`call`](Self::call) with a lent message.
    fn call_message(
        &self,
        msg: Message,
        f: impl FnOnce(*mut nx_context_t, *mut nx_message_t, *mut c_void) -> c_int,
    ) -> HandlerResult {
        self.call(|ctx, att| lend_message(msg, |m| f(ctx, m, att)).unwrap_or_else(|e| e))
    }

    /// [`call`](Self::call) with a lent promise.
    fn call_promise(
        &self,
        promise: Option<Promise>,
        f: impl FnOnce(*mut nx_context_t, *mut nx_promise_t, *mut c_void) -> c_int,
    ) -> HandlerResult {
        self.call(|ctx, att| lend_promise(promise, |p| f(ctx, p, att)).unwrap_or_else(|e| e))
    }
}

impl ChannelHandler for CHandler {
    fn mask(&self) -> Mask {
        self.table.mask()
    }

    fn handler_added(&self, ctx: &Context) -> HandlerResult {
        if let Some(object) = self.object.upgrade() {
            object.fill(ctx);
        }
        match self.table.handler_added {
            // SAFETY (every callback below): the user gave us this function to call with its
            // context and attachment on the channel's loop thread.
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => Ok(()),
        }
    }

    fn handler_removed(&self, _: &Context) -> HandlerResult {
        self.removed.set(true);
        match self.table.handler_removed {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => {
                self.settle();
                Ok(())
            }
        }
    }

    fn channel_registered(&self, ctx: &Context) -> HandlerResult {
        match self.table.channel_registered {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.fire_channel_registered()),
        }
    }

    fn channel_unregistered(&self, ctx: &Context) -> HandlerResult {
        match self.table.channel_unregistered {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.fire_channel_unregistered()),
        }
    }

    fn channel_active(&self, ctx: &Context) -> HandlerResult {
        match self.table.channel_active {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.fire_channel_active()),
        }
    }

    fn channel_inactive(&self, ctx: &Context) -> HandlerResult {
        match self.table.channel_inactive {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.fire_channel_inactive()),
        }
    }

    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        match self.table.channel_read {
            Some(cb) => self.call_message(msg, |c, m, a| unsafe { cb(c, m, a) }),
            None => pass(|| ctx.fire_channel_read(msg)),
        }
    }

    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        match self.table.channel_read_complete {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.fire_channel_read_complete()),
        }
    }

    fn user_event_triggered(&self, ctx: &Context, event: UserEvent) -> HandlerResult {
        match self.table.user_event_triggered {
            Some(cb) => self.call_message(event_message(event), |c, m, a| unsafe { cb(c, m, a) }),
            None => pass(|| ctx.fire_user_event_triggered(event)),
        }
    }

    fn channel_writability_changed(&self, ctx: &Context) -> HandlerResult {
        match self.table.channel_writability_changed {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.fire_channel_writability_changed()),
        }
    }

    fn exception_caught(&self, ctx: &Context, failure: Failure) -> HandlerResult {
        match self.table.exception_caught {
            Some(cb) => {
                let code = failure.error.code();
                self.call(|c, a| unsafe { cb(c, code, a) })
            }
            None => pass(|| ctx.fire_exception_caught(failure)),
        }
    }

    fn bind(
        &self,
        ctx: &Context,
        local: ChannelAddress,
        promise: Option<Promise>,
    ) -> HandlerResult {
        let Some(cb) = self.table.bind else {
            return pass(|| ctx.bind(local, promise));
        };
        let mut storage = MaybeUninit::<sockaddr_storage>::zeroed();
        // SAFETY: zeroed bytes are a valid sockaddr_storage.
        let storage = unsafe { storage.assume_init_mut() };
        let len = address_to(&local, storage);
        let addr = std::ptr::from_ref(storage).cast::<sockaddr>();
        self.call_promise(promise, |c, p, a| unsafe { cb(c, addr, len, p, a) })
    }

    fn connect(
        &self,
        ctx: &Context,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    ) -> HandlerResult {
        let Some(cb) = self.table.connect else {
            return pass(|| ctx.connect(remote, local, promise));
        };
        let mut remote_storage = MaybeUninit::<sockaddr_storage>::zeroed();
        let mut local_storage = MaybeUninit::<sockaddr_storage>::zeroed();
        // SAFETY: zeroed bytes are a valid sockaddr_storage.
        let (rs, ls) = unsafe {
            (
                remote_storage.assume_init_mut(),
                local_storage.assume_init_mut(),
            )
        };
        let remote_len = address_to(&remote, rs);
        let (local_ptr, local_len) = match &local {
            Some(local) => {
                let len = address_to(local, ls);
                (std::ptr::from_ref(ls).cast::<sockaddr>(), len)
            }
            None => (std::ptr::null(), 0),
        };
        let remote_ptr = std::ptr::from_ref(rs).cast::<sockaddr>();
        self.call_promise(promise, |c, p, a| unsafe {
            cb(c, remote_ptr, remote_len, local_ptr, local_len, p, a)
        })
    }

    fn disconnect(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        match self.table.disconnect {
            Some(cb) => self.call_promise(promise, |c, p, a| unsafe { cb(c, p, a) }),
            None => pass(|| ctx.disconnect(promise)),
        }
    }

    fn close(&self, ctx: &Context, promise: Option<Promise>) -> HandlerResult {
        match self.table.close {
            Some(cb) => self.call_promise(promise, |c, p, a| unsafe { cb(c, p, a) }),
            None => pass(|| ctx.close(promise)),
        }
    }

    fn read(&self, ctx: &Context) -> HandlerResult {
        match self.table.read {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.read()),
        }
    }

    fn write(&self, ctx: &Context, msg: Message, promise: Option<Promise>) -> HandlerResult {
        let Some(cb) = self.table.write else {
            return pass(|| ctx.write(msg, promise));
        };
        self.call(|c, a| {
            lend_message(msg, |m| {
                lend_promise(promise, |p| unsafe { cb(c, m, p, a) }).unwrap_or_else(|e| e)
            })
            .unwrap_or_else(|e| e)
        })
    }

    fn flush(&self, ctx: &Context) -> HandlerResult {
        match self.table.flush {
            Some(cb) => self.call(|c, a| unsafe { cb(c, a) }),
            None => pass(|| ctx.flush()),
        }
    }
}

/// A new handle for a built-in handler that `make` makes when it is added, stored in
/// `*out` (the caller's until added or freed). What every `nx_codec_*` constructor ends with,
/// once it has checked its configuration.
pub(crate) fn new_builtin(make: MakeHandler, out: *mut *mut nx_handler_t) -> Result<(), c_int> {
    let out = Out::new(out)?;
    let object = Arc::new(HandlerObject {
        make,
        taken: AtomicBool::new(false),
        generation: fork::generation(),
    });
    out.set(handle::insert(object)?);
    Ok(())
}

/// Frees a built-in handler that was never added (an `nx_codec_*` constructor's). A handler
/// that was added belongs to its pipeline and its handle is gone: freeing it returns
/// `NX_EBADHANDLE` and changes nothing. Allowed in a forked child.
///
/// Thread safety: safe from any thread.
///
/// Errors: `NX_EINVAL` (NULL or not a handler), `NX_EBADHANDLE` (freed, or added).
#[unsafe(no_mangle)]
pub extern "C" fn nx_handler_free(handler: *mut nx_handler_t) -> c_int {
    nx_ffi_boundary! {
        status(|| {
            handle::remove(handler)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn flush(_: *mut nx_context_t, _: *mut c_void) -> c_int {
        0
    }

    fn table(with_flush: bool) -> nx_channel_handler_t {
        let mut table = nx_channel_handler_t::copy_from(&nx_channel_handler_t {
            size: size_of::<nx_channel_handler_t>(),
            // SAFETY: all zeros is a table with every callback NULL.
            ..unsafe { MaybeUninit::zeroed().assume_init() }
        })
        .unwrap();
        if with_flush {
            table.flush = Some(flush);
        }
        table
    }

    #[test]
    fn handlers_with_the_same_table_share_one_copy() {
        let a = table(true).shared();
        let b = table(true).shared();
        let other = table(false).shared();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!(b.mask(), Mask::FLUSH);
        drop((a, b));
        // Once no handler uses it, the next add makes a new copy (the old one is gone).
        let c = table(true).shared();
        assert_eq!(Arc::strong_count(&c), 1);
    }
}
