//! In-memory channels: [`LocalChannel`] and [`LocalServerChannel`] (Netty's local
//! transport), bound to names in a process-wide registry.
//!
//! Any message may cross. A flushed message moves into the peer's inbound queue and is read
//! on a later turn of the peer's loop, in batches of at most 16 ending with one read
//! complete. Unlike Netty's local transport, ours has backpressure: a peer queues at most
//! [`LOCAL_PEER_QUEUE`] bytes (each message counted with the per-entry overhead); beyond
//! that, writes wait in the writer's outbound buffer (counting towards its water marks)
//! until the peer's reads drain its queue. A write's promise completes when the message
//! enters the peer's queue. Closing one side closes the other once it has read what was
//! queued for it. A server's auto-read gates accepting, as on TCP: with it off, new
//! connections wait in the server's accept queue (their clients are connected already, as
//! in a TCP listen backlog, and may write) until a `read()` lets a batch of at most 16
//! through; turning auto-read on issues that `read()`. A loop's shutdown closes the local channels registered on it (each loop
//! with local channels keeps one descriptor for that, registered with its backend).

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::cell::LoopCell;
use super::channel::{Channel, ChannelInner, ChannelKind, Transport};
use super::message::{ChannelAddress, Message};
use super::outbound_buffer::ENTRY_OVERHEAD;
use crate::channel::FdChannel;
use crate::event_loop::{
    EventLoop, EventLoopGroup, Failure, IoEvent, IoHandle, Promise, WeakEventLoop,
};
use crate::selector::SelectionKey;
use crate::sync::lock;
use crate::{Error, ErrorKind, Result};

/// The most bytes a local channel's peer queues for it before writes wait (128 KiB).
pub const LOCAL_PEER_QUEUE: usize = 128 * 1024;

/// The most messages one read batch delivers.
const MAX_READS_PER_BATCH: usize = 16;

/// Bound local server channels by name.
static REGISTRY: Mutex<Option<HashMap<Arc<str>, Channel>>> = Mutex::new(None);

static EPHEMERAL: AtomicUsize = AtomicUsize::new(1);

/// What a loop's shutdown closes of the local channels: the ones registered on that loop.
/// One per loop that has had local channels, registered with the loop's backend over a
/// descriptor that is never ready, so that the shutdown's close reaches it (local channels
/// have no descriptor of their own).
struct LocalAnchor {
    event_loop: WeakEventLoop,
    channels: Mutex<Vec<Weak<ChannelInner>>>,
    key: OnceLock<SelectionKey>,
    _fd: OwnedFd,
}

/// The anchors of the loops that have local channels.
static ANCHORS: Mutex<Vec<Arc<LocalAnchor>>> = Mutex::new(Vec::new());

impl LocalAnchor {
    /// Tracks `channel` (registering on its loop) so that the loop's shutdown closes it.
    fn track(channel: &Channel) -> Result<()> {
        let event_loop = channel.event_loop();
        let mut anchors = lock(&ANCHORS);
        anchors.retain(|a| a.event_loop.upgrade().is_some_and(|l| !l.is_terminated()));
        let found = anchors
            .iter()
            .find(|a| a.event_loop.upgrade().is_some_and(|l| l.same(event_loop)))
            .cloned();
        let anchor = match found {
            Some(anchor) => anchor,
            None => {
                let fd = crate::sys::fd::never_ready()?;
                let raw = FdChannel::new(fd.as_raw_fd())?;
                let anchor = event_loop.register_io(raw.into(), 0, |key| {
                    let anchor = Arc::new(LocalAnchor {
                        event_loop: event_loop.downgrade(),
                        channels: Mutex::new(Vec::new()),
                        key: OnceLock::new(),
                        _fd: fd,
                    });
                    let _ = anchor.key.set(key);
                    anchor
                })?;
                anchors.push(anchor.clone());
                anchor
            }
        };
        let mut channels = lock(&anchor.channels);
        channels.retain(|c| c.upgrade().is_some_and(|c| Channel { inner: c }.is_open()));
        channels.push(Arc::downgrade(&channel.inner));
        Ok(())
    }

    fn forget(self: &Arc<Self>) {
        lock(&ANCHORS).retain(|a| !Arc::ptr_eq(a, self));
        if let Some(key) = self.key.get() {
            key.cancel_now();
        }
    }
}

