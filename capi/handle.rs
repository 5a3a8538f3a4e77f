//! Checked handles: the C side holds opaque pointers that are ids, never addresses.
//!
//! A handle such as `nx_selector_t *` is an encoded number: a slot index in a process-wide
//! table, the slot's generation and a type tag. nioxide never dereferences it, so every misuse
//! is detected and reported instead of being undefined behaviour:
//!
//! | misuse | result |
//! | --- | --- |
//! | NULL, or a handle of another type | `NX_EINVAL` |
//! | a freed handle, a handle whose object died, or a number that never was a handle | `NX_EBADHANDLE` |
//!
//! (A call on an object that is closed but not freed is the object's business: it returns
//! `NX_ECLOSED`.)
//!
//! # The table
//!
//! Slots are allocated in chunks that double in size and are never freed, so a slot's address
//! is stable and a stale handle can always be looked up safely. A chunk is allocated zeroed (a
//! free slot is all zeros), so its pages cost memory only once a slot in them is used. Each
//! slot has its own small writer lock, a bit of its state word; the table's free list has a
//! lock of its own. A slot's generation goes up each time it is freed,
//! so an old handle for a reused slot no longer matches; a slot whose 32-bit generation is used
//! up is retired for good rather than wrapped, so a stale handle can never name a new object.
//! There is room for 2^24 live handles.
//!
//! A table stores one Rust type per handle kind: the first insert of a kind records its type,
//! an insert of another type under that kind fails with `NX_EINVAL`, and a lookup for another
//! type fails the same way. So a slot needs no type of its own: its tag names it.
//!
//! [`get`] returns an `Arc` clone: the object stays alive for the caller's whole call even if
//! another thread frees the handle meanwhile.
//!
//! # Strong and weak entries
//!
//! A *strong* entry ([`insert`]) owns a reference to the object: the object lives at least
//! until [`remove`] (the C function `nx_<type>_free`) takes the entry out. A *weak* entry
//! ([`insert_weak`]) only names the object, which someone else owns (for example a selection
//! key owned by its selector): [`get`] fails with `NX_EBADHANDLE` once the object died, and the
//! slot itself is freed when the returned [`HandleGuard`] drops. Keep the guard inside the
//! object (build it with [`Arc::new_cyclic`]) and the object frees its own C handle when it
//! dies.
//!
//! # Loop-owned objects
//!
//! An object that belongs to one event loop for its whole life (a timer, a watch) is stored
//! with [`insert_owned`]; its slot records the loop's run-right cell and id before the handle
//! is handed out, and they never change. A call on such a handle from the thread that runs
//! that loop now (inside a turn, or the loop's library thread; not a caller-driven loop's
//! owner between runs) checks it with loads alone: the slot's state (generation, tag,
//! `LIVE`), then the owner, then the state again, so a slot reused meanwhile for another
//! object is noticed. No reader count, no reference count, no fork check (a forked child runs
//! no loop). Every other thread takes the checked path above.
//!
//! Freeing such a handle has two steps. [`remove`], on any thread, retires it: one
//! compare-and-swap clears `LIVE` and bumps the generation, so every later call fails with
//! `NX_EBADHANDLE` at once, and the caller gets the object to close. The entry itself stays in
//! the slot, because the loop's thread may be inside a call on it, until the loop reclaims it
//! (`EventLoop::reclaim_later`): at the end of the turn, during its termination, or on the
//! freeing thread once the loop has terminated or is gone. Only then is the slot reused.
//!
//! # Resident slots (lent handles)
//!
//! A handle made for one callback and freed when it returns (a message lent to a pipeline
//! handler) would cost an insert and a remove per call. A [`Resident`] keeps one slot, and the
//! object in it, for one thread's lends instead: [`Resident::open`] makes the slot's next
//! handle live (one store: the entry is in place already), [`Resident::close`] retires it (one
//! compare-and-swap clears `LIVE` and bumps the generation, then it waits for readers in
//! flight to leave, as a free does). Between the two the handle is an ordinary live handle
//! that any thread may look up on the checked path; after the close it fails with
//! `NX_EBADHANDLE` like every freed handle, and a later lend's handle, with its new
//! generation, is a different handle. The slot is never on the free list while the resident
//! has it, and no free takes it (`remove` of a resident slot's handle is `NX_EINVAL`);
//! dropping the resident frees the slot. The slot records which thread opened its handle: that
//! thread (the one whose callback the handle is lent to) looks the open handle up with loads
//! alone, no reader count, since it alone closes it and only after its callback returned.
//!
//! # Adding a handle type
//!
//! Add a [`HandleKind`] variant (at the end), declare the opaque C type (not `#[repr(C)]`, so
//! cbindgen emits only `typedef struct nx_demo_t nx_demo_t;`) and link the two with
//! [`HandleType`], in `capi/types.rs` beside the other handle types (with the object it names,
//! if the C layer defines it), so every module imports its handle types from one place. (An
//! object whose callback gets its own handle, such as a watch or a timer, is named through a
//! [`Late`], set once the handle exists.)
//!
//! ```
//! use std::ffi::c_int;
//! use std::sync::Arc;
//! use nioxide::handle::{self, HandleKind, HandleType};
//!
//! use nioxide::nx_ffi_boundary;
//!
//! /// The Rust object behind the handle.
//! pub struct Demo { value: c_int }
//!
//! /// A demo handle (C sees only `nx_demo_t *`).
//! #[allow(non_camel_case_types)]
//! pub struct nx_demo_t { _private: [u8; 0] }
//!
//! impl HandleType for nx_demo_t {
//!     type Object = Demo;
//!     const KIND: HandleKind = HandleKind::Selector; // a real type has a kind of its own
//! }
//!
//! /// Stores the demo's value in `*value_out` (unchanged on error).
//! #[unsafe(no_mangle)]
//! #[deny(improper_ctypes_definitions)]
//! pub extern "C" fn nx_demo_value(demo: *const nx_demo_t, value_out: *mut c_int) -> c_int {
//!     nx_ffi_boundary! {
//!         let demo = match handle::get(demo) {
//!             Ok(demo) => demo, // an Arc: `demo` stays alive until the call returns
//!             Err(code) => return code,
//!         };
//!         // SAFETY: the caller passes NULL or a valid, writable `int`.
//!         let Some(value_out) = (unsafe { value_out.as_mut() }) else {
//!             return nioxide::error::NX_EINVAL;
//!         };
//!         *value_out = demo.value;
//!         0
//!     }
//! }
//!
//! let ptr: *mut nx_demo_t = handle::insert(Arc::new(Demo { value: 7 })).unwrap();
//! let mut value = 0;
//! assert_eq!(nx_demo_value(ptr, &mut value), 0);
//! assert_eq!(value, 7);
//! let object = handle::remove(ptr).unwrap(); // nx_demo_free: close, then drop
//! assert_eq!(object.value, 7);
//! assert_eq!(handle::get(ptr).err(), Some(nioxide::error::NX_EBADHANDLE));
//! assert_eq!(handle::get::<nx_demo_t>(std::ptr::null()).err(), Some(nioxide::error::NX_EINVAL));
//! ```
//!
//! # Thread safety and fork
//!
//! Every function here is safe from any thread. No object is ever dropped while a lock of the
//! table is held, so an object's destructor may free other handles (a selector dropping its
//! keys). The locks are held for a few instructions only; as with `malloc`'s locks, a `fork()`
//! while another thread is inside an `nx_*` call may leave one of them held in the child. The
//! child must create new objects anyway (`NX_EFORKED`).

use std::alloc::{self, Layout};
use std::any::{Any, TypeId};
use std::cell::UnsafeCell;
use std::ffi::c_int;
use std::fmt;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use nioxide_core::event_loop::{EventLoop, RunRight, WeakEventLoop};
use nioxide_core::sync::lock;
use nioxide_core::sys::fork;
use nioxide_core::sys::thread;

use crate::error::{NX_EBADHANDLE, NX_EFORKED, NX_EINVAL};

/// The type of object a handle names; its value is the handle's type tag.
///
/// Add new kinds at the end with the next number; never renumber or reuse one (a handle value
/// from an older library must not change meaning within a process, and the tag is how a
/// wrong-type handle is told from a stale one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum HandleKind {
    /// `nx_selector_t`: a Java NIO `Selector`.
    Selector = 1,
    /// `nx_selection_key_t`: a `SelectionKey`, owned by its selector (a weak entry).
    SelectionKey = 2,
    /// `nx_server_socket_channel_t`: a listening TCP channel.
    ServerSocketChannel = 3,
    /// `nx_socket_channel_t`: a connected or connecting TCP channel.
    SocketChannel = 4,
    /// `nx_loop_t`: an event loop (owned by the caller, or by its group: a strong entry the
    /// group keeps).
    Loop = 5,
    /// `nx_loop_group_t`: a group of event loops on library threads.
    LoopGroup = 6,
    /// `nx_promise_t`: a promise or future (also the future of a submitted or scheduled task).
    Promise = 7,
    /// `nx_watch_t`: a readiness watch on an event loop.
    Watch = 8,
    /// `nx_timer_t`: a reusable timer on an event loop.
    Timer = 9,
    /// `nx_channel_t`: a pipeline channel (owned by its loop).
    Channel = 10,
    /// `nx_context_t`: a handler's context in a pipeline (owned by its channel's loop).
    Context = 11,
    /// `nx_message_t`: a pipeline message (lent to a callback, or retained).
    Message = 12,
    /// `nx_server_bootstrap_t`: a server bootstrap.
    ServerBootstrap = 13,
    /// `nx_bootstrap_t`: a client bootstrap.
    Bootstrap = 14,
    /// `nx_aio_group_t`: an asynchronous channel group.
    AioGroup = 15,
    /// `nx_aio_server_socket_t`: an asynchronous listener (owned by its loop).
    AioServerSocket = 16,
    /// `nx_aio_socket_t`: an asynchronous TCP connection (owned by its loop).
    AioSocket = 17,
    /// `nx_aio_file_t`: an asynchronous file channel (owned by its loop).
    AioFile = 18,
    /// `nx_handler_t`: a handler nioxide made, not added yet.
    Handler = 19,
    /// `nx_byte_sink_t`: where a C encode callback appends its bytes (lent for the call).
    ByteSink = 20,
}

impl HandleKind {
    /// The type tag stored in the handle's low byte (never 0, so no handle is NULL).
    pub const fn tag(self) -> u8 {
        self as u8
    }
}

/// Every kind, in tag order (see [`type_constant`]).
const KINDS: [HandleKind; 20] = [
    HandleKind::Selector,
    HandleKind::SelectionKey,
    HandleKind::ServerSocketChannel,
    HandleKind::SocketChannel,
    HandleKind::Loop,
    HandleKind::LoopGroup,
    HandleKind::Promise,
    HandleKind::Watch,
    HandleKind::Timer,
    HandleKind::Channel,
    HandleKind::Context,
    HandleKind::Message,
    HandleKind::ServerBootstrap,
    HandleKind::Bootstrap,
    HandleKind::AioGroup,
    HandleKind::AioServerSocket,
    HandleKind::AioSocket,
    HandleKind::AioFile,
    HandleKind::Handler,
    HandleKind::ByteSink,
];

/// The `NX_HANDLE_*` constant of `kind`. The match is exhaustive, so a new kind does not
/// compile until it has a constant; add it to [`KINDS`] too.
const fn type_constant(kind: HandleKind) -> c_int {
    match kind {
        HandleKind::Selector => NX_HANDLE_SELECTOR,
        HandleKind::SelectionKey => NX_HANDLE_SELECTION_KEY,
        HandleKind::ServerSocketChannel => NX_HANDLE_SERVER_SOCKET_CHANNEL,
        HandleKind::SocketChannel => NX_HANDLE_SOCKET_CHANNEL,
        HandleKind::Loop => NX_HANDLE_LOOP,
        HandleKind::LoopGroup => NX_HANDLE_LOOP_GROUP,
        HandleKind::Promise => NX_HANDLE_PROMISE,
        HandleKind::Watch => NX_HANDLE_WATCH,
        HandleKind::Timer => NX_HANDLE_TIMER,
        HandleKind::Channel => NX_HANDLE_CHANNEL,
        HandleKind::Context => NX_HANDLE_CONTEXT,
        HandleKind::Message => NX_HANDLE_MESSAGE,
        HandleKind::ServerBootstrap => NX_HANDLE_SERVER_BOOTSTRAP,
        HandleKind::Bootstrap => NX_HANDLE_BOOTSTRAP,
        HandleKind::AioGroup => NX_HANDLE_AIO_GROUP,
        HandleKind::AioServerSocket => NX_HANDLE_AIO_SERVER_SOCKET,
        HandleKind::AioSocket => NX_HANDLE_AIO_SOCKET,
        HandleKind::AioFile => NX_HANDLE_AIO_FILE,
        HandleKind::Handler => NX_HANDLE_HANDLER,
        HandleKind::ByteSink => NX_HANDLE_BYTE_SINK,
    }
}

