//! The benchmark's (m): the completion-handler echo server of `bench/aio_echo.c`, written on
//! the core alone, with no C boundary: what the core's AIO costs per request, the floor under
//! the C server's figure (their difference is what the checked C API's rules cost).
//!
//! Usage: `aio_echo_server [PORT]` (0 or nothing: the OS chooses). As the C server: a
//! one-loop group, backlog 1024, `TCP_NODELAY` on each connection, a 16 KiB buffer per
//! connection, read → write (the rest again after a short write) → read, raw handlers over the
//! connection's own memory (the C binding's path: no allocation per request). Prints
//! `listening on 127.0.0.1:PORT`, and on SIGUSR1 (and, before it exits, on SIGTERM or
//! SIGINT) the line `rusage user_us=U sys_us=S bytes=B` that `bench/run.sh` reads.

mod bench_server;

use std::cell::{Cell, UnsafeCell};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use bench_server::BYTES;

use nioxide_core::Result;
use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousServerSocketChannel, AsynchronousSocketChannel, Handler,
    IoBuf, IoBufs, ReadOutcome,
};
use nioxide_core::channel::SocketOption;

/// A connection's buffer size, as the C server's.
const BUF_SIZE: usize = 16384;

/// A connection: its channel, its buffer and what of the buffer is still to write. It lives
/// as long as the program (a C server would free it when the chain ends).
struct Conn {
    channel: AsynchronousSocketChannel,
    buf: UnsafeCell<[u8; BUF_SIZE]>,
    off: Cell<usize>,
    len: Cell<usize>,
}

// SAFETY: the buffer and the offsets are touched by the one pending operation or by the
// handler that follows it, one at a time, on the loop's thread.
unsafe impl Sync for Conn {}

/// Starts a read into the whole buffer, lent without an owner.
fn start_read(conn: &'static Conn) {
    let region = IoBuf::new(conn.buf.get().cast(), BUF_SIZE);
    // SAFETY: the connection (and its buffer) lives for the program; only this read uses it.
    let bufs = unsafe { IoBufs::from_raw(region, None) };
    // SAFETY: the data is a `&'static Conn`, which may be used on any thread.
    let handler = unsafe { Handler::raw(read_done, [conn as *const Conn as usize, 0, 0]) };
    if conn.channel.read(bufs, None, handler).is_err() {
        conn.channel.close();
    }
}

/// Starts a write of what is left between `off` and `len`.
fn start_write(conn: &'static Conn) {
    let (off, len) = (conn.off.get(), conn.len.get());
    // SAFETY: `off..len` lies in the buffer.
    let region = IoBuf::new(unsafe { conn.buf.get().cast::<u8>().add(off) }, len - off);
    // SAFETY: as in `start_read`: only this write uses the buffer.
    let bufs = unsafe { IoBufs::from_raw(region, None) };
    // SAFETY: as in `start_read`.
    let handler = unsafe { Handler::raw(write_done, [conn as *const Conn as usize, 0, 0]) };
    if conn.channel.write(bufs, None, handler).is_err() {
        conn.channel.close();
    }
}

/// The read handler: writes back what was read; the end of the stream or an error ends the
/// chain.
///
/// # Safety
/// `data[0]` is a `&'static Conn`.
unsafe fn read_done(data: [usize; 3], result: Result<ReadOutcome>) {
    // SAFETY: the function's contract.
    let conn: &'static Conn = unsafe { &*(data[0] as *const Conn) };
    let Ok(ReadOutcome::Bytes(n)) = result else {
        conn.channel.close();
        return;
    };
    BYTES.fetch_add(n as u64, Ordering::Relaxed);
    conn.off.set(0);
    conn.len.set(n);
    start_write(conn);
}

/// The write handler: the rest after a short write, else reads again.
///
/// # Safety
/// As [`read_done`].
unsafe fn write_done(data: [usize; 3], result: Result<usize>) {
    // SAFETY: the function's contract.
    let conn: &'static Conn = unsafe { &*(data[0] as *const Conn) };
    let Ok(n) = result else {
        conn.channel.close();
        return;
    };
    conn.off.set(conn.off.get() + n);
    if conn.off.get() < conn.len.get() {
        start_write(conn);
    } else {
        start_read(conn);
    }
}

/// Accepts one connection, starts its chain and accepts the next.
fn accept(server: AsynchronousServerSocketChannel) {
    let next = server.clone();
    let _ = server.accept(Handler::new(
        move |accepted: Result<AsynchronousSocketChannel>| {
            if let Ok(channel) = accepted {
                if channel.set_option(SocketOption::TcpNoDelay, 1).is_ok() {
                    let conn = Box::leak(Box::new(Conn {
                        channel,
                        buf: UnsafeCell::new([0; BUF_SIZE]),
                        off: Cell::new(0),
                        len: Cell::new(0),
                    }));
                    start_read(conn);
                } else {
                    channel.close();
                }
            }
            accept(next);
        },
    ));
}

fn main() -> Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(0, |p| p.parse().expect("a port number"));
    // Blocked here, so in the loop thread too; this thread takes them with sigwait below.
    let set = bench_server::block_report_signals();

    let group = AsynchronousChannelGroup::new(1)?;
    let server = AsynchronousServerSocketChannel::open(&group)?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    server.bind(addr, 1024)?;
    match server.local_address()? {
        Some(local) => bench_server::listening(local),
        None => {
            eprintln!("aio_echo_server: no local address");
            std::process::exit(1);
        }
    }
    accept(server.clone());
    bench_server::serve_signals(set)
}