impl IoHandle for LocalAnchor {
    fn handle(self: Arc<Self>, _: &EventLoop, _: &SelectionKey, _: IoEvent) {}

    /// The loop shuts down: its local channels close.
    fn close(self: Arc<Self>, _: &EventLoop) {
        let channels = std::mem::take(&mut *lock(&self.channels));
        for channel in channels.iter().filter_map(Weak::upgrade) {
            Channel { inner: channel }.close_now(None);
        }
        self.forget();
    }

    fn deregistered(self: Arc<Self>) {
        self.forget();
    }
}

/// The local transport of `channel`.
fn local_of(channel: &Channel) -> Option<&LocalTransport> {
    channel
        .inner
        .transport
        .as_any()
        .downcast_ref::<LocalTransport>()
}

/// Constructors of in-memory connection channels.
#[derive(Debug)]
pub struct LocalChannel;

impl LocalChannel {
    /// A new, unregistered, unconnected local channel on `event_loop`. Register it, then
    /// connect to a [`LocalServerChannel`]'s name; one never registered must be closed.
    pub fn open(event_loop: &EventLoop) -> Channel {
        Channel::new(
            event_loop.clone(),
            None,
            Box::new(LocalTransport::new(None)),
        )
    }
}

/// Constructors of in-memory listener channels.
#[derive(Debug)]
pub struct LocalServerChannel;

impl LocalServerChannel {
    /// A new, unregistered, unbound local server channel on `event_loop`; accepted channels
    /// go to `child_group`'s loops (round-robin), or to `event_loop` without one. An accepted
    /// connection is fired as a read of its new, unregistered [`Channel`], as a
    /// [`TcpServerChannel`](super::TcpServerChannel) does.
    pub fn open(event_loop: &EventLoop, child_group: Option<EventLoopGroup>) -> Channel {
        Channel::new(
            event_loop.clone(),
            None,
            Box::new(LocalServerTransport {
                name: Mutex::new(None),
                child_group,
                accept: Mutex::new(AcceptState::default()),
            }),
        )
    }
}

/// A local channel's own name and its peer's.
#[derive(Clone, Default)]
struct Names {
    local: Option<Arc<str>>,
    remote: Option<Arc<str>>,
}

#[derive(Default)]
struct LocalState {
    read_pending: bool,
}

struct LocalTransport {
    peer: Mutex<Option<Channel>>,
    connected: AtomicBool,
    names: Mutex<Names>,
    /// Messages the peer delivered, and the bytes they count for.
    inbound: Mutex<VecDeque<(Message, usize)>>,
    inbound_bytes: AtomicUsize,
    /// A read task is queued on this channel's loop.
    read_scheduled: AtomicBool,
    /// This side's flush stopped at the peer's full queue: the peer's reads resume it.
    blocked: AtomicBool,
    /// The peer closed: close once the queue is read.
    peer_closed: AtomicBool,
    state: LoopCell<LocalState>,
}

impl LocalTransport {
    fn new(peer: Option<Channel>) -> LocalTransport {
        let connected = peer.is_some();
        LocalTransport {
            peer: Mutex::new(peer),
            connected: AtomicBool::new(connected),
            names: Mutex::new(Names::default()),
            inbound: Mutex::new(VecDeque::new()),
            inbound_bytes: AtomicUsize::new(0),
            read_scheduled: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            peer_closed: AtomicBool::new(false),
            state: LoopCell::new(LocalState::default()),
        }
    }

    /// Queues a read batch on the channel's loop (a later turn), unless one is queued.
    fn schedule_read(&self, channel: &Channel) {
        if self.read_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let ch = channel.clone();
        channel.run_later(move || {
            if let Some(local) = local_of(&ch) {
                local.read_batch(&ch);
            }
        });
    }

