//! Completion-handler asynchronous I/O (Java NIO.2's "AIO"): start an operation with the
//! memory it borrows and a handler; the runtime does the I/O and calls the handler once.
//!
//! - [`AsynchronousChannelGroup`] (`group.rs`): the loops that run the handlers.
//! - [`AsynchronousServerSocketChannel`] (`server.rs`): bind, accept.
//! - [`AsynchronousSocketChannel`] (`socket.rs`): connect, read, write (scattering and
//!   gathering), with timeouts; and `write_all`, the write queue Java never gave its users
//!   (`write_queue.rs`).
//! - [`AsynchronousFileChannel`] (`file.rs`): positional reads and writes, size, truncate,
//!   force, locks, on a small pool of blocking threads.
//! - [`IoBufs`] and [`SharedBuf`] (`buffer.rs`): the memory an operation borrows.
//!
//! # The rules every operation keeps
//!
//! - **A handler** ([`Handler`]) receives the operation's result: a closure (what Java
//!   passes as the attachment is whatever it captures) or a binding's raw function and data
//!   (no allocation). Each operation has a `_future` variant that returns a
//!   [`Future`](crate::event_loop::Future) instead; its value is the result (`usize`,
//!   [`ReadOutcome`], `()`, a [`FileLock`], or the accepted channel), boxed.
//! - **Exactly once.** Every operation that was started (its call returned `Ok`) reports once,
//!   completed or failed, on every path: I/O, close ([`ErrorKind::AsyncClose`]), timeout
//!   ([`ErrorKind::TimedOut`]), cancel of its future ([`ErrorKind::Cancelled`]), the group's
//!   `shutdown_now`. A call that fails reports nothing and keeps nothing: its handler is
//!   dropped unrun and its memory given back at once. (An operation whose loop shut down
//!   without running it reports on the thread that drops it.)
//! - **Never inside the call.** Handlers run on the channel's loop thread (file handlers too),
//!   never inside the call that started the operation. On the loop's thread, a socket call
//!   tries the I/O at once only when the channel's readiness cache says it is ready, and a
//!   result known then waits in the channel's parked slot (no allocation) until the current
//!   callback has returned, in the same turn: when that callback is the channel's own I/O
//!   event (a handler chain such as read → write → read), the event reports it as its last
//!   step, with no task; otherwise a delivery task the call queues on the loop reports it
//!   (the task queue's rule: a task queued by an I/O or timer callback runs in the same
//!   turn's last phase, one queued by a task in the next turn). Results found by the loop's
//!   own I/O events run their handlers directly from the event.
//! - **Borrowed memory** ([`IoBufs`]) is used only until the operation's outcome is decided:
//!   its keep-alive owner is dropped right before the handler starts (or the future
//!   completes). A cancel waits for an I/O attempt in progress and takes effect before the
//!   future says it is cancelled.
//! - **One pending read, one pending write** (and one connect, one accept) per channel: a
//!   second fails at the call ([`ErrorKind::ReadPending`], [`ErrorKind::WritePending`],
//!   [`ErrorKind::ConnectionPending`], [`ErrorKind::AcceptPending`]) and leaves the first
//!   untouched. A read or write that timed out or was cancelled moved no bytes (a reactor only
//!   moves bytes when it completes); that direction then refuses further operations
//!   ([`ErrorKind::DirectionDisabled`], Java's `IllegalStateException`).
//! - **Panics** in a handler are caught; the loop reports them and goes on, and the other
//!   handlers of the same event still run.
//!
//! # Examples
//!
//! Seed 002's echo server, its state in what the handlers capture (read → write → read), and
//! a client that waits on futures:
//!
//! ```
//! use nioxide_core::aio::{
//!     AsynchronousChannelGroup, AsynchronousServerSocketChannel, AsynchronousSocketChannel,
//!     Handler, ReadOutcome, SharedBuf,
//! };
//! use std::time::Duration;
//!
//! fn echo(channel: AsynchronousSocketChannel, buf: SharedBuf) {
//!     let next = channel.clone();
//!     let lent = buf.lend(0..buf.len()).unwrap();
//!     channel
//!         .read(lent, None, Handler::new(move |result| match result {
//!             Ok(ReadOutcome::Bytes(n)) => {
//!                 let again = next.clone();
//!                 let out = buf.lend(0..n).unwrap();
//!                 // write_all: the whole chunk leaves, in order, before the handler runs.
//!                 let _ = next.write_all(out, Handler::new(move |written| {
//!                     if written.is_ok() {
//!                         echo(again, buf);
//!                     }
//!                 }));
//!             }
//!             _ => next.close(),
//!         }))
//!         .unwrap();
//! }
//!
//! let group = AsynchronousChannelGroup::new(1)?;
//! let server = AsynchronousServerSocketChannel::open(&group)?;
//! server.bind("127.0.0.1:0".parse().unwrap(), 16)?;
//! let addr = server.local_address()?.unwrap();
//! server.accept(Handler::new(|accepted| {
//!     if let Ok(channel) = accepted {
//!         echo(channel, SharedBuf::new(4096));
//!     }
//! }))?;
//!
//! let client = AsynchronousSocketChannel::open(&group)?;
//! client.connect_future(addr, Some(Duration::from_secs(5)))?.wait(None)?;
//! let message = SharedBuf::from_vec(b"hello".to_vec());
//! client.write_all_future(message.lend(0..5)?)?.wait(None)?;
//! let reply = SharedBuf::new(5);
//! let read = client.read_future(reply.lend(0..5)?, Some(Duration::from_secs(5)))?;
//! read.wait(None)?;
//! assert!(read.is_success());
//! assert_eq!(reply.to_vec(0..5).unwrap(), b"hello");
//!
//! client.close();
//! group.shutdown_now();
//! assert!(group.await_termination(Some(Duration::from_secs(5)))?);
//! # Ok::<(), nioxide_core::Error>(())
//! ```

