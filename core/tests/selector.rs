//! Selector semantics: level and edge triggering, interest changes, cancellation, wakeup,
//! cross-thread use and the backend counters.

mod util;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nioxide_core::channel::SocketChannel;
use nioxide_core::selector::{OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE, Selector};
use nioxide_core::{Error, ErrorKind};
use util::{LIMIT, listener, pair};

#[test]
fn select_times_out_with_nothing_registered() {
    let sel = Selector::open().unwrap();
    let start = Instant::now();
    assert_eq!(sel.select(Some(Duration::from_millis(50))).unwrap(), 0);
    assert!(start.elapsed() >= Duration::from_millis(50), "never early");
    assert_eq!(sel.select_now().unwrap(), 0);
}

#[test]
fn wakeup_before_select_returns_at_once_and_select_now_clears_it() {
    let sel = Selector::open().unwrap();
    sel.wakeup().unwrap();
    let start = Instant::now();
    assert_eq!(sel.select(None).unwrap(), 0);
    assert!(start.elapsed() < Duration::from_secs(2));
    sel.wakeup().unwrap();
    sel.select_now().unwrap();
    let start = Instant::now();
    sel.select(Some(Duration::from_millis(50))).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "wakeup was cleared"
    );
}

#[test]
fn wakeup_from_another_thread_ends_a_blocked_select() {
    let sel = Selector::open().unwrap();
    let other = sel.clone();
    let waker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        other.wakeup().unwrap();
    });
    let start = Instant::now();
    assert_eq!(sel.select(Some(Duration::from_secs(10))).unwrap(), 0);
    assert!(start.elapsed() < Duration::from_secs(5));
    waker.join().unwrap();
}

#[test]
fn level_triggered_reports_unread_data_again_without_epoll_ctl() {
    let sel = Selector::open().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let key = sel.register(peer.clone(), OP_READ, &mut None).unwrap();
    client.write(b"hello").unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1);
    assert!(key.is_readable().unwrap());
    let ctl = sel.counters().ctl;
    for _ in 0..3 {
        assert_eq!(
            sel.select(LIMIT).unwrap(),
            1,
            "unread data is reported again"
        );
    }
    assert_eq!(sel.counters().ctl, ctl, "no epoll_ctl per event");
    let mut buf = [0u8; 64];
    assert_eq!(peer.read(&mut buf).unwrap(), Some(5));
    assert_eq!(
        sel.select(Some(Duration::from_millis(50))).unwrap(),
        0,
        "consumed"
    );
}

#[test]
fn edge_triggered_reports_once_per_edge() {
    let sel = Selector::open().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let key = sel.register(peer.clone(), OP_READ, &mut None).unwrap();
    key.set_edge_triggered(true).unwrap();
    client.write(b"one").unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1);
    assert_eq!(
        sel.select(Some(Duration::from_millis(50))).unwrap(),
        0,
        "same edge"
    );
    client.write(b"two").unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1, "a new edge");
}

#[test]
fn interest_changes_take_effect_at_the_next_select() {
    let sel = Selector::open().unwrap();
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let key = sel.register(peer.clone(), OP_READ, &mut None).unwrap();
    assert_eq!(sel.select(Some(Duration::from_millis(50))).unwrap(), 0);
    key.set_interest_ops(OP_WRITE).unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1);
    assert_eq!(key.ready_ops().unwrap(), OP_WRITE);
    key.set_interest_ops(0).unwrap();
    assert_eq!(sel.select(Some(Duration::from_millis(50))).unwrap(), 0);
    assert_eq!(
        key.set_interest_ops(OP_ACCEPT),
        Err(ErrorKind::UnsupportedOps.into())
    );
}

