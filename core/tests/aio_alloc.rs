//! The hot path allocates nothing: a steady echo served with raw handlers over raw memory (the
//! C binding's way), with raw writes and with `write_all`, makes no allocation on the loop's
//! thread per request (its own test binary: the allocator below counts the loop thread's
//! allocations).

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nioxide_core::Result;
use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousServerSocketChannel, AsynchronousSocketChannel, Handler,
    IoBuf, IoBufs, ReadOutcome,
};
use nioxide_core::channel::SocketChannel;

/// The system allocator, counting the allocations of threads that asked to be counted.
struct Counting;

static COUNTED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call goes to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT_HERE.with(Cell::get) {
            COUNTED.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as allocated above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNT_HERE.with(Cell::get) {
            COUNTED.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as allocated above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A connection of the raw echo server: its channel and buffer, and whether it writes with
/// `write_all` (else raw writes).
struct Connection {
    channel: AsynchronousSocketChannel,
    buf: UnsafeCell<[u8; 256]>,
    queue: bool,
}

// SAFETY: the buffer is used by one operation or the handler after it, one at a time.
unsafe impl Sync for Connection {}

fn read(conn: &'static Connection) {
    // SAFETY: the connection outlives the group (it is freed after its termination); only
    // this read uses the buffer.
    let bufs = unsafe { IoBufs::from_raw(IoBuf::new(conn.buf.get().cast(), 256), None) };
    // SAFETY: the data is a `&'static Connection`, usable on any thread.
    let handler = unsafe { Handler::raw(read_done, [conn as *const _ as usize, 0, 0]) };
    let _ = conn.channel.read(bufs, None, handler);
}

/// # Safety
/// `data[0]` is a `&'static Connection`.
unsafe fn read_done(data: [usize; 3], result: Result<ReadOutcome>) {
    // SAFETY: the function's contract.
    let conn: &'static Connection = unsafe { &*(data[0] as *const Connection) };
    let Ok(ReadOutcome::Bytes(n)) = result else {
        return;
    };
    // SAFETY: as in `read`.
    let bufs = unsafe { IoBufs::from_raw(IoBuf::new(conn.buf.get().cast(), n), None) };
    // SAFETY: as in `read`.
    let handler = unsafe { Handler::raw(write_done, data) };
    let _ = if conn.queue {
        conn.channel.write_all(bufs, handler)
    } else {
        conn.channel.write(bufs, None, handler)
    };
}

/// # Safety
/// As [`read_done`].
unsafe fn write_done(data: [usize; 3], result: Result<usize>) {
    // SAFETY: the function's contract.
    let conn: &'static Connection = unsafe { &*(data[0] as *const Connection) };
    if result.is_ok() {
        read(conn);
    }
}

/// Serves `requests` echo requests on one connection and returns the loop thread's
/// allocations during the last `requests - warm_up`.
fn loop_allocations(queue: bool, requests: u32, warm_up: u32) -> u64 {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let lp = group.event_loop_group().loops()[0].clone();
    let server = AsynchronousServerSocketChannel::open(&group).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let accepted = server.accept_future().unwrap();
    let client = SocketChannel::open().unwrap();
    client
        .connect(server.local_address().unwrap().unwrap())
        .unwrap();
    let channel = util::value::<AsynchronousSocketChannel>(&accepted).unwrap();
    let conn: &'static Connection = Box::leak(Box::new(Connection {
        channel: channel.clone(),
        buf: UnsafeCell::new([0; 256]),
        queue,
    }));
    read(conn);
    let mut message = [5u8; 64];
    let mut exchange = || {
        client.write(&message).unwrap();
        let mut got = 0;
        while got < message.len() {
            got += client.read(&mut message[got..]).unwrap().unwrap();
        }
    };
    for _ in 0..warm_up {
        exchange();
    }
    let before = lp
        .submit(|_| {
            COUNT_HERE.with(|c| c.set(true));
            Ok(None)
        })
        .unwrap();
    assert!(before.wait(Some(Duration::from_secs(5))).unwrap());
    let start = COUNTED.load(Ordering::Relaxed);
    for _ in warm_up..requests {
        exchange();
    }
    let counted = COUNTED.load(Ordering::Relaxed) - start;
    let stop = lp
        .submit(|_| {
            COUNT_HERE.with(|c| c.set(false));
            Ok(None)
        })
        .unwrap();
    assert!(stop.wait(Some(Duration::from_secs(5))).unwrap());
    client.close();
    channel.close();
    server.close();
    util::terminate(&group);
    // SAFETY: the group has terminated: no operation or handler uses the connection now.
    drop(unsafe { Box::from_raw(conn as *const Connection as *mut Connection) });
    counted
}

#[test]
fn a_steady_echo_with_raw_handlers_allocates_nothing_on_the_loop() {
    // The measured requests include the submit tasks' two (the count's own switches).
    let raw = loop_allocations(false, 1200, 200);
    assert!(
        raw <= 4,
        "{raw} allocations for 1000 requests with raw writes"
    );
    let queued = loop_allocations(true, 1200, 200);
    assert!(
        queued <= 4,
        "{queued} allocations for 1000 requests with write_all"
    );
}