/// The methods both loop-served channel types have alike (loop, group, options, local
/// address, state, binding slot, identity), written once. `$channel` is the core channel type
/// they delegate to.
macro_rules! loop_channel_methods {
    ($type:ident, $channel:ident) => {
        /// The loop whose thread runs this channel's handlers.
        pub fn event_loop(&self) -> &crate::event_loop::EventLoop {
            &self.inner.life.event_loop
        }

        /// The group the channel was opened in.
        pub fn group(&self) -> &crate::aio::AsynchronousChannelGroup {
            &self.inner.life.group
        }

        #[doc = concat!("Sets a socket option ([`", stringify!($channel), "::OPTIONS`]).")]
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($channel), "::set_option`].")]
        pub fn set_option(&self, opt: crate::channel::SocketOption, value: i64) -> Result<()> {
            self.inner.channel.set_option(opt, value)
        }

        /// Reads a socket option.
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($channel), "::get_option`].")]
        pub fn get_option(&self, opt: crate::channel::SocketOption) -> Result<i64> {
            self.inner.channel.get_option(opt)
        }

        /// The options this channel supports.
        pub fn supported_options(&self) -> &'static [crate::channel::SocketOption] {
            self.inner.channel.supported_options()
        }

        /// The local address (with the port the system chose), or `None` before bind (or,
        /// for a connection, connect).
        ///
        /// # Errors
        /// `Closed`, OS errors.
        pub fn local_address(&self) -> Result<Option<std::net::SocketAddr>> {
            self.inner.channel.local_address()
        }

        /// Whether the channel is open.
        pub fn is_open(&self) -> bool {
            !self.inner.life.is_closed() && self.inner.channel.is_open()
        }

        /// The binding layer's object for this channel (see [`set_binding`](Self::set_binding)).
        pub fn with_binding<R>(
            &self,
            f: impl FnOnce(Option<&(dyn std::any::Any + Send + Sync)>) -> R,
        ) -> R {
            self.inner.life.with_binding(f)
        }

        /// Stores the binding layer's object for this channel (a C handle, a Python weak
        /// reference: a channel made by nioxide, such as an accepted one, then finds its
        /// wrapper); dropped with the channel, or when replaced (on this thread).
        pub fn set_binding(&self, value: Box<dyn std::any::Any + Send + Sync>) {
            self.inner.life.set_binding(value);
        }

        /// Whether both values are the same channel.
        pub fn same(&self, other: &$type) -> bool {
            std::sync::Arc::ptr_eq(&self.inner, &other.inner)
        }
    };
}

