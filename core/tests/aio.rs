//! Completion-handler AIO on sockets: handlers and futures, pending errors, close, timeouts,
//! cancel, a 1 MiB echo, the write queue, the group's shutdown, panicking handlers and the
//! system-call budget of a steady echo.

mod util;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousServerSocketChannel, AsynchronousSocketChannel, Handler,
    QueueFullPolicy, ReadOutcome, SharedBuf,
};
use nioxide_core::channel::SocketChannel;
use nioxide_core::{Error, ErrorKind, Result};
use util::{recv, to, value};

const WAIT: Duration = Duration::from_secs(5);

fn server(group: &AsynchronousChannelGroup) -> (AsynchronousServerSocketChannel, SocketAddr) {
    let server = AsynchronousServerSocketChannel::open(group).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = server.local_address().unwrap().unwrap();
    (server, addr)
}

/// A connected pair of asynchronous channels (client, accepted).
fn pair(
    group: &AsynchronousChannelGroup,
) -> (AsynchronousSocketChannel, AsynchronousSocketChannel) {
    let (server, addr) = server(group);
    let accepted = server.accept_future().unwrap();
    let client = AsynchronousSocketChannel::open(group).unwrap();
    value::<()>(&client.connect_future(addr, None).unwrap()).unwrap();
    let peer = value::<AsynchronousSocketChannel>(&accepted).unwrap();
    server.close();
    (client, peer)
}

fn finish(group: AsynchronousChannelGroup) {
    util::terminate(&group);
}

#[test]
fn accept_connect_read_write_with_handlers_and_futures() {
    let group = AsynchronousChannelGroup::new(2).unwrap();
    let (server, addr) = server(&group);
    let (tx, rx) = channel();
    server.accept(to(&tx)).unwrap();
    assert_eq!(
        server.accept(to(&tx)).unwrap_err(),
        ErrorKind::AcceptPending.into()
    );
    let client = AsynchronousSocketChannel::open(&group).unwrap();
    let (ctx, crx) = channel();
    client.connect(addr, None, to(&ctx)).unwrap();
    recv(&crx).unwrap();
    let peer = recv(&rx).unwrap();
    assert_eq!(
        peer.remote_address().unwrap(),
        client.local_address().unwrap()
    );
    // A binding's object set on one handle is found through another.
    peer.set_binding(Box::new(42u32));
    let again = peer.clone();
    assert_eq!(
        again.with_binding(|b| b.and_then(|b| b.downcast_ref::<u32>()).copied()),
        Some(42)
    );
    assert!(client.with_binding(|b| b.is_none()));

    let out = SharedBuf::from_vec(b"hello".to_vec());
    let (wtx, wrx) = channel();
    client
        .write(out.lend(0..5).unwrap(), None, to(&wtx))
        .unwrap();
    assert_eq!(recv(&wrx).unwrap(), 5);
    assert!(!out.is_lent(), "the loan ends before the handler runs");

    let inbuf = SharedBuf::new(16);
    let read = peer.read_future(inbuf.lend(0..16).unwrap(), None).unwrap();
    assert_eq!(value::<ReadOutcome>(&read).unwrap(), ReadOutcome::Bytes(5));
    assert_eq!(inbuf.to_vec(0..5).unwrap(), b"hello");

    // A zero-length read completes with 0; end of stream once the peer shuts down.
    let (rtx, rrx) = channel();
    peer.read(inbuf.lend(0..0).unwrap(), None, to(&rtx))
        .unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::Bytes(0));
    client.shutdown_output().unwrap();
    peer.read(inbuf.lend(0..16).unwrap(), None, to(&rtx))
        .unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::EndOfStream);
    client.close();
    peer.close();
    server.close();
    finish(group);
}

#[test]
fn a_refused_connect_fails_and_closes_the_channel() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let listener = util::listener();
    let addr = listener.local_address().unwrap().unwrap();
    listener.close();
    let client = AsynchronousSocketChannel::open(&group).unwrap();
    let result = value::<()>(&client.connect_future(addr, None).unwrap());
    assert_eq!(result.unwrap_err(), Error::Os(libc::ECONNREFUSED));
    assert!(!client.is_open());
    finish(group);
}

#[test]
fn a_connect_to_a_full_backlog_times_out_once() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    // A listener with backlog 1 that never accepts: after two connections the kernel drops
    // further SYNs, so a connect stays pending.
    let listener = nioxide_core::channel::ServerSocketChannel::open().unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let c = SocketChannel::open().unwrap();
        c.configure_blocking(false).unwrap();
        let _ = c.connect(addr);
        fillers.push(c);
    }
    std::thread::sleep(Duration::from_millis(50));
    let client = AsynchronousSocketChannel::open(&group).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel();
    let counted = calls.clone();
    client
        .connect(
            addr,
            Some(Duration::from_millis(100)),
            Handler::new(move |r| {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(r);
            }),
        )
        .unwrap();
    assert_eq!(recv(&rx).unwrap_err(), ErrorKind::TimedOut.into());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!client.is_open());
    for c in fillers {
        c.close();
    }
    listener.close();
    finish(group);
}