#[test]
fn register_errors() {
    let sel = Selector::open().unwrap();
    let ch = SocketChannel::open().unwrap();
    assert_eq!(
        sel.register(ch.clone(), OP_READ, &mut None).unwrap_err(),
        ErrorKind::IllegalBlockingMode.into()
    );
    ch.configure_blocking(false).unwrap();
    let mut att = Some(Box::new(7u32) as nioxide_core::selector::Attachment);
    assert_eq!(
        sel.register(ch.clone(), OP_ACCEPT, &mut att).unwrap_err(),
        ErrorKind::UnsupportedOps.into()
    );
    assert!(att.is_some(), "a failed register keeps nothing");
    let key = sel.register(ch.clone(), OP_CONNECT, &mut att).unwrap();
    assert!(att.is_none());
    assert_eq!(
        ch.configure_blocking(true),
        Err(ErrorKind::IllegalBlockingMode.into())
    );
    let other = Selector::open().unwrap();
    assert_eq!(
        other.register(ch.clone(), OP_READ, &mut None).unwrap_err(),
        ErrorKind::RegisteredElsewhere.into()
    );
    let mut att2 = Some(Box::new(8u32) as nioxide_core::selector::Attachment);
    let again = sel.register(ch.clone(), OP_READ, &mut att2).unwrap();
    assert!(again.same(&key), "re-register updates the same key");
    assert_eq!(key.interest_ops().unwrap(), OP_READ);
    key.with_attachment(|a| assert_eq!(a.unwrap().downcast_ref::<u32>(), Some(&8)));
    key.cancel();
    assert!(!key.is_valid());
    assert_eq!(key.interest_ops(), Err(ErrorKind::CancelledKey.into()));
    assert_eq!(
        sel.register(ch.clone(), OP_READ, &mut None).unwrap_err(),
        ErrorKind::CancelledKey.into()
    );
    sel.select_now().unwrap();
    assert!(!ch.is_registered(), "deregistered at the next select");
    sel.register(ch.clone(), OP_READ, &mut None).unwrap();
    sel.close();
    assert_eq!(sel.select_now(), Err(ErrorKind::Closed.into()));
    assert!(!ch.is_registered());
    ch.close();
    let sel2 = Selector::open().unwrap();
    assert_eq!(
        sel2.register(ch, OP_READ, &mut None).unwrap_err(),
        ErrorKind::Closed.into()
    );
}

#[test]
fn refused_connect_is_connectable_then_fails() {
    let server = listener();
    let addr = server.local_address().unwrap().unwrap();
    server.close();
    let sel = Selector::open().unwrap();
    let ch = SocketChannel::open().unwrap();
    ch.configure_blocking(false).unwrap();
    match ch.connect(addr) {
        Ok(false) => {}
        Err(e) => {
            assert_eq!(e, Error::Os(libc::ECONNREFUSED));
            return;
        }
        Ok(true) => panic!("connected to a closed port"),
    }
    let key = sel.register(ch.clone(), OP_CONNECT, &mut None).unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1);
    assert!(key.is_connectable().unwrap());
    assert_eq!(ch.finish_connect(), Err(Error::Os(libc::ECONNREFUSED)));
    assert!(
        !ch.is_open(),
        "a failed connect closes the channel, as in Java"
    );
}

#[test]
fn steady_echo_makes_no_system_call_per_event_beyond_io() {
    let sel = Selector::open().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    sel.register(peer.clone(), OP_READ, &mut None).unwrap();
    let before = sel.counters();
    let rounds = 200u64;
    let mut buf = [0u8; 64];
    for i in 0..rounds {
        let msg = [i as u8; 64];
        client.write(&msg).unwrap();
        assert_eq!(sel.select(LIMIT).unwrap(), 1);
        let n = peer.read(&mut buf).unwrap().unwrap();
        peer.write(&buf[..n]).unwrap();
        let mut back = [0u8; 64];
        let mut got = 0;
        while got < n {
            got += client.read(&mut back[got..n]).unwrap().unwrap();
        }
        assert_eq!(back[..n], msg[..n]);
    }
    let after = sel.counters();
    assert_eq!(after.ctl, before.ctl, "no epoll_ctl in the steady state");
    assert!(
        after.waits - before.waits <= rounds + 2,
        "one epoll_wait per select: {after:?}"
    );
}

#[test]
fn cross_thread_register_and_close_during_a_blocked_select() {
    let sel = Selector::open().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let s2 = sel.clone();
    let p2 = peer.clone();
    let registrar = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        s2.register(p2, OP_READ, &mut None).unwrap();
        client.write(b"x").unwrap();
        client
    });
    assert_eq!(
        sel.select(LIMIT).unwrap(),
        1,
        "a registration during select is not lost"
    );
    let _client = registrar.join().unwrap();
    let s3 = sel.clone();
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        s3.close();
    });
    let mut buf = [0u8; 8];
    peer.read(&mut buf).unwrap();
    let start = Instant::now();
    let _ = sel.select(Some(Duration::from_secs(10)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "close wakes the select"
    );
    closer.join().unwrap();
    assert!(!sel.is_open());
}