    fn read_batch(&self, channel: &Channel) {
        self.read_scheduled.store(false, Ordering::Release);
        // An accepted channel reads once it is registered and active (its activation asks
        // for the first read); what arrives before waits in the queue.
        if !channel.is_open() || !channel.is_active() {
            return;
        }
        let auto_read = channel.is_auto_read();
        let go = self
            .state
            .with(|s| std::mem::replace(&mut s.read_pending, false))
            || auto_read;
        let pipeline = channel.pipeline();
        let mut reads = 0;
        while go && reads < MAX_READS_PER_BATCH && channel.is_open() {
            let Some((msg, size)) = lock(&self.inbound).pop_front() else {
                break;
            };
            self.inbound_bytes.fetch_sub(size, Ordering::AcqRel);
            reads += 1;
            pipeline.fire_channel_read(msg);
        }
        if reads > 0 {
            pipeline.fire_channel_read_complete();
        } else if go && !auto_read {
            self.state.with(|s| s.read_pending = true); // nothing was there: still owed
        }
        self.resume_writer();
        let left = !lock(&self.inbound).is_empty();
        if left
            && channel.is_open()
            && (channel.is_auto_read() || self.state.with(|s| s.read_pending))
        {
            self.schedule_read(channel);
        }
        if !left && self.peer_closed.load(Ordering::Acquire) && channel.is_open() {
            channel.close_now(None);
        }
    }

    /// The queue drained below its bound: the writer blocked on it flushes again (on its
    /// loop).
    fn resume_writer(&self) {
        if self.inbound_bytes.load(Ordering::Acquire) >= LOCAL_PEER_QUEUE {
            return;
        }
        let Some(peer) = lock(&self.peer).clone() else {
            return;
        };
        if let Some(writer) = local_of(&peer) {
            if writer.blocked.swap(false, Ordering::AcqRel) {
                let ch = peer.clone();
                peer.run_later(move || ch.inner.transport.flush(&ch));
            }
        }
    }

    /// Takes `msg` into this channel's queue (the peer wrote it).
    fn deliver(&self, msg: Message, size: usize) {
        lock(&self.inbound).push_back((msg, size));
        self.inbound_bytes.fetch_add(size, Ordering::AcqRel);
    }
}

