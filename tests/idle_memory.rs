//! What an idle connection of the Selector model costs in heap memory, counted by a global
//! allocator that wraps the system's: a server accepts connections through the C API and
//! registers each for reading with no attachment (bench/idle's `idle_nioxide.c`), and the
//! bytes still allocated afterwards are divided by the connections. Sizes are counted as
//! glibc's malloc spends them (a chunk of the request plus an 8-byte header, rounded up to
//! 16 bytes, at least 32), and the live allocations that the accepts added are listed by
//! size (`cargo test --test idle_memory -- --nocapture` prints them).
//!
//! The handle table's slots come in chunks that double in size; a chunk's pages cost memory
//! only once a slot in them is used (they are allocated zeroed), so the test counts the
//! slots the connections use, not the chunks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_int, c_void};
use std::net::{SocketAddr, TcpStream};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use nioxide::channel::tcp::*;
use nioxide::handle::{NX_HANDLE_ALL, nx_live_handles};
use nioxide::selector::*;
use nioxide::types::*;

/// Allocations of at most this many bytes are counted by size.
const SIZES: usize = 1024;

struct Counting;

/// Live allocations by requested size (index `SIZES`: every larger one).
static LIVE: [AtomicI64; SIZES + 1] = [const { AtomicI64::new(0) }; SIZES + 1];
/// Live bytes of allocations larger than `SIZES`.
static LARGE_BYTES: AtomicI64 = AtomicI64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Larger allocations by size: up to 64 sizes, with their live counts.
static LARGE_SIZES: [(AtomicUsize, AtomicI64); 64] =
    [const { (AtomicUsize::new(0), AtomicI64::new(0)) }; 64];

fn count_large(size: usize, by: i64) {
    for (at, live) in &LARGE_SIZES {
        match at.compare_exchange(0, size, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => {}
            Err(seen) if seen == size => {}
            Err(_) => continue,
        }
        live.fetch_add(by, Ordering::Relaxed);
        return;
    }
}

fn count(size: usize, by: i64) {
    if !COUNTING.load(Ordering::Relaxed) {
        return;
    }
    if size <= SIZES {
        LIVE[size].fetch_add(by, Ordering::Relaxed);
    } else {
        LIVE[SIZES].fetch_add(by, Ordering::Relaxed);
        LARGE_BYTES.fetch_add(by * size as i64, Ordering::Relaxed);
        count_large(size, by);
    }
}

// SAFETY: forwards to `System`, counting on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 1);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // A zeroed allocation's untouched pages cost nothing: counted by use, below.
        if layout.size() <= SIZES {
            count(layout.size(), 1);
        }
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(layout.size(), -1);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(layout.size(), -1);
        count(new_size, 1);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What glibc's malloc spends on a request of `size` bytes.
fn chunk(size: usize) -> usize {
    ((size + 8 + 15) & !15).max(32)
}

fn large_snapshot() -> Vec<(usize, i64)> {
    LARGE_SIZES
        .iter()
        .map(|(size, live)| (size.load(Ordering::Relaxed), live.load(Ordering::Relaxed)))
        .collect()
}

fn snapshot() -> (Vec<i64>, i64) {
    let counts = LIVE.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    (counts, LARGE_BYTES.load(Ordering::Relaxed))
}

fn live_handles() -> usize {
    let mut count = 0;
    assert_eq!(nx_live_handles(NX_HANDLE_ALL, &mut count), 0);
    count
}

/// The signature of `nx_socket_channel_register` and `nx_server_socket_channel_register`.
type Register<H> = extern "C" fn(
    *mut H,
    *mut nx_selector_t,
    u32,
    *mut c_void,
    nx_free_cb,
    *mut *mut nx_selection_key_t,
) -> c_int;

/// Registers `channel` for `ops` with no attachment, as `idle_nioxide.c` does.
fn register<H>(f: Register<H>, channel: *mut H, selector: *mut nx_selector_t, ops: u32) {
    assert_eq!(
        f(
            channel,
            selector,
            ops,
            ptr::null_mut(),
            None,
            ptr::null_mut()
        ),
        0
    );
}

/// Accepts every pending connection and registers it for reading; returns how many.
fn accept_all(
    server: *mut nx_server_socket_channel_t,
    selector: *mut nx_selector_t,
    channels: &mut Vec<*mut nx_socket_channel_t>,
) -> usize {
    let mut accepted = 0;
    loop {
        let mut channel = ptr::null_mut();
        assert_eq!(nx_server_socket_channel_accept(server, &mut channel), 0);
        if channel.is_null() {
            return accepted;
        }
        assert_eq!(nx_socket_channel_configure_blocking(channel, 0), 0);
        register(nx_socket_channel_register, channel, selector, NX_OP_READ);
        channels.push(channel);
        accepted += 1;
    }
}

/// Holds `count` more connections: connects them, then selects and accepts until all are
/// registered (as `idle_nioxide.c` does).
fn hold(
    server: *mut nx_server_socket_channel_t,
    selector: *mut nx_selector_t,
    addr: SocketAddr,
    count: usize,
    clients: &mut Vec<TcpStream>,
    channels: &mut Vec<*mut nx_socket_channel_t>,
) {
    let mut accepted = 0;
    while accepted < count {
        let batch = (count - accepted).min(64);
        for _ in 0..batch {
            clients.push(TcpStream::connect(addr).unwrap());
        }
        let mut got = 0;
        while got < batch {
            let mut n = 0;
            assert_eq!(nx_selector_select(selector, 1000, &mut n), 0);
            let mut cursor = 0;
            let mut key = ptr::null_mut();
            let mut ready = 0;
            let mut attachment = ptr::null_mut();
            while nx_selector_next_ready(
                selector,
                &mut cursor,
                &mut key,
                &mut ready,
                &mut attachment,
            ) == 0
            {
                if ready & NX_OP_ACCEPT != 0 {
                    got += accept_all(server, selector, channels);
                }
            }
        }
        accepted += got;
    }
}

