//! What a completion-handler echo costs the core per request, without a binding: a one-loop
//! group serves seed 002's echo server (read → write → read, raw writes, 64-byte messages)
//! to `C` blocking connections driven by the main thread (each round writes one message on
//! every connection, then reads every reply, so one `epoll_wait` may serve up to `C`
//! requests), `N` requests after a warm-up.
//!
//! Usage: `cargo run --release -p nioxide-core --example aio_echo -- [N] [C] [raw]` (20,000
//! requests on 1 connection by default). With `raw`, the server's handlers are raw handlers
//! over memory it lends without a keep-alive owner, as the C binding's are: no allocation
//! per request; otherwise closures over `SharedBuf` loans.
//! Prints `aio_echo_requests N`, the loop thread's CPU time per request
//! (`aio_echo_loop_cpu_ns`), and the loop's `epoll_wait`, `epoll_ctl` and event counts per
//! request. Under `valgrind --tool=callgrind --separate-threads=yes`, the loop thread's
//! instructions over two runs of different `N`, differenced, give the instructions per
//! request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nioxide_core::Result;
use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousServerSocketChannel, AsynchronousSocketChannel, Handler,
    IoBuf, IoBufs, ReadOutcome, SharedBuf,
};
use nioxide_core::channel::SocketChannel;

/// Requests before the measure starts.
const WARM_UP: u64 = 1000;
/// The message size.
const MESSAGE: usize = 64;

/// The calling thread's CPU time in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What the server's handlers count: requests served, and the loop thread's CPU time when
/// the measure started and when it ended.
#[derive(Default)]
struct Meter {
    served: AtomicU64,
    /// The request the measure starts at, and the last one.
    first: AtomicU64,
    cpu_start: AtomicU64,
    cpu_end: AtomicU64,
    last: AtomicU64,
}

/// A connection of the raw server: its channel, its buffer and the meter. It lives as long
/// as the program (the example leaks it, as a C server would free it on close).
struct RawConnection {
    channel: AsynchronousSocketChannel,
    buf: std::cell::UnsafeCell<[u8; 4096]>,
    meter: Arc<Meter>,
}

// SAFETY: the buffer is touched by the one pending operation or by the handler that follows
// it, one at a time, on the loop's thread.
unsafe impl Sync for RawConnection {}

/// Starts the raw server's read: the buffer lent without an owner, the handler a function and
/// the connection's address.
fn raw_read(conn: &'static RawConnection) {
    let region = IoBuf::new(conn.buf.get().cast(), 4096);
    // SAFETY: the connection (and its buffer) lives for the program; only this read uses it.
    let bufs = unsafe { IoBufs::from_raw(region, None) };
    // SAFETY: the data is a `&'static RawConnection`, which may be used on any thread.
    let handler = unsafe { Handler::raw(raw_read_done, [conn as *const _ as usize, 0, 0]) };
    if conn.channel.read(bufs, None, handler).is_err() {
        conn.channel.close();
    }
}

/// The raw server's read handler: writes back what was read.
///
/// # Safety
/// `data[0]` is a `&'static RawConnection`.
unsafe fn raw_read_done(data: [usize; 3], result: Result<ReadOutcome>) {
    // SAFETY: the function's contract.
    let conn: &'static RawConnection = unsafe { &*(data[0] as *const RawConnection) };
    let Ok(ReadOutcome::Bytes(n)) = result else {
        conn.channel.close();
        return;
    };
    conn.meter.count();
    let region = IoBuf::new(conn.buf.get().cast(), n);
    // SAFETY: as in `raw_read`: the read let go of the buffer; only this write uses it.
    let bufs = unsafe { IoBufs::from_raw(region, None) };
    // SAFETY: as in `raw_read`.
    let handler = unsafe { Handler::raw(raw_write_done, data) };
    if conn.channel.write(bufs, None, handler).is_err() {
        conn.channel.close();
    }
}

/// The raw server's write handler: reads again.
///
/// # Safety
/// As [`raw_read_done`].
unsafe fn raw_write_done(data: [usize; 3], result: Result<usize>) {
    // SAFETY: the function's contract.
    let conn: &'static RawConnection = unsafe { &*(data[0] as *const RawConnection) };
    if result.is_ok() {
        raw_read(conn);
    }
}

