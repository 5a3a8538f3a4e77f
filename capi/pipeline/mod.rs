//! The channel pipeline in C (Netty 4's model) over `nioxide_core::pipeline`: the layer that
//! turns core's channels, contexts and messages into checked handles and C callbacks, and
//! back. Files mirror core's: [`handler`] (the C handler table), [`context`], [`list`] (the
//! pipeline), [`channel`], [`message`], [`config`] (options), [`bootstrap`], [`embedded`].
//!
//! # Handles and who owns them
//! - A channel has at most one C handle at a time, kept in its [`Binding`] (the channel's
//!   binding slot). The handle of a channel a bootstrap made (or `nx_embedded_channel_new`)
//!   is the caller's until `nx_channel_free`; any other channel's (an accepted one, or one
//!   whose user handle was freed) is made when C first needs it and belongs to nioxide,
//!   which frees it when the channel is torn down, unless `nx_channel_retain` made it the
//!   user's.
//! - A context handle is made when its C handler is added and freed when its channel is torn
//!   down; once its handler was removed and none of the handler's callbacks is on the stack,
//!   calls on it return `NX_ECLOSED`, also after the teardown freed it (the table tells a
//!   freed handle from one that never was, [`handle::was_freed`]).
//! - Channel and context handles are loop-owned (`handle::insert_owned`): calls from the
//!   channel's loop thread, where handlers run, check them with loads alone.
//! - A channel's loop handle (`nx_channel_event_loop`) is made on the first request and
//!   freed with the context handles at teardown.
//! - Messages and promises handed to a callback are lent: their handles are made for the call
//!   and freed when it returns.
//!
//! # Addresses
//! Addresses are `struct sockaddr` + `socklen_t`: `AF_INET`/`AF_INET6` for TCP channels, and
//! `AF_UNIX` for local channels, whose `sun_path` holds the name in the local registry.

pub mod bootstrap;
pub mod channel;
pub mod codec;
pub mod config;
pub mod context;
pub mod embedded;
pub mod handler;
pub mod list;
pub mod message;

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_int, c_void};
use std::mem::{MaybeUninit, size_of};
use std::ptr;
use std::sync::{Arc, Mutex};

use libc::{sockaddr, sockaddr_storage, sockaddr_un, socklen_t};
use nioxide_core::event_loop::{Failure, Promise};
use nioxide_core::pipeline::{Channel, ChannelAddress, Context, Message, Pipeline, UserEvent};
use nioxide_core::sync::lock;
use nioxide_core::sys::fork;

use crate::args::error_from_code;
use crate::attachment::CAttachment;
use crate::channel::{AddrOut, addr_in};
use crate::error::{NX_EBADHANDLE, NX_ECLOSED, NX_EFORKED, NX_EINVAL};
use crate::handle::{self, RawHandle};
use crate::types::{
    ChannelObject, ContextObject, LoopObject, MessageObject, PromiseObject, nx_channel_t,
    nx_context_t, nx_loop_t, nx_message_t, nx_promise_t,
};

/// What the C layer keeps with a core channel (in its binding slot): its C handle, who owns
/// that handle, the context handles to free at teardown, and the user's attachment.
#[derive(Default)]
pub(crate) struct Binding {
    state: Mutex<BindingState>,
}

#[derive(Default)]
struct BindingState {
    /// The channel's C handle, if it has one now.
    handle: Option<RawHandle>,
    /// Whether `handle` is the user's (made by a bootstrap, or retained).
    user_owned: bool,
    /// Set once the channel is torn down (its close future ran the teardown below).
    torn_down: bool,
    /// The handles of the channel's C contexts, freed at teardown.
    contexts: Vec<RawHandle>,
    /// The user's attachment (`nx_channel_set_attachment`).
    attachment: Option<CAttachment>,
    /// The handle of the channel's loop, made by the first `nx_channel_event_loop`, freed at
    /// teardown.
    event_loop: Option<RawHandle>,
}