impl Transport for LocalTransport {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Local
    }

    fn register(&self, channel: &Channel) -> Result<()> {
        LocalAnchor::track(channel)
    }

    fn is_active(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn bind(&self, _: &Channel, local: ChannelAddress) -> Result<()> {
        let ChannelAddress::Local(name) = local else {
            return Err(ErrorKind::InvalidArgument.into());
        };
        lock(&self.names).local = Some(name);
        Ok(())
    }

    fn connect(
        &self,
        channel: &Channel,
        remote: ChannelAddress,
        _local: Option<ChannelAddress>,
        promise: Promise,
    ) {
        let ChannelAddress::Local(name) = remote else {
            promise.try_failure(Failure::new(ErrorKind::InvalidArgument.into()));
            return;
        };
        if self.connected.load(Ordering::Acquire) {
            promise.try_failure(Failure::new(ErrorKind::AlreadyConnected.into()));
            return;
        }
        let server = lock(&REGISTRY).as_ref().and_then(|r| r.get(&name).cloned());
        let Some(server) = server.filter(Channel::is_active) else {
            promise.try_failure(Failure::new(Error::Os(libc::ECONNREFUSED)));
            channel.close_now(None);
            return;
        };
        let child_loop = server
            .inner
            .transport
            .as_any()
            .downcast_ref::<LocalServerTransport>()
            .and_then(|s| s.child_group.as_ref().map(|g| g.next().clone()))
            .unwrap_or_else(|| server.event_loop().clone());
        let own_name: Arc<str> = {
            let mut names = lock(&self.names);
            let own = names.local.clone().unwrap_or_else(|| {
                Arc::from(format!(
                    "local:E{}",
                    EPHEMERAL.fetch_add(1, Ordering::Relaxed)
                ))
            });
            *names = Names {
                local: Some(own.clone()),
                remote: Some(name.clone()),
            };
            own
        };
        let child_transport = LocalTransport::new(Some(channel.clone()));
        *lock(&child_transport.names) = Names {
            local: Some(name),
            remote: Some(own_name),
        };
        let child = Channel::new(child_loop, Some(server.clone()), Box::new(child_transport));
        *lock(&self.peer) = Some(child.clone());
        self.connected.store(true, Ordering::Release);
        let srv = server.clone();
        let accepted = child.clone();
        let deliver = move || LocalServerTransport::offer(&srv, accepted);
        let delivered = if let Some(_inline) = server.inline() {
            deliver();
            true
        } else {
            server.event_loop().execute(move |_| deliver()).is_ok()
        };
        if !delivered {
            // The server's loop is shutting down: refused. Nobody else has the new channel
            // yet, so it is closed here.
            *lock(&self.peer) = None;
            self.connected.store(false, Ordering::Release);
            child.close_now(None);
            promise.try_failure(Failure::new(Error::Os(libc::ECONNREFUSED)));
            channel.close_now(None);
            return;
        }
        channel.mark_active();
        promise.try_success(None);
        channel.become_active();
    }

    fn begin_read(&self, channel: &Channel) {
        self.state.with(|s| s.read_pending = true);
        // A peer that closed before this channel became active (an accepted channel whose
        // client closed while it waited to be registered) is noticed here: its read task
        // found the channel not active yet and did nothing.
        if !lock(&self.inbound).is_empty() || self.peer_closed.load(Ordering::Acquire) {
            self.schedule_read(channel);
        }
    }

    /// Drops the read that auto-read asked for and nothing served yet, as a TCP channel
    /// does: from now on only an explicit `read()` lets messages through (a batch already
    /// queued finds nothing owed and delivers nothing).
    fn auto_read_cleared(&self, _: &Channel) {
        self.state.with(|s| s.read_pending = false);
    }

    fn flush(&self, channel: &Channel) {
        let Some(peer) = lock(&self.peer).clone() else {
            return; // closed: its close failed what was queued
        };
        let Some(target) = local_of(&peer) else {
            return;
        };
        if !peer.is_open() {
            channel.fail_outbound(ErrorKind::Closed.into(), true);
            return;
        }
        let mut moved = false;
        loop {
            let entry = channel.inner.outbound.with(|b| {
                if target.inbound_bytes.load(Ordering::Acquire) >= LOCAL_PEER_QUEUE {
                    return None;
                }
                b.pop_flushed()
            });
            let Some(entry) = entry else {
                break;
            };
            let size = entry.msg.byte_size() + ENTRY_OVERHEAD;
            target.deliver(entry.msg, size);
            channel.complete_write(entry.counted, entry.promise);
            moved = true;
        }
        if channel.inner.outbound.with(|b| b.flushed > 0) {
            self.blocked.store(true, Ordering::Release);
            // The peer may have drained meanwhile: look once more from its side.
            target.resume_writer();
        }
        if moved {
            target.schedule_read(&peer);
        }
    }

    fn close_transport(&self, _: &Channel) {
        self.connected.store(false, Ordering::Release);
        let Some(peer) = lock(&self.peer).take() else {
            return;
        };
        if let Some(target) = local_of(&peer) {
            target.peer_closed.store(true, Ordering::Release);
            target.schedule_read(&peer);
        }
    }

    fn local_address(&self) -> Option<ChannelAddress> {
        lock(&self.names).local.clone().map(ChannelAddress::Local)
    }

    fn remote_address(&self) -> Option<ChannelAddress> {
        lock(&self.names).remote.clone().map(ChannelAddress::Local)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A bound name, where accepted channels go, and the connections waiting to be accepted.
struct LocalServerTransport {
    name: Mutex<Option<Arc<str>>>,
    child_group: Option<EventLoopGroup>,
    accept: Mutex<AcceptState>,
}

/// A local server's accept queue (its listen backlog): connections wait here while
/// auto-read is off and no `read()` asked for them.
#[derive(Default)]
struct AcceptState {
    waiting: VecDeque<Channel>,
    /// A `read()` allows one batch (calls before it is served coalesce).
    read_pending: bool,
    /// A batch is queued on the server's loop.
    batch_scheduled: bool,
}

/// The local server transport of `channel`.
fn server_of(channel: &Channel) -> Option<&LocalServerTransport> {
    channel
        .inner
        .transport
        .as_any()
        .downcast_ref::<LocalServerTransport>()
}

impl LocalServerTransport {
    /// A new connection reached the server (on its loop): it waits in the accept queue,
    /// which is served at once unless auto-read is off and no read is pending.
    fn offer(server: &Channel, accepted: Channel) {
        let Some(transport) = server_of(server).filter(|_| server.is_open()) else {
            accepted.close();
            return;
        };
        lock(&transport.accept).waiting.push_back(accepted);
        transport.accept_batch(server);
    }

    /// An accept batch: at most 16 waiting connections, each fired as a read of its
    /// channel, then one read complete; with auto-read off only if a read is pending (it is
    /// used up). What is left waits for the next batch (queued at once with auto-read on or
    /// a read pending).
    fn accept_batch(&self, channel: &Channel) {
        let batch: Vec<Channel> = {
            let mut accept = lock(&self.accept);
            accept.batch_scheduled = false;
            if accept.waiting.is_empty() {
                return;
            }
            if !channel.is_auto_read() && !std::mem::replace(&mut accept.read_pending, false) {
                return;
            }
            let n = accept.waiting.len().min(MAX_READS_PER_BATCH);
            accept.waiting.drain(..n).collect()
        };
        let pipeline = channel.pipeline();
        for child in batch {
            if channel.is_open() {
                pipeline.fire_channel_read(Message::User(Arc::new(child)));
            } else {
                child.close();
            }
        }
        pipeline.fire_channel_read_complete();
        let more = {
            let accept = lock(&self.accept);
            !accept.waiting.is_empty() && (channel.is_auto_read() || accept.read_pending)
        };
        if more {
            self.schedule_batch(channel);
        }
    }

    /// Queues an accept batch on the server's loop (a later turn), unless one is queued.
    fn schedule_batch(&self, channel: &Channel) {
        if std::mem::replace(&mut lock(&self.accept).batch_scheduled, true) {
            return;
        }
        let ch = channel.clone();
        channel.run_later(move || {
            if let Some(server) = server_of(&ch) {
                server.accept_batch(&ch);
            }
        });
    }
}

impl Transport for LocalServerTransport {
    fn kind(&self) -> ChannelKind {
        ChannelKind::LocalServer
    }

    fn register(&self, channel: &Channel) -> Result<()> {
        LocalAnchor::track(channel)
    }

    fn is_active(&self) -> bool {
        lock(&self.name).is_some()
    }

    /// Binds `local`'s name in the registry.
    ///
    /// # Errors
    /// `EADDRINUSE` (the name is bound), `AlreadyBound`, `InvalidArgument` (not a local
    /// address).
    fn bind(&self, channel: &Channel, local: ChannelAddress) -> Result<()> {
        let ChannelAddress::Local(name) = local else {
            return Err(ErrorKind::InvalidArgument.into());
        };
        let mut own = lock(&self.name);
        if own.is_some() {
            return Err(ErrorKind::AlreadyBound.into());
        }
        let mut registry = lock(&REGISTRY);
        let registry = registry.get_or_insert_with(HashMap::new);
        if registry.contains_key(&name) {
            return Err(Error::Os(libc::EADDRINUSE));
        }
        registry.insert(name.clone(), channel.clone());
        *own = Some(name);
        Ok(())
    }

    fn connect(&self, _: &Channel, _: ChannelAddress, _: Option<ChannelAddress>, p: Promise) {
        p.try_failure(Failure::new(ErrorKind::InvalidArgument.into()));
    }

    /// Allows one accept batch: served on a later turn if connections wait, else by the
    /// next one that arrives.
    fn begin_read(&self, channel: &Channel) {
        let waiting = {
            let mut accept = lock(&self.accept);
            accept.read_pending = true;
            !accept.waiting.is_empty()
        };
        if waiting {
            self.schedule_batch(channel);
        }
    }

    fn auto_read_cleared(&self, _: &Channel) {
        lock(&self.accept).read_pending = false;
    }

    fn check_message(&self, _: &Message) -> Result<()> {
        Err(ErrorKind::InvalidArgument.into())
    }

    fn flush(&self, _: &Channel) {}

    /// Leaves the registry (the name may be bound again at once) and closes the connections
    /// that were never accepted (their peers see the close).
    fn close_transport(&self, _: &Channel) {
        if let Some(name) = lock(&self.name).take() {
            if let Some(registry) = lock(&REGISTRY).as_mut() {
                registry.remove(&name);
            }
        }
        let waiting = std::mem::take(&mut lock(&self.accept).waiting);
        for child in waiting {
            child.close();
        }
    }

    fn local_address(&self) -> Option<ChannelAddress> {
        lock(&self.name).clone().map(ChannelAddress::Local)
    }

    fn remote_address(&self) -> Option<ChannelAddress> {
        None
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