mod buffer;
mod file;
mod group;
mod server;
mod socket;
mod write_queue;

use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use buffer::{IoBuf, IoBufs, SharedBuf};
pub use file::{AsynchronousFileChannel, DEFAULT_FILE_THREADS, FileLock, OpenOptions};
pub use group::AsynchronousChannelGroup;
pub use server::AsynchronousServerSocketChannel;
pub use socket::AsynchronousSocketChannel;
pub use write_queue::QueueFullPolicy;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::channel::Channel;
use crate::event_loop::io::{self, IoHandle};
use crate::event_loop::{EventLoop, Failure, Promise};
use crate::selector::SelectionKey;
use crate::{Error, ErrorKind, Result};
use group::Member;

/// A completion handler (Java's `CompletionHandler` with its attachment): called once with
/// the operation's result, on the channel's loop thread. Either a closure
/// ([`Handler::new`]: what it captures is the attachment; one allocation) or, for a binding
/// whose handlers are a function and a few words of its own (C's `completed`/`failed` pair
/// and `void *attachment`), a raw handler ([`Handler::raw`]: no allocation). A handler that
/// never runs (the call that would have started its operation failed) is dropped without a
/// call; a raw one then does nothing.
pub struct Handler<V>(HandlerRepr<V>);

enum HandlerRepr<V> {
    Boxed(Box<dyn FnOnce(Result<V>) + Send>),
    Raw {
        call: unsafe fn([usize; 3], Result<V>),
        data: [usize; 3],
    },
}

// SAFETY: a boxed handler is `Send`; a raw one's data may move to the loop's thread by
// `Handler::raw`'s contract.
unsafe impl<V> Send for Handler<V> {}

impl<V> std::fmt::Debug for Handler<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            HandlerRepr::Boxed(_) => "Handler::Boxed",
            HandlerRepr::Raw { .. } => "Handler::Raw",
        })
    }
}

impl<V> Handler<V> {
    /// A handler that runs `f` with the result.
    pub fn new(f: impl FnOnce(Result<V>) + Send + 'static) -> Handler<V> {
        Handler(HandlerRepr::Boxed(Box::new(f)))
    }

    /// A handler that calls `call(data, result)` once, with no allocation.
    ///
    /// # Safety
    /// `data` must be safe to send to another thread, and calling `call` with it once, on
    /// the channel's loop thread (or, for an operation a shutdown dropped, on the thread that
    /// drops it), must be sound.
    pub unsafe fn raw(call: unsafe fn([usize; 3], Result<V>), data: [usize; 3]) -> Handler<V> {
        Handler(HandlerRepr::Raw { call, data })
    }

    /// Runs the handler with `result`.
    #[inline]
    pub(crate) fn call(self, result: Result<V>) {
        match self.0 {
            HandlerRepr::Boxed(f) => f(result),
            // SAFETY: `raw`'s contract; the handler is consumed, so this is its one call.
            HandlerRepr::Raw { call, data } => unsafe { call(data, result) },
        }
    }
}

/// What a read completed with: bytes read, or the end of the stream (Java's `-1`, C's
/// `NX_EOF`). A read into an empty buffer completes with `Bytes(0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes were read (at least one, unless the buffers were empty).
    Bytes(usize),
    /// The peer closed its side (or the input was shut down): no more bytes will come.
    EndOfStream,
}

/// One started operation: its handler and the memory it borrows (kept small: it moves
/// between slots on every operation). Finished exactly once: by [`finish`](Op::finish), or,
/// if it is dropped unfinished (a shutdown dropped the task that carried it), with
/// `AsyncClose` on the dropping thread.
pub(crate) struct Op<V> {
    /// Which operation of its direction this is (cancels name it).
    pub(crate) seq: u64,
    pub(crate) bufs: Option<IoBufs>,
    /// Taken out only by `finish`, `abandon` or `drop`, each of which ends the operation.
    handler: ManuallyDrop<Handler<V>>,
}