/// Room for the live count of every possible type tag (a `u8`).
const TAGS: usize = 256;

/// `nx_live_handles`: every type of handle together.
pub const NX_HANDLE_ALL: c_int = 0;
/// `nx_live_handles`: selectors (`nx_selector_t`).
pub const NX_HANDLE_SELECTOR: c_int = 1;
const _: () = assert!(NX_HANDLE_SELECTOR == HandleKind::Selector as c_int);
/// `nx_live_handles`: selection keys (`nx_selection_key_t`), one per registration until the
/// selector forgets the key.
pub const NX_HANDLE_SELECTION_KEY: c_int = 2;
const _: () = assert!(NX_HANDLE_SELECTION_KEY == HandleKind::SelectionKey as c_int);
/// `nx_live_handles`: server socket channels (`nx_server_socket_channel_t`).
pub const NX_HANDLE_SERVER_SOCKET_CHANNEL: c_int = 3;
const _: () = assert!(NX_HANDLE_SERVER_SOCKET_CHANNEL == HandleKind::ServerSocketChannel as c_int);
/// `nx_live_handles`: socket channels (`nx_socket_channel_t`).
pub const NX_HANDLE_SOCKET_CHANNEL: c_int = 4;
const _: () = assert!(NX_HANDLE_SOCKET_CHANNEL == HandleKind::SocketChannel as c_int);
/// `nx_live_handles`: event loops (`nx_loop_t`), the loops of live groups included.
pub const NX_HANDLE_LOOP: c_int = 5;
const _: () = assert!(NX_HANDLE_LOOP == HandleKind::Loop as c_int);
/// `nx_live_handles`: event loop groups (`nx_loop_group_t`).
pub const NX_HANDLE_LOOP_GROUP: c_int = 6;
const _: () = assert!(NX_HANDLE_LOOP_GROUP == HandleKind::LoopGroup as c_int);
/// `nx_live_handles`: promises and futures (`nx_promise_t`).
pub const NX_HANDLE_PROMISE: c_int = 7;
const _: () = assert!(NX_HANDLE_PROMISE == HandleKind::Promise as c_int);
/// `nx_live_handles`: watches (`nx_watch_t`).
pub const NX_HANDLE_WATCH: c_int = 8;
const _: () = assert!(NX_HANDLE_WATCH == HandleKind::Watch as c_int);
/// `nx_live_handles`: timers (`nx_timer_t`).
pub const NX_HANDLE_TIMER: c_int = 9;
const _: () = assert!(NX_HANDLE_TIMER == HandleKind::Timer as c_int);
/// `nx_live_handles`: pipeline channels (`nx_channel_t`), the ones nioxide owns included.
pub const NX_HANDLE_CHANNEL: c_int = 10;
const _: () = assert!(NX_HANDLE_CHANNEL == HandleKind::Channel as c_int);
/// `nx_live_handles`: handler contexts (`nx_context_t`), each until its channel is torn down.
pub const NX_HANDLE_CONTEXT: c_int = 11;
const _: () = assert!(NX_HANDLE_CONTEXT == HandleKind::Context as c_int);
/// `nx_live_handles`: pipeline messages (`nx_message_t`), lent and retained.
pub const NX_HANDLE_MESSAGE: c_int = 12;
const _: () = assert!(NX_HANDLE_MESSAGE == HandleKind::Message as c_int);
/// `nx_live_handles`: server bootstraps (`nx_server_bootstrap_t`).
pub const NX_HANDLE_SERVER_BOOTSTRAP: c_int = 13;
const _: () = assert!(NX_HANDLE_SERVER_BOOTSTRAP == HandleKind::ServerBootstrap as c_int);
/// `nx_live_handles`: client bootstraps (`nx_bootstrap_t`).
pub const NX_HANDLE_BOOTSTRAP: c_int = 14;
const _: () = assert!(NX_HANDLE_BOOTSTRAP == HandleKind::Bootstrap as c_int);
/// `nx_live_handles`: asynchronous channel groups (`nx_aio_group_t`).
pub const NX_HANDLE_AIO_GROUP: c_int = 15;
const _: () = assert!(NX_HANDLE_AIO_GROUP == HandleKind::AioGroup as c_int);
/// `nx_live_handles`: asynchronous listeners (`nx_aio_server_socket_t`).
pub const NX_HANDLE_AIO_SERVER_SOCKET: c_int = 16;
const _: () = assert!(NX_HANDLE_AIO_SERVER_SOCKET == HandleKind::AioServerSocket as c_int);
/// `nx_live_handles`: asynchronous connections (`nx_aio_socket_t`).
pub const NX_HANDLE_AIO_SOCKET: c_int = 17;
const _: () = assert!(NX_HANDLE_AIO_SOCKET == HandleKind::AioSocket as c_int);
/// `nx_live_handles`: asynchronous file channels (`nx_aio_file_t`).
pub const NX_HANDLE_AIO_FILE: c_int = 18;
const _: () = assert!(NX_HANDLE_AIO_FILE == HandleKind::AioFile as c_int);
/// `nx_live_handles`: handlers nioxide made (`nx_handler_t`) that were neither added nor
/// freed yet.
pub const NX_HANDLE_HANDLER: c_int = 19;
const _: () = assert!(NX_HANDLE_HANDLER == HandleKind::Handler as c_int);
/// `nx_live_handles`: byte sinks lent to encode callbacks (`nx_byte_sink_t`).
pub const NX_HANDLE_BYTE_SINK: c_int = 20;
const _: () = assert!(NX_HANDLE_BYTE_SINK == HandleKind::ByteSink as c_int);

/// Links an opaque C handle type (`nx_selector_t`) to its [`HandleKind`] and to the Rust type
/// of the object it names.
///
/// The typed functions [`insert`], [`insert_weak`], [`get`] and [`remove`] take and return
/// `*mut H`, so a capi function cannot mix up handle types.
pub trait HandleType: Sized + 'static {
    /// The Rust object a handle of this type names.
    type Object: Send + Sync + 'static;
    /// The kind, and so the type tag, of this handle type.
    const KIND: HandleKind;
    /// Whether its objects belong to a loop (stored with [`insert_owned`]): only then does a
    /// lookup try the loop's fast path first, so other handle types pay nothing for it.
    const LOOP_OWNED: bool = false;
}

const _: () = assert!(
    usize::BITS == 64,
    "handles encode 64 bits (tag, index, generation) in a pointer"
);

/// Bits of the slot index in a handle (bits 8 to 31).
const INDEX_BITS: u32 = 24;
/// The most handles that can be live at once (2^24).
pub(crate) const MAX_HANDLES: usize = 1 << INDEX_BITS;
/// Slots in the first chunk; chunk `k` holds `FIRST_CHUNK << k` slots.
const FIRST_CHUNK: usize = 64;
/// The most handles that may be live at once: [`MAX_HANDLES`], unless a test lowered it
/// (`nx_debug_handle_limit`).
static LIMIT: AtomicUsize = AtomicUsize::new(MAX_HANDLES);
/// Chunks needed to cover [`MAX_HANDLES`] slots (64 * (2^19 - 1) >= 2^24).
const CHUNKS: usize = 19;
const _: () = assert!(FIRST_CHUNK * ((1 << CHUNKS) - 1) >= MAX_HANDLES);

/// A handle's value: `generation << 32 | index << 8 | tag`.
///
/// The C side sees it as a pointer; [`RawHandle::from_ptr`] and [`RawHandle::as_ptr`] convert
/// without ever dereferencing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawHandle(usize);

impl RawHandle {
    fn new(index: usize, generation: u32, kind: HandleKind) -> RawHandle {
        debug_assert!(index < MAX_HANDLES);
        RawHandle(((generation as usize) << 32) | (index << 8) | kind.tag() as usize)
    }

    /// The handle a C pointer stands for (NULL gives the null handle, which names nothing).
    pub fn from_ptr<T>(ptr: *const T) -> RawHandle {
        RawHandle(ptr.addr())
    }

    /// The handle as the C pointer handed out for it (never NULL, never dereferenceable).
    pub fn as_ptr<T>(self) -> *mut T {
        ptr::without_provenance_mut(self.0)
    }

    /// The handle's value as a number (to keep where a pointer is not wanted, such as a core
    /// object's binding slot).
    pub fn to_bits(self) -> u64 {
        self.0 as u64
    }

    /// The handle whose value is `bits` (from [`RawHandle::to_bits`]).
    pub fn from_bits(bits: u64) -> RawHandle {
        RawHandle(bits as usize)
    }

    fn tag(self) -> u8 {
        self.0 as u8
    }

    fn index(self) -> usize {
        (self.0 >> 8) & (MAX_HANDLES - 1)
    }

    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl fmt::Debug for RawHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawHandle")
            .field("tag", &self.tag())
            .field("index", &self.index())
            .field("generation", &self.generation())
            .finish()
    }
}

/// What a slot holds. `repr(u8)` with `Free` = 0: an all-zero entry is a free one, so a
/// chunk of slots can be allocated zeroed.
#[derive(Default)]
#[repr(u8)]
enum Entry {
    /// Nothing: the slot is on the free list (or retired).
    #[default]
    Free = 0,
    /// The table owns a reference to the object.
    Strong(Arc<dyn Any + Send + Sync>),
    /// The object is owned elsewhere; the slot only names it.
    Weak(Weak<dyn Any + Send + Sync>),
    /// The table owns a reference to an object that belongs to a loop (see "Loop-owned
    /// objects" in the module docs); the loop takes the reclaim when the handle is freed.
    Owned(Arc<dyn Any + Send + Sync>, WeakEventLoop),
}

/// A slot's state bit: a writer (insert, take, reclaim) holds the slot (bit 22).
const WRITER: u64 = 1 << 22;
/// Readers in a slot's state word (bits 0..21).
const READERS: u64 = WRITER - 1;
/// The bits of a slot's state word that a handle check ignores: the readers and the writer.
const BUSY: u64 = READERS | WRITER;
/// A slot's state bit: the slot holds a live entry (bit 23).
const LIVE: u64 = 1 << 23;

/// A slot's `owner_id` bit while a [`Resident`] keeps it (with a NULL `owner`): no free takes
/// it. The other bits hold the thread token of the thread that opened its current handle (or
/// last did; 0 before the first open), which lets that thread look the handle up without a
/// reader count (see [`Handles::lent_to_caller`]). A token is a user-space address or a
/// `pthread_t`, which never has this bit set.
const RESIDENT: u64 = 1 << 63;

/// The `owner_id` of a resident slot opened by the calling thread.
#[inline(always)]
fn resident_of_caller() -> u64 {
    RESIDENT | (thread::token() as u64 & !RESIDENT)
}

/// The state word that a live entry of `raw` shows: `generation << 32 | tag << 24 | LIVE`.
fn live_state(raw: RawHandle) -> u64 {
    ((raw.generation() as u64) << 32) | ((raw.tag() as u64) << 24) | LIVE
}