#[test]
fn idle_connection_heap_bytes() {
    let limit = libc::rlimit {
        rlim_cur: 8192,
        rlim_max: 8192,
    };
    // SAFETY: plain system calls on a local struct.
    let enough = unsafe {
        let mut now = std::mem::zeroed::<libc::rlimit>();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut now);
        now.rlim_cur = now.rlim_max.min(limit.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &now);
        now.rlim_cur
    };
    let (warm, conns) = (
        200usize,
        ((enough as usize).saturating_sub(600) / 2).min(2000),
    );
    if conns < 500 {
        eprintln!("idle_memory: descriptor limit {enough} too low, skipped");
        return;
    }

    let mut selector = ptr::null_mut();
    let mut server = ptr::null_mut();
    assert_eq!(nx_selector_open(&mut selector), 0);
    assert_eq!(nx_server_socket_channel_open(&mut server), 0);
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    let rc = nx_server_socket_channel_bind(
        server,
        ptr::from_ref(&sa).cast(),
        size_of::<libc::sockaddr_in>() as libc::socklen_t,
        4096,
    );
    assert_eq!(rc, 0);
    let mut bound = unsafe { std::mem::zeroed::<libc::sockaddr_storage>() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    assert_eq!(
        nx_server_socket_channel_local_address(server, &mut bound, &mut len),
        0
    );
    // SAFETY: an AF_INET address was stored.
    let port =
        u16::from_be(unsafe { (*ptr::from_ref(&bound).cast::<libc::sockaddr_in>()).sin_port });
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    assert_eq!(nx_server_socket_channel_configure_blocking(server, 0), 0);
    register(
        nx_server_socket_channel_register,
        server,
        selector,
        NX_OP_ACCEPT,
    );

    // Clients are made up front, so that only the server's side is counted.
    let mut clients = Vec::with_capacity(warm + conns);
    let mut channels = Vec::with_capacity(warm + conns);
    COUNTING.store(true, Ordering::Relaxed);
    hold(server, selector, addr, warm, &mut clients, &mut channels);
    let (before, large_before) = snapshot();
    let sizes_before = large_snapshot();
    let handles_before = live_handles();
    hold(server, selector, addr, conns, &mut clients, &mut channels);
    let (after, large_after) = snapshot();
    let sizes_after = large_snapshot();
    let handles_after = live_handles();
    COUNTING.store(false, Ordering::Relaxed);

    let per = |bytes: i64| bytes as f64 / conns as f64;
    let mut requested = 0i64;
    let mut spent = 0i64;
    println!("idle connections: {conns} after {warm}");
    println!(
        "a channel's allocation holds a ChannelCore of {} B, a key's a KeyInner of {} B \
         (each after Arc's two counts, 16 B)",
        size_of::<nioxide_core::channel::ChannelCore>(),
        size_of::<nioxide_core::selector::KeyInner>()
    );
    println!("live allocations added, by requested size (per connection):");
    for size in 0..SIZES {
        let added = after[size] - before[size];
        if added == 0 {
            continue;
        }
        requested += added * size as i64;
        spent += added * chunk(size) as i64;
        println!(
            "  {size:5} B (malloc chunk {:4} B) x {:6.3} = {:7.1} B",
            chunk(size),
            added as f64 / conns as f64,
            per(added * chunk(size) as i64)
        );
    }
    let large = large_after - large_before;
    for (i, &(size, live)) in sizes_after.iter().enumerate() {
        let was = sizes_before
            .get(i)
            .filter(|(s, _)| *s == size)
            .map_or(0, |(_, n)| *n);
        if size != 0 && live != was {
            println!("  large {size} B: {:+}", live - was);
        }
    }
    println!(
        "  larger ones (vectors grown amortized): {:7.1} B",
        per(large)
    );
    let slots = handles_after - handles_before;
    let slot_bytes = nioxide::handle::slot_bytes() as i64 * slots as i64;
    println!(
        "  handle slots: {:.3} x {} B = {:.1} B",
        slots as f64 / conns as f64,
        nioxide::handle::slot_bytes(),
        per(slot_bytes)
    );
    let total = spent + large + slot_bytes;
    println!(
        "per connection: {:.1} B requested, {:.1} B in malloc chunks + amortized vectors + slots = {:.1} B",
        per(requested),
        per(spent),
        per(total)
    );

    // What the connections cost today, as a guard against growing again: a channel (120 B
    // after its counts: a 144 B chunk) and a key (104 B: 128 B) per connection, and two handle
    // slots (56 B each).
    assert!(
        spent <= 272 * conns as i64,
        "{:.1} B per connection in malloc chunks",
        per(spent)
    );
    assert_eq!(
        slots,
        2 * conns,
        "two handles per connection: channel and key"
    );

    drop(clients);
    for channel in channels {
        assert_eq!(nx_socket_channel_free(channel), 0);
    }
    assert_eq!(nx_server_socket_channel_free(server), 0);
    assert_eq!(nx_selector_free(selector), 0);
}