impl<V> Op<V> {
    pub(crate) fn new(seq: u64, bufs: Option<IoBufs>, handler: Handler<V>) -> Op<V> {
        Op {
            seq,
            bufs,
            handler: ManuallyDrop::new(handler),
        }
    }

    /// Reports `result`: lets go of the memory, then runs the handler.
    pub(crate) fn finish(self, result: Result<V>) {
        let (bufs, handler) = self.into_parts();
        if let Some(bufs) = bufs {
            bufs.release();
        }
        handler.call(result);
    }

    /// Gives back what the operation holds without running its handler (a call that fails
    /// before the operation started).
    pub(crate) fn abandon(self) {
        let (bufs, handler) = self.into_parts();
        drop(handler);
        if let Some(bufs) = bufs {
            bufs.release();
        }
    }

    /// The operation's memory and handler, taken apart without `Drop` (which would report
    /// the operation).
    fn into_parts(self) -> (Option<IoBufs>, Handler<V>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: each field that owns something is moved out once, and `this` is never
        // used or dropped afterwards (`seq` is a plain value).
        unsafe {
            (
                std::ptr::read(&this.bufs),
                ManuallyDrop::take(&mut this.handler),
            )
        }
    }
}

impl<V> Drop for Op<V> {
    fn drop(&mut self) {
        // Only an operation dropped unfinished gets here: `finish` and `abandon` take it
        // apart without `Drop`.
        // SAFETY: the handler is taken out once, here; `self` is gone afterwards.
        let handler = unsafe { ManuallyDrop::take(&mut self.handler) };
        if let Some(bufs) = self.bufs.take() {
            bufs.release();
        }
        handler.call(Err(ErrorKind::AsyncClose.into()));
    }
}

/// What every loop-served channel of a group keeps about its life: its loop (whose thread
/// runs its handlers), its group and membership, its registration, and whether it is closed
/// and its pending operations' failure arranged.
pub(crate) struct Life {
    pub(crate) event_loop: EventLoop,
    pub(crate) group: AsynchronousChannelGroup,
    /// The registration with the loop's selector (the selector drops its own reference when
    /// the channel closes).
    pub(crate) key: SelectionKey,
    pub(crate) member: OnceLock<u64>,
    pub(crate) closed: AtomicBool,
    /// Set once the pending operations' failure has been arranged (exactly once).
    pub(crate) failing: AtomicBool,
    /// Where the C or Python layer keeps its own object for the channel.
    pub(crate) binding: crate::channel::Binding,
}

