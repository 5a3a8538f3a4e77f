//! TCP channel semantics: connect, half-close, vectored I/O, blocking close, options.

mod util;

use std::io::{IoSlice, IoSliceMut};
use std::thread;
use std::time::{Duration, Instant};

use nioxide_core::channel::{ServerSocketChannel, SocketChannel, SocketOption};
use nioxide_core::{Error, ErrorKind};
use util::{listener, pair};

#[test]
fn half_close_is_end_of_stream() {
    let (client, peer) = pair();
    client.write(b"bye").unwrap();
    client.shutdown_output().unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf).unwrap(), Some(3));
    assert_eq!(peer.read(&mut buf).unwrap(), Some(0));
    assert_eq!(client.write(b"more"), Err(ErrorKind::Shutdown.into()));
    peer.write(b"still open").unwrap();
    assert_eq!(client.read(&mut buf).unwrap(), Some(8));
}

#[test]
fn vectored_io_moves_buffers_in_order() {
    let (client, peer) = pair();
    let n = client
        .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cde")])
        .unwrap();
    assert_eq!(n, 5);
    let (mut a, mut b) = ([0u8; 3], [0u8; 8]);
    let mut got = 0;
    while got < 5 {
        let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
        got += peer.read_vectored(&mut bufs).unwrap().unwrap();
        if got < 5 {
            panic!("short vectored read: {got}");
        }
    }
    assert_eq!(&a, b"abc");
    assert_eq!(&b[..2], b"de");
}

#[test]
fn nonblocking_read_says_would_block() {
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf).unwrap(), None);
}

#[test]
fn close_from_another_thread_wakes_a_blocked_read() {
    let (_client, peer) = pair();
    let reader = peer.clone();
    let started = Instant::now();
    let handle = thread::spawn(move || {
        let mut buf = [0u8; 8];
        reader.read(&mut buf)
    });
    thread::sleep(Duration::from_millis(200));
    assert!(!handle.is_finished(), "the reader is blocked");
    peer.close();
    assert_eq!(handle.join().unwrap(), Err(ErrorKind::AsyncClose.into()));
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf), Err(ErrorKind::Closed.into()));
}

#[test]
fn close_from_another_thread_wakes_a_blocked_accept() {
    let server = listener();
    let s2 = server.clone();
    let handle = thread::spawn(move || s2.accept().map(|c| c.is_some()));
    thread::sleep(Duration::from_millis(200));
    assert!(!handle.is_finished());
    server.close();
    assert_eq!(handle.join().unwrap(), Err(ErrorKind::AsyncClose.into()));
}

#[test]
fn state_errors() {
    let ch = SocketChannel::open().unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ch.read(&mut buf), Err(ErrorKind::NotYetConnected.into()));
    assert_eq!(
        ch.finish_connect(),
        Err(ErrorKind::NoConnectionPending.into())
    );
    assert_eq!(ch.remote_address().unwrap(), None);
    let server = ServerSocketChannel::open().unwrap();
    assert_eq!(server.accept().unwrap_err(), ErrorKind::NotYetBound.into());
    assert_eq!(server.local_address().unwrap(), None);
    server.bind("127.0.0.1:0".parse().unwrap(), 0).unwrap();
    assert_eq!(
        server.bind("127.0.0.1:0".parse().unwrap(), 0),
        Err(ErrorKind::AlreadyBound.into())
    );
    let addr = server.local_address().unwrap().unwrap();
    assert!(ch.connect(addr).unwrap());
    assert_eq!(ch.connect(addr), Err(ErrorKind::AlreadyConnected.into()));
    assert_eq!(ch.remote_address().unwrap(), Some(addr));
    ch.close();
    ch.close();
    assert_eq!(ch.write(b"x"), Err(ErrorKind::Closed.into()));
}

#[test]
fn ipv6_loopback() {
    let server = ServerSocketChannel::open().unwrap();
    if server.bind("[::1]:0".parse().unwrap(), 0).is_err() {
        return; // no IPv6 on this machine
    }
    let addr = server.local_address().unwrap().unwrap();
    assert!(addr.is_ipv6());
    let client = SocketChannel::open().unwrap();
    client.connect(addr).unwrap();
    let peer = server.accept().unwrap().unwrap();
    assert_eq!(
        peer.remote_address().unwrap(),
        client.local_address().unwrap()
    );
}

#[test]
fn options_get_set_and_support() {
    let (client, _peer) = pair();
    client.set_option(SocketOption::TcpNoDelay, 1).unwrap();
    assert_eq!(client.get_option(SocketOption::TcpNoDelay).unwrap(), 1);
    client.set_option(SocketOption::RcvBuf, 8192).unwrap();
    assert!(
        client.get_option(SocketOption::RcvBuf).unwrap() >= 8192,
        "Linux doubles it"
    );
    client.set_option(SocketOption::Linger, 3).unwrap();
    assert_eq!(client.get_option(SocketOption::Linger).unwrap(), 3);
    client.set_option(SocketOption::Linger, -1).unwrap();
    assert_eq!(client.get_option(SocketOption::Linger).unwrap(), -1);
    assert_eq!(
        client.set_option(SocketOption::SndBuf, 0),
        Err(ErrorKind::InvalidArgument.into())
    );
    let server = ServerSocketChannel::open().unwrap();
    assert_eq!(
        server.get_option(SocketOption::ReuseAddr).unwrap(),
        1,
        "on by default"
    );
    assert_eq!(
        server.set_option(SocketOption::TcpNoDelay, 1),
        Err(ErrorKind::UnsupportedOption.into())
    );
}

