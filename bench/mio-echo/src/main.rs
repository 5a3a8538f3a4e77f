//! mio-echo: the benchmark's (b), an echo server on mio 1.x.
//!
//!     mio-echo [PORT]     (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")
//!
//! Single-threaded, non-blocking, TCP_NODELAY, written as mio's own examples are: edge-triggered
//! readiness, so a read goes on until would-block or a short read (a short read on a stream
//! socket means it is drained, as tokio reasons); the echo is written at once; bytes a write
//! could not take wait in the connection's buffer with WRITABLE interest (and no READABLE) until
//! they are gone. SIGUSR1 reports rusage, SIGTERM/SIGINT report it and exit, as
//! bench/bench_report.h does for the C servers.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);
const BUF_SIZE: usize = 16384;

static BYTES: AtomicU64 = AtomicU64::new(0);

struct Conn {
    stream: TcpStream,
    buf: Box<[u8; BUF_SIZE]>,
    off: usize,
    len: usize,
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(0, |p| p.parse().expect("port"));
    install_signals();

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(256);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);

    // The connections, indexed by token (a slab: freed slots are reused).
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();

    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let slot = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            poll.registry().register(
                                &mut stream,
                                Token(slot),
                                Interest::READABLE,
                            )?;
                            let buf = Box::new([0u8; BUF_SIZE]);
                            conns[slot] = Some(Conn {
                                stream,
                                buf,
                                off: 0,
                                len: 0,
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let slot = event.token().0;
            let Some(conn) = conns[slot].as_mut() else {
                continue;
            };
            let done = match serve(conn, &poll, event.token()) {
                Ok(open) => !open,
                Err(_) => true,
            };
            if done && let Some(mut conn) = conns[slot].take() {
                let _ = poll.registry().deregister(&mut conn.stream);
                free.push(slot);
            }
        }
    }
}

/// Handles one readiness event; returns whether the connection stays open.
fn serve(conn: &mut Conn, poll: &Poll, token: Token) -> io::Result<bool> {
    if conn.len > 0 {
        // Writable again: finish the pending echo, then read again.
        if !flush(conn)? {
            return Ok(true);
        }
        poll.registry()
            .reregister(&mut conn.stream, token, Interest::READABLE)?;
    }
    loop {
        let n = match conn.stream.read(&mut conn.buf[..]) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        BYTES.fetch_add(n as u64, Ordering::Relaxed);
        conn.off = 0;
        conn.len = n;
        if !flush(conn)? {
            poll.registry()
                .reregister(&mut conn.stream, token, Interest::WRITABLE)?;
            return Ok(true);
        }
        if n < BUF_SIZE {
            return Ok(true); // a short read: drained
        }
    }
}

/// Writes pending bytes; returns true when all are gone.
fn flush(conn: &mut Conn) -> io::Result<bool> {
    while conn.off < conn.len {
        match conn.stream.write(&conn.buf[conn.off..conn.len]) {
            Ok(n) => conn.off += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    conn.off = 0;
    conn.len = 0;
    Ok(true)
}

fn install_signals() {
    // SAFETY: plain sigaction calls with a handler that only makes async-signal-safe calls.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        for sig in [libc::SIGUSR1, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut sa.sa_mask, sig);
        }
        for sig in [libc::SIGUSR1, libc::SIGTERM, libc::SIGINT] {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Writes "rusage user_us=U sys_us=S bytes=B" with async-signal-safe calls only.
extern "C" fn on_signal(sig: libc::c_int) {
    let mut line = [0u8; 128];
    let mut n = 0;
    // SAFETY: getrusage and write are system calls; the buffer is ours.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        let user = ru.ru_utime.tv_sec as u64 * 1_000_000 + ru.ru_utime.tv_usec as u64;
        let sys = ru.ru_stime.tv_sec as u64 * 1_000_000 + ru.ru_stime.tv_usec as u64;
        put(&mut line, &mut n, b"rusage user_us=");
        put_u64(&mut line, &mut n, user);
        put(&mut line, &mut n, b" sys_us=");
        put_u64(&mut line, &mut n, sys);
        put(&mut line, &mut n, b" bytes=");
        put_u64(&mut line, &mut n, BYTES.load(Ordering::Relaxed));
        put(&mut line, &mut n, b"\n");
        libc::write(1, line.as_ptr().cast(), n);
        if sig != libc::SIGUSR1 {
            libc::_exit(0);
        }
    }
}

fn put(line: &mut [u8], n: &mut usize, s: &[u8]) {
    line[*n..*n + s.len()].copy_from_slice(s);
    *n += s.len();
}

fn put_u64(line: &mut [u8], n: &mut usize, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut k = 0;
    loop {
        tmp[k] = b'0' + (v % 10) as u8;
        k += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..k {
        line[*n + i] = tmp[k - 1 - i];
    }
    *n += k;
}
