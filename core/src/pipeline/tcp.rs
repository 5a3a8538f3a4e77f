//! TCP pipeline channels: [`TcpChannel`] (a connection) and [`TcpServerChannel`] (a
//! listener), served by their loop's I/O dispatch point (each channel is an
//! [`IoHandle`] in a registration of its loop's backend, as watches are).
//!
//! The sockets are the Selector model's ([`SocketChannel`], [`ServerSocketChannel`]),
//! non-blocking from the start; the loop's readiness cache spares a system call per event.
//! Reads come in batches of at most 16, each into the loop thread's read buffer at the
//! adaptive size ([`recv_allocator`](super::recv_allocator)), and end with one read
//! complete. A flush writes the flushed messages with gathering writes (`sendmsg`, no
//! `SIGPIPE`) as far as the socket takes them, and the rest when it becomes writable.

use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::sync::{Arc, OnceLock};

use super::cell::LoopCell;
use super::channel::{Channel, ChannelInner, ChannelKind, Transport};
use super::message::{Buffer, ChannelAddress, Message, UserEvent};
use super::recv_allocator::{self, AdaptiveRecvAllocator};
use crate::channel::{ServerSocketChannel, SocketChannel, SocketOption};
use crate::event_loop::{
    EventLoop, EventLoopGroup, Failure, IoEvent, IoHandle, Promise, Repeat, ScheduledFuture,
};
use crate::selector::{OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE, SelectionKey};
use crate::{Error, ErrorKind, Result};

/// The most reads (or accepts) in one batch.
const MAX_READS_PER_BATCH: usize = 16;
/// The most buffers in one gathering write.
const MAX_IOV: usize = 64;
/// The most write attempts in one flush before waiting for writability.
const WRITE_SPINS: usize = 16;

/// The loop's events for a pipeline channel go to its transport.
impl IoHandle for ChannelInner {
    fn handle(self: Arc<Self>, _: &EventLoop, _: &SelectionKey, event: IoEvent) {
        let IoEvent::Ready(ops) = event;
        let channel = Channel { inner: self };
        channel.inner.transport.io_ready(&channel, ops);
    }

    fn close(self: Arc<Self>, _: &EventLoop) {
        let channel = Channel { inner: self };
        channel.inner.transport.loop_closing(&channel);
    }

    /// The registration ended: by the channel's own close (nothing left to do), by a
    /// failed connect closing the socket (whose outcome the transport is reporting right
    /// now), or by the backend. A channel still open closes on a later turn, after the call
    /// in progress.
    fn deregistered(self: Arc<Self>) {
        let channel = Channel { inner: self };
        if channel.is_open() {
            let ch = channel.clone();
            channel.run_later(move || ch.close_now(None));
        }
    }
}

/// Sets the interest ops of a registration kept in user space (no system call).
fn apply_interest(key: &OnceLock<SelectionKey>, interest: &mut u32, new: u32) {
    if new != *interest {
        *interest = new;
        if let Some(key) = key.get() {
            let _ = key.set_interest_ops(new);
        }
    }
}

/// Registers a channel's socket with its loop (no interest yet), served by the channel.
fn register_socket(
    channel: &Channel,
    socket: crate::channel::Channel,
    key: &OnceLock<SelectionKey>,
) -> Result<()> {
    channel
        .event_loop()
        .register_io(socket, 0, |registration| {
            let _ = key.set(registration);
            channel.inner.clone()
        })
        .map(|_| ())
}

/// Constructors of TCP connection channels (the pipeline's `NioSocketChannel`).
#[derive(Debug)]
pub struct TcpChannel;

impl TcpChannel {
    /// A new, unregistered, unconnected TCP channel on `event_loop` (an IPv6 dual-stack
    /// socket, or IPv4 where IPv6 is unavailable) with `TCP_NODELAY` on. Register it, then
    /// connect. A channel that is never registered must be closed: its pipeline holds it
    /// (and its socket) until then.
    ///
    /// # Errors
    /// OS errors such as `EMFILE`.
    pub fn open(event_loop: &EventLoop) -> Result<Channel> {
        let socket = SocketChannel::open()?;
        Ok(Self::with_socket(event_loop.clone(), None, socket))
    }

