//! The opaque handle types of the C API (`nx_*_t`), each with its [`HandleType`] (what the
//! handle names in the table, and its tag), in one place: every module that takes or returns
//! a handle imports it from here, so no module needs another for its types.
//!
//! A handle names either a core object (a selector, a channel) or one of the objects below,
//! which add what only the C layer keeps (a loop's owner, a group's loop handles, who may
//! complete a promise). What the handles are for, and the functions over them, are in the
//! module of each type (`selector`, `event_loop`, ...).

use std::ffi::{CString, c_int, c_void};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};

use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousFileChannel, AsynchronousServerSocketChannel,
    AsynchronousSocketChannel, FileLock,
};
use nioxide_core::channel::ChannelCore;
use nioxide_core::event_loop::{
    EventLoop, EventLoopGroup, LoopTimer, Promise, ScheduledFuture, Watch,
};
use nioxide_core::pipeline::{
    Bootstrap, Channel, ChannelHandler, Context, EmbeddedChannel, Message, ServerBootstrap,
};
use nioxide_core::selector::{KeyInner, Selector};
use nioxide_core::sys::fork;

use crate::error::{NX_EBADHANDLE, NX_EINVAL};
use crate::handle::{HandleKind, HandleType, Late, RawHandle};

/// A function that frees a user's pointer (an attachment or a value): every function that
/// keeps a pointer of the caller's past the call takes one (NULL: nothing to free), and calls
/// it exactly once, as the function's docs say.
#[allow(non_camel_case_types)]
pub type nx_free_cb = Option<unsafe extern "C" fn(ptr: *mut c_void)>;

/// A selector (Java's `Selector`): an opaque handle, owned by the caller from
/// `nx_selector_open` until `nx_selector_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_selector_t {
    _private: [u8; 0],
}

impl HandleType for nx_selector_t {
    type Object = Selector;
    const KIND: HandleKind = HandleKind::Selector;
}

/// A channel's registration with a selector (Java's `SelectionKey`): an opaque handle owned by
/// the selector. Never free it; it becomes invalid (`NX_EBADHANDLE`) at the select after its
/// cancellation, or when its selector is closed or freed.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_selection_key_t {
    _private: [u8; 0],
}

/// A key handle is a weak entry of the core key's own allocation: it names the key while it
/// lives. The key keeps the handle's number in its binding slot (no allocation), and frees the
/// handle when it dies.
impl HandleType for nx_selection_key_t {
    type Object = KeyInner;
    const KIND: HandleKind = HandleKind::SelectionKey;
}

/// An event loop (Netty's `EventLoop`, libuv's `uv_loop_t`): an opaque handle owned by the
/// caller from `nx_loop_new` or `nx_loop_start` until `nx_loop_free`, by its group (from
/// `nx_loop_group_next`), or by a pipeline channel (from `nx_channel_event_loop`).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_loop_t {
    _private: [u8; 0],
}

impl HandleType for nx_loop_t {
    type Object = LoopObject;
    const KIND: HandleKind = HandleKind::Loop;
}

/// What a loop handle names.
#[derive(Debug)]
pub struct LoopObject {
    pub(crate) event_loop: EventLoop,
    /// The fork generation at creation: calls in a forked child are `NX_EFORKED`.
    pub(crate) generation: u64,
    /// Whether the handle belongs to nioxide (a group's loop, or a channel's loop from
    /// `nx_channel_event_loop`): `nx_loop_free` refuses it.
    pub(crate) group_owned: bool,
}

impl LoopObject {
    /// The object of a loop handle; `group_owned` for a handle nioxide owns.
    pub(crate) fn new(event_loop: EventLoop, group_owned: bool) -> LoopObject {
        LoopObject {
            event_loop,
            generation: fork::generation(),
            group_owned,
        }
    }
}

/// A group of event loops, each on its own library thread (Netty's `EventLoopGroup`): an
/// opaque handle owned by the caller from `nx_loop_group_new` until `nx_loop_group_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_loop_group_t {
    _private: [u8; 0],
}

