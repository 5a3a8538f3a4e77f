//! Shared helpers for the core tests.
#![allow(dead_code)]

use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use nioxide_core::Result;
use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousSocketChannel, Handler, ReadOutcome, SharedBuf,
};
use nioxide_core::channel::{ServerSocketChannel, SocketChannel};
use nioxide_core::event_loop::{Future, Outcome};

/// Five seconds: every wait in the tests is bounded by this.
pub const LIMIT: Option<Duration> = Some(Duration::from_secs(5));

/// A bound listener on 127.0.0.1 with an OS-chosen port.
pub fn listener() -> ServerSocketChannel {
    let server = ServerSocketChannel::open().unwrap();
    server.bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    server
}

/// A connected pair (client, accepted peer), both in blocking mode.
pub fn pair() -> (SocketChannel, SocketChannel) {
    let server = listener();
    let client = SocketChannel::open().unwrap();
    client
        .connect(server.local_address().unwrap().unwrap())
        .unwrap();
    let peer = server.accept().unwrap().unwrap();
    server.close();
    (client, peer)
}

/// A non-blocking, close-on-exec pipe: `[read end, write end]`; close it with [`close_pipe`].
pub fn pipe() -> [std::os::fd::RawFd; 2] {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    assert_eq!(rc, 0, "pipe2");
    fds
}

/// Closes both ends of a [`pipe`].
pub fn close_pipe(fds: [std::os::fd::RawFd; 2]) {
    for fd in fds {
        // SAFETY: the test owns the descriptor and closes it once.
        unsafe { libc::close(fd) };
    }
}

/// A completion handler that sends its result to `tx`.
pub fn to<V: Send + 'static>(tx: &Sender<Result<V>>) -> Handler<V> {
    let tx = tx.clone();
    Handler::new(move |r| {
        let _ = tx.send(r);
    })
}

/// The next result a handler of [`to`] sent, waiting at most five seconds.
pub fn recv<V>(rx: &Receiver<Result<V>>) -> Result<V> {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("a handler ran in time")
}

/// Shuts `group` down now and waits (five seconds at most) until it has terminated.
pub fn terminate(group: &AsynchronousChannelGroup) {
    group.shutdown_now();
    assert!(group.await_termination(LIMIT).unwrap());
    assert!(group.is_terminated());
}

/// The value of a completed future (waiting five seconds at most), or its failure.
pub fn value<V: Clone + 'static>(future: &Future) -> Result<V> {
    assert!(future.wait(LIMIT).unwrap(), "future completed in time");
    if let Some(e) = future.cause() {
        return Err(e);
    }
    future.with_outcome(|o| match o {
        Some(Outcome::Success(Some(v))) => Ok(v.downcast_ref::<V>().expect("value type").clone()),
        other => panic!("unexpected outcome {other:?}"),
    })
}

/// Seed 002's echo server on `channel`: reads into all of `buf`, writes back what it read
/// (with `write_all` if `queue`, else a raw write), reads again; closes the channel at the
/// end of the stream or on an error. Calls refused because the channel closed end it.
pub fn echo(channel: AsynchronousSocketChannel, buf: SharedBuf, queue: bool) {
    let next = channel.clone();
    let Ok(lent) = buf.lend(0..buf.len()) else {
        return;
    };
    let _ = channel.read(
        lent,
        None,
        Handler::new(move |r| {
            let Ok(ReadOutcome::Bytes(n)) = r else {
                next.close();
                return;
            };
            let Ok(out) = buf.lend(0..n) else {
                return;
            };
            let again = next.clone();
            let b = buf.clone();
            let written = Handler::new(move |w: Result<usize>| {
                if w.is_ok() {
                    echo(again, b, queue);
                }
            });
            let _ = if queue {
                next.write_all(out, written)
            } else {
                next.write(out, None, written)
            };
        }),
    );
}