/// One slot of the table; never freed once allocated. All zeros is a free slot of generation 0,
/// as `Slot::new` makes it.
///
/// Lookups never lock: a reader registers in `state` (one compare-and-swap that also checks
/// the generation, the tag and `LIVE`), reads the entry, and leaves (one subtraction). A writer
/// (insert or take) sets `WRITER` (a spin lock: writers hold it for a few instructions),
/// clears `LIVE` so no new reader gets in, waits the few instructions until the readers in
/// flight have left, and only then touches the entry.
struct Slot {
    /// `generation << 32 | tag << 24 | LIVE | WRITER | readers`.
    state: AtomicU64,
    /// For an object that belongs to a loop: the loop's run-right cell (else NULL). Set
    /// before the entry is published and cleared only when the slot is reclaimed.
    owner: AtomicPtr<RunRight>,
    /// The id of the loop that owns the entry (with `owner`).
    owner_id: AtomicU64,
    /// The entry (of the Rust type the table stores under the slot's tag). Written only by a
    /// writer while `LIVE` is clear and no reader is in; read only by registered readers while
    /// `LIVE` is set.
    entry: UnsafeCell<Entry>,
}

/// The bytes one handle slot takes (what a live handle costs the table).
pub fn slot_bytes() -> usize {
    size_of::<Slot>()
}

// SAFETY: `entry` is shared only as described on `Slot` (readers see it while it cannot
// change; a writer has it alone), and its contents are `Send + Sync`.
unsafe impl Sync for Slot {}

#[cfg(feature = "testing")]
thread_local! {
    /// How many times this thread registered as a slot's reader (`nx_debug_reader_entries`):
    /// a call on a loop-owned object from its loop's running thread must not.
    static READER_ENTRIES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many times the calling thread has registered as a handle slot's reader: the checked
/// path every call from a thread that does not run the object's loop takes. A testing build's
/// check that calls on a loop's own objects from its running thread take the fast path.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "C" fn nx_debug_reader_entries() -> u64 {
    READER_ENTRIES.with(|n| n.get())
}

/// A slot's writer lock (`WRITER` in its state word); released on drop.
struct Writer<'a>(&'a Slot);

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_and(!WRITER, Ordering::Release);
    }
}

/// A registered reader of a slot; leaves on drop.
struct Reader<'a>(&'a Slot);

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(1, Ordering::Release);
    }
}

impl Slot {
    #[cfg(test)]
    fn new() -> Slot {
        Slot {
            state: AtomicU64::new(0),
            owner: AtomicPtr::new(ptr::null_mut()),
            owner_id: AtomicU64::new(0),
            entry: UnsafeCell::new(Entry::Free),
        }
    }

    /// Takes the slot's writer lock, spinning while another writer holds it (for a few
    /// instructions, or while it waits for the readers in flight to leave).
    fn lock_writer(&self) -> Writer<'_> {
        let mut spins = 0u32;
        while self.state.fetch_or(WRITER, Ordering::Acquire) & WRITER != 0 {
            if spins < 64 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        Writer(self)
    }

    /// Registers a reader if `raw` names this slot's live entry.
    #[inline]
    fn enter(&self, raw: RawHandle) -> Option<Reader<'_>> {
        #[cfg(feature = "testing")]
        READER_ENTRIES.with(|n| n.set(n.get() + 1));
        let want = live_state(raw);
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & !BUSY != want {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Reader(self)),
                Err(seen) => state = seen,
            }
        }
    }

    /// The entry, for a registered reader.
    #[inline]
    fn entry<'a>(&'a self, _reader: &Reader<'a>) -> &'a Entry {
        // SAFETY: a registered reader keeps writers out (see `Slot`).
        unsafe { &*self.entry.get() }
    }

    /// The generation the slot's next entry gets.
    fn generation(&self) -> u32 {
        (self.state.load(Ordering::Acquire) >> 32) as u32
    }
}

/// The free list and the high-water mark, behind the table's allocation lock.
struct Alloc {
    /// Freed slots, reused last-in first-out.
    free: Vec<u32>,
    /// Slots `0..next` have been handed out at least once.
    next: usize,
}

/// A table of checked handles. nioxide uses one, [`HANDLES`]; tests may make their own.
///
/// Thread safe; see the module documentation for the design.
pub struct Handles {
    /// Chunk `k` (`FIRST_CHUNK << k` slots), or NULL until first needed. Never freed while
    /// the table lives.
    chunks: [AtomicPtr<Slot>; CHUNKS],
    alloc: Mutex<Alloc>,
    live: AtomicUsize,
    /// Live handles by type tag.
    live_by_tag: [AtomicUsize; TAGS],
    /// The Rust type stored under each tag, set by the first insert of that kind.
    types: [OnceLock<TypeId>; TAGS],
}

/// The process-wide handle table behind every `nx_*` handle.
pub static HANDLES: Handles = Handles::new();

impl Handles {
    /// An empty table; it allocates nothing until the first insert.
    pub const fn new() -> Handles {
        Handles {
            chunks: [const { AtomicPtr::new(ptr::null_mut()) }; CHUNKS],
            alloc: Mutex::new(Alloc {
                free: Vec::new(),
                next: 0,
            }),
            live: AtomicUsize::new(0),
            live_by_tag: [const { AtomicUsize::new(0) }; TAGS],
            types: [const { OnceLock::new() }; TAGS],
        }
    }