/// Serializes the first look-up of a channel's binding, which may make it.
static BINDING_MADE: Mutex<()> = Mutex::new(());

/// The C binding of `channel`, made (with the close-future listener that tears it down) the
/// first time it is asked for.
pub(crate) fn binding(channel: &Channel) -> Arc<Binding> {
    let found = |ch: &Channel| {
        ch.with_binding(|a| a.and_then(|a| a.downcast_ref::<Arc<Binding>>()).cloned())
    };
    if let Some(binding) = found(channel) {
        return binding;
    }
    let _made = lock(&BINDING_MADE);
    if let Some(binding) = found(channel) {
        return binding;
    }
    let binding = Arc::new(Binding::default());
    channel.set_binding(Some(Box::new(binding.clone())));
    let torn = binding.clone();
    channel
        .close_future()
        .add_listener(Box::new(move |_: &Promise| torn.tear_down()));
    binding
}

impl Binding {
    /// The channel's C handle, made (owned by nioxide) if it has none; `NX_ECLOSED` once the
    /// channel is torn down.
    pub(crate) fn handle(&self, channel: &Channel) -> Result<RawHandle, c_int> {
        let mut state = lock(&self.state);
        if let Some(raw) = state.handle {
            return Ok(raw);
        }
        if state.torn_down {
            return Err(NX_ECLOSED);
        }
        let raw = new_channel_handle(channel, None)?;
        state.handle = Some(raw);
        state.user_owned = false;
        Ok(raw)
    }

    /// Makes the channel's handle the user's: the existing one, or a new one (holding
    /// `embedded`, for an embedded channel).
    pub(crate) fn user_handle(
        &self,
        channel: &Channel,
        embedded: Option<nioxide_core::pipeline::EmbeddedChannel>,
    ) -> Result<RawHandle, c_int> {
        let mut state = lock(&self.state);
        let raw = match state.handle {
            Some(raw) => {
                if let Some(embedded) = embedded {
                    handle::with(raw.as_ptr::<nx_channel_t>(), |o| {
                        *lock(&o.embedded) = Some(Arc::new(embedded));
                    })?;
                }
                raw
            }
            None => new_channel_handle(channel, embedded)?,
        };
        state.handle = Some(raw);
        state.user_owned = true;
        Ok(raw)
    }

    /// `nx_channel_retain`: makes `raw`, a handle nioxide owns, the user's.
    pub(crate) fn retain(&self, raw: RawHandle) -> Result<(), c_int> {
        let mut state = lock(&self.state);
        if state.handle != Some(raw) {
            return Err(NX_EBADHANDLE);
        }
        if state.user_owned {
            return Err(NX_EINVAL);
        }
        state.user_owned = true;
        Ok(())
    }

    /// `nx_channel_free`: lets go of the user's handle `raw` (refused for nioxide's own).
    pub(crate) fn release(&self, raw: RawHandle) -> Result<(), c_int> {
        let mut state = lock(&self.state);
        if state.handle != Some(raw) {
            return Err(NX_EBADHANDLE);
        }
        if !state.user_owned {
            return Err(NX_EINVAL);
        }
        state.handle = None;
        state.user_owned = false;
        Ok(())
    }

    /// Records a new context handle, to be freed at teardown; `NX_ECLOSED` once torn down.
    pub(crate) fn add_context(&self, raw: RawHandle) -> Result<(), c_int> {
        let mut state = lock(&self.state);
        if state.torn_down {
            return Err(NX_ECLOSED);
        }
        state.contexts.push(raw);
        Ok(())
    }

    /// The handle of the channel's loop (nioxide's, the same each time), made on the first
    /// call; `NX_ECLOSED` once the channel is torn down.
    pub(crate) fn loop_handle(&self, channel: &Channel) -> Result<RawHandle, c_int> {
        let mut state = lock(&self.state);
        if state.torn_down {
            return Err(NX_ECLOSED);
        }
        if let Some(raw) = state.event_loop {
            return Ok(raw);
        }
        let object = Arc::new(LoopObject::new(channel.event_loop().clone(), true));
        let raw = RawHandle::from_ptr(handle::insert::<nx_loop_t>(object)?);
        state.event_loop = Some(raw);
        Ok(raw)
    }