#[test]
fn peer_reset_is_an_error_not_a_signal() {
    let (client, peer) = pair();
    peer.set_option(SocketOption::Linger, 0).unwrap();
    peer.close();
    thread::sleep(Duration::from_millis(50));
    let chunk = [0u8; 65536];
    let mut result = Ok(0);
    for _ in 0..100 {
        result = client.write(&chunk);
        if result.is_err() {
            break;
        }
    }
    let err = result.unwrap_err();
    assert!(
        err == Error::Os(libc::EPIPE) || err == Error::Os(libc::ECONNRESET),
        "{err:?}"
    );
}

#[test]
fn try_calls_never_wait_even_in_blocking_mode() {
    let (client, peer) = pair();
    assert!(peer.is_blocking());
    let mut buf = [0u8; 8];
    assert_eq!(
        peer.try_read(&mut buf).unwrap(),
        None,
        "nothing there: no wait"
    );
    client.try_write(b"now").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = None;
    while got.is_none() && Instant::now() < deadline {
        got = peer.try_read(&mut buf).unwrap();
    }
    assert_eq!(got, Some(3));
    let server = listener();
    assert!(server.is_blocking());
    assert!(server.try_accept().unwrap().is_none());
}

/// Makes the peer of `client` reset the connection (SO_LINGER 0, then close).
fn reset_by_peer(peer: SocketChannel) {
    peer.set_option(SocketOption::Linger, 0).unwrap();
    peer.close();
}

#[test]
fn a_reset_is_reported_by_every_later_read() {
    for blocking in [true, false] {
        let (client, peer) = pair();
        reset_by_peer(peer);
        thread::sleep(Duration::from_millis(50));
        client.configure_blocking(blocking).unwrap();
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            assert_eq!(
                client.read(&mut buf),
                Err(Error::Os(libc::ECONNRESET)),
                "blocking: {blocking}"
            );
        }
        let mut bufs = [IoSliceMut::new(&mut buf)];
        assert_eq!(
            client.read_vectored(&mut bufs),
            Err(Error::Os(libc::ECONNRESET))
        );
    }
}

#[test]
fn a_reset_seen_by_a_write_is_reported_by_the_next_read() {
    let (client, peer) = pair();
    reset_by_peer(peer);
    thread::sleep(Duration::from_millis(50));
    let err = (0..100)
        .find_map(|_| client.write(b"x").err())
        .expect("a write fails");
    // Linux reports the reset to the first call after it, here the write.
    assert_eq!(err, Error::Os(libc::ECONNRESET));
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf), Err(Error::Os(libc::ECONNRESET)));
}

#[test]
fn binding_a_socket_twice_or_after_connect_is_already_bound() {
    let ch = SocketChannel::open().unwrap();
    ch.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        ch.bind("127.0.0.1:0".parse().unwrap()),
        Err(ErrorKind::AlreadyBound.into())
    );
    let (client, _peer) = pair();
    assert_eq!(
        client.bind("127.0.0.1:0".parse().unwrap()),
        Err(ErrorKind::AlreadyBound.into())
    );
}

#[test]
fn keepalive_tuning_round_trips() {
    let (client, _peer) = pair();
    for (option, value) in [
        (SocketOption::TcpKeepIdle, 42),
        (SocketOption::TcpKeepIntvl, 7),
        (SocketOption::TcpKeepCnt, 3),
    ] {
        assert!(client.supported_options().contains(&option));
        client.set_option(option, value).unwrap();
        assert_eq!(
            client.get_option(option).unwrap(),
            value,
            "{}",
            option.name()
        );
        assert_eq!(
            client.set_option(option, 0),
            Err(ErrorKind::InvalidArgument.into())
        );
        assert_eq!(
            client.set_option(option, 1 << 40),
            Err(ErrorKind::InvalidArgument.into())
        );
        assert_eq!(client.get_option(option).unwrap(), value, "unchanged");
    }
    assert_eq!(
        client.set_option(SocketOption::TcpKeepCnt, 1000),
        Err(Error::Os(libc::EINVAL)),
        "the kernel's bound"
    );
    assert_eq!(
        client.get_option(SocketOption::KeepAlive).unwrap(),
        0,
        "tuning does not switch keep-alive on"
    );
    let server = listener();
    assert_eq!(
        server.set_option(SocketOption::TcpKeepIdle, 5),
        Err(ErrorKind::UnsupportedOption.into())
    );
}

#[test]
fn shutdown_state_is_reported() {
    let (client, _peer) = pair();
    assert!(!client.is_input_shutdown() && !client.is_output_shutdown());
    client.shutdown_output().unwrap();
    assert!(!client.is_input_shutdown() && client.is_output_shutdown());
    client.shutdown_input().unwrap();
    assert!(client.is_input_shutdown() && client.is_output_shutdown());
    client.close();
    assert!(!client.is_input_shutdown() && !client.is_output_shutdown());
}