impl HandleType for nx_loop_group_t {
    type Object = GroupObject;
    const KIND: HandleKind = HandleKind::LoopGroup;
}

/// What a group handle names: the group and the handles of its loops, in order.
#[derive(Debug)]
pub struct GroupObject {
    pub(crate) group: EventLoopGroup,
    pub(crate) loops: Vec<RawHandle>,
    /// The fork generation at creation: calls in a forked child are `NX_EFORKED`.
    pub(crate) generation: u64,
}

impl GroupObject {
    /// The next loop, round-robin, and its handle.
    pub(crate) fn next(&self) -> (&EventLoop, RawHandle) {
        let next = self.group.next();
        let index = self
            .group
            .loops()
            .iter()
            .position(|lp| lp.same(next))
            .unwrap_or(0);
        (next, self.loops[index])
    }
}

/// A promise or future (Netty's `Promise`): an opaque handle owned by the caller from
/// `nx_promise_new`, `nx_loop_submit` or `nx_loop_schedule*` until `nx_promise_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_promise_t {
    _private: [u8; 0],
}

impl HandleType for nx_promise_t {
    type Object = PromiseObject;
    const KIND: HandleKind = HandleKind::Promise;
}

/// What a promise handle names.
#[derive(Debug)]
pub struct PromiseObject {
    /// Set when the object is made, or (a timer's future) right after its handle was reserved
    /// and before the handle is handed out.
    promise: OnceLock<Promise>,
    /// The timer behind a scheduled task's future (for `nx_promise_set_ref`).
    pub(crate) scheduled: OnceLock<ScheduledFuture>,
    /// Whether the user completes it (`nx_promise_new`), rather than nioxide.
    settable: bool,
    /// The fork generation at creation: calls in a forked child are `NX_EFORKED`.
    pub(crate) generation: u64,
    /// What goes with the last handle to this promise (an accept future's guard, which closes
    /// a connection C never took), shared by `nx_promise_retain`'s copies.
    pub(crate) keep: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl PromiseObject {
    fn new(promise: OnceLock<Promise>, settable: bool) -> PromiseObject {
        PromiseObject {
            promise,
            scheduled: OnceLock::new(),
            settable,
            generation: fork::generation(),
            keep: None,
        }
    }

    /// A promise the user completes.
    pub(crate) fn user(promise: Promise) -> PromiseObject {
        PromiseObject::new(OnceLock::from(promise), true)
    }

    /// The future of a submitted task.
    pub(crate) fn task(future: Promise) -> PromiseObject {
        PromiseObject::new(OnceLock::from(future), false)
    }

    /// The future of a timer not yet set: fill it in with [`set_scheduled`](Self::set_scheduled)
    /// before handing out its handle.
    pub(crate) fn scheduled() -> PromiseObject {
        PromiseObject::new(OnceLock::new(), false)
    }

    /// The object of another handle to the same promise (`nx_promise_retain`).
    pub(crate) fn share(&self) -> PromiseObject {
        let mut copy = PromiseObject::new(self.promise.clone(), self.settable);
        copy.keep = self.keep.clone();
        if let Some(scheduled) = self.scheduled.get() {
            let _ = copy.scheduled.set(scheduled.clone());
        }
        copy
    }

    /// Fills in a [`scheduled`](Self::scheduled) object.
    pub(crate) fn set_scheduled(&self, scheduled: ScheduledFuture) {
        let _ = self.promise.set(scheduled.future().clone());
        let _ = self.scheduled.set(scheduled);
    }

    /// The promise; `NX_EBADHANDLE` while a timer's future is not filled in (before its
    /// handle is handed out).
    pub(crate) fn promise(&self) -> Result<&Promise, c_int> {
        self.promise.get().ok_or(NX_EBADHANDLE)
    }

    /// The promise, if the user may complete it.
    pub(crate) fn settable(&self) -> Result<&Promise, c_int> {
        if !self.settable {
            return Err(NX_EINVAL);
        }
        self.promise()
    }
}

/// A readiness watch on an event loop (libuv's `uv_poll_t`): an opaque handle owned by the
/// caller from `nx_loop_watch_*` until `nx_watch_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_watch_t {
    _private: [u8; 0],
}

