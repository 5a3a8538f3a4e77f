//! Java NIO's `Selector` and `SelectionKey`, over an edge-triggered epoll backend.
//!
//! Register non-blocking channels with interest ops and an attachment, [`Selector::select`],
//! walk the selected keys, and do the I/O yourself. The semantics are Java's:
//!
//! - Interest changes and cancellations take effect at the next select; a channel closed
//!   while registered is cancelled at once.
//! - Each select replaces the selected-key set and returns its size.
//! - Readiness is level-triggered by default: a key stays selected while its channel is
//!   ready for one of its interest ops. [`SelectionKey::set_edge_triggered`] asks for edges.
//! - [`Selector::wakeup`] makes a blocked select, or the next one, return at once.
//! - Error and hang-up readiness report every interest op; a refused connect shows up as
//!   `OP_CONNECT` and `finish_connect` then fails with the error.
//!
//! # Implementation notes
//!
//! Every channel is registered once with epoll, edge-triggered, for read and write readiness;
//! interest sets are applied in user space, so changing interest costs no system call. Edges
//! fill each channel's readiness cache and the channel's own reads and writes empty it when
//! they see would-block (or a short read). A select reports a key when its cached readiness
//! meets its interest; keys reported last time are looked at again, so readiness nobody
//! consumed is reported again (level-triggered) without an `epoll_ctl` per event. A
//! steady echo therefore costs one `epoll_wait` per select plus its reads and writes; see
//! [`Selector::counters`].
//!
//! # Differences from Java
//!
//! A channel is registered with at most one selector at a time
//! ([`ErrorKind::RegisteredElsewhere`]). No user code runs inside select.
//!
//! # Examples
//!
//! ```
//! use nioxide_core::channel::{ServerSocketChannel, SocketChannel};
//! use nioxide_core::selector::{Selector, OP_ACCEPT};
//! use std::time::Duration;
//!
//! let selector = Selector::open().unwrap();
//! let server = ServerSocketChannel::open().unwrap();
//! server.bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
//! server.configure_blocking(false).unwrap();
//! let key = selector.register(server.clone(), OP_ACCEPT, &mut None).unwrap();
//! let client = SocketChannel::open().unwrap();
//! client.connect(server.local_address().unwrap().unwrap()).unwrap();
//! assert_eq!(selector.select(Some(Duration::from_secs(5))).unwrap(), 1);
//! assert!(key.is_acceptable().unwrap());
//! assert!(server.accept().unwrap().is_some());
//! ```

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use mio::Events;

use crate::channel::{Channel, ChannelCore};
use crate::event_loop::IoHandle;
use crate::sync::lock;
use crate::sys::backend::{self, Backend, Counters, Readiness, WAKER_TOKEN};
use crate::sys::{fork, wait};
use crate::{ErrorKind, Result};

/// Interest in reading (Java's `OP_READ`).
pub const OP_READ: u32 = 1 << 0;
/// Interest in writing (Java's `OP_WRITE`).
pub const OP_WRITE: u32 = 1 << 2;
/// Interest in connect completion (Java's `OP_CONNECT`).
pub const OP_CONNECT: u32 = 1 << 3;
/// Interest in accepting (Java's `OP_ACCEPT`).
pub const OP_ACCEPT: u32 = 1 << 4;

/// What a key carries for its user: any value, owned by the key until replaced or the key is
/// cancelled (then dropped on the cancelling thread).
pub type Attachment = Box<dyn Any + Send + Sync>;

/// A multiplexor of channels (Java's `Selector`). Cloning gives another handle to the same
/// selector. Thread-safe: one thread selects at a time (others wait their turn); register,
/// interest changes, cancel, close and wakeup work from any thread, also during a select.
#[derive(Clone, Debug)]
pub struct Selector {
    inner: Arc<SelectorInner>,
}

/// A channel's registration with a selector (Java's `SelectionKey`). Cloning gives another
/// handle to the same key. Thread-safe.
#[derive(Clone, Debug)]
pub struct SelectionKey {
    inner: Arc<KeyInner>,
}

/// A weak reference to a [`SelectionKey`]: it does not keep the key alive. Binding layers
/// keep one inside the object they store with [`SelectionKey::set_binding`], which would
/// otherwise make a cycle.
#[derive(Clone, Debug)]
pub struct WeakSelectionKey {
    inner: Weak<KeyInner>,
}

impl From<Arc<KeyInner>> for SelectionKey {
    fn from(inner: Arc<KeyInner>) -> SelectionKey {
        SelectionKey { inner }
    }
}

impl WeakSelectionKey {
    /// The weak reference to the key's allocation.
    pub fn as_weak(&self) -> &Weak<KeyInner> {
        &self.inner
    }

    /// The key, unless the selector has forgotten it (the select after its cancellation,
    /// or selector close) and every other handle to it is gone.
    pub fn upgrade(&self) -> Option<SelectionKey> {
        self.inner.upgrade().map(|inner| SelectionKey { inner })
    }
}

