//! Asynchronous server socket channels (Java's `AsynchronousServerSocketChannel`): a TCP
//! listener whose accepts complete through a handler or a future.
//!
//! Like the socket channel, the listener is an [`IoHandle`] registered once, edge-triggered,
//! for accept readiness; an accept on the loop's thread is tried at the call only when the
//! readiness cache says a connection is waiting. Each accepted connection becomes an
//! [`AsynchronousSocketChannel`] on the group's next loop.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::group::{AsynchronousChannelGroup, Member};
use super::{AsynchronousSocketChannel, Handler, Op, deliver_later, resume, run_caught};
use crate::channel::{Family, ServerSocketChannel, SocketOption};
use crate::event_loop::io::{IoEvent, IoHandle};
use crate::event_loop::{EventLoop, Failure, Future, Promise};
use crate::selector::{OP_ACCEPT, SelectionKey};
use crate::sync::lock;
use crate::sys::backend::{ERROR, READABLE, Readiness};
use crate::{Error, ErrorKind, Result};

/// A TCP listener whose accepts complete through handlers or futures. Cloning gives another
/// handle to the same channel. Thread-safe; handlers run on the listener's loop thread.
///
/// It stays open until [`close`](Self::close), its group's `shutdown_now` or its loop's
/// shutdown. One accept may be pending at a time.
#[derive(Clone)]
pub struct AsynchronousServerSocketChannel {
    inner: Arc<ServerInner>,
}

struct ServerInner {
    channel: ServerSocketChannel,
    event_loop: EventLoop,
    group: AsynchronousChannelGroup,
    key: SelectionKey,
    member: OnceLock<u64>,
    closed: AtomicBool,
    failing: AtomicBool,
    accept: Mutex<AcceptSide>,
}

#[derive(Default)]
struct AcceptSide {
    pending: Option<Op<AsynchronousSocketChannel>>,
    seq: u64,
}

/// The readiness bits that let an accept make progress.
const ACCEPT_READY: u32 = READABLE | ERROR;