/// A watch handle names the watch, set once the handle exists (the callback needs it first).
impl HandleType for nx_watch_t {
    type Object = Late<Watch>;
    const KIND: HandleKind = HandleKind::Watch;
    const LOOP_OWNED: bool = true;
}

/// A reusable timer on an event loop (libuv's `uv_timer_t`): an opaque handle owned by the
/// caller from `nx_timer_new` until `nx_timer_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_timer_t {
    _private: [u8; 0],
}

/// A timer handle names the timer, set once the handle exists (the callback needs it first).
impl HandleType for nx_timer_t {
    type Object = Late<LoopTimer>;
    const KIND: HandleKind = HandleKind::Timer;
    const LOOP_OWNED: bool = true;
}

/// A listening TCP channel (Java's `ServerSocketChannel`): an opaque handle owned by the
/// caller from `nx_server_socket_channel_open` until `nx_server_socket_channel_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_server_socket_channel_t {
    _private: [u8; 0],
}

/// A channel handle names the channel's own allocation (`ServerSocketChannel::into_shared`).
impl HandleType for nx_server_socket_channel_t {
    type Object = ChannelCore;
    const KIND: HandleKind = HandleKind::ServerSocketChannel;
}

/// A TCP connection (Java's `SocketChannel`): an opaque handle owned by the caller from
/// `nx_socket_channel_open` (or `nx_server_socket_channel_accept`) until
/// `nx_socket_channel_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_socket_channel_t {
    _private: [u8; 0],
}

/// A channel handle names the channel's own allocation (`SocketChannel::into_shared`).
impl HandleType for nx_socket_channel_t {
    type Object = ChannelCore;
    const KIND: HandleKind = HandleKind::SocketChannel;
}

/// A pipeline channel (Netty's `Channel`): an opaque handle. A channel made by a bootstrap or
/// `nx_embedded_channel_new` is the caller's until `nx_channel_free`; an accepted channel's
/// belongs to nioxide until the channel is torn down, unless retained (`nx_channel_retain`).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_channel_t {
    _private: [u8; 0],
}

impl HandleType for nx_channel_t {
    type Object = ChannelObject;
    const KIND: HandleKind = HandleKind::Channel;
    const LOOP_OWNED: bool = true;
}

/// What a channel handle names: the channel, and for an embedded channel the driver that
/// `nx_channel_free` drops.
#[derive(Debug)]
pub struct ChannelObject {
    pub(crate) channel: Channel,
    pub(crate) embedded: Mutex<Option<Arc<EmbeddedChannel>>>,
    /// The fork generation at creation: calls in a forked child are `NX_EFORKED`.
    pub(crate) generation: u64,
}

/// A handler's place in a pipeline (Netty's `ChannelHandlerContext`): an opaque handle that
/// belongs to nioxide; `NX_ECLOSED` once the handler was removed (and none of its callbacks
/// is running), also after its channel is torn down and the handle freed.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_context_t {
    _private: [u8; 0],
}

impl HandleType for nx_context_t {
    type Object = ContextObject;
    const KIND: HandleKind = HandleKind::Context;
    const LOOP_OWNED: bool = true;
}

/// What a context handle names: the core context and its name for C (set before the handle
/// reaches the user) and whether it is closed (its handler removed, no callback of it on the
/// stack).
#[derive(Debug, Default)]
pub struct ContextObject {
    pub(crate) ctx: OnceLock<Context>,
    pub(crate) name: OnceLock<CString>,
    pub(crate) removed: AtomicBool,
    /// The context's handler is a built-in one (`nx_handler_t`): closed once core removed
    /// it (no C callback of it can be on the stack).
    pub(crate) builtin: AtomicBool,
}

impl ContextObject {
    /// Sets the context (once; later calls do nothing).
    pub(crate) fn fill(&self, ctx: &Context) {
        if self.ctx.set(ctx.clone()).is_ok() {
            let name = CString::new(ctx.name().replace('\0', "")).unwrap_or_default();
            let _ = self.name.set(name);
        }
    }
}