struct SelectorInner {
    backend: Backend,
    state: Mutex<State>,
    /// The select in progress, with its event buffer (one select at a time).
    select: Mutex<SelectScratch>,
    selected: Mutex<Vec<SelectionKey>>,
    wakeup_pending: AtomicBool,
    closed: AtomicBool,
    generation: u64,
    binding: crate::channel::Binding,
}

struct SelectScratch {
    events: Events,
    candidates: Vec<Arc<KeyInner>>,
    requeue: Vec<Arc<KeyInner>>,
    rearm: Vec<Arc<KeyInner>>,
    selected: Vec<SelectionKey>,
}

#[derive(Default)]
struct State {
    keys: Vec<Option<Arc<KeyInner>>>,
    free: Vec<usize>,
    cancelled: Vec<Arc<KeyInner>>,
    /// Keys to look at in the next select: edges arrived, interest changed, or selected last time.
    candidates: Vec<Arc<KeyInner>>,
    /// Raw-descriptor keys reported last time, to re-arm before the next wait.
    rearm: Vec<Arc<KeyInner>>,
}

/// What a [`SelectionKey`] shares with its clones: the key's own allocation. Opaque; a binding
/// layer that names keys by their allocation keeps a `Weak<KeyInner>`
/// ([`WeakSelectionKey::as_weak`]) and turns an upgraded one back into a key with `From`.
pub struct KeyInner {
    selector: Weak<SelectorInner>,
    /// The channel's allocation (its kind says which channel it is: `Channel::of_core`).
    channel: Arc<ChannelCore>,
    /// The key's index in `State::keys` and its epoll token. A key holds a descriptor, so
    /// there are fewer keys than descriptor numbers (an `int`).
    token: u32,
    interest: AtomicU32,
    ready: AtomicU32,
    valid: AtomicBool,
    edge: AtomicBool,
    /// Edge-triggered keys: readiness bits that arrived since the key was last reported.
    edge_bits: AtomicU32,
    /// Edge-triggered keys: the interest changed, so the cached readiness counts as new.
    rearm: AtomicBool,
    /// Whether the key sits in `State::candidates`.
    queued: AtomicBool,
    deregistered: AtomicBool,
    held: Mutex<Option<Held>>,
    binding: crate::channel::Binding,
}

/// What a key holds for whoever registered it: a Selector user's attachment, or the I/O
/// handle an event loop serves through the key. Taken out when the key is cancelled.
enum Held {
    Attachment(Attachment),
    Io(Arc<dyn IoHandle>),
}

impl Held {
    /// Lets go of what a cancelled key held, on this thread, outside every lock of the
    /// selector: an attachment is dropped, an I/O handle is told its registration ended.
    fn release(held: Option<Held>) {
        if let Some(Held::Io(handle)) = held {
            handle.deregistered();
        }
    }
}