    /// A channel over a socket: non-blocking, `TCP_NODELAY` on.
    fn with_socket(
        event_loop: EventLoop,
        parent: Option<Channel>,
        socket: SocketChannel,
    ) -> Channel {
        let _ = socket.configure_blocking(false);
        let _ = socket.set_option(SocketOption::TcpNoDelay, 1);
        Channel::new(
            event_loop,
            parent,
            Box::new(TcpTransport {
                socket,
                key: OnceLock::new(),
                state: LoopCell::new(TcpState::default()),
            }),
        )
    }
}

#[derive(Default)]
struct TcpState {
    interest: u32,
    /// A `read()` asked for a batch that has not been served.
    read_pending: bool,
    connect_promise: Option<Promise>,
    connect_timeout: Option<ScheduledFuture>,
    allocator: AdaptiveRecvAllocator,
    input_shutdown: bool,
    /// The writes a flush completed, handed on once the outbound buffer is let go (kept to
    /// reuse the allocation).
    done: Vec<(usize, Option<Promise>)>,
}

struct TcpTransport {
    socket: SocketChannel,
    key: OnceLock<SelectionKey>,
    state: LoopCell<TcpState>,
}

/// How one write attempt went.
enum Wrote {
    /// Everything flushed went to the kernel.
    All,
    /// Some went; more is flushed.
    Some,
    /// The socket takes nothing now.
    Blocked,
    Failed(Error),
}

impl TcpTransport {
    fn set_interest(&self, f: impl FnOnce(u32) -> u32) {
        self.state.with(|s| {
            let new = f(s.interest);
            apply_interest(&self.key, &mut s.interest, new);
        });
    }

    fn finish_connect(&self, channel: &Channel) {
        let outcome = match self.socket.finish_connect() {
            Ok(false) => return,
            Ok(true) => Ok(()),
            Err(e) => Err(e),
        };
        self.connect_done(channel, outcome);
    }

    /// The connect ended: fulfils or fails its promise; success makes the channel active,
    /// failure closes it (it never becomes active).
    fn connect_done(&self, channel: &Channel, outcome: Result<()>) {
        let (promise, timeout, read_pending) = self.state.with(|s| {
            let new = s.interest & !OP_CONNECT;
            apply_interest(&self.key, &mut s.interest, new);
            (
                s.connect_promise.take(),
                s.connect_timeout.take(),
                s.read_pending,
            )
        });
        if let Some(timeout) = timeout {
            timeout.cancel();
        }
        match outcome {
            Ok(()) => {
                if read_pending {
                    self.set_interest(|i| i | OP_READ);
                }
                channel.mark_active();
                if let Some(p) = promise {
                    p.try_success(None);
                }
                channel.become_active();
            }
            Err(e) => {
                if let Some(p) = promise {
                    p.try_failure(Failure::new(e));
                }
                channel.close_now(None);
            }
        }
    }

