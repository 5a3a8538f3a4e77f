//! Asynchronous server socket channels (Java's `AsynchronousServerSocketChannel`): a TCP
//! listener whose accepts complete through a handler or a future.
//!
//! Like the socket channel, the listener is an [`IoHandle`] registered once, edge-triggered,
//! for accept readiness; an accept on the loop's thread is tried at the call only when the
//! readiness cache says a connection is waiting. Each accepted connection becomes an
//! [`AsynchronousSocketChannel`] on the group's next loop.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::group::{AsynchronousChannelGroup, Member};
use super::{
    AsynchronousSocketChannel, Handler, Life, LoopChannel, Op, deliver_later, resume, run_caught,
};
use crate::channel::{Family, ServerSocketChannel};
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
    life: Life,
    accept: Mutex<AcceptSide>,
}

#[derive(Default)]
struct AcceptSide {
    pending: Option<Op<AsynchronousSocketChannel>>,
    seq: u64,
    /// Accepts finished inside their calls and not yet reported: while there are any, the
    /// loop's events finish no later accept (it would report first).
    undelivered: u32,
}

/// The readiness bits that let an accept make progress.
const ACCEPT_READY: u32 = READABLE | ERROR;

impl std::fmt::Debug for AsynchronousServerSocketChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsynchronousServerSocketChannel")
            .field("channel", &self.inner.channel)
            .field("closed", &self.inner.life.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl AsynchronousServerSocketChannel {
    /// Opens an unbound listener in `group` (IPv6 dual-stack, or IPv4 where IPv6 is
    /// unavailable; `SO_REUSEADDR` on), on the group's next loop.
    ///
    /// # Errors
    /// `GroupShutdown`; `Rejected` (a loop of a borrowed group is shutting down); OS errors
    /// such as `EMFILE`.
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
                    life: super::Life::new(&event_loop, group, key),
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

    loop_channel_methods!(AsynchronousServerSocketChannel, ServerSocketChannel);

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
        let promise = Promise::new(Some(&self.inner.life.event_loop));
        let completing = promise.clone();
        let seq = self.inner.start_accept(Handler::new(
            move |result: Result<AsynchronousSocketChannel>| match result {
                Ok(channel) => {
                    if !completing.try_success(Some(Box::new(channel.clone()))) {
                        channel.close();
                    }
                }
                Err(error) => {
                    completing.try_failure(Failure::new(error));
                }
            },
        ))?;
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
        self.inner.close_now();
    }
}

impl ServerInner {
    /// Whether an accept can make progress: a connection is waiting, and no back-off after a
    /// descriptor shortage (`EMFILE`) holds accepts back (the loop looks again when it ends),
    /// so a handler that accepts again after such an error does not spin.
    fn ready(&self) -> bool {
        Readiness::flags(self.channel.core.readiness.snapshot()) & ACCEPT_READY != 0
            && self.channel.core.accept_backoff_left().is_none()
    }

    fn start_accept(self: &Arc<Self>, handler: Handler<AsynchronousSocketChannel>) -> Result<u64> {
        if self.life.is_closed() {
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
        let on_loop = self.life.event_loop.in_event_loop();
        if on_loop && self.ready() {
            if let Some(result) = self.attempt_accept() {
                side.undelivered += 1;
                drop(side);
                let inner = self.clone();
                deliver_later(&self.life.event_loop, move || {
                    let mut panic = None;
                    run_caught(&mut panic, || op.finish(result));
                    // Caught up: an accept the loop's events held back goes on.
                    let caught_up = {
                        let mut side = lock(&inner.accept);
                        side.undelivered -= 1;
                        side.undelivered == 0
                    };
                    if caught_up {
                        if let Some((op, result)) = inner.poll_accept() {
                            run_caught(&mut panic, || op.finish(result));
                        }
                    }
                    resume(panic);
                });
                return Ok(seq);
            }
        }
        side.pending = Some(op);
        drop(side);
        if !on_loop {
            let inner = self.clone();
            deliver_later(&self.life.event_loop, move || {
                if let Some((op, result)) = inner.poll_accept() {
                    op.finish(result);
                }
            });
        }
        if self.life.is_closed() {
            if let Some(op) = lock(&self.accept).pending.take() {
                deliver_later(&self.life.event_loop, move || {
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
                &self.life.group,
                accepted,
                self.life.group.next_loop(),
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
        if side.pending.is_none() || side.undelivered > 0 || !self.ready() {
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
}

impl LoopChannel for ServerInner {
    fn life(&self) -> &Life {
        &self.life
    }

    fn close_channel(&self) {
        self.channel.close();
    }

    /// Fails a pending accept with `AsyncClose`, then leaves the group.
    fn fail_pending(&self) {
        self.life.closed.store(true, Ordering::Release);
        let op = lock(&self.accept).pending.take();
        let mut panic = None;
        if let Some(op) = op {
            run_caught(&mut panic, || {
                op.finish(Err(Error::from(ErrorKind::AsyncClose)))
            });
        }
        self.life.leave();
        resume(panic);
    }
}

impl Member for ServerInner {
    fn close_member(&self) {
        self.close_now();
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

    fn close(self: Arc<Self>, _: &EventLoop) {
        self.close_at_shutdown();
    }

    fn deregistered(self: Arc<Self>) {
        self.registration_ended();
    }
}