impl Meter {
    /// Counts a request; takes the loop thread's CPU time at the first and last measured.
    fn count(&self) {
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        if served == self.first.load(Ordering::Relaxed) {
            self.cpu_start.store(thread_cpu_ns(), Ordering::Relaxed);
        }
        if served == self.last.load(Ordering::Relaxed) {
            self.cpu_end.store(thread_cpu_ns(), Ordering::Relaxed);
        }
    }
}

/// The echo chain: read, then write what was read, then read again.
fn serve(channel: AsynchronousSocketChannel, buf: SharedBuf, meter: Arc<Meter>) {
    let next = channel.clone();
    let lent = buf.lend(0..buf.len()).expect("the buffer is free");
    let read = channel.read(
        lent,
        None,
        Handler::new(move |result| {
            let Ok(ReadOutcome::Bytes(n)) = result else {
                next.close();
                return;
            };
            meter.count();
            let again = next.clone();
            let out = buf.lend(0..n).expect("the buffer is free");
            let written = next.write(
                out,
                None,
                Handler::new(move |result| {
                    if result.is_ok() {
                        serve(again, buf, meter);
                    }
                }),
            );
            if written.is_err() {
                next.close();
            }
        }),
    );
    if read.is_err() {
        channel.close();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(20_000, |a| a.parse().expect("N"));
    let conns: u64 = args.next().map_or(1, |a| a.parse().expect("C"));
    let raw = args.next().is_some_and(|a| a == "raw");
    let rounds = n.div_ceil(conns);
    let warm_rounds = WARM_UP.div_ceil(conns);
    let group = AsynchronousChannelGroup::new(1).expect("a group");
    let server = AsynchronousServerSocketChannel::open(&group).expect("a server");
    server
        .bind("127.0.0.1:0".parse().expect("an address"), 128)
        .expect("bind");
    let addr = server.local_address().expect("bound").expect("an address");
    let meter = Arc::new(Meter::default());
    meter.first.store(warm_rounds * conns, Ordering::Relaxed);
    meter
        .last
        .store((warm_rounds + rounds) * conns, Ordering::Relaxed);
    fn accept(server: AsynchronousServerSocketChannel, meter: Arc<Meter>, raw: bool) {
        let next = server.clone();
        let _ = server.accept(Handler::new(move |accepted| {
            if let Ok(channel) = accepted {
                if raw {
                    let conn = Box::leak(Box::new(RawConnection {
                        channel,
                        buf: std::cell::UnsafeCell::new([0; 4096]),
                        meter: meter.clone(),
                    }));
                    raw_read(conn);
                } else {
                    serve(channel, SharedBuf::new(4096), meter.clone());
                }
                accept(next, meter, raw);
            }
        }));
    }
    accept(server.clone(), meter.clone(), raw);
    let clients: Vec<SocketChannel> = (0..conns)
        .map(|_| {
            let client = SocketChannel::open().expect("a client");
            client.connect(addr).expect("connect");
            client
                .set_option(nioxide_core::channel::SocketOption::TcpNoDelay, 1)
                .expect("TCP_NODELAY");
            client
        })
        .collect();
    let lp = group.event_loop_group().loops()[0].clone();
    let mut message = [7u8; MESSAGE];
    let mut round = || {
        for client in &clients {
            client.write(&message).expect("write");
        }
        for client in &clients {
            let mut got = 0;
            while got < MESSAGE {
                got += client
                    .read(&mut message[got..])
                    .expect("read")
                    .expect("blocking");
            }
        }
    };
    for _ in 0..warm_rounds {
        round();
    }
    let before = lp.backend_counters();
    for _ in 0..rounds {
        round();
    }
    let after = lp.backend_counters();
    for client in &clients {
        client.close();
    }
    server.close();
    group.shutdown_now();
    group
        .await_termination(Some(Duration::from_secs(5)))
        .expect("terminated");
    let served = rounds * conns;
    let cpu = meter.cpu_end.load(Ordering::Relaxed) - meter.cpu_start.load(Ordering::Relaxed);
    let per = |x: u64| x as f64 / served as f64;
    println!("aio_echo_requests {served}");
    println!("aio_echo_connections {conns}");
    println!("aio_echo_raw_handlers {raw}");
    println!("aio_echo_loop_cpu_ns {:.0}", per(cpu));
    println!(
        "aio_echo_epoll_waits {:.3}",
        per(after.waits - before.waits)
    );
    println!("aio_echo_epoll_ctls {:.3}", per(after.ctl - before.ctl));
    println!("aio_echo_events {:.3}", per(after.events - before.events));
}