impl std::fmt::Debug for SelectorInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selector")
            .field("fd", &self.backend.fd())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for KeyInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectionKey")
            .field("token", &self.token)
            .field("interest", &self.interest.load(Ordering::Relaxed))
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .field("valid", &self.valid.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn queue(state: &mut State, key: &Arc<KeyInner>) {
    if !key.queued.swap(true, Ordering::AcqRel) {
        state.candidates.push(key.clone());
    }
}

impl Selector {
    /// Opens a selector (an epoll instance, close-on-exec, and its waker).
    ///
    /// # Errors
    /// OS errors such as `EMFILE`.
    pub fn open() -> Result<Selector> {
        let generation = fork::generation();
        Ok(Selector {
            inner: Arc::new(SelectorInner {
                backend: Backend::new()?,
                state: Mutex::new(State::default()),
                select: Mutex::new(SelectScratch {
                    events: Events::with_capacity(1024),
                    candidates: Vec::new(),
                    requeue: Vec::new(),
                    rearm: Vec::new(),
                    selected: Vec::new(),
                }),
                selected: Mutex::new(Vec::new()),
                wakeup_pending: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                generation,
                binding: Default::default(),
            }),
        })
    }

    /// Fails like every call on the selector would: `Forked` in a forked child, `Closed`
    /// once closed. For binding layers whose own accessors (the descriptor, the counters)
    /// must refuse a closed selector too.
    pub fn check(&self) -> Result<()> {
        fork::check(self.inner.generation)?;
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(ErrorKind::Closed.into());
        }
        Ok(())
    }

    /// Registers `channel` for `ops` with an attachment, or — if it is already registered
    /// here — updates the key's interest and replaces its attachment (the old one is dropped).
    /// On success the attachment is taken out of `attachment`; on error it stays there.
    ///
    /// # Errors
    /// `Closed` (selector or channel), `IllegalBlockingMode` (channel in blocking mode),
    /// `UnsupportedOps` (ops the channel does not support), `RegisteredElsewhere`,
    /// `CancelledKey` (re-registering a key cancelled since the last select), OS errors.
    pub fn register(
        &self,
        channel: impl Into<Channel>,
        ops: u32,
        attachment: &mut Option<Attachment>,
    ) -> Result<SelectionKey> {
        self.register_key(channel.into(), ops, attachment, true)
    }

    /// [`register`](Self::register) for a channel that must not have a key yet (the event
    /// loop's watches): `RegisteredElsewhere` if it has one here too, decided under the
    /// channel's registration lock.
    pub(crate) fn register_new(
        &self,
        channel: Channel,
        ops: u32,
        attachment: &mut Option<Attachment>,
    ) -> Result<SelectionKey> {
        self.register_key(channel, ops, attachment, false)
    }

    fn register_key(
        &self,
        channel: Channel,
        ops: u32,
        attachment: &mut Option<Attachment>,
        update: bool,
    ) -> Result<SelectionKey> {
        self.check()?;
        let core = channel.core().clone();
        let call = core.enter()?;
        if ops & !channel.valid_ops() != 0 {
            return Err(ErrorKind::UnsupportedOps.into());
        }
        let mut reg = lock(&core.registration);
        if core.closing.load(Ordering::Acquire) {
            // A close took the registration before us; it will not see this key.
            return Err(ErrorKind::Closed.into());
        }
        if core.is_blocking() {
            return Err(ErrorKind::IllegalBlockingMode.into());
        }
        if let Some(key) = reg.as_ref() {
            if !update || !key.selector.ptr_eq(&Arc::downgrade(&self.inner)) {
                return Err(ErrorKind::RegisteredElsewhere.into());
            }
            if !key.valid.load(Ordering::Acquire) {
                return Err(ErrorKind::CancelledKey.into());
            }
            let key = SelectionKey { inner: key.clone() };
            drop(reg);
            // Checked again under the attachment's lock: a cancel that won meanwhile leaves
            // the caller its attachment (`CancelledKey`) instead of a cancelled key holding it.
            let old = key.replace_attachment(attachment)?;
            key.inner.interest.store(ops, Ordering::Release);
            // As `set_interest_ops`: an edge-triggered key looks at the cached readiness again.
            key.inner.rearm.store(true, Ordering::Release);
            self.queue_key(&key.inner);
            drop(old);
            return Ok(key);
        }
        let mut state = lock(&self.inner.state);
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(ErrorKind::Closed.into());
        }
        let token = state.free.pop().unwrap_or(state.keys.len());
        core.readiness.forget();
        if let Err(e) = self.inner.backend.register(call.fd(), token) {
            if token < state.keys.len() {
                state.free.push(token);
            }
            return Err(e);
        }
        let key = Arc::new(KeyInner {
            selector: Arc::downgrade(&self.inner),
            channel: Arc::clone(&core),
            token: token as u32,
            interest: AtomicU32::new(ops),
            ready: AtomicU32::new(0),
            valid: AtomicBool::new(true),
            edge: AtomicBool::new(false),
            edge_bits: AtomicU32::new(0),
            rearm: AtomicBool::new(false),
            queued: AtomicBool::new(false),
            deregistered: AtomicBool::new(false),
            held: Mutex::new(attachment.take().map(Held::Attachment)),
            binding: Default::default(),
        });
        if token == state.keys.len() {
            state.keys.push(Some(key.clone()));
        } else {
            state.keys[token] = Some(key.clone());
        }
        *reg = Some(key.clone());
        Ok(SelectionKey { inner: key })
    }

    fn queue_key(&self, key: &Arc<KeyInner>) {
        let mut state = lock(&self.inner.state);
        queue(&mut state, key);
    }

    /// Waits until at least one key is selected, `timeout` passes (`None` = forever), or
    /// [`wakeup`](Self::wakeup) / [`close`](Self::close) is called; replaces the selected-key
    /// set and returns its size. `EINTR` is retried with the remaining time (after the
    /// thread's interrupt hook, see [`wait::with_interrupt`]). No user code runs inside.
    ///
    /// # Errors
    /// `Closed`, `Forked`, the interrupt hook's error, OS errors.
    pub fn select(&self, timeout: Option<Duration>) -> Result<usize> {
        self.check()?;
        let inner = &*self.inner;
        let mut guard = lock(&inner.select);
        let scratch = &mut *guard;
        // A timeout too long for the clock is as good as forever.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            self.rearm(scratch);
            let (ready_now, backoff) = self.peek();
            let mut woken = inner.wakeup_pending.swap(false, Ordering::AcqRel);
            if inner.closed.load(Ordering::Acquire) {
                scratch.selected.clear();
                return self.publish(scratch);
            }
            let mut wait = if woken || ready_now {
                Some(Duration::ZERO)
            } else {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            };
            for cap in [backoff, wait::interrupt_slice()].into_iter().flatten() {
                wait = Some(wait.map_or(cap, |w| w.min(cap)));
            }
            match inner.backend.wait(&mut scratch.events, wait) {
                Ok(()) => {}
                Err(e) if e.is_os(libc::EINTR) => {
                    wait::check_interrupt()?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            woken |= self.apply_events(&scratch.events);
            self.collect(scratch);
            if woken {
                inner.wakeup_pending.store(false, Ordering::Release);
            }
            let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
            if !scratch.selected.is_empty()
                || woken
                || timed_out
                || inner.closed.load(Ordering::Acquire)
            {
                return self.publish(scratch);
            }
            wait::check_interrupt()?;
        }
    }

    /// Re-arms the raw-descriptor keys reported by the last select (one `epoll_ctl` each).
    fn rearm(&self, scratch: &mut SelectScratch) {
        std::mem::swap(&mut scratch.rearm, &mut lock(&self.inner.state).rearm);
        for key in scratch.rearm.drain(..) {
            if !key.valid.load(Ordering::Acquire) {
                continue;
            }
            if let Ok(call) = key.channel.enter() {
                let _ = self.inner.backend.reregister(call.fd(), key.token as usize);
            }
        }
    }

    /// How long a wait for this selector may block at most, from what epoll alone would not
    /// report: zero while a candidate is ready or a raw descriptor waits to be re-armed (its
    /// readiness was forgotten when it was reported), else the shortest accept back-off
    /// still running; `None` for no bound. For a host loop that polls the backend
    /// descriptor.
    pub(crate) fn wait_bound(&self) -> Option<Duration> {
        if !lock(&self.inner.state).rearm.is_empty() {
            return Some(Duration::ZERO);
        }
        match self.peek() {
            (true, _) => Some(Duration::ZERO),
            (false, backoff) => backoff,
        }
    }

    /// Appends the selected keys to `out` (reusing its allocation).
    pub(crate) fn selected_into(&self, out: &mut Vec<SelectionKey>) {
        out.extend(lock(&self.inner.selected).iter().cloned());
    }

    /// Fills readiness caches from `events` and queues their keys; whether the waker fired.
    fn apply_events(&self, events: &Events) -> bool {
        let mut woken = false;
        let mut state = lock(&self.inner.state);
        for event in events.iter() {
            if event.token() == WAKER_TOKEN {
                woken = true;
                continue;
            }
            let Some(Some(key)) = state.keys.get(event.token().0) else {
                continue;
            };
            let key = key.clone();
            let bits = key.channel.edge_bits(backend::event_bits(event));
            key.channel.readiness.set(bits);
            if key.edge.load(Ordering::Relaxed) {
                key.edge_bits.fetch_or(bits, Ordering::AcqRel);
            }
            queue(&mut state, &key);
        }
        woken
    }

    /// The ops `key` would be selected for now. With `consume`, an edge-triggered key's
    /// pending edges are used up.
    fn key_ready(key: &KeyInner, consume: bool) -> u32 {
        let core = &key.channel;
        let interest = key.interest.load(Ordering::Acquire);
        let flags = Readiness::flags(core.readiness.snapshot());
        if !key.edge.load(Ordering::Acquire) {
            return core.ready_ops(flags, interest);
        }
        let (mut bits, rearm) = if consume {
            (
                key.edge_bits.swap(0, Ordering::AcqRel),
                key.rearm.swap(false, Ordering::AcqRel),
            )
        } else {
            (
                key.edge_bits.load(Ordering::Acquire),
                key.rearm.load(Ordering::Acquire),
            )
        };
        if rearm {
            bits |= flags;
        }
        core.ready_ops(bits, interest)
    }

    /// Without changing anything: whether some candidate is ready now (so the wait must not
    /// block), and the shortest accept back-off still running.
    fn peek(&self) -> (bool, Option<Duration>) {
        let state = lock(&self.inner.state);
        let mut ready_now = false;
        let mut backoff: Option<Duration> = None;
        for key in &state.candidates {
            if !key.valid.load(Ordering::Acquire) {
                continue;
            }
            let mut ready = Self::key_ready(key, false);
            if ready & OP_ACCEPT != 0 {
                if let Some(left) = key.channel.accept_backoff_left() {
                    ready &= !OP_ACCEPT;
                    backoff = Some(backoff.map_or(left, |b| b.min(left)));
                }
            }
            ready_now |= ready != 0;
        }
        (ready_now, backoff)
    }

    /// Applies cancellations, then moves every ready candidate into `scratch.selected`
    /// (replacing it). Returns the shortest accept back-off still running, if any.
    fn collect(&self, scratch: &mut SelectScratch) {
        let inner = &*self.inner;
        let cancelled = {
            let mut state = lock(&inner.state);
            std::mem::swap(&mut scratch.candidates, &mut state.candidates);
            let cancelled = std::mem::take(&mut state.cancelled);
            for key in &cancelled {
                if let Some(slot) = state.keys.get_mut(key.token as usize) {
                    if slot.as_ref().is_some_and(|k| Arc::ptr_eq(k, key)) {
                        *slot = None;
                        state.free.push(key.token as usize);
                    }
                }
            }
            cancelled
        };
        for key in cancelled {
            key.deregister();
        }
        scratch.selected.clear();
        let requeue = &mut scratch.requeue;
        for key in scratch.candidates.drain(..) {
            key.queued.store(false, Ordering::Release);
            if !key.valid.load(Ordering::Acquire) {
                continue;
            }
            let mut ready = Self::key_ready(&key, true);
            if ready & OP_ACCEPT != 0 && key.channel.accept_backoff_left().is_some() {
                ready &= !OP_ACCEPT;
                // An edge-triggered key has used its edge up: it looks at the cached
                // readiness again once the back-off ends, so the pending connections are
                // reported then.
                key.rearm.store(true, Ordering::Release);
                requeue.push(key.clone());
            }
            if ready != 0 {
                key.ready.store(ready, Ordering::Release);
                let core = &key.channel;
                if core.is_raw() {
                    // nioxide cannot see a raw descriptor being drained: forget the readiness
                    // and re-arm before the next wait, so epoll reports it again if it lasts.
                    core.readiness.forget();
                    scratch.rearm.push(key.clone());
                } else if !key.edge.load(Ordering::Acquire) {
                    requeue.push(key.clone());
                }
                scratch.selected.push(SelectionKey { inner: key });
            }
        }
        if !requeue.is_empty() || !scratch.rearm.is_empty() {
            let mut state = lock(&inner.state);
            for key in requeue.drain(..) {
                queue(&mut state, &key);
            }
            state.rearm.append(&mut scratch.rearm);
        }
    }

    fn publish(&self, scratch: &mut SelectScratch) -> Result<usize> {
        let mut selected = lock(&self.inner.selected);
        std::mem::swap(&mut *selected, &mut scratch.selected);
        scratch.selected.clear();
        Ok(selected.len())
    }

    /// [`select`](Self::select) without waiting; clears a pending wakeup.
    pub fn select_now(&self) -> Result<usize> {
        self.select(Some(Duration::ZERO))
    }

    /// Makes a select blocked in another thread return at once, or — if none is blocked —
    /// the next select. Safe from any thread and from signal-free contexts; cheap when a
    /// wakeup is already pending.
    pub fn wakeup(&self) -> Result<()> {
        self.check()?;
        if !self.inner.wakeup_pending.swap(true, Ordering::AcqRel) {
            self.inner.backend.wake()?;
        }
        Ok(())
    }

    /// Closes the selector (idempotent): every key is cancelled and deregistered, their
    /// attachments dropped on this thread, a blocked select returns, and the epoll and
    /// wake-up descriptors are closed (once a select in progress has left its wait, which
    /// the close wakes).
    pub fn close(&self) {
        self.inner.shut();
    }

    /// Whether the selector is open.
    pub fn is_open(&self) -> bool {
        !self.inner.closed.load(Ordering::Acquire)
    }

    /// The registered keys (including keys cancelled since the last select).
    pub fn keys(&self) -> Result<Vec<SelectionKey>> {
        self.check()?;
        let state = lock(&self.inner.state);
        Ok(state
            .keys
            .iter()
            .flatten()
            .map(|k| SelectionKey { inner: k.clone() })
            .collect())
    }

    /// Walks the registered keys without allocating: the first key at or after `*cursor`
    /// (start with 0), moving `*cursor` past it; `None` at the end. Keys registered or
    /// forgotten during a walk may or may not be seen.
    pub fn next_key(&self, cursor: &mut usize) -> Result<Option<SelectionKey>> {
        self.check()?;
        let state = lock(&self.inner.state);
        let found = state
            .keys
            .iter()
            .enumerate()
            .skip(*cursor)
            .find_map(|(i, k)| k.as_ref().map(|k| (i, k)));
        Ok(found.map(|(i, key)| {
            *cursor = i + 1;
            SelectionKey { inner: key.clone() }
        }))
    }

    /// The keys the last select selected.
    pub fn selected_keys(&self) -> Result<Vec<SelectionKey>> {
        self.check()?;
        Ok(lock(&self.inner.selected).clone())
    }

    /// How many keys the last select selected.
    pub fn selected_len(&self) -> Result<usize> {
        self.check()?;
        Ok(lock(&self.inner.selected).len())
    }

    /// The `index`th selected key, if any (walking without allocating).
    pub fn selected_key(&self, index: usize) -> Result<Option<SelectionKey>> {
        self.check()?;
        Ok(lock(&self.inner.selected).get(index).cloned())
    }

    /// The backend's system-call and event counters.
    pub fn counters(&self) -> Counters {
        self.inner.backend.counters()
    }

    /// The epoll descriptor; nioxide owns it, and closes it at [`close`](Self::close) (then
    /// this says -1). It is readable when epoll has an event for a registered channel: any
    /// readiness edge, also for ops outside a key's interest (a connected socket is writable
    /// at once), so a host that polls it may wake for a select that then finds nothing. And
    /// readiness that a select has already seen stays in nioxide's cache, not in epoll: a
    /// level-triggered key that is still ready is selected by the next select although the
    /// descriptor may not be readable. A host loop therefore polls it with a zero timeout
    /// while the last select selected a key (or after an interest change), as
    /// [`EventLoop::backend_timeout`](crate::event_loop::EventLoop::backend_timeout) does.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.inner.backend.fd()
    }

    /// Whether both values are the same selector.
    pub fn same(&self, other: &Selector) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Runs `f` with the binding layer's object for this selector.
    pub fn with_binding<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        self.inner.binding.with(f)
    }

    /// Stores the binding layer's object for this selector; dropped with it.
    pub fn set_binding(&self, value: Box<dyn Any + Send + Sync>) {
        self.inner.binding.set(value);
    }

    /// The binding layer's handle number for this selector (see `set_bound_handle`).
    pub fn bound_handle(&self) -> Option<u64> {
        self.inner.binding.handle()
    }

    /// Stores the binding layer's handle number for this selector in place of an object;
    /// `release` runs with it when the selector dies.
    pub fn set_bound_handle(&self, raw: u64, release: Option<fn(u64)>) {
        self.inner.binding.set_handle(raw, release);
    }
}