/// A handler nioxide made (a codec, an idle-state handler: the `nx_codec_*` constructors):
/// an opaque handle, the caller's until `nx_pipeline_add_handler` (or
/// `nx_pipeline_replace_handler`) adds it, then the pipeline's (the handle is gone:
/// `NX_EBADHANDLE`); one never added is freed with `nx_handler_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_handler_t {
    _private: [u8; 0],
}

impl HandleType for nx_handler_t {
    type Object = HandlerObject;
    const KIND: HandleKind = HandleKind::Handler;
}

/// Where a C encode callback (`nx_encoder_t`) appends the bytes it encodes a message into: an
/// opaque handle lent for the callback (closed once it returns: `NX_EBADHANDLE`); see
/// `nx_byte_sink_append`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_byte_sink_t {
    _private: [u8; 0],
}

impl HandleType for nx_byte_sink_t {
    type Object = ByteSinkObject;
    const KIND: HandleKind = HandleKind::ByteSink;
}

/// What a byte sink handle names: the buffers appended so far, and the copied bytes not yet
/// made a buffer (one buffer for consecutive copies).
#[derive(Debug, Default)]
pub struct ByteSinkObject {
    pub(crate) parts: Mutex<ByteSinkParts>,
}

/// The contents of a byte sink.
#[derive(Debug, Default)]
pub(crate) struct ByteSinkParts {
    /// Copied bytes since the last whole buffer.
    pub(crate) pending: bytes::BytesMut,
    /// The finished buffers, in order.
    pub(crate) buffers: Vec<nioxide_core::pipeline::Buffer>,
}

/// Makes the core handler a built-in C handler stands for (a constructor's checked
/// configuration, captured).
pub(crate) type MakeHandler = Box<dyn Fn() -> Box<dyn ChannelHandler> + Send + Sync>;

/// What a handler handle names: how to make its core handler (made when it is added, so a
/// failed add leaves the handle as it was), and whether an add is taking it now.
pub struct HandlerObject {
    pub(crate) make: MakeHandler,
    pub(crate) taken: AtomicBool,
    pub(crate) generation: u64,
}

impl std::fmt::Debug for HandlerObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerObject")
            .field("taken", &self.taken)
            .finish_non_exhaustive()
    }
}

/// A message in a pipeline (bytes, a user message, an accepted channel): an opaque handle,
/// lent to a callback until it returns, or the caller's from `nx_message_new_*`,
/// `nx_message_retain` or `nx_embedded_channel_read_*` until `nx_message_release`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_message_t {
    _private: [u8; 0],
}

impl HandleType for nx_message_t {
    type Object = MessageObject;
    const KIND: HandleKind = HandleKind::Message;
}

/// What a message handle names: the message, and whether the handle is the caller's to
/// release (a lent one is not).
///
/// A lent object lives in a thread's [`Resident`](crate::handle::Resident) slot and is reused
/// from lend to lend: its message is set before its handle goes live and taken out once the
/// handle is closed, never while a lookup can see it.
pub struct MessageObject {
    msg: std::cell::UnsafeCell<Option<Message>>,
    pub(crate) owned: bool,
}

// SAFETY: the message is only written through `replace`, whose callers have the object to
// themselves (no live handle names it, no lookup is in a call on it); every other access
// reads it, and `Message` is `Send + Sync`.
unsafe impl Sync for MessageObject {}

impl std::fmt::Debug for MessageObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageObject")
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

impl MessageObject {
    /// An object holding `msg`; `owned`: the handle is the caller's to release.
    pub(crate) fn new(msg: Option<Message>, owned: bool) -> MessageObject {
        MessageObject {
            msg: std::cell::UnsafeCell::new(msg),
            owned,
        }
    }

    /// The message (`NX_EBADHANDLE` for a lend object between lends, which no live handle
    /// names: not reached through a lookup).
    pub(crate) fn msg(&self) -> Result<&Message, c_int> {
        // SAFETY: writes happen only through `replace`, while no reference from here lives.
        unsafe { &*self.msg.get() }.as_ref().ok_or(NX_EBADHANDLE)
    }