#[test]
fn closing_a_channel_cancels_its_key() {
    let sel = Selector::open().unwrap();
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let dropped = Arc::new(());
    let mut att = Some(Box::new(dropped.clone()) as nioxide_core::selector::Attachment);
    let key = sel.register(peer.clone(), OP_READ, &mut att).unwrap();
    assert_eq!(Arc::strong_count(&dropped), 2);
    peer.close();
    assert!(!key.is_valid());
    assert_eq!(
        Arc::strong_count(&dropped),
        1,
        "attachment dropped on close"
    );
    sel.select_now().unwrap();
    assert!(sel.keys().unwrap().is_empty());
}

#[test]
fn dropping_a_selector_frees_its_registrations() {
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    {
        let sel = Selector::open().unwrap();
        sel.register(peer.clone(), OP_READ, &mut None).unwrap();
        assert!(peer.is_registered());
    }
    assert!(!peer.is_registered());
    peer.configure_blocking(true).unwrap();
}

#[test]
fn a_socket_registered_before_its_connect_does_not_spin() {
    let server = listener();
    let sel = Selector::open().unwrap();
    let client = SocketChannel::open().unwrap();
    client.configure_blocking(false).unwrap();
    let key = sel.register(client.clone(), OP_CONNECT, &mut None).unwrap();
    // Unconnected, epoll reports a hang-up: that is no connect readiness.
    assert_eq!(sel.select(Some(Duration::from_millis(50))).unwrap(), 0);
    if !client
        .connect(server.local_address().unwrap().unwrap())
        .unwrap()
    {
        assert_eq!(sel.select(LIMIT).unwrap(), 1);
        assert_eq!(key.ready_ops().unwrap(), OP_CONNECT);
        assert!(client.finish_connect().unwrap());
    }
    let _peer = server.accept().unwrap().unwrap();
    key.set_interest_ops(OP_READ).unwrap();
    for _ in 0..3 {
        assert_eq!(
            sel.select(Some(Duration::from_millis(30))).unwrap(),
            0,
            "no data: never reported readable"
        );
    }
}

#[test]
fn a_server_registered_before_its_bind_does_not_spin() {
    let sel = Selector::open().unwrap();
    let server = nioxide_core::channel::ServerSocketChannel::open().unwrap();
    server.configure_blocking(false).unwrap();
    sel.register(server.clone(), OP_ACCEPT, &mut None).unwrap();
    assert_eq!(sel.select(Some(Duration::from_millis(50))).unwrap(), 0);
    server.bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    for _ in 0..3 {
        assert_eq!(
            sel.select(Some(Duration::from_millis(30))).unwrap(),
            0,
            "no connection: never reported acceptable"
        );
    }
    let _client = std::net::TcpStream::connect(server.local_address().unwrap().unwrap());
    assert_eq!(sel.select(LIMIT).unwrap(), 1, "a connection is");
}

#[test]
fn edge_triggered_readiness_survives_a_re_register_and_a_switch_back_to_level() {
    let sel = Selector::open().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let key = sel.register(peer.clone(), 0, &mut None).unwrap();
    key.set_edge_triggered(true).unwrap();
    client.write(b"hello").unwrap();
    // The edge arrives while nothing is of interest.
    assert_eq!(sel.select(Some(Duration::from_millis(50))).unwrap(), 0);
    sel.register(peer.clone(), OP_READ, &mut None).unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1, "re-registering looks again");
    assert_eq!(sel.select(Some(Duration::from_millis(30))).unwrap(), 0);
    key.set_edge_triggered(false).unwrap();
    assert_eq!(
        sel.select(LIMIT).unwrap(),
        1,
        "level-triggered again: unread data"
    );
}

#[test]
fn a_select_timeout_too_long_for_the_clock_is_forever() {
    let sel = Selector::open().unwrap();
    let waker = {
        let sel = sel.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            sel.wakeup().unwrap();
        })
    };
    assert_eq!(sel.select(Some(Duration::MAX)).unwrap(), 0);
    waker.join().unwrap();
}

/// The descriptors this process has open.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn close_releases_the_selectors_descriptors() {
    // Other tests of this binary run in parallel: look for the three descriptors of one
    // selector among many.
    let selectors: Vec<Selector> = (0..32).map(|_| Selector::open().unwrap()).collect();
    let before = open_fds();
    for s in &selectors {
        s.close();
        assert_eq!(s.fd(), -1);
    }
    let after = open_fds();
    assert!(
        before >= after + 32 * 3 - 16,
        "before {before}, after {after}: close keeps the descriptors"
    );
    drop(selectors);
}