impl SelectorInner {
    /// Closes once: cancels every key, drops the attachments on this thread, and frees each
    /// channel's registration. Returns whether this call closed it.
    fn shut(&self) -> bool {
        if self.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        let (keys, cancelled) = {
            let mut state = lock(&self.state);
            state.candidates.clear();
            state.free.clear();
            state.rearm.clear();
            let keys: Vec<Arc<KeyInner>> = state.keys.drain(..).flatten().collect();
            (keys, std::mem::take(&mut state.cancelled))
        };
        let mut held = Vec::with_capacity(keys.len());
        for key in keys.iter().chain(cancelled.iter()) {
            key.valid.store(false, Ordering::Release);
            held.push(lock(&key.held).take());
            key.deregister();
        }
        lock(&self.selected).clear();
        drop(keys);
        drop(cancelled);
        held.into_iter().for_each(Held::release);
        self.backend.close(fork::is_forked(self.generation));
        true
    }
}

impl Drop for SelectorInner {
    /// A selector dropped without `close()` still frees its channels' registrations (they
    /// could not be registered anywhere else otherwise) and its keys' attachments.
    fn drop(&mut self) {
        self.shut();
    }
}

impl KeyInner {
    /// Makes the next select look at the channel's cached readiness again (for an
    /// edge-triggered key too), as after an interest change.
    pub(crate) fn look_again(self: &Arc<Self>) {
        self.rearm.store(true, Ordering::Release);
        if let Some(sel) = self.selector.upgrade() {
            queue(&mut lock(&sel.state), self);
        }
    }