impl std::fmt::Debug for AsynchronousServerSocketChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsynchronousServerSocketChannel")
            .field("channel", &self.inner.channel)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl AsynchronousServerSocketChannel {
    /// Opens an unbound listener in `group` (IPv6 dual-stack, or IPv4 where IPv6 is
    /// unavailable; `SO_REUSEADDR` on), on the group's next loop.
    ///
    /// # Errors
    /// `GroupShutdown`; OS errors such as `EMFILE`.
    pub fn open(group: &AsynchronousChannelGroup) -> Result<AsynchronousServerSocketChannel> {
        group.check_open()?;
        Self::adopt(group, ServerSocketChannel::open()?)
    }

    /// Opens an unbound listener of the given family in `group`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_family(
        group: &AsynchronousChannelGroup,
        family: Family,
    ) -> Result<AsynchronousServerSocketChannel> {
        group.check_open()?;
        Self::adopt(group, ServerSocketChannel::open_family(family)?)
    }

    fn adopt(
        group: &AsynchronousChannelGroup,
        channel: ServerSocketChannel,
    ) -> Result<AsynchronousServerSocketChannel> {
        let event_loop = group.next_loop();
        if let Err(e) = channel.configure_blocking(false) {
            channel.close();
            return Err(e);
        }
        let inner = super::register(
            group,
            &event_loop,
            channel.clone().into(),
            OP_ACCEPT,
            |key| {
                Arc::new(ServerInner {
                    channel: channel.clone(),
                    event_loop: event_loop.clone(),
                    group: group.clone(),
                    key,
                    member: OnceLock::new(),
                    closed: AtomicBool::new(false),
                    failing: AtomicBool::new(false),
                    accept: Mutex::new(AcceptSide::default()),
                })
            },
        )?;
        Ok(AsynchronousServerSocketChannel { inner })
    }

    /// Binds to `addr` (port 0 picks a free port) and listens with `backlog` (0 or less: the
    /// system default).
    ///
    /// # Errors
    /// As [`ServerSocketChannel::bind`].
    pub fn bind(&self, addr: SocketAddr, backlog: i32) -> Result<()> {
        self.inner.channel.bind(addr, backlog)
    }

    /// The bound address (with the chosen port), or `None` before bind.
    ///
    /// # Errors
    /// `Closed`, OS errors.
    pub fn local_address(&self) -> Result<Option<SocketAddr>> {
        self.inner.channel.local_address()
    }

    /// Sets a socket option ([`ServerSocketChannel::OPTIONS`]).
    ///
    /// # Errors
    /// As [`ServerSocketChannel::set_option`].
    pub fn set_option(&self, opt: SocketOption, value: i64) -> Result<()> {
        self.inner.channel.set_option(opt, value)
    }

    /// Reads a socket option.
    ///
    /// # Errors
    /// As [`ServerSocketChannel::get_option`].
    pub fn get_option(&self, opt: SocketOption) -> Result<i64> {
        self.inner.channel.get_option(opt)
    }

    /// The options this channel supports.
    pub fn supported_options(&self) -> &'static [SocketOption] {
        self.inner.channel.supported_options()
    }

    /// The loop whose thread runs this listener's handlers.
    pub fn event_loop(&self) -> &EventLoop {
        &self.inner.event_loop
    }

    /// Whether the listener is open.
    pub fn is_open(&self) -> bool {
        !self.inner.closed.load(Ordering::Acquire) && self.inner.channel.is_open()
    }

    /// Whether both values are the same channel.
    pub fn same(&self, other: &AsynchronousServerSocketChannel) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Accepts a connection: `handler` gets the new channel (on the group's next loop), which
    /// it then owns, or the error.
    ///
    /// # Errors
    /// At the call (the handler is dropped unrun): `AcceptPending`, `NotYetBound`, `Closed`,
    /// `Forked`.
    pub fn accept(&self, handler: Handler<AsynchronousSocketChannel>) -> Result<()> {
        self.inner.start_accept(handler).map(drop)
    }

    /// [`accept`](Self::accept) with a future whose value is the accepted
    /// [`AsynchronousSocketChannel`]. Cancelling it fails the accept with `Cancelled` (a
    /// connection accepted meanwhile that the future can no longer take is closed).
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub fn accept_future(&self) -> Result<Future> {
        let promise = Promise::new(Some(&self.inner.event_loop));
        let completing = promise.clone();
        let seq = self
            .inner
            .start_accept(Box::new(move |result| match result {
                Ok(channel) => {
                    if !completing.try_success(Some(Box::new(channel.clone()))) {
                        channel.close();
                    }
                }
                Err(error) => {
                    completing.try_failure(Failure::new(error));
                }
            }))?;
        let weak = Arc::downgrade(&self.inner);
        promise.on_cancel(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.cancel_accept(seq);
            }
        }));
        Ok(promise)
    }

    /// Closes the listener (idempotent; returns at once): a pending accept fails with
    /// `AsyncClose` on the loop's thread; connections not yet accepted are closed with it.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.channel.close();
        self.inner.fail_later();
    }
}

impl ServerInner {
    fn ready(&self) -> bool {
        Readiness::flags(self.channel.core.readiness.snapshot()) & ACCEPT_READY != 0
    }