    /// Forgets a context handle whose handler was never added (the add failed).
    pub(crate) fn forget_context(&self, raw: RawHandle) {
        lock(&self.state).contexts.retain(|c| *c != raw);
    }

    /// Replaces the user's attachment; the old one is returned to be dropped (freed) by the
    /// caller, outside the lock.
    pub(crate) fn set_attachment(&self, attachment: Option<CAttachment>) -> Option<CAttachment> {
        std::mem::replace(&mut lock(&self.state).attachment, attachment)
    }

    /// The user's attachment pointer (NULL for none).
    pub(crate) fn attachment(&self) -> *mut c_void {
        lock(&self.state)
            .attachment
            .as_ref()
            .map_or(ptr::null_mut(), CAttachment::ptr)
    }

    /// The channel is torn down (its close future completed, on its loop): frees the context
    /// handles, the loop's handle, the attachment, and the channel's handle unless it is the
    /// user's.
    fn tear_down(&self) {
        let (contexts, attachment, handle, event_loop) = {
            let mut state = lock(&self.state);
            state.torn_down = true;
            let handle = if state.user_owned {
                None
            } else {
                state.handle.take()
            };
            (
                std::mem::take(&mut state.contexts),
                state.attachment.take(),
                handle,
                state.event_loop.take(),
            )
        };
        for raw in contexts {
            let _ = handle::remove::<nx_context_t>(raw.as_ptr());
        }
        if let Some(raw) = event_loop {
            let _ = handle::remove::<nx_loop_t>(raw.as_ptr());
        }
        drop(attachment);
        if let Some(raw) = handle {
            let _ = handle::remove::<nx_channel_t>(raw.as_ptr());
        }
    }
}

/// A new handle for `channel`, owned by its loop.
fn new_channel_handle(
    channel: &Channel,
    embedded: Option<nioxide_core::pipeline::EmbeddedChannel>,
) -> Result<RawHandle, c_int> {
    let object = Arc::new(ChannelObject {
        channel: channel.clone(),
        embedded: Mutex::new(embedded.map(Arc::new)),
        generation: fork::generation(),
    });
    let ptr: *mut nx_channel_t = handle::insert_owned(object, channel.event_loop())?;
    Ok(RawHandle::from_ptr(ptr))
}

/// The channel behind a C handle; `NX_EFORKED` in a forked child.
pub(crate) fn channel_of(channel: *mut nx_channel_t) -> Result<Channel, c_int> {
    handle::with(channel, |o| {
        if fork::is_forked(o.generation) {
            return Err(NX_EFORKED);
        }
        Ok(o.channel.clone())
    })?
}

/// The C handle of `channel` (nioxide's, if the user holds none).
pub(crate) fn handle_of(channel: &Channel) -> Result<*mut nx_channel_t, c_int> {
    Ok(binding(channel).handle(channel)?.as_ptr())
}

/// The context behind a C handle; `NX_ECLOSED` once its handler's `handler_removed` returned.
pub(crate) fn context_of(ctx: *mut nx_context_t) -> Result<Context, c_int> {
    with_context_ref(ctx, Context::clone)
}

/// Calls `f` with the object of a context handle whose handler was not removed. Both a
/// removed handler's handle and one nioxide freed at its channel's teardown (the handler was
/// removed then) answer `NX_ECLOSED`; a handle that never named a context stays
/// `NX_EBADHANDLE`.
pub(crate) fn with_context_object<R>(
    ctx: *mut nx_context_t,
    f: impl FnOnce(&ContextObject) -> Result<R, c_int>,
) -> Result<R, c_int> {
    let found = handle::with(ctx, |o: &ContextObject| {
        if o.removed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(NX_ECLOSED);
        }
        f(o)
    });
    closed_if_freed(ctx, found)
}