    /// Whether the key is valid (not cancelled).
    pub(crate) fn is_valid(&self) -> bool {
        self.valid.load(Ordering::Acquire)
    }

    /// Takes the channel out of the epoll set once, unless a forked child or already done.
    pub(crate) fn deregister(&self) {
        let core = &self.channel;
        // Under the channel's registration lock, which `ChannelCore::close` takes before it
        // closes the descriptor: the DEL below never races the close (a raw fd would stay in
        // the epoll set if the close won and nobody removed it).
        let mut reg = lock(&core.registration);
        if self.deregistered.swap(true, Ordering::AcqRel) {
            return;
        }
        if !core.is_forked() {
            if let (Some(sel), Some(call)) = (self.selector.upgrade(), core.fd.enter()) {
                if !fork::is_forked(sel.generation) {
                    let _ = sel.backend.deregister(call.fd());
                }
            }
        }
        if reg
            .as_ref()
            .is_some_and(|k| std::ptr::eq(Arc::as_ptr(k), self))
        {
            *reg = None;
        }
    }

    /// Cancellation by a channel closing: leaves the epoll set now (the descriptor is still
    /// open), and the selector forgets the key at its next select.
    pub(crate) fn cancel_for_close(self: &Arc<Self>, core: &ChannelCore) {
        // Invalid first, then take: an attach racing with this either fails or its
        // attachment is taken here (see `SelectionKey::replace_attachment`).
        self.valid.store(false, Ordering::Release);
        let held = lock(&self.held).take();
        if !self.deregistered.swap(true, Ordering::AcqRel) && !core.is_forked() {
            if let (Some(sel), Some(call)) = (self.selector.upgrade(), core.fd.enter()) {
                if !fork::is_forked(sel.generation) {
                    let _ = sel.backend.deregister(call.fd());
                }
            }
        }
        if let Some(sel) = self.selector.upgrade() {
            lock(&sel.state).cancelled.push(self.clone());
        }
        Held::release(held);
    }
}