#[test]
fn a_second_read_or_write_fails_at_the_call_and_leaves_the_first() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let buf = SharedBuf::new(8);
    let other = SharedBuf::new(8);
    let (tx, rx) = channel();
    peer.read(buf.lend(0..8).unwrap(), None, to(&tx)).unwrap();
    let (tx2, rx2) = channel::<Result<ReadOutcome>>();
    assert_eq!(
        peer.read(other.lend(0..8).unwrap(), None, to(&tx2))
            .unwrap_err(),
        ErrorKind::ReadPending.into()
    );
    assert!(!other.is_lent(), "a refused call gives the memory back");
    // A raw write while a queued write waits fails with write-pending.
    client
        .set_option(nioxide_core::channel::SocketOption::SndBuf, 4096)
        .unwrap();
    let big = SharedBuf::new(8 << 20);
    let (qtx, qrx) = channel();
    client
        .write_all(big.lend(0..8 << 20).unwrap(), to(&qtx))
        .unwrap();
    let small = SharedBuf::new(1);
    let (wtx, _wrx) = channel::<Result<usize>>();
    assert_eq!(
        client
            .write(small.lend(0..1).unwrap(), None, to(&wtx))
            .unwrap_err(),
        ErrorKind::WritePending.into()
    );
    client.close();
    assert_eq!(recv(&qrx).unwrap_err(), ErrorKind::AsyncClose.into());
    // The first read still completes (the peer sees some bytes, or the end of stream).
    assert!(recv(&rx).is_ok());
    assert!(
        rx2.try_recv().is_err(),
        "the refused read's handler never runs"
    );
    peer.close();
    finish(group);
}

#[test]
fn close_fails_each_pending_operation_once_with_async_close() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let (server, _) = server(&group);
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::<Error>();
    let failed = |calls: &Arc<AtomicUsize>, tx: &Sender<Error>| {
        let calls = calls.clone();
        let tx = tx.clone();
        move |r: Result<()>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(r.unwrap_err());
        }
    };
    let buf = SharedBuf::new(8);
    let f = failed(&calls, &tx);
    peer.read(
        buf.lend(0..8).unwrap(),
        None,
        Handler::new(move |r: Result<ReadOutcome>| f(r.map(drop))),
    )
    .unwrap();
    let f = failed(&calls, &tx);
    server
        .accept(Handler::new(move |r: Result<AsynchronousSocketChannel>| {
            f(r.map(drop))
        }))
        .unwrap();
    peer.close();
    peer.close();
    server.close();
    for _ in 0..2 {
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), ErrorKind::AsyncClose.into());
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(!buf.is_lent());
    // Calls on a closed channel fail at the call.
    assert_eq!(
        peer.read(buf.lend(0..8).unwrap(), None, Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::Closed.into()
    );
    client.close();
    finish(group);
}