#[test]
fn close_wakes_a_blocked_select_before_releasing_the_descriptors() {
    let sel = Selector::open().unwrap();
    let s2 = sel.clone();
    let t = thread::spawn(move || s2.select(None));
    thread::sleep(Duration::from_millis(50));
    sel.close();
    let res = t.join().unwrap();
    assert!(res.is_ok() || res == Err(ErrorKind::Closed.into()));
    assert_eq!(sel.select_now(), Err(ErrorKind::Closed.into()));
}

#[test]
fn an_exact_read_leaves_no_readiness_behind() {
    let sel = Selector::open().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let key = sel.register(peer.clone(), OP_READ, &mut None).unwrap();
    client.write(b"1234567").unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1);
    let mut buf = [0u8; 7];
    assert_eq!(peer.read(&mut buf).unwrap(), Some(7));
    let start = Instant::now();
    assert_eq!(
        sel.select(Some(Duration::from_millis(100))).unwrap(),
        0,
        "nothing is left to read"
    );
    assert!(start.elapsed() >= Duration::from_millis(100));
    // A read that fills its buffer with more behind keeps the key ready.
    client.write(b"12345678").unwrap();
    assert_eq!(sel.select(LIMIT).unwrap(), 1);
    assert_eq!(peer.read(&mut buf).unwrap(), Some(7));
    assert_eq!(sel.select_now().unwrap(), 1);
    assert!(key.is_readable().unwrap());
}

#[test]
fn a_forked_child_closes_a_selector_a_parent_thread_is_selecting_on() {
    let sel = Selector::open().unwrap();
    let s = sel.clone();
    let t = thread::spawn(move || s.select(None));
    thread::sleep(Duration::from_millis(100)); // the thread waits in epoll_wait
    // SAFETY: the child only closes the selector and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        unsafe { libc::alarm(5) };
        sel.close();
        drop(sel);
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for the child made above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    sel.close();
    let _ = t.join().unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child hung or failed: status {status:#x}"
    );
}

#[test]
fn interest_ops_or_and_return_the_set_before_and_take_effect_at_the_next_select() {
    let sel = Selector::open().unwrap();
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let key = sel.register(peer.clone(), 0, &mut None).unwrap();
    assert_eq!(key.interest_ops_or(OP_READ).unwrap(), 0);
    assert_eq!(key.interest_ops_or(OP_WRITE).unwrap(), OP_READ);
    assert_eq!(key.interest_ops().unwrap(), OP_READ | OP_WRITE);
    assert_eq!(sel.select(LIMIT).unwrap(), 1);
    assert_eq!(key.ready_ops().unwrap(), OP_WRITE);
    assert_eq!(key.interest_ops_and(!OP_WRITE).unwrap(), OP_READ | OP_WRITE);
    assert_eq!(key.interest_ops().unwrap(), OP_READ);
    assert_eq!(sel.select(Some(Duration::from_millis(50))).unwrap(), 0);
    assert_eq!(
        key.interest_ops_or(OP_ACCEPT),
        Err(ErrorKind::UnsupportedOps.into())
    );
    assert_eq!(key.interest_ops().unwrap(), OP_READ, "nothing changed");
    key.cancel();
    assert_eq!(
        key.interest_ops_or(OP_READ),
        Err(ErrorKind::CancelledKey.into())
    );
    assert_eq!(key.interest_ops_and(0), Err(ErrorKind::CancelledKey.into()));
}

#[test]
fn interest_ops_or_and_lose_no_update_across_threads() {
    let sel = Selector::open().unwrap();
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let key = sel.register(peer.clone(), 0, &mut None).unwrap();
    // Each thread owns one bit: setting it must find it clear and clearing it must find it
    // set, whatever the other thread does to its own bit meanwhile.
    let threads: Vec<_> = [OP_READ, OP_WRITE]
        .into_iter()
        .map(|bit| {
            let key = key.clone();
            thread::spawn(move || {
                for _ in 0..20_000 {
                    assert_eq!(key.interest_ops_or(bit).unwrap() & bit, 0);
                    assert_eq!(key.interest_ops_and(!bit).unwrap() & bit, bit);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(key.interest_ops().unwrap(), 0);
}