    /// Stores a strong reference to `object` under a new handle of `kind`.
    ///
    /// The table keeps `object` alive until [`Handles::remove`] or [`Handles::release`].
    ///
    /// Errors: `-ENOMEM` when 2^24 handles are live; `NX_EINVAL` if the table stores another
    /// Rust type under `kind`.
    pub fn insert<T: Send + Sync + 'static>(
        &self,
        kind: HandleKind,
        object: Arc<T>,
    ) -> Result<RawHandle, c_int> {
        self.insert_entry(kind, TypeId::of::<T>(), Entry::Strong(object), None)
    }

    /// Stores a strong reference to `object`, which belongs to `owner`, under a new handle of
    /// `kind`: calls from `owner`'s running thread check the handle with loads alone, and a
    /// free hands the reclaim of the entry to `owner` (see "Loop-owned objects" in the module
    /// docs). The owner is fixed for the handle's life.
    ///
    /// Errors: as [`Handles::insert`].
    pub fn insert_owned<T: Send + Sync + 'static>(
        &self,
        kind: HandleKind,
        object: Arc<T>,
        owner: &EventLoop,
    ) -> Result<RawHandle, c_int> {
        let entry = Entry::Owned(object, owner.downgrade());
        self.insert_entry(kind, TypeId::of::<T>(), entry, Some(owner.run_right()))
    }

    /// Stores a weak reference to `object` under a new handle of `kind`.
    ///
    /// Lookups fail with `NX_EBADHANDLE` once the object died; the slot stays taken until
    /// [`Handles::release`] or [`Handles::remove`] (usually through a [`HandleGuard`]).
    ///
    /// Errors: as [`Handles::insert`].
    pub fn insert_weak<T: Send + Sync + 'static>(
        &self,
        kind: HandleKind,
        object: &Weak<T>,
    ) -> Result<RawHandle, c_int> {
        let weak: Weak<dyn Any + Send + Sync> = object.clone();
        self.insert_entry(kind, TypeId::of::<T>(), Entry::Weak(weak), None)
    }

    /// The object named by `raw`, which must be a handle of `kind` for a `T`.
    ///
    /// Errors: `NX_EINVAL` for the null handle, a handle of another kind, or a `T` that is not
    /// the type stored under it; `NX_EBADHANDLE` for a freed or unknown handle, or a weak
    /// entry whose object died.
    pub fn get<T: Send + Sync + 'static>(
        &self,
        raw: RawHandle,
        kind: HandleKind,
    ) -> Result<Arc<T>, c_int> {
        if let Some(object) = self.owned_by_caller::<T>(raw, kind) {
            // SAFETY: the data pointer of the entry's `Arc<T>`, which the table keeps alive
            // (see `owned_by_caller`).
            unsafe {
                Arc::increment_strong_count(object);
                return Ok(Arc::from_raw(object));
            }
        }
        self.get_checked(raw, kind)
    }

    /// [`Handles::get`] without the loop-owned fast path: for handle types that never name a
    /// loop-owned object.
    ///
    /// Errors: as [`Handles::get`].
    #[inline]
    pub fn get_checked<T: Send + Sync + 'static>(
        &self,
        raw: RawHandle,
        kind: HandleKind,
    ) -> Result<Arc<T>, c_int> {
        let (_reader, entry) = self.read::<T>(raw, kind)?;
        // Nothing is dropped while the reader is registered: a strong entry only gains a
        // reference, and a dead weak entry yields nothing.
        match entry {
            Entry::Strong(object) | Entry::Owned(object, _) => {
                let ptr = Arc::as_ptr(object).cast::<T>();
                // SAFETY: `ptr` is the data pointer of an `Arc<T>` unsized to `Arc<dyn Any>`
                // (the type id says it is a `T`), alive while the table holds it.
                unsafe {
                    Arc::increment_strong_count(ptr);
                    Ok(Arc::from_raw(ptr))
                }
            }
            // SAFETY: as above, for the upgraded reference.
            Entry::Weak(object) => match object.upgrade() {
                Some(object) => Ok(unsafe { Arc::from_raw(Arc::into_raw(object).cast::<T>()) }),
                None => Err(NX_EBADHANDLE),
            },
            Entry::Free => Err(NX_EBADHANDLE),
        }
    }

    /// Calls `f` with the object named by `raw` (a handle of `kind` for a `T`) while this
    /// thread is registered as the slot's reader, without taking a reference to the object:
    /// a lookup with no reference-count traffic, for short calls on a hot path (a timer's
    /// start and stop). A free of the handle waits until `f` returns, so `f` must be short,
    /// must not wait for another thread that may be freeing handles, and must not free this
    /// handle itself (or drop the last reference to an object that would).
    ///
    /// On the running thread of the loop that owns the object, no reader is registered (see
    /// "Loop-owned objects" in the module docs), and `f` may do anything but reclaim.
    ///
    /// Errors: as [`Handles::get`].
    #[inline(always)]
    pub fn with<T: Send + Sync + 'static, R>(
        &self,
        raw: RawHandle,
        kind: HandleKind,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, c_int> {
        match self.owned_by_caller::<T>(raw, kind) {
            Some(object) => Ok(f(object)),
            None => self.with_cold(raw, kind, f),
        }
    }

    /// [`Handles::with_checked`] out of line, so the fast path stays small where it is
    /// inlined.
    #[cold]
    #[inline(never)]
    fn with_cold<T: Send + Sync + 'static, R>(
        &self,
        raw: RawHandle,
        kind: HandleKind,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, c_int> {
        self.with_checked(raw, kind, f)
    }

    /// [`Handles::with`] without the loop-owned fast path (the reader count, always): for
    /// handle types that never name a loop-owned object, and for the fast path's callers when
    /// it does not apply.
    ///
    /// Errors: as [`Handles::get`].
    #[inline]
    pub fn with_checked<T: Send + Sync + 'static, R>(
        &self,
        raw: RawHandle,
        kind: HandleKind,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, c_int> {
        let (reader, entry) = self.read::<T>(raw, kind)?;
        match entry {
            Entry::Strong(object) | Entry::Owned(object, _) => {
                // SAFETY: the data pointer of an `Arc<T>` unsized to `Arc<dyn Any>` (the type
                // id says it is a `T`); the table's reference keeps it alive while `reader` is
                // registered, which keeps the entry in the slot.
                let object = unsafe { &*Arc::as_ptr(object).cast::<T>() };
                Ok(f(object))
            }
            Entry::Weak(object) => {
                let object = downcast::<T>(object.upgrade())?;
                drop(reader);
                Ok(f(&object))
            }
            Entry::Free => Err(NX_EBADHANDLE),
        }
    }

    /// Frees the handle `raw` of `kind` and returns its object.
    ///
    /// The table's reference (for a strong entry) passes to the caller, who closes the
    /// object and drops it. The handle is invalid from now on, even if this fails with
    /// `NX_EBADHANDLE` because a weak entry's object already died.
    ///
    /// Errors: as [`Handles::get`].
    pub fn remove<T: Send + Sync + 'static>(
        &'static self,
        raw: RawHandle,
        kind: HandleKind,
    ) -> Result<Arc<T>, c_int> {
        let slot = self.checked_slot(raw, kind)?;
        if !slot.owner.load(Ordering::Acquire).is_null() {
            return self.retire::<T>(slot, raw);
        }
        let entry = self.take(slot, raw, Some(TypeId::of::<T>()))?;
        let object = match entry {
            Entry::Strong(object) | Entry::Owned(object, _) => Some(object),
            Entry::Weak(object) => object.upgrade(),
            Entry::Free => None,
        };
        downcast(object)
    }

    /// The first step of freeing a loop-owned handle, on any thread: one compare-and-swap
    /// clears `LIVE` and bumps the generation, so every later call fails at once, and the
    /// object's reference for the caller is taken. The entry stays in the slot (the loop's
    /// running thread may be inside a call on it) until the loop reclaims it
    /// ([`EventLoop::reclaim_later`]); a loop that is gone can run nothing, so the caller
    /// reclaims it then.
    fn retire<T: Send + Sync + 'static>(
        &'static self,
        slot: &'static Slot,
        raw: RawHandle,
    ) -> Result<Arc<T>, c_int> {
        let reader = slot.enter(raw).ok_or(NX_EBADHANDLE)?;
        if !self.stores::<T>(raw) {
            return Err(NX_EINVAL);
        }
        let Entry::Owned(object, owner) = slot.entry(&reader) else {
            return Err(NX_EBADHANDLE);
        };
        let (object, owner) = (object.clone(), owner.upgrade());
        let want = live_state(raw);
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if state & !BUSY != want {
                return Err(NX_EBADHANDLE); // another thread freed it first
            }
            let retired = ((raw.generation().wrapping_add(1) as u64) << 32) | (state & BUSY);
            match slot.state.compare_exchange_weak(
                state,
                retired,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => state = seen,
            }
        }
        drop(reader);
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.live_by_tag[raw.tag() as usize].fetch_sub(1, Ordering::Relaxed);
        match owner {
            Some(event_loop) => event_loop.reclaim_later(move || self.reclaim(slot, raw)),
            None => self.reclaim(slot, raw),
        }
        downcast(Some(object))
    }

    /// The second step: drops the entry of the retired handle `raw` and recycles its slot. Run
    /// by the owning loop's running thread (or by anyone once that loop is gone).
    fn reclaim(&self, slot: &Slot, raw: RawHandle) {
        let writer = slot.lock_writer();
        // Readers of the checked path that got in before the retirement leave within a few
        // instructions; none can get in after it.
        while slot.state.load(Ordering::Acquire) & READERS != 0 {
            std::hint::spin_loop();
        }
        // SAFETY: `LIVE` is clear, no reader is in, the running thread of the owning loop is
        // this one or gone, and `writer` is ours.
        let entry = std::mem::take(unsafe { &mut *slot.entry.get() });
        slot.owner.store(ptr::null_mut(), Ordering::Release);
        slot.owner_id.store(0, Ordering::Release);
        drop(writer);
        if raw.generation() != u32::MAX {
            lock(&self.alloc).free.push(raw.index() as u32);
        }
        drop(entry);
    }

    /// The object of `raw` if it is live, of `kind`, a `T` that belongs to a loop, and the
    /// calling thread runs that loop now: checked with loads alone (no reader count, no
    /// reference count). `None` sends the caller down the checked path, which also reports
    /// every error.
    ///
    /// Sound because only the thread that runs the owning loop reclaims a loop-owned entry,
    /// and only at the end of a turn, never inside a call; a retirement meanwhile leaves the
    /// entry in place. The generation, tag and `LIVE` are read before and after the owner,
    /// so a slot reclaimed and reused for another loop's object in between is noticed.
    #[inline(always)]
    fn owned_by_caller<T: 'static>(&self, raw: RawHandle, kind: HandleKind) -> Option<&T> {
        if raw.0 == 0 || raw.tag() != kind.tag() {
            return None;
        }
        let slot = self.slot(raw.index())?;
        let want = live_state(raw);
        if slot.state.load(Ordering::Acquire) & !BUSY != want {
            return None;
        }
        // SAFETY: run-right cells are never freed.
        let cell = unsafe { slot.owner.load(Ordering::Relaxed).as_ref() }?;
        if !cell.held_for(slot.owner_id.load(Ordering::Relaxed)) {
            return None;
        }
        fence(Ordering::Acquire);
        if slot.state.load(Ordering::Relaxed) & !BUSY != want {
            return None;
        }
        // SAFETY: the slot holds `raw`'s entry, which only this thread may reclaim, and not
        // during this call (see above).
        match unsafe { &*slot.entry.get() } {
            Entry::Owned(object, _) if self.stores::<T>(raw) => {
                // SAFETY: the data pointer of an `Arc<T>` unsized to `Arc<dyn Any>` (the
                // table stores `T`s under this tag), kept alive by the entry.
                Some(unsafe { &*Arc::as_ptr(object).cast::<T>() })
            }
            _ => None,
        }
    }

    /// The object of `raw`, a handle of `kind` for a `T`, if it is the open handle of a
    /// [`Resident`] that the calling thread opened (a message lent to a callback running on
    /// this thread): that thread alone closes it, and only once the callback has returned, so
    /// the entry and the object stay as they are for the whole of this thread's call on them,
    /// without a reader count. Loads only; `None` sends the caller to the checked path.
    ///
    /// Why the loads suffice: the opener stores its token, then makes the handle live (in
    /// program order); a slot's handle is live under one generation at most once. If this
    /// thread sees its own token and `raw` live, it opened `raw` and has not closed it. A
    /// token it sees that another thread stored names that thread, never this one; its own
    /// older token is never seen again once it dropped the resident (it stores 0 then, and
    /// the slot reaches another thread only after that, through the free list's lock).
    #[inline(always)]
    fn lent_to_caller<T: 'static>(&self, raw: RawHandle, kind: HandleKind) -> Option<&T> {
        if raw.0 == 0 || raw.tag() != kind.tag() {
            return None;
        }
        let slot = self.slot(raw.index())?;
        if slot.owner_id.load(Ordering::Relaxed) != resident_of_caller()
            || slot.state.load(Ordering::Relaxed) & !BUSY != live_state(raw)
        {
            return None;
        }
        // SAFETY: the slot holds the resident's entry, which changes only when the resident
        // drops, on this thread, not during this call (see above).
        match unsafe { &*slot.entry.get() } {
            Entry::Strong(object) if self.stores::<T>(raw) => {
                // SAFETY: the data pointer of an `Arc<T>` unsized to `Arc<dyn Any>` (the table
                // stores `T`s under this tag), kept alive by the entry.
                Some(unsafe { &*Arc::as_ptr(object).cast::<T>() })
            }
            _ => None,
        }
    }

    /// [`Handles::with_checked`] with the fast path of `Handles::lent_to_caller` first:
    /// for handle types whose hot handles are lent ones (messages).
    ///
    /// Errors: as [`Handles::get`].
    #[inline(always)]
    pub fn with_lent<T: Send + Sync + 'static, R>(
        &self,
        raw: RawHandle,
        kind: HandleKind,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, c_int> {
        match self.lent_to_caller::<T>(raw, kind) {
            Some(object) => Ok(f(object)),
            None => self.with_checked(raw, kind, f),
        }
    }

    /// Frees the handle `raw`, whatever its kind, dropping the table's reference. Returns
    /// whether `raw` was live; freeing a freed handle does nothing.
    ///
    /// This is what a [`HandleGuard`] does when it drops.
    pub fn release(&self, raw: RawHandle) -> bool {
        let Some(slot) = self.slot(raw.index()) else {
            return false;
        };
        // The entry, possibly the last reference to its object, drops after the lock.
        self.take(slot, raw, None).is_ok()
    }

    /// Whether `raw`, a handle of `kind`, was handed out by this table and freed since: its
    /// slot's generation has moved past the handle's. Only the error path of a lookup asks,
    /// for handle types that only nioxide frees (a context's, at its channel's teardown),
    /// to tell a handle that outlived its object from one that never named anything. The
    /// generation does not record which kind held the slot, so a value made up with the tag
    /// of `kind`, a used slot and an older generation passes too.
    pub fn was_freed(&self, raw: RawHandle, kind: HandleKind) -> bool {
        if raw.0 == 0 || raw.tag() != kind.tag() {
            return false;
        }
        let Some(slot) = self.slot(raw.index()) else {
            return false;
        };
        let state = slot.state.load(Ordering::Acquire);
        state & !BUSY != live_state(raw) && slot.generation() > raw.generation()
    }

    /// How many handles are live in this table.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// How many handles of `kind` are live in this table.
    pub fn live_of(&self, kind: HandleKind) -> usize {
        self.live_by_tag[kind.tag() as usize].load(Ordering::Relaxed)
    }

    fn insert_entry(
        &self,
        kind: HandleKind,
        type_id: TypeId,
        entry: Entry,
        owner: Option<(&'static RunRight, u64)>,
    ) -> Result<RawHandle, c_int> {
        self.check_type(kind, type_id)?;
        let index = self.allocate()?;
        self.publish(index, kind, entry, owner)
    }

    /// Records `type_id` as the Rust type stored under `kind` (the first time), or checks it.
    fn check_type(&self, kind: HandleKind, type_id: TypeId) -> Result<(), c_int> {
        if *self.types[kind.tag() as usize].get_or_init(|| type_id) != type_id {
            return Err(NX_EINVAL);
        }
        Ok(())
    }

    /// A free slot's index, off the free list or new; `-ENOMEM` at the limit of live handles.
    fn allocate(&self) -> Result<usize, c_int> {
        Ok({
            let mut alloc = lock(&self.alloc);
            if self.live.load(Ordering::Relaxed) >= LIMIT.load(Ordering::Relaxed) {
                return Err(-libc::ENOMEM);
            }
            match alloc.free.pop() {
                Some(index) => index as usize,
                None if alloc.next >= MAX_HANDLES => return Err(-libc::ENOMEM),
                None => {
                    let index = alloc.next;
                    self.ensure_chunk(index);
                    alloc.next += 1;
                    index
                }
            }
        })
    }

    /// Publishes `entry` as a live handle of `kind` in the free slot `index`, owned by the
    /// loop of `owner` if given.
    fn publish(
        &self,
        index: usize,
        kind: HandleKind,
        entry: Entry,
        owner: Option<(&'static RunRight, u64)>,
    ) -> Result<RawHandle, c_int> {
        let slot = self.slot(index).expect("allocated slot has a chunk");
        let writer = slot.lock_writer();
        let generation = slot.generation();
        // SAFETY: a free slot has `LIVE` clear, so no reader is in, and `writer` is ours.
        let cell = unsafe { &mut *slot.entry.get() };
        debug_assert!(matches!(cell, Entry::Free));
        *cell = entry;
        // Release: a fast-path reader that sees this owner, then fences, sees every state change
        // made before it (the retirement of the slot's previous entry) when it reads the state
        // again.
        if let Some((run_right, loop_id)) = owner {
            slot.owner
                .store(ptr::from_ref(run_right).cast_mut(), Ordering::Release);
            slot.owner_id.store(loop_id, Ordering::Release);
        }
        let raw = RawHandle::new(index, generation, kind);
        // The writer bit stays set until `writer` drops.
        slot.state
            .store(live_state(raw) | WRITER, Ordering::Release);
        drop(writer);
        self.live.fetch_add(1, Ordering::Relaxed);
        self.live_by_tag[kind.tag() as usize].fetch_add(1, Ordering::Relaxed);
        Ok(raw)
    }

    /// Registers this thread as a reader of `raw`'s slot and checks that it holds a `T`: the
    /// entry, which stays in the slot while the reader is registered.
    #[inline]
    fn read<T: 'static>(
        &self,
        raw: RawHandle,
        kind: HandleKind,
    ) -> Result<(Reader<'_>, &Entry), c_int> {
        let slot = self.checked_slot(raw, kind)?;
        let reader = slot.enter(raw).ok_or(NX_EBADHANDLE)?;
        if !self.stores::<T>(raw) {
            return Err(NX_EINVAL);
        }
        let entry = slot.entry(&reader);
        Ok((reader, entry))
    }

    /// Whether this table stores `T`s under `raw`'s tag. For a registered reader of a live
    /// entry of `raw`, whose insert recorded the tag's type before it published the entry.
    #[inline(always)]
    fn stores<T: 'static>(&self, raw: RawHandle) -> bool {
        self.types[raw.tag() as usize].get() == Some(&TypeId::of::<T>())
    }

    /// Checks the parts of `raw` that need no lock: not null, and of `kind`.
    fn checked_slot(&self, raw: RawHandle, kind: HandleKind) -> Result<&Slot, c_int> {
        if raw.0 == 0 || raw.tag() != kind.tag() {
            return Err(NX_EINVAL);
        }
        self.slot(raw.index()).ok_or(NX_EBADHANDLE)
    }

    /// Takes `raw`'s entry out of `slot`, bumps the generation and frees the slot. The
    /// caller drops the entry, outside every lock.
    fn take(&self, slot: &Slot, raw: RawHandle, type_id: Option<TypeId>) -> Result<Entry, c_int> {
        let writer = slot.lock_writer();
        if slot.owner_id.load(Ordering::Relaxed) & RESIDENT != 0 {
            // A resident slot's handle is closed by its resident, never freed.
            return Err(NX_EINVAL);
        }
        if !slot.owner.load(Ordering::Relaxed).is_null() {
            // A loop-owned entry is only ever retired and reclaimed (`remove`): its loop's
            // thread may be using it without a reader count.
            debug_assert!(false, "release of a loop-owned handle");
            return Err(NX_EINVAL);
        }
        if let Some(type_id) = type_id {
            let _reader = slot.enter(raw).ok_or(NX_EBADHANDLE)?;
            if self.types[raw.tag() as usize].get() != Some(&type_id) {
                return Err(NX_EINVAL);
            }
        }
        // Close the slot to new readers, then wait for the ones in flight (a few instructions).
        let want = live_state(raw);
        let mut state = slot.state.load(Ordering::Relaxed);
        loop {
            if state & !BUSY != want {
                return Err(NX_EBADHANDLE);
            }
            match slot.state.compare_exchange_weak(
                state,
                state & !LIVE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => state = seen,
            }
        }
        while slot.state.load(Ordering::Acquire) & READERS != 0 {
            std::hint::spin_loop();
        }
        // SAFETY: `LIVE` is clear and no reader is in; `writer` is ours.
        let entry = std::mem::take(unsafe { &mut *slot.entry.get() });
        // A used-up generation retires the slot: it is never reused, so no stale handle can
        // name a new object. The writer bit stays set until `writer` drops.
        let generation = raw.generation();
        let reusable = generation != u32::MAX;
        slot.state.store(
            ((generation.wrapping_add(1) as u64) << 32) | WRITER,
            Ordering::Release,
        );
        drop(writer);
        if reusable {
            lock(&self.alloc).free.push(raw.index() as u32);
        }
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.live_by_tag[raw.tag() as usize].fetch_sub(1, Ordering::Relaxed);
        Ok(entry)
    }

    /// The slot at `index`, if its chunk exists.
    #[inline(always)]
    fn slot(&self, index: usize) -> Option<&Slot> {
        if index >= MAX_HANDLES {
            return None;
        }
        let (chunk, offset) = chunk_of(index);
        let base = self.chunks[chunk].load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: `base` points to an allocated `[Slot; FIRST_CHUNK << chunk]` that lives as long
        // as the table (chunks are freed only by `Drop`, which has `&mut self`), and
        // `offset < FIRST_CHUNK << chunk` by `chunk_of`.
        Some(unsafe { &*base.add(offset) })
    }

    /// Allocates the chunk that holds slot `index`, if not yet there. Called with the
    /// allocation lock held, so chunks are created by one thread at a time.
    fn ensure_chunk(&self, index: usize) {
        let (chunk, _) = chunk_of(index);
        if self.chunks[chunk].load(Ordering::Acquire).is_null() {
            let layout = Layout::array::<Slot>(FIRST_CHUNK << chunk).expect("a chunk's size fits");
            // SAFETY: the layout is not empty. All zeros is a free slot (`Slot::new`), so the
            // chunk is initialized, and its pages are touched only as slots are used.
            let base = unsafe { alloc::alloc_zeroed(layout) }.cast::<Slot>();
            if base.is_null() {
                alloc::handle_alloc_error(layout);
            }
            self.chunks[chunk].store(base, Ordering::Release);
        }
    }
}