impl SelectionKey {
    fn check_valid(&self) -> Result<()> {
        if !self.inner.valid.load(Ordering::Acquire) {
            return Err(ErrorKind::CancelledKey.into());
        }
        Ok(())
    }

    /// Fails with `Forked` in a forked child (for a channel created before the fork), else
    /// with `CancelledKey` once the key is cancelled.
    pub fn check(&self) -> Result<()> {
        if self.inner.channel.is_forked() {
            return Err(ErrorKind::Forked.into());
        }
        self.check_valid()
    }

    /// The interest set.
    ///
    /// # Errors
    /// `CancelledKey`.
    pub fn interest_ops(&self) -> Result<u32> {
        self.check_valid()?;
        Ok(self.inner.interest.load(Ordering::Acquire))
    }

    /// Replaces the interest set; takes effect at the next select.
    ///
    /// # Errors
    /// `CancelledKey`, `UnsupportedOps`.
    pub fn set_interest_ops(&self, ops: u32) -> Result<()> {
        self.check_valid()?;
        if ops & !self.inner.channel.valid_ops() != 0 {
            return Err(ErrorKind::UnsupportedOps.into());
        }
        self.inner.interest.store(ops, Ordering::Release);
        self.inner.look_again();
        Ok(())
    }

    /// Adds `ops` to the interest set in one atomic step (Java's `interestOpsOr`) and returns
    /// the set before. Atomic with respect to [`interest_ops_and`](Self::interest_ops_and)
    /// and [`set_interest_ops`](Self::set_interest_ops) from any thread; takes effect at the
    /// next select.
    ///
    /// # Errors
    /// `CancelledKey`, `UnsupportedOps` (ops the channel does not support; nothing changes).
    pub fn interest_ops_or(&self, ops: u32) -> Result<u32> {
        self.check_valid()?;
        if ops & !self.inner.channel.valid_ops() != 0 {
            return Err(ErrorKind::UnsupportedOps.into());
        }
        let before = self.inner.interest.fetch_or(ops, Ordering::AcqRel);
        self.inner.look_again();
        Ok(before)
    }