/// Runs `f` with the context behind a C handle, borrowed on the loop's thread (no reference
/// taken) and held by a reference elsewhere, so `f` may do anything; errors as
/// [`context_of`].
pub(crate) fn with_context_ref<R>(
    ctx: *mut nx_context_t,
    f: impl FnOnce(&Context) -> R,
) -> Result<R, c_int> {
    let found = handle::with_held(ctx, |o: &ContextObject| context_in(o).map(f));
    closed_if_freed(ctx, found)
}

/// A lookup's result, with a handle nioxide freed at its channel's teardown answering
/// `NX_ECLOSED` (a handle that never named a context stays `NX_EBADHANDLE`).
fn closed_if_freed<R>(
    ctx: *mut nx_context_t,
    found: Result<Result<R, c_int>, c_int>,
) -> Result<R, c_int> {
    match found {
        Ok(result) => result,
        Err(NX_EBADHANDLE) if handle::was_freed(ctx) => Err(NX_ECLOSED),
        Err(code) => Err(code),
    }
}

/// The context a context handle's object names, unless its handler was removed (a built-in
/// handler's context knows only through core).
fn context_in(o: &ContextObject) -> Result<&Context, c_int> {
    if o.removed.load(std::sync::atomic::Ordering::Acquire) {
        return Err(NX_ECLOSED);
    }
    let ctx = o.ctx.get().ok_or(NX_EBADHANDLE)?;
    if o.builtin.load(std::sync::atomic::Ordering::Acquire) && ctx.is_removed() {
        return Err(NX_ECLOSED);
    }
    Ok(ctx)
}

/// The message behind a C handle (another reference to it: firing or writing it never
/// consumes the caller's).
pub(crate) fn message_of(msg: *mut nx_message_t) -> Result<Message, c_int> {
    handle::with_lent(msg, |o: &MessageObject| o.msg().cloned())?
}

/// A new handle for `msg` owned by the caller (released with `nx_message_release`).
pub(crate) fn owned_message(msg: Message) -> Result<*mut nx_message_t, c_int> {
    handle::insert(Arc::new(MessageObject::new(Some(msg), true)))
}

/// Takes the message of an owned handle the caller gives nioxide (a decode callback's
/// product): the handle is released, the message is the caller's to pass on.
///
/// Errors: `NX_EINVAL` (not a message, or a lent handle), `NX_EBADHANDLE`.
pub(crate) fn take_owned_message(msg: *mut nx_message_t) -> Result<Message, c_int> {
    let (msg_value, owned) = handle::with(msg, |o: &MessageObject| (o.msg().cloned(), o.owned))?;
    if !owned {
        return Err(NX_EINVAL);
    }
    let msg_value = msg_value?;
    handle::remove(msg)?;
    Ok(msg_value)
}

/// The C handle of a context whose handler was added through the C API (a C table's or a
/// built-in one's), if it has one.
pub(crate) fn context_handle(ctx: &Context) -> Option<RawHandle> {
    ctx.with_binding(|b| b.and_then(|b| b.downcast_ref::<RawHandle>()).copied())
}

/// The promise behind an optional C handle (NULL: none). nioxide completes it, so it must be
/// one the user may complete (`nx_promise_new`), not the future of a task.
pub(crate) fn promise_opt(promise: *mut nx_promise_t) -> Result<Option<Promise>, c_int> {
    if promise.is_null() {
        return Ok(None);
    }
    handle::with(promise, |o: &PromiseObject| {
        if fork::is_forked(o.generation) {
            return Err(NX_EFORKED);
        }
        o.settable().cloned().map(Some)
    })?
}

/// How many resident lend slots a thread keeps: one per nesting depth of lends (a few: lends
/// nest only as deep as callbacks that pass messages to other C handlers inline). A lend
/// nested deeper makes a slot for the call and frees it afterwards.
const LEND_POOL: usize = 8;