impl Default for Handles {
    fn default() -> Handles {
        Handles::new()
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        for (chunk, base) in self.chunks.iter_mut().enumerate() {
            let base = *base.get_mut();
            if !base.is_null() {
                let slots = ptr::slice_from_raw_parts_mut(base, FIRST_CHUNK << chunk);
                // SAFETY: allocated in `ensure_chunk` as an array of this length (a boxed
                // slice's layout), and initialized; `&mut self` means no slot reference is
                // alive.
                drop(unsafe { Box::from_raw(slots) });
            }
        }
    }
}

impl fmt::Debug for Handles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handles")
            .field("live", &self.live())
            .finish_non_exhaustive()
    }
}

/// The chunk that holds slot `index`, and the slot's offset in it.
#[inline(always)]
fn chunk_of(index: usize) -> (usize, usize) {
    let n = index / FIRST_CHUNK + 1;
    let chunk = n.ilog2() as usize;
    (chunk, index - FIRST_CHUNK * ((1 << chunk) - 1))
}

/// The `T` an entry named, or `NX_EBADHANDLE` if a weak entry's object died.
fn downcast<T: Send + Sync + 'static>(
    object: Option<Arc<dyn Any + Send + Sync>>,
) -> Result<Arc<T>, c_int> {
    object
        .ok_or(NX_EBADHANDLE)?
        .downcast::<T>()
        .map_err(|_| NX_EINVAL)
}

/// Frees a weak handle's slot when dropped, so an object can free its own C handle when it
/// dies. Made by [`insert_weak`]; dropping it after the handle was freed does nothing.
pub struct HandleGuard<H: HandleType> {
    table: &'static Handles,
    raw: RawHandle,
    _type: PhantomData<fn() -> H>,
}

impl<H: HandleType> HandleGuard<H> {
    /// The handle, as the pointer to give to C.
    pub fn as_ptr(&self) -> *mut H {
        self.raw.as_ptr()
    }

    /// The handle's value.
    pub fn raw(&self) -> RawHandle {
        self.raw
    }
}

impl<H: HandleType> Drop for HandleGuard<H> {
    fn drop(&mut self) {
        self.table.release(self.raw);
    }
}

impl<H: HandleType> fmt::Debug for HandleGuard<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HandleGuard").field(&self.raw).finish()
    }
}

/// A slot that one thread keeps to lend one object under a new handle again and again (see
/// "Resident slots" in the module docs): [`open`](Self::open) makes the next handle live,
/// [`close`](Self::close) retires it. Between a close and the next open no handle names the
/// object and no lookup is inside a call on it, so its owner may change it then.
///
/// Not `Sync`: open and close are the owning thread's. Dropping it frees the slot.
pub struct Resident<H: HandleType> {
    table: &'static Handles,
    slot: &'static Slot,
    /// The handle of the current lend (open) or of the next one (closed).
    raw: RawHandle,
    open: bool,
    object: Arc<H::Object>,
}

impl<H: HandleType> Resident<H> {
    /// A resident slot in [`HANDLES`] holding `object`, closed.
    ///
    /// Errors: `-ENOMEM` when 2^24 handles are live; `NX_EINVAL` if the table stores another
    /// Rust type under `H`'s kind.
    pub fn new(object: Arc<H::Object>) -> Result<Resident<H>, c_int> {
        Self::new_in(&HANDLES, object)
    }

    /// [`new`](Self::new) in `table`.
    fn new_in(table: &'static Handles, object: Arc<H::Object>) -> Result<Resident<H>, c_int> {
        let kind = H::KIND;
        table.check_type(kind, TypeId::of::<H::Object>())?;
        let index = table.allocate()?;
        let slot = table.slot(index).expect("allocated slot has a chunk");
        let writer = slot.lock_writer();
        let generation = slot.generation();
        // SAFETY: a free slot has `LIVE` clear, so no reader is in, and `writer` is ours.
        unsafe { *slot.entry.get() = Entry::Strong(object.clone()) };
        slot.owner_id.store(RESIDENT, Ordering::Release);
        drop(writer);
        Ok(Resident {
            table,
            slot,
            raw: RawHandle::new(index, generation, kind),
            open: false,
            object,
        })
    }

    /// The object the slot's handles name.
    pub fn object(&self) -> &H::Object {
        &self.object
    }

    /// Makes the slot's next handle live and returns it: every thread may look it up until
    /// [`close`](Self::close).
    ///
    /// Errors: `-ENOMEM` when as many handles are live as allowed (`nx_debug_handle_limit`).
    pub fn open(&mut self) -> Result<*mut H, c_int> {
        debug_assert!(!self.open, "a resident slot opened twice");
        let table = self.table;
        if table.live.load(Ordering::Relaxed) >= LIMIT.load(Ordering::Relaxed) {
            return Err(-libc::ENOMEM);
        }
        let live = live_state(self.raw);
        // The opener, before the handle is live: the calling thread's lookups of this handle
        // may then skip the reader count (only this thread closes it, after them).
        self.slot
            .owner_id
            .store(resident_of_caller(), Ordering::Relaxed);
        // Release: whoever sees the handle live sees the object as its owner left it. A writer
        // bit a stale free holds for a moment stays.
        let _ = self
            .slot
            .state
            .fetch_update(Ordering::Release, Ordering::Relaxed, |state| {
                Some(live | (state & BUSY))
            });
        self.open = true;
        table.live.fetch_add(1, Ordering::Relaxed);
        table.live_by_tag[H::KIND.tag() as usize].fetch_add(1, Ordering::Relaxed);
        Ok(self.raw.as_ptr())
    }

    /// Retires the open handle (calls with it fail with `NX_EBADHANDLE` from now on) and
    /// returns once no other thread is inside a call on it: the object is the owner's alone
    /// again. Returns whether the slot can serve another lend (`false` once its generations
    /// are used up: drop the resident then).
    pub fn close(&mut self) -> bool {
        if !std::mem::take(&mut self.open) {
            return self.raw.generation() != u32::MAX;
        }
        let generation = self.raw.generation();
        let next = generation.wrapping_add(1);
        // Used up: the slot stays retired (generation `u32::MAX`, not live) for good.
        let retired = (u64::from(if generation == u32::MAX {
            generation
        } else {
            next
        }) << 32)
            | (u64::from(H::KIND.tag()) << 24);
        let _ = self
            .slot
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |state| {
                Some(retired | (state & BUSY))
            });
        // Readers that got in before the retirement leave within a few instructions.
        while self.slot.state.load(Ordering::Acquire) & READERS != 0 {
            std::hint::spin_loop();
        }
        let table = self.table;
        table.live.fetch_sub(1, Ordering::Relaxed);
        table.live_by_tag[H::KIND.tag() as usize].fetch_sub(1, Ordering::Relaxed);
        if generation == u32::MAX {
            return false;
        }
        self.raw = RawHandle::new(self.raw.index(), next, H::KIND);
        true
    }
}

impl<H: HandleType> Drop for Resident<H> {
    fn drop(&mut self) {
        let reusable = self.close();
        let writer = self.slot.lock_writer();
        // SAFETY: the slot is closed (`LIVE` clear, no reader in), and `writer` is ours.
        let entry = std::mem::take(unsafe { &mut *self.slot.entry.get() });
        self.slot.owner_id.store(0, Ordering::Release);
        drop(writer);
        if reusable {
            lock(&self.table.alloc).free.push(self.raw.index() as u32);
        }
        drop(entry);
    }
}

impl<H: HandleType> fmt::Debug for Resident<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resident")
            .field("raw", &self.raw)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// The object of a handle made before the object it names: an object whose callback gets its
/// own handle (a watch, a timer) needs the handle first, so the handle names a `Late` that is
/// set right after, before the handle is handed out. Records the fork generation at creation.
#[derive(Debug)]
pub struct Late<T> {
    value: OnceLock<T>,
    generation: u64,
}