    /// Puts `msg` in, returning what was there.
    ///
    /// # Safety
    /// The caller has the object to itself: no handle naming it is live and no lookup is in
    /// a call on it (a closed [`Resident`](crate::handle::Resident) slot's object, or one no
    /// handle has yet).
    pub(crate) unsafe fn replace(&self, msg: Option<Message>) -> Option<Message> {
        // SAFETY: the caller's promise.
        std::mem::replace(unsafe { &mut *self.msg.get() }, msg)
    }
}

/// A server bootstrap (Netty's `ServerBootstrap`): an opaque handle owned by the caller from
/// `nx_server_bootstrap_new` until `nx_server_bootstrap_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_server_bootstrap_t {
    _private: [u8; 0],
}

impl HandleType for nx_server_bootstrap_t {
    type Object = Mutex<BootstrapState<ServerBootstrap>>;
    const KIND: HandleKind = HandleKind::ServerBootstrap;
}

/// A client bootstrap (Netty's `Bootstrap`): an opaque handle owned by the caller from
/// `nx_bootstrap_new` until `nx_bootstrap_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_bootstrap_t {
    _private: [u8; 0],
}

impl HandleType for nx_bootstrap_t {
    type Object = Mutex<BootstrapState<Bootstrap>>;
    const KIND: HandleKind = HandleKind::Bootstrap;
}

/// What a bootstrap handle names: the core builder and the water marks its options set so
/// far (for the server channel, and for accepted ones), which one water mark option keeps
/// ordered.
#[derive(Debug)]
pub struct BootstrapState<B> {
    pub(crate) builder: B,
    pub(crate) marks: [(usize, usize); 2],
}

/// An asynchronous channel group (Java's `AsynchronousChannelGroup`): an opaque handle owned
/// by the caller from `nx_aio_group_new` or `nx_aio_group_with_loop_group` until
/// `nx_aio_group_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_aio_group_t {
    _private: [u8; 0],
}

impl HandleType for nx_aio_group_t {
    type Object = Late<AsynchronousChannelGroup>;
    const KIND: HandleKind = HandleKind::AioGroup;
}

/// An asynchronous listener (Java's `AsynchronousServerSocketChannel`): an opaque handle
/// owned by the caller from `nx_aio_server_socket_open` until `nx_aio_server_socket_free`;
/// it belongs to its loop.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_aio_server_socket_t {
    _private: [u8; 0],
}

impl HandleType for nx_aio_server_socket_t {
    type Object = Late<AsynchronousServerSocketChannel>;
    const KIND: HandleKind = HandleKind::AioServerSocket;
    const LOOP_OWNED: bool = true;
}

/// An asynchronous TCP connection (Java's `AsynchronousSocketChannel`): an opaque handle
/// owned by the caller from `nx_aio_socket_open` (or an accept) until `nx_aio_socket_free`;
/// it belongs to its loop.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_aio_socket_t {
    _private: [u8; 0],
}

impl HandleType for nx_aio_socket_t {
    type Object = Late<AsynchronousSocketChannel>;
    const KIND: HandleKind = HandleKind::AioSocket;
    const LOOP_OWNED: bool = true;
}

/// An asynchronous file channel (Java's `AsynchronousFileChannel`): an opaque handle owned
/// by the caller from `nx_aio_file_open` until `nx_aio_file_free`; it belongs to its loop.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct nx_aio_file_t {
    _private: [u8; 0],
}

impl HandleType for nx_aio_file_t {
    type Object = Late<FileObject>;
    const KIND: HandleKind = HandleKind::AioFile;
    const LOOP_OWNED: bool = true;
}

/// What a file handle names: the channel and the locks taken through it, which C releases
/// by region (`nx_aio_file_unlock`) since C has no lock object.
#[derive(Debug)]
pub struct FileObject {
    pub(crate) file: AsynchronousFileChannel,
    pub(crate) locks: Mutex<Vec<FileLock>>,
}