/// One thread's resident slots for lent messages, each with its (emptied) object: the lend at
/// nesting depth `d` uses slot `d`, opens its next handle, and closes it when the callback
/// returns, so a read's lend allocates nothing, moves nothing and touches no table lock in
/// steady state.
struct LendPool {
    /// The slot of each depth: `None` until first needed (or after one used up its handles).
    /// Only the lend at that depth on this thread touches it (see [`lend_message`]).
    slots: [UnsafeCell<Option<handle::Resident<nx_message_t>>>; LEND_POOL],
    /// How many lends are in progress on this thread.
    depth: Cell<usize>,
}

thread_local! {
    /// This thread's lend slots.
    static LENT: LendPool = const {
        LendPool { slots: [const { UnsafeCell::new(None) }; LEND_POOL], depth: Cell::new(0) }
    };
}

/// A lend in progress at one depth of a [`LendPool`]: on the normal path forgotten once the
/// lend is over; dropped only if a callback unwinds through the lend, when it frees the
/// depth's slot (which closes its handle and releases the message) and restores the depth.
struct LendDepth<'a> {
    pool: &'a LendPool,
    depth: usize,
}

impl Drop for LendDepth<'_> {
    fn drop(&mut self) {
        // SAFETY: this lend's slot; the nested lends that used deeper ones have returned.
        drop(unsafe { (*self.pool.slots[self.depth].get()).take() });
        self.pool.depth.set(self.depth);
    }
}

/// Lends `msg` to a callback: a handle made for the call and closed when it returns (the
/// message is released then, unless the callback passed it on or retained it).
pub(crate) fn lend_message<R>(
    msg: Message,
    f: impl FnOnce(*mut nx_message_t) -> R,
) -> Result<R, c_int> {
    // One look-up of the thread-local pool per lend (in a shared library each costs a call
    // of `__tls_get_addr`): the pool lives until this thread exits, so its address stays
    // good for this whole call.
    let pool: *const LendPool = LENT.with(ptr::from_ref);
    // SAFETY: this thread's pool, alive for the call (see above).
    let pool = unsafe { &*pool };
    let depth = pool.depth.get();
    if depth >= LEND_POOL {
        let mut resident = handle::Resident::new(Arc::new(MessageObject::new(None, false)))?;
        return lend_in(&mut resident, msg, f).map(|(result, _)| result);
    }
    // SAFETY: slot `depth` is this lend's alone: a lend nested inside `f` runs at a deeper
    // depth, and the depth is this one again only once this lend is over.
    let slot = unsafe { &mut *pool.slots[depth].get() };
    let resident = match slot {
        Some(resident) => resident,
        None => slot.insert(handle::Resident::new(Arc::new(MessageObject::new(
            None, false,
        )))?),
    };
    pool.depth.set(depth + 1);
    let guard = LendDepth { pool, depth };
    let lent = lend_in(resident, msg, f);
    std::mem::forget(guard);
    pool.depth.set(depth);
    let (result, reusable) = lent?;
    if !reusable {
        *slot = None;
    }
    Ok(result)
}

/// [`lend_message`]'s work in one resident slot, closed on entry and on return: returns what
/// `f` returned and whether the slot can serve another lend.
fn lend_in<R>(
    resident: &mut handle::Resident<nx_message_t>,
    msg: Message,
    f: impl FnOnce(*mut nx_message_t) -> R,
) -> Result<(R, bool), c_int> {
    // SAFETY: a resident slot between lends: no live handle names its object.
    drop(unsafe { resident.object().replace(Some(msg)) });
    let ptr = match resident.open() {
        Ok(ptr) => ptr,
        Err(e) => {
            // SAFETY: as above (the open failed).
            drop(unsafe { resident.object().replace(None) });
            return Err(e);
        }
    };
    let result = f(ptr);
    let reusable = resident.close();
    // SAFETY: closed: no handle names the object and no lookup is in a call on it. Released
    // here, after the close (a user message's free function is C code).
    drop(unsafe { resident.object().replace(None) });
    Ok((result, reusable))
}