#[test]
fn a_read_timeout_fails_once_never_completes_later_and_disables_reads() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let buf = SharedBuf::new(8);
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel();
    let counted = calls.clone();
    peer.read(
        buf.lend(0..8).unwrap(),
        Some(Duration::from_millis(50)),
        Handler::new(move |r| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(r);
        }),
    )
    .unwrap();
    assert_eq!(recv(&rx).unwrap_err(), ErrorKind::TimedOut.into());
    assert!(!buf.is_lent());
    let data = SharedBuf::from_vec(b"late".to_vec());
    value::<usize>(&client.write_future(data.lend(0..4).unwrap(), None).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(buf.to_vec(0..8).unwrap(), vec![0; 8], "nothing was read");
    assert_eq!(
        peer.read(buf.lend(0..8).unwrap(), None, Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::DirectionDisabled.into()
    );
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn a_write_timeout_fails_once_and_disables_writes() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    client
        .set_option(nioxide_core::channel::SocketOption::SndBuf, 4096)
        .unwrap();
    // Fill the socket: raw writes until one stays pending and times out.
    let big = SharedBuf::new(1 << 20);
    let mut timed_out = false;
    for _ in 0..64 {
        let f = client
            .write_future(
                big.lend(0..1 << 20).unwrap(),
                Some(Duration::from_millis(50)),
            )
            .unwrap();
        match value::<usize>(&f) {
            Ok(_) => continue,
            Err(e) => {
                assert_eq!(e, ErrorKind::TimedOut.into());
                timed_out = true;
                break;
            }
        }
    }
    assert!(timed_out);
    assert_eq!(
        client
            .write(big.lend(0..1).unwrap(), None, Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::DirectionDisabled.into()
    );
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn cancelling_a_read_future_fails_it_and_disables_reads() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let buf = SharedBuf::new(8);
    let f = peer.read_future(buf.lend(0..8).unwrap(), None).unwrap();
    assert!(f.cancel());
    assert!(f.is_cancelled());
    assert!(
        !buf.is_lent(),
        "the memory is given back before the cancel is visible"
    );
    assert_eq!(
        peer.read(buf.lend(0..8).unwrap(), None, Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::DirectionDisabled.into()
    );
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn one_mib_of_random_bytes_echo_exactly_with_scattering_and_gathering_buffers() {
    let group = AsynchronousChannelGroup::new(2).unwrap();
    let (client, peer) = pair(&group);
    const TOTAL: usize = 1 << 20;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..TOTAL)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    // The echo side: scattering reads into two buffers, each chunk written back with
    // write_all from a gathering pair of fresh buffers.
    fn echo(peer: AsynchronousSocketChannel) {
        let a = SharedBuf::new(1000);
        let b = SharedBuf::new(3000);
        let bufs = SharedBuf::lend_vectored(&[(&a, 0..1000), (&b, 0..3000)]).unwrap();
        let next = peer.clone();
        peer.read(
            bufs,
            None,
            Handler::new(move |r| match r {
                Ok(ReadOutcome::Bytes(n)) => {
                    let first = n.min(1000);
                    let x = SharedBuf::from_vec(a.to_vec(0..first).unwrap());
                    let y = SharedBuf::from_vec(b.to_vec(0..n - first).unwrap());
                    let out =
                        SharedBuf::lend_vectored(&[(&x, 0..first), (&y, 0..n - first)]).unwrap();
                    next.write_all(out, Handler::new(|r| assert!(r.is_ok())))
                        .unwrap();
                    echo(next);
                }
                _ => next.close(),
            }),
        )
        .unwrap();
    }
    echo(peer);
    let sent = SharedBuf::from_vec(data.clone());
    let chunks: Vec<_> = (0..4).map(|i| i * TOTAL / 4..(i + 1) * TOTAL / 4).collect();
    let parts: Vec<SharedBuf> = chunks
        .iter()
        .map(|r| SharedBuf::from_vec(data[r.clone()].to_vec()))
        .collect();
    let gathered =
        SharedBuf::lend_vectored(&parts.iter().map(|p| (p, 0..p.len())).collect::<Vec<_>>())
            .unwrap();
    drop(sent);
    let written = client.write_all_future(gathered).unwrap();
    let received = Arc::new(Mutex::new(Vec::with_capacity(TOTAL)));
    let inbuf = SharedBuf::new(64 << 10);
    while received.lock().unwrap().len() < TOTAL {
        let f = client
            .read_future(inbuf.lend(0..64 << 10).unwrap(), None)
            .unwrap();
        match value::<ReadOutcome>(&f).unwrap() {
            ReadOutcome::Bytes(n) => received
                .lock()
                .unwrap()
                .extend_from_slice(&inbuf.to_vec(0..n).unwrap()),
            ReadOutcome::EndOfStream => panic!("early end of stream"),
        }
    }
    assert_eq!(value::<usize>(&written).unwrap(), TOTAL);
    assert!(*received.lock().unwrap() == data, "byte-exact echo");
    client.close();
    finish(group);
}

#[test]
fn a_peer_reset_fails_each_queued_write_once_in_order() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    client
        .set_option(nioxide_core::channel::SocketOption::SndBuf, 4096)
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = channel();
    let bufs: Vec<SharedBuf> = (0..4).map(|_| SharedBuf::new(4 << 20)).collect();
    for (i, b) in bufs.iter().enumerate() {
        let order = order.clone();
        let tx = tx.clone();
        client
            .write_all(
                b.lend(0..b.len()).unwrap(),
                Handler::new(move |r| {
                    order.lock().unwrap().push(i);
                    let _ = tx.send(r);
                }),
            )
            .unwrap();
    }
    peer.set_option(nioxide_core::channel::SocketOption::Linger, 0)
        .unwrap();
    peer.close();
    let mut errors = Vec::new();
    for _ in 0..4 {
        errors.push(recv(&rx).unwrap_err());
    }
    for e in &errors {
        assert!(
            *e == Error::Os(libc::ECONNRESET) || *e == Error::Os(libc::EPIPE),
            "{e:?}"
        );
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    // Later writes fail at the call with the send error; reads are untouched.
    assert!(
        client
            .write_all(bufs[0].lend(0..1).unwrap(), Handler::new(|_| {}))
            .is_err()
    );
    client.close();
    finish(group);
}

#[test]
fn the_write_queue_under_a_peer_that_never_reads_is_bounded_by_its_cap() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    // Small kernel buffers on both sides, so the queue (not the kernel) holds what the peer
    // does not read.
    client
        .set_option(nioxide_core::channel::SocketOption::SndBuf, 4096)
        .unwrap();
    peer.set_option(nioxide_core::channel::SocketOption::RcvBuf, 4096)
        .unwrap();
    client.set_write_queue_cap(1 << 20, QueueFullPolicy::FailNewCall);
    let chunk = 64 << 10;
    let mut refused = false;
    let mut bufs = Vec::new();
    for _ in 0..200 {
        let b = SharedBuf::new(chunk);
        match client.write_all(b.lend(0..chunk).unwrap(), Handler::new(|_| {})) {
            Ok(()) => bufs.push(b),
            Err(e) => {
                assert_eq!(e, ErrorKind::QueueFull.into());
                assert!(!b.is_lent());
                refused = true;
                break;
            }
        }
    }
    assert!(refused);
    assert!(client.queued_bytes() <= 1 << 20);
    // The other policy closes the channel.
    client.set_write_queue_cap(1, QueueFullPolicy::Close);
    let b = SharedBuf::new(chunk);
    assert_eq!(
        client
            .write_all(b.lend(0..chunk).unwrap(), Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::Closed.into()
    );
    assert!(!client.is_open());
    peer.close();
    finish(group);
}

#[test]
fn closing_and_shutting_down_from_a_handler_in_a_one_thread_group() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let buf = SharedBuf::new(8);
    let (tx, rx) = channel();
    let g = group.clone();
    let c = client.clone();
    let p = peer.clone();
    peer.read(
        buf.lend(0..8).unwrap(),
        None,
        Handler::new(move |r| {
            p.close();
            c.close();
            g.shutdown_now();
            let waited = g.await_termination(Some(Duration::from_millis(10)));
            let _ = tx.send((r.is_ok(), waited));
        }),
    )
    .unwrap();
    let data = SharedBuf::from_vec(b"x".to_vec());
    client
        .write(data.lend(0..1).unwrap(), None, Handler::new(|_| {}))
        .unwrap();
    let (ok, waited) = rx.recv_timeout(WAIT).unwrap();
    assert!(ok);
    assert_eq!(waited.unwrap_err(), ErrorKind::WouldDeadlock.into());
    assert!(group.await_termination(Some(WAIT)).unwrap());
    assert_eq!(
        AsynchronousSocketChannel::open(&group).unwrap_err(),
        ErrorKind::GroupShutdown.into()
    );
}

#[test]
fn three_hundred_panicking_handlers_leave_the_group_running() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let buf = SharedBuf::new(1);
    let byte = SharedBuf::from_vec(vec![7]);
    for _ in 0..300 {
        peer.read(
            buf.lend(0..1).unwrap(),
            None,
            Handler::new(|_| panic!("handler")),
        )
        .unwrap();
        value::<usize>(&client.write_future(byte.lend(0..1).unwrap(), None).unwrap()).unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        while buf.is_lent() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The read's handler has started; give it time to finish its panic.
        std::thread::sleep(Duration::from_micros(200));
    }
    std::panic::set_hook(hook);
    let f = peer.read_future(buf.lend(0..1).unwrap(), None);
    let f = match f {
        Ok(f) => f,
        Err(e) if e == ErrorKind::ReadPending.into() => {
            std::thread::sleep(Duration::from_millis(50));
            peer.read_future(buf.lend(0..1).unwrap(), None).unwrap()
        }
        Err(e) => panic!("{e:?}"),
    };
    value::<usize>(&client.write_future(byte.lend(0..1).unwrap(), None).unwrap()).unwrap();
    assert_eq!(value::<ReadOutcome>(&f).unwrap(), ReadOutcome::Bytes(1));
    assert!(group.event_loop_group().loops()[0].counters().panics >= 300);
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn shutdown_now_fails_pending_operations_on_the_group_threads() {
    let group = AsynchronousChannelGroup::new(2).unwrap();
    // The client is outside the group, so no end of stream can complete the read first.
    let (server, addr) = server(&group);
    let accepted = server.accept_future().unwrap();
    let client = SocketChannel::open().unwrap();
    client.connect(addr).unwrap();
    let peer = value::<AsynchronousSocketChannel>(&accepted).unwrap();
    let (tx, rx) = channel();
    let buf = SharedBuf::new(8);
    let names = |tx: &Sender<(Error, String)>| {
        let tx = tx.clone();
        move |e: Error| {
            let name = std::thread::current().name().unwrap_or("").to_string();
            let _ = tx.send((e, name));
        }
    };
    let n = names(&tx);
    peer.read(
        buf.lend(0..8).unwrap(),
        None,
        Handler::new(move |r| n(r.unwrap_err())),
    )
    .unwrap();
    let n = names(&tx);
    server
        .accept(Handler::new(move |r| n(r.map(drop).unwrap_err())))
        .unwrap();
    group.shutdown_now();
    for _ in 0..2 {
        let (e, thread) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(e, ErrorKind::AsyncClose.into());
        assert!(thread.starts_with("nioxide-loop"), "{thread}");
    }
    assert!(group.await_termination(Some(WAIT)).unwrap());
    assert!(!peer.is_open() && !server.is_open());
    client.close();
}

/// Serves 500 echo requests from a blocking client on this thread (after a warm-up) and
/// checks what they cost the loop's backend.
fn echo_budget(queue: bool) {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (s, a) = server(&group);
    let accepted = s.accept_future().unwrap();
    let client = SocketChannel::open().unwrap();
    client.connect(a).unwrap();
    let peer = value::<AsynchronousSocketChannel>(&accepted).unwrap();
    util::echo(peer.clone(), SharedBuf::new(256), queue);
    s.close();
    let lp = &group.event_loop_group().loops()[0];
    let mut buf = [0u8; 64];
    let mut exchange = || {
        client.write(&buf).unwrap();
        let mut got = 0;
        while got < 64 {
            got += client.read(&mut buf[got..]).unwrap().unwrap();
        }
    };
    for _ in 0..20 {
        exchange();
    }
    let before = lp.backend_counters();
    const N: u64 = 500;
    for _ in 0..N {
        exchange();
    }
    let after = lp.backend_counters();
    assert_eq!(after.ctl, before.ctl, "no epoll_ctl per request");
    let waits = after.waits - before.waits;
    assert!(waits <= N + N / 10, "{waits} epoll_waits for {N} requests");
    assert!(
        after.empty_waits - before.empty_waits <= N / 10,
        "the loop does not spin"
    );
    // One readiness event per request: no wake-up through the eventfd besides.
    let events = after.events - before.events;
    assert!(events <= N + N / 10, "{events} events for {N} requests");
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn a_steady_echo_costs_no_epoll_ctl_and_about_one_wait_per_request() {
    echo_budget(false);
    echo_budget(true);
}

#[test]
fn connects_and_accepts_started_from_another_thread_are_never_missed() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    for i in 0..100 {
        let (server, addr) = server(&group);
        let accepted = server.accept_future().unwrap();
        let client = AsynchronousSocketChannel::open(&group).unwrap();
        let connected = client.connect_future(addr, None).unwrap();
        if !connected.wait(Some(Duration::from_secs(1))).unwrap() {
            panic!("iteration {i}: connect missed; {:?}", client);
        }
        if !accepted.wait(Some(Duration::from_secs(1))).unwrap() {
            panic!("iteration {i}: accept missed; {:?}", server);
        }
        client.close();
        server.close();
        value::<AsynchronousSocketChannel>(&accepted)
            .unwrap()
            .close();
    }
    finish(group);
}

/// A listener (backlog 1, never accepting) whose queue is full: a connect to it stays
/// pending. The fillers and the listener are returned to be closed.
fn full_listener() -> (
    nioxide_core::channel::ServerSocketChannel,
    Vec<SocketChannel>,
    SocketAddr,
) {
    let listener = nioxide_core::channel::ServerSocketChannel::open().unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let fillers = (0..8)
        .map(|_| {
            let c = SocketChannel::open().unwrap();
            c.configure_blocking(false).unwrap();
            let _ = c.connect(addr);
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    (listener, fillers, addr)
}

#[test]
fn close_fails_a_pending_connect_and_a_pending_write_once() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (listener, fillers, addr) = full_listener();
    let connecting = AsynchronousSocketChannel::open(&group).unwrap();
    let (ctx, crx) = channel();
    connecting.connect(addr, None, to(&ctx)).unwrap();
    assert_eq!(
        connecting
            .connect(addr, None, Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::ConnectionPending.into()
    );
    connecting.close();
    assert_eq!(recv(&crx).unwrap_err(), ErrorKind::AsyncClose.into());

    let (client, peer) = pair(&group);
    client
        .set_option(nioxide_core::channel::SocketOption::SndBuf, 4096)
        .unwrap();
    let big = SharedBuf::new(8 << 20);
    let (wtx, wrx) = channel();
    // Raw writes until one stays pending (the peer does not read).
    loop {
        client
            .write(big.lend(0..8 << 20).unwrap(), None, to(&wtx))
            .unwrap();
        match wrx.recv_timeout(Duration::from_millis(500)) {
            Ok(r) => assert!(r.is_ok()),
            Err(_) => break,
        }
    }
    client.close();
    assert_eq!(recv(&wrx).unwrap_err(), ErrorKind::AsyncClose.into());
    assert!(wrx.recv_timeout(Duration::from_millis(50)).is_err(), "once");
    assert!(!big.is_lent());
    for c in fillers {
        c.close();
    }
    listener.close();
    peer.close();
    finish(group);
}

#[test]
fn cancelling_connect_write_and_accept_futures() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    // A connect: cancelled, it closes the channel.
    let (listener, fillers, addr) = full_listener();
    let connecting = AsynchronousSocketChannel::open(&group).unwrap();
    let f = connecting.connect_future(addr, None).unwrap();
    assert!(f.cancel());
    assert!(f.is_cancelled());
    assert!(!connecting.is_open());
    // A write that waits: cancelled, writes are disabled.
    let (client, peer) = pair(&group);
    client
        .set_option(nioxide_core::channel::SocketOption::SndBuf, 4096)
        .unwrap();
    let big = SharedBuf::new(8 << 20);
    // Writes until one is still pending when cancelled (a slow loop may finish one after the
    // wait gave up on it: then the next one).
    let pending = loop {
        let f = client
            .write_future(big.lend(0..8 << 20).unwrap(), None)
            .unwrap();
        if !f.wait(Some(Duration::from_millis(100))).unwrap() && f.cancel() {
            break f;
        }
        assert!(f.wait(Some(WAIT)).unwrap() && f.is_success());
    };
    assert!(pending.is_cancelled());
    assert!(!big.is_lent());
    assert_eq!(
        client
            .write(big.lend(0..1).unwrap(), None, Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::DirectionDisabled.into()
    );
    // An accept: cancelled, the next accept may start.
    let (server, _) = server(&group);
    let accepting = server.accept_future().unwrap();
    assert!(accepting.cancel());
    let again = server.accept_future().unwrap();
    assert!(again.cancel());
    for c in fillers {
        c.close();
    }
    listener.close();
    client.close();
    peer.close();
    server.close();
    finish(group);
}

#[test]
fn a_write_queue_drains_before_shutdown_output() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let parts: Vec<SharedBuf> = (0..10u8)
        .map(|i| SharedBuf::from_vec(vec![i; 100_000]))
        .collect();
    let (tx, rx) = channel();
    for p in &parts {
        client
            .write_all(p.lend(0..p.len()).unwrap(), to(&tx))
            .unwrap();
    }
    client.shutdown_output().unwrap();
    let late = SharedBuf::new(1);
    assert_eq!(
        client
            .write_all(late.lend(0..1).unwrap(), Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::Shutdown.into()
    );
    // The peer reads everything, in order, then the end of stream.
    let inbuf = SharedBuf::new(1 << 16);
    let mut got = Vec::new();
    loop {
        let f = peer
            .read_future(inbuf.lend(0..1 << 16).unwrap(), None)
            .unwrap();
        match value::<ReadOutcome>(&f).unwrap() {
            ReadOutcome::Bytes(n) => got.extend_from_slice(&inbuf.to_vec(0..n).unwrap()),
            ReadOutcome::EndOfStream => break,
        }
    }
    let expected: Vec<u8> = (0..10u8).flat_map(|i| vec![i; 100_000]).collect();
    assert!(got == expected);
    for _ in 0..10 {
        assert_eq!(recv(&rx).unwrap(), 100_000);
    }
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn a_group_over_borrowed_loops_never_shuts_them_down() {
    let loops = nioxide_core::event_loop::EventLoopGroup::new(1).unwrap();
    let group = AsynchronousChannelGroup::with_event_loop_group(&loops);
    let (client, peer) = pair(&group);
    client.close();
    peer.close();
    group.shutdown();
    assert!(group.await_termination(Some(WAIT)).unwrap());
    assert!(group.is_terminated());
    assert!(!loops.is_shutting_down(), "the loops are the caller's");
    // A second group on the same loops: their shutdown closes its channels, whose pending
    // operations fail once.
    let other = AsynchronousChannelGroup::with_event_loop_group(&loops);
    let (server, _) = server(&other);
    let (tx, rx) = channel();
    server.accept(to(&tx)).unwrap();
    loops.shutdown_gracefully(Duration::ZERO, WAIT);
    assert_eq!(recv(&rx).unwrap_err(), ErrorKind::AsyncClose.into());
    assert!(loops.await_termination(Some(WAIT)).unwrap());
    assert!(!server.is_open());
    assert!(AsynchronousSocketChannel::open(&other).is_err());
}

#[test]
fn a_result_known_at_the_call_runs_its_handler_after_the_call_on_the_loop() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    // Two messages arrive before the second read starts: inside the first read's handler the
    // readiness cache says data is there, so the second read reads at the call, but its
    // handler still runs later.
    let data = SharedBuf::from_vec(b"abcdef".to_vec());
    value::<usize>(&client.write_future(data.lend(0..6).unwrap(), None).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let in_call = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, rx) = channel();
    let first = SharedBuf::new(3);
    let second = SharedBuf::new(3);
    let next = peer.clone();
    let flag = in_call.clone();
    let b = second.clone();
    peer.read(
        first.lend(0..3).unwrap(),
        None,
        Handler::new(move |r| {
            assert_eq!(r.unwrap(), ReadOutcome::Bytes(3));
            let inner_flag = flag.clone();
            let tx = tx.clone();
            flag.store(true, Ordering::SeqCst);
            next.read(
                b.lend(0..3).unwrap(),
                None,
                Handler::new(move |r| {
                    let on_loop = std::thread::current()
                        .name()
                        .is_some_and(|n| n.starts_with("nioxide-loop"));
                    let _ = tx.send((r, inner_flag.load(Ordering::SeqCst), on_loop));
                }),
            )
            .unwrap();
            flag.store(false, Ordering::SeqCst);
        }),
    )
    .unwrap();
    let (result, inside, on_loop) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(result.unwrap(), ReadOutcome::Bytes(3));
    assert!(!inside, "never inside the call that started it");
    assert!(on_loop);
    assert_eq!(first.to_vec(0..3).unwrap(), b"abc");
    assert_eq!(second.to_vec(0..3).unwrap(), b"def");
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn a_timeout_belongs_to_its_own_operation_never_to_a_later_one() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let buf = SharedBuf::new(8);
    let byte = SharedBuf::from_vec(vec![1]);
    // A timed read that completes leaves its timer armed; the untimed read after it must
    // not fail when that timer fires.
    let first = peer
        .read_future(buf.lend(0..8).unwrap(), Some(Duration::from_millis(50)))
        .unwrap();
    value::<usize>(&client.write_future(byte.lend(0..1).unwrap(), None).unwrap()).unwrap();
    assert_eq!(value::<ReadOutcome>(&first).unwrap(), ReadOutcome::Bytes(1));
    let untimed = peer.read_future(buf.lend(0..8).unwrap(), None).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    assert!(!untimed.is_done(), "the earlier timeout does not fail it");
    value::<usize>(&client.write_future(byte.lend(0..1).unwrap(), None).unwrap()).unwrap();
    assert_eq!(
        value::<ReadOutcome>(&untimed).unwrap(),
        ReadOutcome::Bytes(1)
    );
    // A short timeout, then a longer one on the next read: the timer armed for the first
    // fires early for the second, which must wait its own time.
    let short = peer
        .read_future(buf.lend(0..8).unwrap(), Some(Duration::from_millis(30)))
        .unwrap();
    value::<usize>(&client.write_future(byte.lend(0..1).unwrap(), None).unwrap()).unwrap();
    assert_eq!(value::<ReadOutcome>(&short).unwrap(), ReadOutcome::Bytes(1));
    let started = std::time::Instant::now();
    let long = peer
        .read_future(buf.lend(0..8).unwrap(), Some(Duration::from_millis(250)))
        .unwrap();
    assert_eq!(
        value::<ReadOutcome>(&long).unwrap_err(),
        ErrorKind::TimedOut.into()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "never early"
    );
    client.close();
    peer.close();
    finish(group);
}

/// A raw handler's data for the test below: a count of calls and the last result's code.
struct RawSeen {
    calls: AtomicUsize,
    last: std::sync::atomic::AtomicI64,
}

/// The raw handler: counts the call and keeps the result as C would see it (the count, or
/// the error's code), then lets go of the `Arc` the data holds.
unsafe fn raw_completed(data: [usize; 3], result: Result<ReadOutcome>) {
    // SAFETY: `data[0]` is an `Arc<RawSeen>` made by `Arc::into_raw` for this one call.
    let seen = unsafe { Arc::from_raw(data[0] as *const RawSeen) };
    let code = match result {
        Ok(ReadOutcome::Bytes(n)) => n as i64,
        Ok(ReadOutcome::EndOfStream) => i64::from(ErrorKind::Eof.code()),
        Err(e) => i64::from(e.code()),
    };
    seen.last.store(code, Ordering::SeqCst);
    seen.calls.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn raw_handlers_run_once_and_a_refused_call_runs_none() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let seen = Arc::new(RawSeen {
        calls: AtomicUsize::new(0),
        last: std::sync::atomic::AtomicI64::new(0),
    });
    let raw = |seen: &Arc<RawSeen>| {
        let data = [Arc::into_raw(seen.clone()) as usize, 0, 0];
        // SAFETY: `raw_completed` takes the `Arc` back once; an `Arc` may cross threads.
        unsafe { Handler::raw(raw_completed, data) }
    };
    let buf = SharedBuf::new(8);
    peer.read(buf.lend(0..8).unwrap(), None, raw(&seen))
        .unwrap();
    // A second read is refused: its raw handler is dropped uncalled (its Arc leaks, which
    // the strong count below shows).
    let other = SharedBuf::new(8);
    assert!(
        peer.read(other.lend(0..8).unwrap(), None, raw(&seen))
            .is_err()
    );
    let data = SharedBuf::from_vec(b"abc".to_vec());
    value::<usize>(&client.write_future(data.lend(0..3).unwrap(), None).unwrap()).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while seen.calls.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(seen.last.load(Ordering::SeqCst), 3);
    // A pending read failed by close: its code is NX_EASYNCCLOSE's.
    peer.read(buf.lend(0..8).unwrap(), None, raw(&seen))
        .unwrap();
    peer.close();
    while seen.calls.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2, "once each");
    assert_eq!(
        seen.last.load(Ordering::SeqCst),
        i64::from(ErrorKind::AsyncClose.code())
    );
    assert_eq!(
        Arc::strong_count(&seen),
        2,
        "this one and the refused call's"
    );
    client.close();
    finish(group);
}

#[test]
fn results_known_at_the_call_are_delivered_in_order() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (client, peer) = pair(&group);
    let data = SharedBuf::from_vec(b"abcdef".to_vec());
    value::<usize>(&client.write_future(data.lend(0..6).unwrap(), None).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let (tx, rx) = channel::<(usize, Vec<u8>)>();
    let bufs: Vec<SharedBuf> = (0..3).map(|_| SharedBuf::new(2)).collect();
    let next = peer.clone();
    let later = bufs.clone();
    let first_tx = tx.clone();
    let first = bufs[0].clone();
    peer.read(
        bufs[0].lend(0..2).unwrap(),
        None,
        Handler::new(move |r| {
            assert_eq!(r.unwrap(), ReadOutcome::Bytes(2));
            let _ = first_tx.send((0, first.to_vec(0..2).unwrap()));
            // Two more reads from inside the handler, each finishing at its call (the data
            // is there): the first waits in the read slot, the second in a task of its own.
            for (i, buf) in later.iter().enumerate().skip(1) {
                let tx = tx.clone();
                let lent = buf.lend(0..2).unwrap();
                let buf = buf.clone();
                next.read(
                    lent,
                    None,
                    Handler::new(move |r| {
                        assert_eq!(r.unwrap(), ReadOutcome::Bytes(2));
                        let _ = tx.send((i, buf.to_vec(0..2).unwrap()));
                    }),
                )
                .unwrap();
            }
        }),
    )
    .unwrap();
    let got: Vec<(usize, Vec<u8>)> = (0..3).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(
        got,
        vec![
            (0, b"ab".to_vec()),
            (1, b"cd".to_vec()),
            (2, b"ef".to_vec())
        ]
    );
    client.close();
    peer.close();
    finish(group);
}

#[test]
fn a_connection_no_channel_can_take_is_closed() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (server, addr) = server(&group);
    let (tx, rx) = channel();
    server.accept(to(&tx)).unwrap();
    // A shut-down group takes no new channels: the accepted connection is closed and the
    // accept fails.
    group.shutdown();
    let client = SocketChannel::open().unwrap();
    client.connect(addr).unwrap();
    assert_eq!(recv(&rx).unwrap_err(), ErrorKind::GroupShutdown.into());
    let mut byte = [0u8; 1];
    assert_eq!(
        client.read(&mut byte).unwrap(),
        Some(0),
        "closed by the server"
    );
    client.close();
    server.close();
    assert!(group.await_termination(Some(WAIT)).unwrap());
}

#[test]
fn a_read_finished_at_its_call_reports_before_a_later_read_of_the_same_direction() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let (s, addr) = server(&group);
    let accepted = s.accept_future().unwrap();
    let client = SocketChannel::open().unwrap();
    client.connect(addr).unwrap();
    let peer = value::<AsynchronousSocketChannel>(&accepted).unwrap();
    s.close();
    client.write(b"abc").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let (tx, rx) = channel::<Vec<u8>>();
    // Each read takes one byte and reports it. The first (started from this thread) starts
    // the second, which finishes at its call ("b"): its handler runs from the delivery task,
    // at the start of a turn. There it starts the third, which finishes at its call too
    // ("c", waiting for the next delivery), and the fourth, which waits; then it sends the
    // byte that finishes the fourth ("d") in this very turn, before the third's delivery.
    fn read(
        peer: &AsynchronousSocketChannel,
        tx: &std::sync::mpsc::Sender<Vec<u8>>,
        then: impl FnOnce() + Send + 'static,
    ) {
        let buf = SharedBuf::new(1);
        let (tx, b) = (tx.clone(), buf.clone());
        peer.read(
            buf.lend(0..1).unwrap(),
            None,
            Handler::new(move |r| {
                assert_eq!(r.unwrap(), ReadOutcome::Bytes(1));
                let _ = tx.send(b.to_vec(0..1).unwrap());
                then();
            }),
        )
        .unwrap();
    }
    let (p, t) = (peer.clone(), tx.clone());
    read(&peer, &tx, move || {
        let (p2, t2) = (p.clone(), t.clone());
        read(&p, &t, move || {
            read(&p2, &t2, || {});
            read(&p2, &t2, || {});
            client.write(b"d").unwrap();
        });
    });
    let got: Vec<Vec<u8>> = (0..4).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, [b"a", b"b", b"c", b"d"]);
    peer.close();
    finish(group);
}