impl<T> Late<T> {
    /// Not set yet, made in the current fork generation.
    pub fn new() -> Late<T> {
        Late {
            value: OnceLock::new(),
            generation: fork::generation(),
        }
    }

    /// Sets the object (once; a second value is dropped).
    pub fn set(&self, value: T) {
        let _ = self.value.set(value);
    }

    /// The object.
    ///
    /// Errors: `NX_EFORKED` in a forked child, `NX_EBADHANDLE` before [`set`](Self::set).
    pub fn get(&self) -> Result<&T, c_int> {
        if fork::is_forked(self.generation) {
            return Err(NX_EFORKED);
        }
        self.value.get().ok_or(NX_EBADHANDLE)
    }

    /// The object, unless this is a forked child (where close and free leave it alone: its
    /// loop's locks may have been held by the parent's threads at the fork) or it is not set.
    pub fn unforked(&self) -> Option<&T> {
        self.get().ok()
    }
}

impl<T> Default for Late<T> {
    fn default() -> Late<T> {
        Late::new()
    }
}

/// Stores `object` in [`HANDLES`] and returns the new handle for C, which owns it until the
/// matching `nx_<type>_free` calls [`remove`].
///
/// Errors: `-ENOMEM` when 2^24 handles are live.
pub fn insert<H: HandleType>(object: Arc<H::Object>) -> Result<*mut H, c_int> {
    HANDLES.insert(H::KIND, object).map(RawHandle::as_ptr)
}

/// Stores `object`, which belongs to `owner`, in [`HANDLES`] (see "Loop-owned objects" in the
/// module docs) and returns the new handle for C, which owns it until `nx_<type>_free` calls
/// [`remove`].
///
/// Errors: `-ENOMEM` when 2^24 handles are live.
pub fn insert_owned<H: HandleType>(
    object: Arc<H::Object>,
    owner: &EventLoop,
) -> Result<*mut H, c_int> {
    const { assert!(H::LOOP_OWNED, "a loop-owned handle type sets LOOP_OWNED") };
    HANDLES
        .insert_owned(H::KIND, object, owner)
        .map(RawHandle::as_ptr)
}

/// Stores a weak reference to `object` in [`HANDLES`]; the guard frees the handle when it
/// drops. Use with [`Arc::new_cyclic`] to keep the guard inside the object.
///
/// Errors: `-ENOMEM` when 2^24 handles are live.
pub fn insert_weak<H: HandleType>(object: &Weak<H::Object>) -> Result<HandleGuard<H>, c_int> {
    let raw = HANDLES.insert_weak(H::KIND, object)?;
    Ok(HandleGuard {
        table: &HANDLES,
        raw,
        _type: PhantomData,
    })
}

/// The object behind the C handle `ptr`, kept alive by the returned `Arc` for the call.
///
/// Errors: `NX_EINVAL` for NULL or a handle of another type; `NX_EBADHANDLE` for a freed or
/// unknown handle, or a weak handle whose object died.
#[inline(always)]
pub fn get<H: HandleType>(ptr: *const H) -> Result<Arc<H::Object>, c_int> {
    if H::LOOP_OWNED {
        HANDLES.get(RawHandle::from_ptr(ptr), H::KIND)
    } else {
        HANDLES.get_checked(RawHandle::from_ptr(ptr), H::KIND)
    }
}

/// Calls `f` with the object behind the C handle `ptr`, borrowed for the call (see
/// [`Handles::with`]: `f` must be short and must not free the handle).
///
/// Errors: as [`get`].
#[inline(always)]
pub fn with<H: HandleType, R>(ptr: *const H, f: impl FnOnce(&H::Object) -> R) -> Result<R, c_int> {
    if H::LOOP_OWNED {
        HANDLES.with(RawHandle::from_ptr(ptr), H::KIND, f)
    } else {
        HANDLES.with_checked(RawHandle::from_ptr(ptr), H::KIND, f)
    }
}

/// Calls `f` with the object behind the C handle `ptr`, borrowed for the call, as [`with`],
/// with a fast path for a handle lent to a callback on the calling thread (see
/// [`Handles::with_lent`]): for message handles.
///
/// Errors: as [`get`].
#[inline(always)]
pub fn with_lent<H: HandleType, R>(
    ptr: *const H,
    f: impl FnOnce(&H::Object) -> R,
) -> Result<R, c_int> {
    HANDLES.with_lent(RawHandle::from_ptr(ptr), H::KIND, f)
}

/// Whether the C handle `ptr` named an object once and was freed since (see
/// [`Handles::was_freed`]).
pub fn was_freed<H: HandleType>(ptr: *const H) -> bool {
    HANDLES.was_freed(RawHandle::from_ptr(ptr), H::KIND)
}

/// Calls `f` with the object behind the loop-owned C handle `ptr`: borrowed on the running
/// thread of its loop (the fast path, where `f` may do anything but free the handle before
/// the turn ends, as [`Handles::with`]), else through a reference taken for the call (as
/// [`get`]), so `f` may be long and call anything.
///
/// Errors: as [`get`].
#[inline(always)]
pub fn with_held<H: HandleType, R>(
    ptr: *const H,
    f: impl FnOnce(&H::Object) -> R,
) -> Result<R, c_int> {
    const {
        assert!(
            H::LOOP_OWNED,
            "only loop-owned handle types have a fast path"
        )
    };
    let raw = RawHandle::from_ptr(ptr);
    match HANDLES.owned_by_caller::<H::Object>(raw, H::KIND) {
        Some(object) => Ok(f(object)),
        None => Ok(f(&*HANDLES.get_checked::<H::Object>(raw, H::KIND)?)),
    }
}

/// Frees the C handle `ptr` and returns its object (for `nx_<type>_free`, which closes the
/// object, then drops it).
///
/// Errors: as [`get`]; a second free of the same handle gives `NX_EBADHANDLE`.
pub fn remove<H: HandleType>(ptr: *const H) -> Result<Arc<H::Object>, c_int> {
    HANDLES.remove(RawHandle::from_ptr(ptr), H::KIND)
}

/// Stores in `*count_out` how many handles of type `kind` are live in the process:
/// `NX_HANDLE_ALL` for all of them, or one type (`NX_HANDLE_SELECTOR`, `NX_HANDLE_SOCKET_CHANNEL`,
/// ...). A handle is live from the call that returns it until its `nx_<type>_free`; handles
/// owned by live objects count too (a registration's selection key until its selector forgets
/// it, the loops of a live group).
///
/// For a leak check in a test's teardown, like libuv's `MAKE_VALGRIND_HAPPY`: read the count
/// before the test, free everything the test made (and let the loops that own work finish),
/// then check that the count is back where it was. On error `*count_out` is unchanged.
///
/// Thread safety: safe from any thread; the count may change as soon as it is read, when
/// other threads make or free handles.
///
/// Errors: `NX_EINVAL` (NULL `count_out`, an unknown `kind`).
#[unsafe(no_mangle)]
pub extern "C" fn nx_live_handles(kind: c_int, count_out: *mut usize) -> c_int {
    crate::nx_ffi_boundary! {
        crate::args::status(|| {
            let out = crate::args::Out::new(count_out)?;
            let count = if kind == NX_HANDLE_ALL {
                HANDLES.live()
            } else {
                let kind = KINDS
                    .into_iter()
                    .find(|k| type_constant(*k) == kind)
                    .ok_or(NX_EINVAL)?;
                HANDLES.live_of(kind)
            };
            out.set(count);
            Ok(())
        })
    }
}

/// Returns how many checked handles are live in the process: every handle returned by an
/// `nx_*_new`/`open` function and not yet freed, plus those owned by live objects (such as
/// selection keys).
///
/// Only in builds with the `testing` feature (the C tests check that each test leaves the
/// count where it found it); the header declares it when `NX_TESTING` is defined.
///
/// Thread safety: safe from any thread; the count may change as soon as it is read.
///
/// Errors: none.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "C" fn nx_debug_live_handles() -> usize {
    crate::nx_ffi_boundary! { HANDLES.live() }
}