    /// One gathering write of the flushed buffers.
    fn write_once(&self, channel: &Channel, done: &mut Vec<(usize, Option<Promise>)>) -> Wrote {
        channel.inner.outbound.with(|buffer| {
            // Filled as far as used: the common flush of one buffer touches one slot, not 64.
            let mut iov = [const { MaybeUninit::<IoSlice<'_>>::uninit() }; MAX_IOV];
            let mut count = 0;
            let mut total = 0;
            for entry in buffer.iter().take(buffer.flushed) {
                if count == MAX_IOV {
                    break;
                }
                if let Message::Buffer(b) = &entry.msg {
                    if !b.is_empty() {
                        iov[count].write(IoSlice::new(b.as_slice()));
                        count += 1;
                        total += b.len();
                    }
                }
            }
            // SAFETY: the first `count` slots were written above.
            let iov =
                unsafe { std::slice::from_raw_parts(iov.as_ptr().cast::<IoSlice<'_>>(), count) };
            let mut written = if total == 0 {
                0
            } else {
                match self.socket.write_vectored(iov) {
                    Ok(0) => return Wrote::Blocked,
                    Ok(n) => n,
                    Err(e) => return Wrote::Failed(e),
                }
            };
            // Take out what went entirely; cut what went partly.
            while buffer.flushed > 0 {
                let entry = buffer.front_mut().expect("a flushed entry");
                let len = entry.msg.byte_size();
                if len > written {
                    if let Message::Buffer(b) = &mut entry.msg {
                        b.advance(written);
                    }
                    break;
                }
                written -= len;
                let entry = buffer.pop_flushed().expect("a flushed entry");
                match entry.promise {
                    // A promise's listeners may run on this thread (one without a loop):
                    // completed once the buffer is let go. The list's memory is the one
                    // kept from the last flush that had promises (`TcpState::done`).
                    Some(promise) => {
                        if done.capacity() == 0 {
                            *done = self.state.with(|s| std::mem::take(&mut s.done));
                        }
                        done.push((entry.counted, Some(promise)));
                    }
                    // Nothing to run: uncounted here (a crossing only queues its event).
                    None => channel.complete_write(entry.counted, None),
                }
            }
            if buffer.flushed == 0 {
                Wrote::All
            } else {
                Wrote::Some
            }
        })
    }

    /// Writes the flushed messages as far as the socket takes them; waits for writability
    /// for the rest. A write error fails the queued writes (one exception event for those
    /// without a promise) and closes the channel.
    fn write_out(&self, channel: &Channel) {
        // Empty (no allocation) unless a write with a promise completes.
        let mut done = Vec::new();
        let mut outcome = Wrote::Some;
        for _ in 0..WRITE_SPINS {
            outcome = self.write_once(channel, &mut done);
            if !matches!(outcome, Wrote::Some) {
                break;
            }
        }
        if done.capacity() > 0 {
            for (counted, promise) in done.drain(..) {
                channel.complete_write(counted, promise);
            }
            self.state.with(|s| s.done = done);
        }
        match outcome {
            Wrote::All => self.set_interest(|i| i & !OP_WRITE),
            Wrote::Some | Wrote::Blocked => self.set_interest(|i| i | OP_WRITE),
            Wrote::Failed(e) => {
                channel.fail_outbound(e, true);
                channel.close_now(None);
            }
        }
    }

    /// A read batch: at most 16 reads, then one read complete; end of stream closes (or,
    /// with half-closure, shuts the input down with its event); an error fires the
    /// exception event and closes.
    fn read_batch(&self, channel: &Channel) {
        let auto_read = channel.is_auto_read();
        let go = self.state.with(|s| {
            let go = !s.input_shutdown && (auto_read || s.read_pending);
            s.read_pending = false;
            if !go {
                let new = s.interest & !OP_READ;
                apply_interest(&self.key, &mut s.interest, new);
            }
            go
        });
        if !go {
            return;
        }
        let pipeline = channel.pipeline();
        let mut reads = 0;
        let mut total = 0;
        let mut eof = false;
        let mut error = None;
        while reads < MAX_READS_PER_BATCH {
            let asked = self.state.with(|s| s.allocator.guess());
            match recv_allocator::read_into(asked, |spare| self.socket.try_read_uninit(spare)) {
                Ok(Some(bytes)) if bytes.is_empty() => {
                    eof = true;
                    break;
                }
                Ok(Some(bytes)) => {
                    let n = bytes.len();
                    reads += 1;
                    total += n;
                    self.state.with(|s| s.allocator.record_read(n, asked));
                    pipeline.fire_channel_read(Message::Buffer(Buffer::from_bytes(bytes)));
                    if !channel.is_open() || n < asked {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        self.state.with(|s| {
            s.allocator.record_batch(total);
            if reads == 0 && !eof && error.is_none() {
                // Nothing was there: the read asked for is still owed.
                s.read_pending = !auto_read;
            }
        });
        if reads == 0 && !eof && error.is_none() {
            return;
        }
        pipeline.fire_channel_read_complete();
        if let Some(e) = error {
            pipeline.fire_exception_caught(Failure::new(e));
            // Queued writes fail with what the read saw (a reset), not as closed.
            channel.fail_outbound(e, false);
            channel.close_now(None);
        } else if eof && channel.is_open() {
            if channel.allows_half_closure() {
                self.state.with(|s| {
                    s.input_shutdown = true;
                    let new = s.interest & !OP_READ;
                    apply_interest(&self.key, &mut s.interest, new);
                });
                pipeline.fire_user_event_triggered(UserEvent::InputShutdown);
            } else {
                channel.close_now(None);
            }
        }
        if channel.is_open() && !channel.is_auto_read() {
            self.state.with(|s| {
                if !s.read_pending {
                    let new = s.interest & !OP_READ;
                    apply_interest(&self.key, &mut s.interest, new);
                }
            });
        }
    }
}

impl Transport for TcpTransport {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Tcp
    }

    fn register(&self, channel: &Channel) -> Result<()> {
        register_socket(channel, self.socket.clone().into(), &self.key)?;
        // What was asked for before the registration (a read, a connect) applies now.
        let interest = self.state.with(|s| s.interest);
        if let Some(key) = self.key.get() {
            key.set_interest_ops(interest)?;
        }
        Ok(())
    }

    fn is_active(&self) -> bool {
        self.socket.is_connected()
    }

    fn bind(&self, _: &Channel, local: ChannelAddress) -> Result<()> {
        let addr = local
            .inet()
            .ok_or(Error::Kind(ErrorKind::InvalidArgument))?;
        self.socket.bind(addr)
    }

    fn connect(
        &self,
        channel: &Channel,
        remote: ChannelAddress,
        local: Option<ChannelAddress>,
        promise: Promise,
    ) {
        let Some(addr) = remote.inet() else {
            promise.try_failure(Failure::new(ErrorKind::InvalidArgument.into()));
            return;
        };
        if self.state.with(|s| s.connect_promise.is_some()) {
            promise.try_failure(Failure::new(ErrorKind::ConnectionPending.into()));
            return;
        }
        if let Some(local) = local {
            if let Err(e) = self.bind(channel, local) {
                promise.try_failure(Failure::new(e));
                return;
            }
        }
        match self.socket.connect(addr) {
            Ok(true) => {
                channel.mark_active();
                promise.try_success(None);
                channel.become_active();
            }
            Ok(false) => {
                let timeout = channel.connect_timeout().and_then(|after| {
                    // Weak: a cancelled timer may wait in the heap until its deadline, and
                    // must not keep the channel alive that long.
                    let weak = Arc::downgrade(&channel.inner);
                    let timed_out = move |_: &EventLoop| {
                        let Some(inner) = weak.upgrade() else {
                            return Ok(None);
                        };
                        let ch = Channel { inner };
                        let tcp = ch.inner.transport.as_any().downcast_ref::<TcpTransport>();
                        if let Some(tcp) = tcp {
                            if tcp.state.with(|s| s.connect_promise.is_some()) {
                                tcp.connect_done(&ch, Err(Error::Os(libc::ETIMEDOUT)));
                            }
                        }
                        Ok(None)
                    };
                    channel
                        .event_loop()
                        .schedule(after, Repeat::Once, timed_out)
                        .ok()
                });
                self.state.with(|s| {
                    s.connect_promise = Some(promise);
                    s.connect_timeout = timeout;
                    let new = s.interest | OP_CONNECT;
                    apply_interest(&self.key, &mut s.interest, new);
                });
            }
            Err(e) => {
                promise.try_failure(Failure::new(e));
                // A connect the socket refused at once (already connected, a wrong address
                // family) leaves the channel as it was; one that failed closed the socket
                // (Java's rule), and so the channel (Netty's `closeIfClosed`).
                if !self.socket.is_open() {
                    channel.close_now(None);
                }
            }
        }
    }

    fn begin_read(&self, _: &Channel) {
        let connected = self.socket.is_connected();
        self.state.with(|s| {
            s.read_pending = true;
            if connected && !s.input_shutdown {
                let new = s.interest | OP_READ;
                apply_interest(&self.key, &mut s.interest, new);
            }
        });
    }

    fn auto_read_cleared(&self, _: &Channel) {
        self.state.with(|s| {
            s.read_pending = false;
            let new = s.interest & !OP_READ;
            apply_interest(&self.key, &mut s.interest, new);
        });
    }

    fn check_message(&self, msg: &Message) -> Result<()> {
        match msg {
            Message::Buffer(_) => Ok(()),
            Message::User(_) => Err(ErrorKind::InvalidArgument.into()),
        }
    }

    fn flush(&self, channel: &Channel) {
        // Waiting for writability already: that event writes.
        if self.state.with(|s| s.interest & OP_WRITE != 0) {
            return;
        }
        self.write_out(channel);
    }

    fn close_transport(&self, _: &Channel) {
        let (promise, timeout) = self
            .state
            .with(|s| (s.connect_promise.take(), s.connect_timeout.take()));
        if let Some(timeout) = timeout {
            timeout.cancel();
        }
        if let Some(p) = promise {
            p.try_failure(Failure::new(ErrorKind::Closed.into()));
        }
        self.socket.close();
    }

    fn shutdown_input(&self, _: &Channel) -> Result<()> {
        self.socket.shutdown_input()?;
        self.state.with(|s| {
            s.input_shutdown = true;
            let new = s.interest & !OP_READ;
            apply_interest(&self.key, &mut s.interest, new);
        });
        Ok(())
    }

    fn shutdown_output(&self, _: &Channel) -> Result<()> {
        self.socket.shutdown_output()
    }

    fn local_address(&self) -> Option<ChannelAddress> {
        self.socket
            .local_address()
            .ok()
            .flatten()
            .map(ChannelAddress::Inet)
    }

    fn remote_address(&self) -> Option<ChannelAddress> {
        self.socket
            .remote_address()
            .ok()
            .flatten()
            .map(ChannelAddress::Inet)
    }

    fn set_socket_option(&self, opt: SocketOption, value: i64) -> Result<()> {
        self.socket.set_option(opt, value)
    }

    fn socket_option(&self, opt: SocketOption) -> Result<i64> {
        self.socket.get_option(opt)
    }

    fn io_ready(&self, channel: &Channel, ops: u32) {
        if ops & OP_CONNECT != 0 && self.state.with(|s| s.connect_promise.is_some()) {
            self.finish_connect(channel);
        }
        if ops & OP_WRITE != 0 && channel.is_open() {
            self.write_out(channel);
        }
        if ops & OP_READ != 0 && channel.is_open() {
            self.read_batch(channel);
        }
    }

    /// The loop shuts down: the flushed writes go out as the socket takes them until the
    /// shutdown's deadline, then the channel closes (what is left fails as closed). Channels
    /// of one loop are closed one after the other, so a stalled one uses the deadline up.
    fn loop_closing(&self, channel: &Channel) {
        let deadline = channel.event_loop().shutdown_deadline();
        while channel.is_open() {
            self.write_out(channel);
            if !channel.inner.outbound.with(|b| b.flushed > 0) {
                break;
            }
            match deadline {
                Some(d) if std::time::Instant::now() < d => {
                    if !matches!(self.socket.wait_writable(d), Ok(true)) {
                        break;
                    }
                }
                _ => break,
            }
        }
        channel.close_now(None);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Constructors of TCP listener channels (the pipeline's `NioServerSocketChannel`). An
/// accepted connection is fired as a read: a [`Message::User`] holding its new, unregistered
/// [`Channel`] (on the next loop of the child group, or the server's loop), which the
/// [`ServerBootstrap`](super::ServerBootstrap) sets up and registers. One that reaches the
/// tail is closed.
#[derive(Debug)]
pub struct TcpServerChannel;

impl TcpServerChannel {
    /// A new, unregistered, unbound TCP server channel on `event_loop`; accepted channels go
    /// to `child_group`'s loops (round-robin), or to `event_loop` without one. Register it,
    /// then bind; one never registered must be closed.
    ///
    /// # Errors
    /// OS errors such as `EMFILE`.
    pub fn open(event_loop: &EventLoop, child_group: Option<EventLoopGroup>) -> Result<Channel> {
        let server = ServerSocketChannel::open()?;
        server.configure_blocking(false)?;
        Ok(Channel::new(
            event_loop.clone(),
            None,
            Box::new(TcpServerTransport {
                server,
                key: OnceLock::new(),
                state: LoopCell::new(ServerState::default()),
                child_group,
            }),
        ))
    }
}

#[derive(Default)]
struct ServerState {
    interest: u32,
    read_pending: bool,
}

struct TcpServerTransport {
    server: ServerSocketChannel,
    key: OnceLock<SelectionKey>,
    state: LoopCell<ServerState>,
    child_group: Option<EventLoopGroup>,
}

impl TcpServerTransport {
    fn set_accepting(&self, on: bool) {
        self.state.with(|s| {
            let new = if on {
                s.interest | OP_ACCEPT
            } else {
                s.interest & !OP_ACCEPT
            };
            apply_interest(&self.key, &mut s.interest, new);
        });
    }

    /// An accept batch: at most 16 connections, each fired as a read, then a read complete.
    /// A loop that shuts down accepts no more.
    fn accept_batch(&self, channel: &Channel) {
        if channel.event_loop().is_shutting_down() {
            return self.set_accepting(false);
        }
        let auto_read = channel.is_auto_read();
        let go = self
            .state
            .with(|s| std::mem::replace(&mut s.read_pending, false))
            || auto_read;
        if !go {
            return self.set_accepting(false);
        }
        let pipeline = channel.pipeline();
        let mut accepted = 0;
        let mut error = None;
        while accepted < MAX_READS_PER_BATCH && channel.is_open() {
            match self.server.try_accept() {
                Ok(Some(socket)) => {
                    accepted += 1;
                    let child_loop = match &self.child_group {
                        Some(group) => group.next().clone(),
                        None => channel.event_loop().clone(),
                    };
                    let child = TcpChannel::with_socket(child_loop, Some(channel.clone()), socket);
                    pipeline.fire_channel_read(Message::User(Arc::new(child)));
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if accepted > 0 || error.is_some() {
            pipeline.fire_channel_read_complete();
        }
        if let Some(e) = error {
            pipeline.fire_exception_caught(Failure::new(e));
        }
        if !channel.is_auto_read() && !self.state.with(|s| s.read_pending) {
            self.set_accepting(false);
        }
    }
}

impl Transport for TcpServerTransport {
    fn kind(&self) -> ChannelKind {
        ChannelKind::TcpServer
    }

    fn register(&self, channel: &Channel) -> Result<()> {
        register_socket(channel, self.server.clone().into(), &self.key)?;
        let interest = self.state.with(|s| s.interest);
        if let Some(key) = self.key.get() {
            key.set_interest_ops(interest)?;
        }
        Ok(())
    }

    fn is_active(&self) -> bool {
        self.server.is_open() && matches!(self.server.local_address(), Ok(Some(_)))
    }

    fn bind(&self, channel: &Channel, local: ChannelAddress) -> Result<()> {
        let addr = local
            .inet()
            .ok_or(Error::Kind(ErrorKind::InvalidArgument))?;
        let backlog = channel
            .inner
            .config
            .backlog
            .load(std::sync::atomic::Ordering::Acquire);
        self.server.bind(addr, backlog)
    }

    fn connect(&self, _: &Channel, _: ChannelAddress, _: Option<ChannelAddress>, p: Promise) {
        p.try_failure(Failure::new(ErrorKind::InvalidArgument.into()));
    }

    fn begin_read(&self, _: &Channel) {
        let bound = self.is_active();
        self.state.with(|s| {
            s.read_pending = true;
            if bound {
                let new = s.interest | OP_ACCEPT;
                apply_interest(&self.key, &mut s.interest, new);
            }
        });
    }

    fn auto_read_cleared(&self, _: &Channel) {
        self.state.with(|s| s.read_pending = false);
        self.set_accepting(false);
    }

    fn check_message(&self, _: &Message) -> Result<()> {
        Err(ErrorKind::InvalidArgument.into())
    }

    fn flush(&self, _: &Channel) {}

    fn close_transport(&self, _: &Channel) {
        self.server.close();
    }

    fn local_address(&self) -> Option<ChannelAddress> {
        self.server
            .local_address()
            .ok()
            .flatten()
            .map(ChannelAddress::Inet)
    }

    fn remote_address(&self) -> Option<ChannelAddress> {
        None
    }

    fn set_socket_option(&self, opt: SocketOption, value: i64) -> Result<()> {
        self.server.set_option(opt, value)
    }

    fn socket_option(&self, opt: SocketOption) -> Result<i64> {
        self.server.get_option(opt)
    }

    fn io_ready(&self, channel: &Channel, ops: u32) {
        if ops & OP_ACCEPT != 0 && channel.is_open() {
            self.accept_batch(channel);
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