    fn start_accept(self: &Arc<Self>, handler: Handler<AsynchronousSocketChannel>) -> Result<u64> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ErrorKind::Closed.into());
        }
        self.channel.check()?;
        if self.channel.local_address()?.is_none() {
            return Err(ErrorKind::NotYetBound.into());
        }
        let mut side = lock(&self.accept);
        if side.pending.is_some() {
            return Err(ErrorKind::AcceptPending.into());
        }
        side.seq += 1;
        let seq = side.seq;
        let op = Op::new(seq, None, handler);
        let on_loop = self.event_loop.in_event_loop();
        if on_loop && self.ready() {
            if let Some(result) = self.attempt_accept() {
                drop(side);
                deliver_later(&self.event_loop, move || op.finish(result));
                return Ok(seq);
            }
        }
        side.pending = Some(op);
        drop(side);
        if !on_loop {
            let inner = self.clone();
            deliver_later(&self.event_loop, move || {
                if let Some((op, result)) = inner.poll_accept() {
                    op.finish(result);
                }
            });
        }
        if self.closed.load(Ordering::Acquire) {
            if let Some(op) = lock(&self.accept).pending.take() {
                deliver_later(&self.event_loop, move || {
                    op.finish(Err(ErrorKind::AsyncClose.into()))
                });
            }
        }
        Ok(seq)
    }

    /// One accept attempt: `None` if no connection is waiting. The connection becomes a
    /// channel on the group's next loop; if it cannot (the group shut down), it is closed and
    /// the accept fails.
    fn attempt_accept(&self) -> Option<Result<AsynchronousSocketChannel>> {
        match self.channel.try_accept() {
            Ok(None) => None,
            Ok(Some(accepted)) => Some(AsynchronousSocketChannel::adopt(
                &self.group,
                accepted,
                self.group.next_loop(),
            )),
            Err(e) if e == ErrorKind::Closed.into() => Some(Err(ErrorKind::AsyncClose.into())),
            Err(e) => Some(Err(e)),
        }
    }

    fn poll_accept(
        &self,
    ) -> Option<(
        Op<AsynchronousSocketChannel>,
        Result<AsynchronousSocketChannel>,
    )> {
        let mut side = lock(&self.accept);
        if side.pending.is_none() || !self.ready() {
            return None;
        }
        let result = self.attempt_accept()?;
        Some((side.pending.take()?, result))
    }

    /// The accept future `seq` was cancelled: the accept ends (no handler to run: the future
    /// is its only reader, and it reports the cancel).
    fn cancel_accept(&self, seq: u64) {
        let op = {
            let mut side = lock(&self.accept);
            if side.pending.as_ref().is_none_or(|op| op.seq != seq) {
                return;
            }
            side.pending.take()
        };
        if let Some(op) = op {
            op.finish(Err(ErrorKind::Cancelled.into()));
        }
    }

    fn fail_later(self: &Arc<Self>) {
        if self.failing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.clone();
        deliver_later(&self.event_loop, move || inner.fail_pending());
    }

    fn fail_pending(&self) {
        self.closed.store(true, Ordering::Release);
        let op = lock(&self.accept).pending.take();
        let mut panic = None;
        if let Some(op) = op {
            run_caught(&mut panic, || {
                op.finish(Err(Error::from(ErrorKind::AsyncClose)))
            });
        }
        if let Some(id) = self.member.get() {
            self.group.leave(*id);
        }
        resume(panic);
    }
}

impl super::LoopChannel for ServerInner {
    fn key(&self) -> &SelectionKey {
        &self.key
    }

    fn member(&self) -> &OnceLock<u64> {
        &self.member
    }

    fn close_unjoined(&self) {
        self.failing.store(true, Ordering::Release);
        self.closed.store(true, Ordering::Release);
        self.channel.close();
    }
}

impl Member for ServerInner {
    fn close_member(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.channel.close();
    }
}

impl IoHandle for ServerInner {
    /// A connection is waiting: the pending accept takes it and its handler runs here.
    fn handle(self: Arc<Self>, _: &EventLoop, _: &SelectionKey, event: IoEvent) {
        let IoEvent::Ready(ready) = event;
        if ready & OP_ACCEPT != 0 {
            if let Some((op, result)) = self.poll_accept() {
                op.finish(result);
            }
        }
    }

    /// The loop is shutting down: the listener closes and a pending accept fails here.
    fn close(self: Arc<Self>, _: &EventLoop) {
        let first = !self.failing.swap(true, Ordering::AcqRel);
        self.closed.store(true, Ordering::Release);
        self.channel.close();
        if first {
            self.fail_pending();
        }
    }

    /// The registration ended: a pending accept fails on the loop's thread.
    fn deregistered(self: Arc<Self>) {
        self.closed.store(true, Ordering::Release);
        self.fail_later();
    }
}
