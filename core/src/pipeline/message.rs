//! Messages that travel through a pipeline: byte buffers backed by [`bytes::Bytes`], user
//! messages of any type, user events, and the addresses channels bind and connect to.
//!
//! Ownership is Rust's: a handler owns the message it is given and passes it on (moving it)
//! or drops it (releasing it). A clone of a [`Buffer`] shares its bytes (a reference count,
//! no copy), so a handler keeps a buffer past its callback by cloning it (Netty's `retain`)
//! and releases it by dropping the clone; a slice keeps the whole read buffer alive. A
//! binding that lends messages to its callbacks (C: borrowed until the callback returns)
//! clones when its user forwards one.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

#[cfg(any(test, feature = "testing"))]
static LIVE_BUFFERS: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

/// How many [`Buffer`] handles are alive in the process (testing builds only): every test
/// checks that what it made was released.
#[cfg(any(test, feature = "testing"))]
pub fn live_buffers() -> isize {
    LIVE_BUFFERS.load(std::sync::atomic::Ordering::SeqCst)
}

#[inline]
fn count_buffer(_delta: isize) {
    #[cfg(any(test, feature = "testing"))]
    LIVE_BUFFERS.fetch_add(_delta, std::sync::atomic::Ordering::SeqCst);
}

/// A read-only byte buffer: what a read delivers and what a TCP channel writes. Cloning
/// shares the bytes (a reference count, no copy). Thread-safe (`Send + Sync`).
pub struct Buffer {
    bytes: Bytes,
}

impl Buffer {
    /// A buffer over `bytes` (no copy).
    pub fn from_bytes(bytes: Bytes) -> Buffer {
        count_buffer(1);
        Buffer { bytes }
    }

    /// A buffer over memory `owner` keeps (no copy): `owner` is dropped, on whichever thread
    /// releases the last handle, once every handle and slice is gone (the C layer's user
    /// memory with its release callback).
    pub fn from_owner<T: AsRef<[u8]> + Send + 'static>(owner: T) -> Buffer {
        Buffer::from_bytes(Bytes::from_owner(owner))
    }

    /// A buffer holding a copy of `data`.
    pub fn copy_from_slice(data: &[u8]) -> Buffer {
        Buffer::from_bytes(Bytes::copy_from_slice(data))
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes as [`Bytes`] (cloning it shares them).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// A buffer over `range` of these bytes, sharing them (no copy).
    ///
    /// # Panics
    /// If `range` is out of bounds, as slicing does.
    pub fn slice(&self, range: impl std::ops::RangeBounds<usize>) -> Buffer {
        Buffer::from_bytes(self.bytes.slice(range))
    }

    /// Takes the bytes out, releasing this handle.
    pub fn into_bytes(mut self) -> Bytes {
        std::mem::take(&mut self.bytes)
    }

    /// Drops the first `n` bytes (what a partial write handed to the kernel).
    pub(crate) fn advance(&mut self, n: usize) {
        bytes::Buf::advance(&mut self.bytes, n);
    }
}

impl Clone for Buffer {
    fn clone(&self) -> Buffer {
        Buffer::from_bytes(self.bytes.clone())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        count_buffer(-1);
    }
}

impl std::ops::Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({} bytes)", self.bytes.len())
    }
}

/// A user message: any shareable value (the C layer's tagged `void *` with its free
/// function, a Python object). Cloning shares it.
pub type UserMessage = Arc<dyn Any + Send + Sync>;

/// What flows through a pipeline: bytes, or a message of the user's.
#[derive(Clone, Debug)]
pub enum Message {
    /// Bytes (what TCP reads deliver and TCP writes take).
    Buffer(Buffer),
    /// Anything else (a decoded frame, an accepted channel, a C or Python object).
    User(UserMessage),
}

impl Message {
    /// A buffer message holding a copy of `data`.
    pub fn copy_from_slice(data: &[u8]) -> Message {
        Message::Buffer(Buffer::copy_from_slice(data))
    }

    /// A user message holding `value`.
    pub fn user<T: Any + Send + Sync>(value: T) -> Message {
        Message::User(Arc::new(value))
    }

    /// The buffer, if this is one.
    pub fn as_buffer(&self) -> Option<&Buffer> {
        match self {
            Message::Buffer(b) => Some(b),
            Message::User(_) => None,
        }
    }

    /// The user message as a `T`, if it is one.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Message::User(value) => value.downcast_ref(),
            Message::Buffer(_) => None,
        }
    }

    /// The bytes this message counts for in an outbound buffer (a buffer's length; 0 for a
    /// user message, which counts the per-entry overhead only).
    pub fn byte_size(&self) -> usize {
        match self {
            Message::Buffer(b) => b.len(),
            Message::User(_) => 0,
        }
    }
}

impl From<Buffer> for Message {
    fn from(buffer: Buffer) -> Message {
        Message::Buffer(buffer)
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Message {
        Message::Buffer(Buffer::from_bytes(bytes))
    }
}

/// A user event (`user_event_triggered`): the built-in ones (the C layer's `NX_EVENT_*`
/// tags, Python's singletons) or one of the user's.
#[derive(Clone, Debug)]
pub enum UserEvent {
    /// The input side was shut down (end of stream with half-closure allowed, or
    /// `shutdown_input`); the channel stays open and writable.
    InputShutdown,
    /// The read batch that saw the input shut down has completed (after `InputShutdown`).
    InputShutdownReadComplete,
    /// The output side was shut down (`shutdown_output`).
    OutputShutdown,
    /// A connection was idle ([`IdleStateHandler`](super::codec::IdleStateHandler)): which
    /// kind of idleness, and whether it is the first such event since the last activity.
    Idle(super::codec::IdleStateEvent),
    /// An event of the user's.
    Custom(UserMessage),
}

/// An address a channel binds or connects to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChannelAddress {
    /// An IPv4 or IPv6 socket address (TCP channels).
    Inet(SocketAddr),
    /// A name in the process-wide registry of local channels.
    Local(Arc<str>),
}

impl From<SocketAddr> for ChannelAddress {
    fn from(addr: SocketAddr) -> ChannelAddress {
        ChannelAddress::Inet(addr)
    }
}

impl ChannelAddress {
    /// A local address named `name`.
    pub fn local(name: &str) -> ChannelAddress {
        ChannelAddress::Local(Arc::from(name))
    }

    /// The socket address, for an `Inet` address.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            ChannelAddress::Inet(a) => Some(*a),
            ChannelAddress::Local(_) => None,
        }
    }
}