impl Life {
    pub(crate) fn new(
        event_loop: &EventLoop,
        group: &AsynchronousChannelGroup,
        key: SelectionKey,
    ) -> Life {
        Life {
            event_loop: event_loop.clone(),
            group: group.clone(),
            key,
            member: OnceLock::new(),
            closed: AtomicBool::new(false),
            failing: AtomicBool::new(false),
            binding: Default::default(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn with_binding<R>(
        &self,
        f: impl FnOnce(Option<&(dyn std::any::Any + Send + Sync)>) -> R,
    ) -> R {
        self.binding.with(f)
    }

    pub(crate) fn set_binding(&self, value: Box<dyn std::any::Any + Send + Sync>) {
        self.binding.set(value);
    }

    /// Leaves the group (once the pending operations have reported).
    pub(crate) fn leave(&self) {
        if let Some(id) = self.member.get() {
            self.group.leave(*id);
        }
    }
}

/// A channel served by its loop through a registration and counted in its group: the close
/// paths every such channel shares.
pub(crate) trait LoopChannel: IoHandle + Member + Sized + 'static {
    fn life(&self) -> &Life;

    /// The channel itself, to close.
    fn close_channel(&self);

    /// On the loop's thread: fails every pending operation with `AsyncClose`, then leaves the
    /// group.
    fn fail_pending(&self);

    /// Closes a channel that never joined its group (nothing pending, nothing to leave).
    fn close_unjoined(&self) {
        self.life().failing.store(true, Ordering::Release);
        self.life().closed.store(true, Ordering::Release);
        self.close_channel();
    }

    /// Closes the channel (idempotent): the registration's end arranges the failures.
    fn close_now(&self) {
        if !self.life().closed.swap(true, Ordering::AcqRel) {
            self.close_channel();
        }
    }

    /// Arranges, once, that the pending operations fail on the loop's thread.
    fn fail_later(self: &Arc<Self>) {
        if self.life().failing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.clone();
        deliver_later(&self.life().event_loop, move || inner.fail_pending());
    }

    /// The loop is shutting down: the channel closes and its pending operations fail here,
    /// on the loop's thread.
    fn close_at_shutdown(&self) {
        let first = !self.life().failing.swap(true, Ordering::AcqRel);
        self.life().closed.store(true, Ordering::Release);
        self.close_channel();
        if first {
            self.fail_pending();
        }
    }

    /// The registration ended (a close, a failed connect, the group's `shutdown_now`): the
    /// pending operations fail on the loop's thread.
    fn registration_ended(self: &Arc<Self>) {
        self.life().closed.store(true, Ordering::Release);
        self.fail_later();
    }
}

/// Registers a new channel (non-blocking, no registration yet) with `event_loop` for `ops`,
/// edge-triggered, served by the handle `make` builds, and adds it to `group`. On error the
/// channel is closed.
pub(crate) fn register<H: LoopChannel>(
    group: &AsynchronousChannelGroup,
    event_loop: &EventLoop,
    channel: Channel,
    ops: u32,
    make: impl FnOnce(SelectionKey) -> Arc<H>,
) -> Result<Arc<H>> {
    // A loop that shuts down may have closed what it serves already: it would never close
    // this channel nor fail its operations.
    if event_loop.is_shutting_down() {
        channel.close();
        return Err(ErrorKind::Rejected.into());
    }
    let inner = match io::register(event_loop, channel.clone(), ops, make) {
        Ok(inner) => inner,
        Err(e) => {
            channel.close();
            return Err(e);
        }
    };
    // Edges only: readiness nobody consumes must not select the key again and again.
    let joined = inner
        .life()
        .key
        .set_edge_triggered(true)
        .and_then(|()| group.join(inner.clone()));
    match joined {
        Ok(id) => {
            let _ = inner.life().member.set(id);
            Ok(inner)
        }
        Err(e) => {
            inner.close_unjoined();
            Err(e)
        }
    }
}

/// Runs `f` after the current callback of `event_loop`'s thread (a task the loop runs even
/// while it shuts down); on a loop that has terminated, runs it here.
pub(crate) fn deliver_later(event_loop: &EventLoop, f: impl FnOnce() + Send + 'static) {
    let mut task: Option<crate::event_loop::Task> = Some(Box::new(move |_: &EventLoop| f()));
    if event_loop.execute_internal(&mut task).is_err() {
        if let Some(task) = task {
            task(event_loop);
        }
    }
}

/// Runs `f`, catching a panic into `first` (the first one is passed on by [`resume`] once
/// every handler of an event has run).
pub(crate) fn run_caught(first: &mut Option<Box<dyn std::any::Any + Send>>, f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        if first.is_none() {
            *first = Some(panic);
        }
    }
}

/// Passes a caught handler panic on to the loop, which reports it.
pub(crate) fn resume(first: Option<Box<dyn std::any::Any + Send>>) {
    if let Some(panic) = first {
        std::panic::resume_unwind(panic);
    }
}

/// A handler that completes `promise` with the result (boxed as its value).
pub(crate) fn promise_handler<V: Send + Sync + 'static>(promise: &Promise) -> Handler<V> {
    let promise = promise.clone();
    Handler::new(move |result| match result {
        Ok(value) => {
            promise.try_success(Some(Box::new(value)));
        }
        Err(error) => {
            promise.try_failure(Failure::new(error));
        }
    })
}

/// The timeout of an operation: `None` for none (zero counts as none, as Java's `timeout ≤ 0`).
pub(crate) fn timeout_of(timeout: Option<std::time::Duration>) -> Option<std::time::Duration> {
    timeout.filter(|t| !t.is_zero())
}

/// The error a direction disabled by a timeout or cancel reports.
pub(crate) fn disabled() -> Error {
    ErrorKind::DirectionDisabled.into()
}