    /// Keeps only the interest ops also in `ops` (Java's `interestOpsAnd`), in one atomic
    /// step, and returns the set before. Any mask is accepted, since the result is always a
    /// subset of the interest set: `interest_ops_and(!OP_WRITE)` drops write interest.
    /// Atomic and effective as [`interest_ops_or`](Self::interest_ops_or).
    ///
    /// # Errors
    /// `CancelledKey`.
    pub fn interest_ops_and(&self, ops: u32) -> Result<u32> {
        self.check_valid()?;
        let before = self.inner.interest.fetch_and(ops, Ordering::AcqRel);
        self.inner.look_again();
        Ok(before)
    }

    /// The ops found ready by the last select that selected this key.
    ///
    /// # Errors
    /// `CancelledKey`.
    pub fn ready_ops(&self) -> Result<u32> {
        self.check_valid()?;
        Ok(self.inner.ready.load(Ordering::Acquire))
    }

    fn ready_has(&self, op: u32) -> Result<bool> {
        Ok(self.ready_ops()? & op != 0)
    }

    /// Whether the last select found the channel readable.
    pub fn is_readable(&self) -> Result<bool> {
        self.ready_has(OP_READ)
    }

    /// Whether the last select found the channel writable.
    pub fn is_writable(&self) -> Result<bool> {
        self.ready_has(OP_WRITE)
    }

    /// Whether the last select found a connect finished (or failed).
    pub fn is_connectable(&self) -> Result<bool> {
        self.ready_has(OP_CONNECT)
    }

    /// Whether the last select found a connection to accept.
    pub fn is_acceptable(&self) -> Result<bool> {
        self.ready_has(OP_ACCEPT)
    }

    /// Replaces the attachment and returns the previous one (which is not dropped here: the
    /// caller owns it again).
    ///
    /// # Errors
    /// `CancelledKey` (a cancelled key keeps no attachment).
    pub fn attach(&self, attachment: Option<Attachment>) -> Result<Option<Attachment>> {
        self.replace_attachment(&mut { attachment })
    }

    /// [`attach`](Self::attach) that, like [`Selector::register`], takes the attachment out
    /// of `attachment` only on success and leaves it there on error, so the caller still
    /// owns it. Validity is checked under the attachment's lock: a concurrent
    /// [`cancel`](Self::cancel) or close either makes this call fail or drops the new
    /// attachment itself.
    ///
    /// # Errors
    /// `CancelledKey`; `InvalidArgument` for a key an event loop serves (it holds no
    /// attachment of a user's).
    pub fn replace_attachment(
        &self,
        attachment: &mut Option<Attachment>,
    ) -> Result<Option<Attachment>> {
        let mut slot = lock(&self.inner.held);
        self.check_valid()?;
        if matches!(*slot, Some(Held::Io(_))) {
            return Err(ErrorKind::InvalidArgument.into());
        }
        match std::mem::replace(&mut *slot, attachment.take().map(Held::Attachment)) {
            Some(Held::Attachment(old)) => Ok(Some(old)),
            _ => Ok(None),
        }
    }