/// Lends an operation's promise to a callback (NULL for none), as [`lend_message`].
pub(crate) fn lend_promise<R>(
    promise: Option<Promise>,
    f: impl FnOnce(*mut nx_promise_t) -> R,
) -> Result<R, c_int> {
    let Some(promise) = promise else {
        return Ok(f(ptr::null_mut()));
    };
    let ptr = handle::insert(Arc::new(PromiseObject::user(promise)))?;
    let result = f(ptr);
    let _ = handle::remove(ptr);
    Ok(result)
}

/// A failure from a callback's negative return code.
pub(crate) fn failure(code: c_int) -> Failure {
    Failure::new(error_from_code(code))
}

/// A user event as a message for C: a built-in one as a user message with its `NX_EVENT_*`
/// tag, the user's own as it is.
pub(crate) fn event_message(event: UserEvent) -> Message {
    use message::{
        NX_EVENT_INPUT_SHUTDOWN, NX_EVENT_INPUT_SHUTDOWN_READ_COMPLETE, NX_EVENT_OUTPUT_SHUTDOWN,
    };
    let tag = match event {
        UserEvent::Custom(value) => return Message::User(value),
        UserEvent::InputShutdown => NX_EVENT_INPUT_SHUTDOWN,
        UserEvent::InputShutdownReadComplete => NX_EVENT_INPUT_SHUTDOWN_READ_COMPLETE,
        UserEvent::OutputShutdown => NX_EVENT_OUTPUT_SHUTDOWN,
        UserEvent::Idle(idle) => codec::idle::event_tag(idle),
    };
    Message::User(Arc::new(message::UserValue::builtin(tag)))
}

/// The user event a message stands for (the reverse of [`event_message`]).
pub(crate) fn message_event(msg: Message) -> Result<UserEvent, c_int> {
    use message::{
        NX_EVENT_INPUT_SHUTDOWN, NX_EVENT_INPUT_SHUTDOWN_READ_COMPLETE, NX_EVENT_OUTPUT_SHUTDOWN,
    };
    let Message::User(value) = msg else {
        return Err(NX_EINVAL);
    };
    let tag = value.downcast_ref::<message::UserValue>().map(|v| v.tag);
    if let Some(idle) = tag.and_then(codec::idle::tag_event) {
        return Ok(UserEvent::Idle(idle));
    }
    Ok(match tag {
        Some(NX_EVENT_INPUT_SHUTDOWN) => UserEvent::InputShutdown,
        Some(NX_EVENT_INPUT_SHUTDOWN_READ_COMPLETE) => UserEvent::InputShutdownReadComplete,
        Some(NX_EVENT_OUTPUT_SHUTDOWN) => UserEvent::OutputShutdown,
        _ => UserEvent::Custom(value),
    })
}

/// Reads a C address: `AF_INET`/`AF_INET6` (TCP) or `AF_UNIX` (a local channel's name in
/// `sun_path`, up to its NUL).
pub(crate) fn address_in(addr: *const sockaddr, len: socklen_t) -> Result<ChannelAddress, c_int> {
    if addr.is_null() || (len as usize) < size_of::<libc::sa_family_t>() {
        return Err(NX_EINVAL);
    }
    // SAFETY: the caller passes `len` readable bytes at `addr`; the family is read unaligned.
    let family = unsafe { ptr::addr_of!((*addr).sa_family).read_unaligned() };
    if c_int::from(family) != libc::AF_UNIX {
        return addr_in(addr, len).map(ChannelAddress::Inet);
    }
    let offset = std::mem::offset_of!(sockaddr_un, sun_path);
    let path_len = (len as usize)
        .min(size_of::<sockaddr_un>())
        .saturating_sub(offset);
    // SAFETY: `path_len` bytes after the family lie within the `len` bytes the caller passed.
    let path = unsafe { std::slice::from_raw_parts(addr.cast::<u8>().add(offset), path_len) };
    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
    let name = std::str::from_utf8(&path[..end]).map_err(|_| NX_EINVAL)?;
    if name.is_empty() {
        return Err(NX_EINVAL);
    }
    Ok(ChannelAddress::local(name))
}

