//! Counts of live nioxide objects by class, for leak checks in a test's teardown
//! (`nioxide.live_objects()`, the Python side of C's `nx_live_handles`).
//!
//! Each class keeps a [`Live`] token in its Rust struct: made with the object, dropped when
//! Python frees it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;

/// The classes whose objects are counted; a `ScheduledFuture` (and a subclass of `Future`)
/// counts as a `Future`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Class {
    Selector,
    SelectionKey,
    ServerSocketChannel,
    SocketChannel,
    EventLoop,
    EventLoopGroup,
    Future,
    Watch,
    Timer,
    Buffer,
    Channel,
    ChannelHandlerContext,
    AsynchronousChannelGroup,
    AsynchronousServerSocketChannel,
    AsynchronousSocketChannel,
    AsynchronousFileChannel,
    FileLock,
}

const NAMES: [&str; 17] = [
    "Selector",
    "SelectionKey",
    "ServerSocketChannel",
    "SocketChannel",
    "EventLoop",
    "EventLoopGroup",
    "Future",
    "Watch",
    "Timer",
    "Buffer",
    "Channel",
    "ChannelHandlerContext",
    "AsynchronousChannelGroup",
    "AsynchronousServerSocketChannel",
    "AsynchronousSocketChannel",
    "AsynchronousFileChannel",
    "FileLock",
];

static COUNTS: [AtomicUsize; 17] = [const { AtomicUsize::new(0) }; 17];

/// One live object of a class: counted while the token lives.
#[derive(Debug)]
pub(crate) struct Live(Class);

impl Live {
    /// Counts a new object of `class`.
    pub(crate) fn new(class: Class) -> Live {
        COUNTS[class as usize].fetch_add(1, Ordering::Relaxed);
        Live(class)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        COUNTS[self.0 as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

/// `nioxide.live_objects()`: the live objects by class name, classes with none left out.
#[pyfunction]
pub(crate) fn live_objects() -> BTreeMap<&'static str, usize> {
    NAMES
        .iter()
        .zip(&COUNTS)
        .map(|(name, count)| (*name, count.load(Ordering::Relaxed)))
        .filter(|(_, count)| *count > 0)
        .collect()
}