/// Lets at most `limit` handles be live in the process from now on (0: the default, 2^24), so
/// that a test can make the next `nx_*` call that needs a handle fail with `-ENOMEM` and check
/// that nothing was kept or freed. Handles already live stay valid.
///
/// Only in builds with the `testing` feature; the header declares it when `NX_TESTING` is
/// defined.
///
/// Thread safety: safe from any thread; it applies to every thread's later calls.
///
/// Errors: `NX_EINVAL` for a limit above 2^24.
#[cfg(feature = "testing")]
#[unsafe(no_mangle)]
pub extern "C" fn nx_debug_handle_limit(limit: usize) -> c_int {
    crate::nx_ffi_boundary! {
        if limit > MAX_HANDLES {
            return NX_EINVAL;
        }
        LIMIT.store(if limit == 0 { MAX_HANDLES } else { limit }, Ordering::Relaxed);
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing(u32);
    struct Other;

    #[allow(non_camel_case_types)]
    struct nx_thing_t;
    impl HandleType for nx_thing_t {
        type Object = Thing;
        const KIND: HandleKind = HandleKind::Selector;
    }

    #[allow(non_camel_case_types)]
    struct nx_other_t;
    impl HandleType for nx_other_t {
        type Object = Other;
        const KIND: HandleKind = HandleKind::SocketChannel;
    }

    /// A private table, so counts are not disturbed by tests running in parallel.
    fn table() -> &'static Handles {
        Box::leak(Box::new(Handles::new()))
    }

    #[test]
    fn every_kind_has_its_tag_as_type_constant() {
        for (i, kind) in KINDS.into_iter().enumerate() {
            assert_eq!(type_constant(kind), c_int::from(kind.tag()));
            assert_eq!(usize::from(kind.tag()), i + 1, "KINDS is in tag order");
        }
    }

    #[test]
    fn live_counts_by_kind_go_up_and_back_down() {
        let handles = table();
        let a = handles
            .insert(HandleKind::Selector, Arc::new(Thing(1)))
            .unwrap();
        let thing = Arc::new(Thing(2));
        let b = handles
            .insert_weak(HandleKind::SocketChannel, &Arc::downgrade(&thing))
            .unwrap();
        assert_eq!(handles.live_of(HandleKind::Selector), 1);
        assert_eq!(handles.live_of(HandleKind::SocketChannel), 1);
        assert_eq!(handles.live_of(HandleKind::Timer), 0);
        assert_eq!(handles.live(), 2);
        assert!(handles.remove::<Thing>(a, HandleKind::Selector).is_ok());
        assert_eq!(handles.live_of(HandleKind::Selector), 0);
        assert!(handles.release(b));
        assert!(!handles.release(b), "a second release counts nothing");
        assert_eq!(handles.live_of(HandleKind::SocketChannel), 0);
        assert_eq!(handles.live(), 0);
    }

    #[test]
    fn was_freed_tells_a_freed_handle_from_a_live_or_made_up_one() {
        let handles = table();
        let raw = handles
            .insert(HandleKind::Selector, Arc::new(Thing(1)))
            .unwrap();
        assert!(!handles.was_freed(raw, HandleKind::Selector), "live");
        assert!(!handles.was_freed(raw, HandleKind::Timer), "another kind");
        let ahead = RawHandle::new(raw.index(), raw.generation() + 1, HandleKind::Selector);
        assert!(
            !handles.was_freed(ahead, HandleKind::Selector),
            "never handed out"
        );
        let unused = RawHandle::new(raw.index() + 1000, 0, HandleKind::Selector);
        assert!(
            !handles.was_freed(unused, HandleKind::Selector),
            "no such slot"
        );
        assert!(
            !handles.was_freed(RawHandle(0), HandleKind::Selector),
            "null"
        );
        handles.remove::<Thing>(raw, HandleKind::Selector).unwrap();
        assert!(handles.was_freed(raw, HandleKind::Selector));
        // The slot's reuse does not make the old handle look live again.
        let again = handles
            .insert(HandleKind::Selector, Arc::new(Thing(2)))
            .unwrap();
        assert_eq!(again.index(), raw.index());
        assert!(handles.was_freed(raw, HandleKind::Selector));
        assert!(!handles.was_freed(again, HandleKind::Selector));
        handles
            .remove::<Thing>(again, HandleKind::Selector)
            .unwrap();
    }

    #[test]
    fn a_resident_slot_lends_a_new_handle_each_time() {
        let handles = table();
        let mut resident = Resident::<nx_thing_t>::new_in(handles, Arc::new(Thing(3))).unwrap();
        assert_eq!(
            handles.live(),
            0,
            "a closed resident slot is not a live handle"
        );
        let first = RawHandle::from_ptr(resident.open().unwrap());
        assert_eq!(handles.live_of(HandleKind::Selector), 1);
        assert_eq!(
            handles.with(first, HandleKind::Selector, |t: &Thing| t.0),
            Ok(3)
        );
        assert_eq!(
            handles.remove::<Thing>(first, HandleKind::Selector).err(),
            Some(NX_EINVAL),
            "a lent handle is closed by its resident, never freed"
        );
        assert!(resident.close());
        assert_eq!(handles.live(), 0);
        assert_eq!(
            handles.with(first, HandleKind::Selector, |t: &Thing| t.0),
            Err(NX_EBADHANDLE)
        );
        let second = RawHandle::from_ptr(resident.open().unwrap());
        assert_ne!(first, second, "each lend has a handle of its own");
        assert_eq!(
            handles.with(first, HandleKind::Selector, |t: &Thing| t.0),
            Err(NX_EBADHANDLE),
            "a stale handle never names the next lend"
        );
        assert_eq!(
            handles
                .get::<Thing>(second, HandleKind::Selector)
                .unwrap()
                .0,
            3
        );
        drop(resident);
        assert_eq!(handles.live(), 0, "dropping an open resident closes it");
        assert_eq!(
            handles.with(second, HandleKind::Selector, |t: &Thing| t.0),
            Err(NX_EBADHANDLE)
        );
        // The slot went back to the free list: the next insert reuses it.
        let next = handles
            .insert(HandleKind::Selector, Arc::new(Thing(4)))
            .unwrap();
        assert_eq!(next.index(), second.index());
        assert!(handles.remove::<Thing>(next, HandleKind::Selector).is_ok());
    }

    #[test]
    fn only_the_thread_that_opened_a_resident_handle_looks_it_up_without_a_reader() {
        let handles = table();
        let mut resident = Resident::<nx_thing_t>::new_in(handles, Arc::new(Thing(6))).unwrap();
        let lent = RawHandle::from_ptr(resident.open().unwrap());
        assert_eq!(
            handles
                .lent_to_caller::<Thing>(lent, HandleKind::Selector)
                .map(|t| t.0),
            Some(6),
            "the opening thread takes the fast path"
        );
        assert!(
            handles
                .lent_to_caller::<Other>(lent, HandleKind::Selector)
                .is_none(),
            "another Rust type is not"
        );
        assert!(
            handles
                .lent_to_caller::<Thing>(lent, HandleKind::Timer)
                .is_none(),
            "another kind is not"
        );
        let there = std::thread::scope(|s| {
            s.spawn(|| {
                (
                    handles
                        .lent_to_caller::<Thing>(lent, HandleKind::Selector)
                        .is_none(),
                    handles.with_lent(lent, HandleKind::Selector, |t: &Thing| t.0),
                )
            })
            .join()
            .unwrap()
        });
        assert_eq!(
            there,
            (true, Ok(6)),
            "another thread takes the checked path, which finds the same object"
        );
        assert!(resident.close());
        assert!(
            handles
                .lent_to_caller::<Thing>(lent, HandleKind::Selector)
                .is_none(),
            "closed"
        );
        assert_eq!(
            handles.with_lent(lent, HandleKind::Selector, |t: &Thing| t.0),
            Err(NX_EBADHANDLE)
        );
        let next = RawHandle::from_ptr(resident.open().unwrap());
        assert!(
            handles
                .lent_to_caller::<Thing>(lent, HandleKind::Selector)
                .is_none(),
            "a stale handle of the same slot"
        );
        assert_eq!(
            handles.with_lent(next, HandleKind::Selector, |t: &Thing| t.0),
            Ok(6)
        );
        drop(resident);
        assert!(
            handles
                .lent_to_caller::<Thing>(next, HandleKind::Selector)
                .is_none(),
            "a dropped resident's handle"
        );
        assert_eq!(handles.live(), 0);
    }

    #[test]
    fn insert_get_remove() {
        let handles = table();
        let raw = handles
            .insert(HandleKind::Selector, Arc::new(Thing(5)))
            .unwrap();
        assert_eq!(handles.live(), 1);
        assert_eq!(
            handles.get::<Thing>(raw, HandleKind::Selector).unwrap().0,
            5
        );
        let object = handles.remove::<Thing>(raw, HandleKind::Selector).unwrap();
        assert_eq!(
            Arc::strong_count(&object),
            1,
            "the table gave its reference away"
        );
        assert_eq!(handles.live(), 0);
    }

    #[test]
    fn null_and_wrong_type_are_invalid() {
        assert_eq!(get::<nx_thing_t>(ptr::null()).err(), Some(NX_EINVAL));
        assert_eq!(remove::<nx_thing_t>(ptr::null()).err(), Some(NX_EINVAL));
        let thing: *mut nx_thing_t = insert(Arc::new(Thing(1))).unwrap();
        let as_other = thing.cast::<nx_other_t>();
        assert_eq!(get(as_other).err(), Some(NX_EINVAL));
        assert_eq!(remove(as_other).err(), Some(NX_EINVAL));
        assert_eq!(
            get(thing).unwrap().0,
            1,
            "a wrong-type call leaves the handle alone"
        );
        remove(thing).unwrap();
    }

    #[test]
    fn wrong_rust_type_under_the_right_kind_is_invalid() {
        let handles = table();
        let raw = handles
            .insert(HandleKind::Selector, Arc::new(Thing(1)))
            .unwrap();
        assert_eq!(
            handles.get::<Other>(raw, HandleKind::Selector).err(),
            Some(NX_EINVAL)
        );
        assert_eq!(
            handles.remove::<Other>(raw, HandleKind::Selector).err(),
            Some(NX_EINVAL)
        );
        assert!(handles.get::<Thing>(raw, HandleKind::Selector).is_ok());
        assert_eq!(
            handles.insert(HandleKind::Selector, Arc::new(Other)).err(),
            Some(NX_EINVAL),
            "one Rust type per kind"
        );
        assert_eq!(handles.live(), 1);
    }

    #[test]
    fn an_all_zero_slot_is_a_free_one() {
        let zeroed = std::mem::MaybeUninit::<Slot>::zeroed();
        // SAFETY: what this test checks: all zeros is a valid slot, as `ensure_chunk` assumes.
        let slot = unsafe { zeroed.assume_init() };
        let new = Slot::new();
        assert_eq!(
            slot.state.load(Ordering::Relaxed),
            new.state.load(Ordering::Relaxed)
        );
        assert!(slot.owner.load(Ordering::Relaxed).is_null());
        assert_eq!(slot.owner_id.load(Ordering::Relaxed), 0);
        assert!(matches!(unsafe { &*slot.entry.get() }, Entry::Free));
        assert_eq!(slot_bytes(), 56);
    }

    #[test]
    fn writers_of_one_slot_take_turns() {
        let handles = table();
        let raw = handles
            .insert(HandleKind::Selector, Arc::new(Thing(1)))
            .unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let _ = handles.get::<Thing>(raw, HandleKind::Selector);
                        let slot = handles.slot(raw.index()).unwrap();
                        drop(slot.lock_writer());
                    }
                });
            }
        });
        let slot = handles.slot(raw.index()).unwrap();
        assert_eq!(
            slot.state.load(Ordering::Relaxed),
            live_state(raw),
            "no bit left over"
        );
        assert!(handles.remove::<Thing>(raw, HandleKind::Selector).is_ok());
        assert_eq!(
            handles.get::<Thing>(raw, HandleKind::Selector).err(),
            Some(NX_EBADHANDLE)
        );
    }

    #[test]
    fn after_free_is_bad_handle() {
        let thing: *mut nx_thing_t = insert(Arc::new(Thing(2))).unwrap();
        remove(thing).unwrap();
        assert_eq!(get(thing).err(), Some(NX_EBADHANDLE));
        assert_eq!(remove(thing).err(), Some(NX_EBADHANDLE), "double free");
    }

    #[test]
    fn unknown_numbers_are_bad_handles() {
        let handles = table();
        for index in [0, 1, 63, 64, 1000, MAX_HANDLES - 1] {
            let raw = RawHandle::new(index, 0, HandleKind::Selector);
            assert_eq!(
                handles.get::<Thing>(raw, HandleKind::Selector).err(),
                Some(NX_EBADHANDLE)
            );
        }
        // Any bit pattern whose low byte is a valid tag: still no crash.
        let raw = RawHandle(usize::MAX & !0xff | HandleKind::Selector.tag() as usize);
        assert_eq!(
            handles.get::<Thing>(raw, HandleKind::Selector).err(),
            Some(NX_EBADHANDLE)
        );
        assert!(!handles.release(raw));
    }

    #[test]
    fn reused_slot_gets_a_new_generation() {
        let handles = table();
        let first = handles
            .insert(HandleKind::Selector, Arc::new(Thing(1)))
            .unwrap();
        handles
            .remove::<Thing>(first, HandleKind::Selector)
            .unwrap();
        let second = handles
            .insert(HandleKind::Selector, Arc::new(Thing(2)))
            .unwrap();
        assert_eq!(first.index(), second.index(), "the slot is reused");
        assert_ne!(first, second);
        assert_eq!(
            handles.get::<Thing>(first, HandleKind::Selector).err(),
            Some(NX_EBADHANDLE)
        );
        assert_eq!(
            handles
                .get::<Thing>(second, HandleKind::Selector)
                .unwrap()
                .0,
            2
        );
        assert!(!handles.release(first), "a stale handle frees nothing");
        assert_eq!(handles.live(), 1);
    }

    #[test]
    fn used_up_generation_retires_the_slot() {
        let handles = table();
        let raw = handles
            .insert(HandleKind::Selector, Arc::new(Thing(1)))
            .unwrap();
        let last = RawHandle::new(raw.index(), u32::MAX, HandleKind::Selector);
        let slot = handles.slot(raw.index()).unwrap();
        slot.state.store(live_state(last), Ordering::Release);
        handles.remove::<Thing>(last, HandleKind::Selector).unwrap();
        let next = handles
            .insert(HandleKind::Selector, Arc::new(Thing(2)))
            .unwrap();
        assert_ne!(next.index(), raw.index(), "the retired slot is not reused");
    }

    #[test]
    fn weak_entries_follow_their_object() {
        let handles = table();
        let object = Arc::new(Thing(3));
        let raw = handles
            .insert_weak(HandleKind::Selector, &Arc::downgrade(&object))
            .unwrap();
        assert_eq!(
            handles.get::<Thing>(raw, HandleKind::Selector).unwrap().0,
            3
        );
        drop(object);
        assert_eq!(
            handles.get::<Thing>(raw, HandleKind::Selector).err(),
            Some(NX_EBADHANDLE)
        );
        assert_eq!(handles.live(), 1, "the slot stays until released");
        assert!(handles.release(raw));
        assert_eq!(handles.live(), 0);
    }

    /// An object that owns its own weak C handle.
    struct Owned {
        guard: HandleGuard<nx_owned_t>,
    }
    #[allow(non_camel_case_types)]
    struct nx_owned_t;
    impl HandleType for nx_owned_t {
        type Object = Owned;
        const KIND: HandleKind = HandleKind::SelectionKey;
    }

    #[test]
    fn guard_frees_the_handle_when_the_object_dies() {
        let object = Arc::new_cyclic(|weak| Owned {
            guard: insert_weak(weak).unwrap(),
        });
        let ptr = object.guard.as_ptr();
        assert!(Arc::ptr_eq(&get(ptr).unwrap(), &object));
        drop(object);
        assert_eq!(get(ptr).err(), Some(NX_EBADHANDLE));
        assert!(
            !HANDLES.release(RawHandle::from_ptr(ptr)),
            "already freed by the guard"
        );
    }

    #[test]
    fn guard_after_remove_does_nothing() {
        let object = Arc::new_cyclic(|weak| Owned {
            guard: insert_weak(weak).unwrap(),
        });
        let ptr = object.guard.as_ptr();
        assert!(remove(ptr).is_ok());
        drop(object);
        assert_eq!(get(ptr).err(), Some(NX_EBADHANDLE));
    }

    /// An object whose destructor frees another handle: no lock may be held when it runs.
    struct Parent {
        child: RawHandle,
        handles: &'static Handles,
    }
    impl Drop for Parent {
        fn drop(&mut self) {
            self.handles.release(self.child);
        }
    }

    #[test]
    fn destructors_may_free_handles() {
        let handles = table();
        let child = handles
            .insert(HandleKind::SocketChannel, Arc::new(Other))
            .unwrap();
        let parent = handles
            .insert(HandleKind::Selector, Arc::new(Parent { child, handles }))
            .unwrap();
        drop(
            handles
                .remove::<Parent>(parent, HandleKind::Selector)
                .unwrap(),
        );
        assert_eq!(handles.live(), 0);
    }

    #[test]
    fn chunks_cover_the_index_range() {
        assert_eq!(chunk_of(0), (0, 0));
        assert_eq!(chunk_of(63), (0, 63));
        assert_eq!(chunk_of(64), (1, 0));
        assert_eq!(chunk_of(191), (1, 127));
        assert_eq!(chunk_of(192), (2, 0));
        let (chunk, offset) = chunk_of(MAX_HANDLES - 1);
        assert!(chunk < CHUNKS && offset < FIRST_CHUNK << chunk);
    }

    #[test]
    fn many_handles_across_chunks_and_threads() {
        let handles = table();
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                scope.spawn(move || {
                    let raws: Vec<_> = (0..500u32)
                        .map(|i| {
                            handles.insert(HandleKind::Selector, Arc::new(Thing(t * 1000 + i)))
                        })
                        .collect::<Result<_, _>>()
                        .unwrap();
                    for (i, raw) in raws.iter().enumerate() {
                        let thing = handles.get::<Thing>(*raw, HandleKind::Selector).unwrap();
                        assert_eq!(thing.0, t * 1000 + i as u32);
                    }
                    for raw in raws {
                        handles.remove::<Thing>(raw, HandleKind::Selector).unwrap();
                    }
                });
            }
        });
        assert_eq!(handles.live(), 0);
    }

    #[test]
    fn with_borrows_the_object_and_checks_like_get() {
        let thing: *mut nx_thing_t = insert(Arc::new(Thing(4))).unwrap();
        assert_eq!(with(thing, |t| t.0), Ok(4));
        assert_eq!(
            with(thing.cast::<nx_other_t>(), |_| ()).err(),
            Some(NX_EINVAL)
        );
        assert_eq!(
            with::<nx_thing_t, ()>(ptr::null(), |_| ()).err(),
            Some(NX_EINVAL)
        );
        let object = remove(thing).unwrap();
        assert_eq!(Arc::strong_count(&object), 1, "with took no reference");
        assert_eq!(with(thing, |_| ()).err(), Some(NX_EBADHANDLE));
    }

    #[test]
    fn with_holds_off_a_concurrent_free_until_it_returns() {
        let thing: *mut nx_thing_t = insert(Arc::new(Thing(5))).unwrap();
        let raw = RawHandle::from_ptr(thing);
        let freed = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            with(thing, |t| {
                scope.spawn(|| {
                    remove::<nx_thing_t>(raw.as_ptr()).unwrap();
                    freed.store(1, Ordering::SeqCst);
                });
                std::thread::sleep(std::time::Duration::from_millis(20));
                assert_eq!(
                    freed.load(Ordering::SeqCst),
                    0,
                    "the free waits for the reader"
                );
                assert_eq!(t.0, 5);
            })
            .unwrap();
        });
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn get_keeps_the_object_alive_across_a_concurrent_free() {
        let thing: *mut nx_thing_t = insert(Arc::new(Thing(9))).unwrap();
        let held = get(thing).unwrap();
        drop(remove(thing).unwrap());
        assert_eq!(held.0, 9, "the caller's Arc outlives the free");
    }

    /// An object that counts its drops, for the owned-entry tests.
    struct Counted(u32, Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Runs `f` on `lp`'s running thread, in one NoWait turn (the loop is caller-driven).
    fn on_loop(lp: &EventLoop, f: impl FnOnce(&EventLoop) + Send + 'static) {
        lp.execute(f).unwrap();
        lp.run(nioxide_core::event_loop::RunMode::NoWait).unwrap();
    }

    #[cfg(feature = "testing")]
    fn reader_entries() -> u64 {
        nx_debug_reader_entries()
    }

    #[test]
    fn an_owned_handle_is_checked_with_loads_on_its_loops_running_thread_only() {
        let handles: &'static Handles = table();
        let lp = EventLoop::new().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let raw = handles
            .insert_owned(HandleKind::Timer, Arc::new(Counted(7, drops.clone())), &lp)
            .unwrap();
        // The owner between runs does not run the loop: the checked path.
        assert!(
            handles
                .owned_by_caller::<Counted>(raw, HandleKind::Timer)
                .is_none()
        );
        assert_eq!(
            handles.with(raw, HandleKind::Timer, |c: &Counted| c.0),
            Ok(7)
        );
        let (tx, rx) = std::sync::mpsc::channel();
        on_loop(&lp, move |_| {
            #[cfg(feature = "testing")]
            let before = reader_entries();
            let fast = handles
                .owned_by_caller::<Counted>(raw, HandleKind::Timer)
                .map(|c| c.0);
            let with = handles.with(raw, HandleKind::Timer, |c: &Counted| c.0);
            let got = handles.get::<Counted>(raw, HandleKind::Timer).map(|c| c.0);
            let wrong_type = handles
                .owned_by_caller::<Thing>(raw, HandleKind::Timer)
                .is_none();
            #[cfg(feature = "testing")]
            assert_eq!(reader_entries(), before, "no reader count on the fast path");
            tx.send((fast, with, got, wrong_type)).unwrap();
        });
        assert_eq!(rx.try_recv().unwrap(), (Some(7), Ok(7), Ok(7), true));
        // Another thread while the loop is idle: the checked path, same answers.
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(
                    handles
                        .owned_by_caller::<Counted>(raw, HandleKind::Timer)
                        .is_none()
                );
                assert_eq!(handles.get::<Counted>(raw, HandleKind::Timer).unwrap().0, 7);
            });
        });
        drop(handles.remove::<Counted>(raw, HandleKind::Timer).unwrap());
        assert_eq!(handles.live(), 0, "retired: no longer live");
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "the loop has not reclaimed it yet"
        );
        assert_eq!(
            handles.get::<Counted>(raw, HandleKind::Timer).err(),
            Some(NX_EBADHANDLE)
        );
        assert_eq!(
            handles.remove::<Counted>(raw, HandleKind::Timer).err(),
            Some(NX_EBADHANDLE)
        );
        lp.run(nioxide_core::event_loop::RunMode::NoWait).unwrap();
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "reclaimed at the end of a turn"
        );
        lp.close();
    }

    #[test]
    fn a_free_from_another_thread_during_a_call_on_the_loop_waits_for_the_turn_to_end() {
        let handles: &'static Handles = table();
        let lp = EventLoop::new().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let raw = handles
            .insert_owned(HandleKind::Timer, Arc::new(Counted(9, drops.clone())), &lp)
            .unwrap();
        let d = drops.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        on_loop(&lp, move |_| {
            let seen = handles.with(raw, HandleKind::Timer, |c: &Counted| {
                // Freed by another thread while this call is inside: the free returns at
                // once (retired), and the object stays whole until the turn ends.
                std::thread::scope(|s| {
                    s.spawn(|| drop(handles.remove::<Counted>(raw, HandleKind::Timer).unwrap()));
                });
                (c.0, d.load(Ordering::SeqCst))
            });
            let after = handles.with(raw, HandleKind::Timer, |c: &Counted| c.0);
            tx.send((seen, after, d.load(Ordering::SeqCst))).unwrap();
        });
        let (seen, after, drops_in_turn) = rx.try_recv().unwrap();
        assert_eq!(seen, Ok((9, 0)));
        assert_eq!(after, Err(NX_EBADHANDLE), "retired at once");
        assert_eq!(drops_in_turn, 0);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "reclaimed when the turn ended"
        );
        lp.close();
    }

    #[test]
    fn a_stale_handle_of_another_loop_fails_when_its_slot_was_reused_on_this_loop() {
        let handles: &'static Handles = table();
        let (a, b) = (EventLoop::new().unwrap(), EventLoop::new().unwrap());
        let drops = Arc::new(AtomicUsize::new(0));
        let stale = handles
            .insert_owned(HandleKind::Timer, Arc::new(Counted(1, drops.clone())), &b)
            .unwrap();
        drop(handles.remove::<Counted>(stale, HandleKind::Timer).unwrap());
        b.run(nioxide_core::event_loop::RunMode::NoWait).unwrap(); // b reclaims the slot
        let fresh = handles
            .insert_owned(HandleKind::Timer, Arc::new(Counted(2, drops.clone())), &a)
            .unwrap();
        assert_eq!(stale.index(), fresh.index(), "the slot is reused");
        let (tx, rx) = std::sync::mpsc::channel();
        on_loop(&a, move |_| {
            let stale = handles.with(stale, HandleKind::Timer, |c: &Counted| c.0);
            let fresh = handles
                .owned_by_caller::<Counted>(fresh, HandleKind::Timer)
                .map(|c| c.0);
            tx.send((stale, fresh)).unwrap();
        });
        assert_eq!(rx.try_recv().unwrap(), (Err(NX_EBADHANDLE), Some(2)));
        // Loop b's thread does not run loop a: the slow path for the fresh handle there.
        let (tx, rx) = std::sync::mpsc::channel();
        on_loop(&b, move |_| {
            tx.send(
                handles
                    .owned_by_caller::<Counted>(fresh, HandleKind::Timer)
                    .is_none(),
            )
            .unwrap();
        });
        assert!(rx.try_recv().unwrap());
        drop(handles.remove::<Counted>(fresh, HandleKind::Timer).unwrap());
        a.close();
        b.close();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_owned_handle_freed_after_its_loop_terminated_or_died_is_reclaimed_by_the_caller() {
        let handles: &'static Handles = table();
        let lp = EventLoop::new().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let first = handles
            .insert_owned(HandleKind::Timer, Arc::new(Counted(1, drops.clone())), &lp)
            .unwrap();
        let second = handles
            .insert_owned(HandleKind::Timer, Arc::new(Counted(2, drops.clone())), &lp)
            .unwrap();
        lp.close();
        drop(handles.remove::<Counted>(first, HandleKind::Timer).unwrap());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "terminated: reclaimed at once"
        );
        drop(lp);
        drop(
            handles
                .remove::<Counted>(second, HandleKind::Timer)
                .unwrap(),
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2,
            "the loop is gone: reclaimed at once"
        );
        assert_eq!(handles.live(), 0);
    }

    #[test]
    fn frees_racing_a_termination_reclaim_each_entry_once() {
        let handles: &'static Handles = table();
        for _ in 0..10 {
            let lp = EventLoop::spawn().unwrap();
            let drops = Arc::new(AtomicUsize::new(0));
            let raws: Vec<RawHandle> = (0..64)
                .map(|i| {
                    handles
                        .insert_owned(HandleKind::Timer, Arc::new(Counted(i, drops.clone())), &lp)
                        .unwrap()
                })
                .collect();
            std::thread::scope(|s| {
                for chunk in raws.chunks(16) {
                    s.spawn(move || {
                        for raw in chunk {
                            drop(handles.remove::<Counted>(*raw, HandleKind::Timer).unwrap());
                        }
                    });
                }
                lp.shutdown_now();
            });
            assert!(
                lp.await_termination(Some(std::time::Duration::from_secs(5)))
                    .unwrap()
            );
            assert_eq!(drops.load(Ordering::SeqCst), 64);
            assert_eq!(handles.live(), 0);
        }
    }
}