/// A channel address as a C address in `storage`; its length.
pub(crate) fn address_to(address: &ChannelAddress, storage: &mut sockaddr_storage) -> socklen_t {
    let (mut out, mut len) = (MaybeUninit::<sockaddr_storage>::zeroed(), 0 as socklen_t);
    match address {
        ChannelAddress::Inet(inet) => {
            if let Ok(o) = AddrOut::new(out.as_mut_ptr(), &mut len) {
                o.set(*inet);
            }
        }
        ChannelAddress::Local(name) => {
            // SAFETY: zeroed bytes are a valid sockaddr_storage, which holds a sockaddr_un.
            let un = unsafe { &mut *out.as_mut_ptr().cast::<sockaddr_un>() };
            un.sun_family = libc::AF_UNIX as libc::sa_family_t;
            let n = name.len().min(un.sun_path.len() - 1);
            for (dst, src) in un.sun_path.iter_mut().zip(&name.as_bytes()[..n]) {
                *dst = *src as libc::c_char;
            }
            len = (std::mem::offset_of!(sockaddr_un, sun_path) + n + 1) as socklen_t;
        }
    }
    // SAFETY: zeroed, then written above.
    *storage = unsafe { out.assume_init() };
    len
}

/// Writes a copy of `len` bytes at `data` through `target` (`nx_*_write_bytes`).
pub(crate) fn write_copy(
    target: &impl Ops,
    data: *const c_void,
    len: usize,
    promise: *mut nx_promise_t,
) -> Result<(), c_int> {
    let promise = promise_opt(promise)?;
    // SAFETY: the caller passes `len` readable bytes at `data`, read during the call only.
    let bytes = unsafe { message::c_bytes(data, len) }?;
    target.write(Message::copy_from_slice(bytes), promise);
    Ok(())
}

/// Writes the caller's memory through `target` without a copy (`nx_*_write_owned`): the
/// release is armed only once nothing can fail any more.
pub(crate) fn write_owned(
    target: &impl Ops,
    data: *const c_void,
    len: usize,
    release: crate::types::nx_free_cb,
    promise: *mut nx_promise_t,
) -> Result<(), c_int> {
    let promise = promise_opt(promise)?;
    let (msg, arm) = message::owned_bytes(data, len, release)?;
    arm();
    target.write(msg, promise);
    Ok(())
}

/// The operations a context and a pipeline (a channel's, from its tail) share: the C
/// functions on both call core through this.
pub(crate) trait Ops {
    fn bind(&self, local: ChannelAddress, promise: Option<Promise>);
    fn connect(
        &self,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Option<Promise>,
    );
    fn disconnect(&self, promise: Option<Promise>);
    fn close(&self, promise: Option<Promise>);
    fn read(&self);
    fn write(&self, msg: Message, promise: Option<Promise>);
    fn flush(&self);
}

macro_rules! ops {
    ($t:ty) => {
        impl Ops for $t {
            fn bind(&self, local: ChannelAddress, promise: Option<Promise>) {
                <$t>::bind(self, local, promise)
            }
            fn connect(
                &self,
                remote: ChannelAddress,
                local: Option<ChannelAddress>,
                promise: Option<Promise>,
            ) {
                <$t>::connect(self, remote, local, promise)
            }
            fn disconnect(&self, promise: Option<Promise>) {
                <$t>::disconnect(self, promise)
            }
            fn close(&self, promise: Option<Promise>) {
                <$t>::close(self, promise)
            }
            fn read(&self) {
                <$t>::read(self)
            }
            fn write(&self, msg: Message, promise: Option<Promise>) {
                <$t>::write(self, msg, promise)
            }
            fn flush(&self) {
                <$t>::flush(self)
            }
        }
    };
}
ops!(Context);
ops!(Pipeline);