    /// Runs `f` with the attachment (`None` if none, or the key was cancelled).
    pub fn with_attachment<R>(&self, f: impl FnOnce(Option<&Attachment>) -> R) -> R {
        match lock(&self.inner.held).as_ref() {
            Some(Held::Attachment(attachment)) => f(Some(attachment)),
            _ => f(None),
        }
    }

    /// Makes the key an event loop's: `handle` receives its events and is told when the
    /// registration ends (see [`IoHandle`]).
    ///
    /// # Errors
    /// `CancelledKey` (the channel closed meanwhile: `handle` was not taken).
    pub(crate) fn set_io_handle(&self, handle: Arc<dyn IoHandle>) -> Result<()> {
        let mut slot = lock(&self.inner.held);
        self.check_valid()?;
        *slot = Some(Held::Io(handle));
        Ok(())
    }

    /// The I/O handle an event loop serves through this key, if any (none once cancelled).
    pub(crate) fn io_handle(&self) -> Option<Arc<dyn IoHandle>> {
        match lock(&self.inner.held).as_ref() {
            Some(Held::Io(handle)) => Some(handle.clone()),
            _ => None,
        }
    }

    /// Cancels the key (idempotent): its attachment is dropped on this thread now, and the
    /// channel is deregistered at the selector's next select.
    pub fn cancel(&self) {
        if !self.inner.valid.swap(false, Ordering::AcqRel) {
            return;
        }
        let held = lock(&self.inner.held).take();
        if let Some(sel) = self.inner.selector.upgrade() {
            lock(&sel.state).cancelled.push(self.inner.clone());
        }
        Held::release(held);
    }

    /// [`cancel`](Self::cancel), and the channel leaves the epoll set and its registration
    /// now rather than at the next select, so it may be registered again (or switched to
    /// blocking mode) at once; the selector forgets the key at its next select. For the event
    /// loop's watches and for a binding undoing a registration it could not complete.
    #[doc(hidden)]
    pub fn cancel_now(&self) {
        self.cancel();
        self.inner.deregister();
    }

    /// Whether the key is valid: not cancelled, channel and selector open.
    pub fn is_valid(&self) -> bool {
        self.inner.valid.load(Ordering::Acquire)
    }

    /// The channel this key registers.
    pub fn channel(&self) -> Channel {
        Channel::of_core(self.inner.channel.clone())
    }

    /// The selector this key belongs to (`None` once it is gone).
    pub fn selector(&self) -> Option<Selector> {
        self.inner
            .selector
            .upgrade()
            .map(|inner| Selector { inner })
    }

    /// Switches the key to edge-triggered (`true`) or level-triggered (`false`, the default)
    /// reporting. Edge-triggered keys are selected once per new readiness edge (or interest
    /// change), not again while readiness persists.
    pub fn set_edge_triggered(&self, edge: bool) -> Result<()> {
        self.check_valid()?;
        let was = self.inner.edge.swap(edge, Ordering::AcqRel);
        if was && !edge {
            // Level-triggered again: what is ready now is reported at the next select.
            if let Some(sel) = self.inner.selector.upgrade() {
                queue(&mut lock(&sel.state), &self.inner);
            }
        }
        Ok(())
    }

    /// Whether the key is edge-triggered.
    pub fn is_edge_triggered(&self) -> bool {
        self.inner.edge.load(Ordering::Acquire)
    }

    /// Whether both values are the same key.
    pub fn same(&self, other: &SelectionKey) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A weak reference to this key (see [`WeakSelectionKey`]).
    pub fn downgrade(&self) -> WeakSelectionKey {
        WeakSelectionKey {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// A stable number for this key while it lives (for maps in binding layers).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Runs `f` with the binding layer's object for this key.
    pub fn with_binding<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        self.inner.binding.with(f)
    }

    /// Stores the binding layer's object for this key; dropped when the key's last handle
    /// goes away (the selector forgets a key at the select after its cancellation).
    pub fn set_binding(&self, value: Box<dyn Any + Send + Sync>) {
        self.inner.binding.set(value);
    }

    /// The binding layer's handle number for this key (see `set_bound_handle`).
    pub fn bound_handle(&self) -> Option<u64> {
        self.inner.binding.handle()
    }

    /// Stores the binding layer's handle number for this key in place of an object, allocating
    /// nothing; `release` runs with it when the key dies (the C layer frees the handle then,
    /// as a weak handle of [`KeyInner`] names the key only while it lives).
    pub fn set_bound_handle(&self, raw: u64, release: Option<fn(u64)>) {
        self.inner.binding.set_handle(raw, release);
    }
}
