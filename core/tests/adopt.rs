//! Adopting descriptors made elsewhere (`from_fd`) and handing them over (`detach`).

mod util;

use std::os::fd::RawFd;
use std::thread;
use std::time::Duration;

use nioxide_core::channel::{Family, ServerSocketChannel, SocketChannel};
use nioxide_core::event_loop::EventLoop;
use nioxide_core::selector::{OP_READ, Selector};
use nioxide_core::sys::fd::GuardedFd;
use nioxide_core::{Error, ErrorKind};
use util::{listener, pair};

fn raw_socket(domain: i32, kind: i32) -> RawFd {
    // SAFETY: plain socket(2); the test closes what it gets.
    let fd = unsafe { libc::socket(domain, kind, 0) };
    assert!(fd >= 0, "socket: {}", Error::last_os_error());
    fd
}

fn sockaddr_v4(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn connect_raw(fd: RawFd, port: u16) {
    let addr = sockaddr_v4(port);
    // SAFETY: `addr` is a valid sockaddr_in for the call.
    let rc = unsafe {
        libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "connect: {}", Error::last_os_error());
}

fn listen_raw(fd: RawFd) {
    let addr = sockaddr_v4(0);
    // SAFETY: `addr` is a valid sockaddr_in for the call.
    unsafe {
        assert_eq!(
            libc::bind(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            0
        );
        assert_eq!(libc::listen(fd, 8), 0);
    }
}

fn fl(fd: RawFd) -> i32 {
    // SAFETY: fcntl on a descriptor the test owns.
    unsafe { libc::fcntl(fd, libc::F_GETFL) }
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: fcntl only asks about the number.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// What `fd` refers to now (device and inode), if it is open: a closed number that another
/// test of this binary has reused since refers to something else.
fn identity(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: an all-zero stat is valid, and fstat only writes it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is valid for writes.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

fn is_nonblocking(fd: RawFd) -> bool {
    fl(fd) & libc::O_NONBLOCK != 0
}

fn is_cloexec(fd: RawFd) -> bool {
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC != 0 }
}

fn close_raw(fd: RawFd) {
    // SAFETY: the test owns `fd` and closes it once.
    unsafe { libc::close(fd) };
}

#[test]
fn a_connected_socket_is_adopted_connected() {
    let server = listener();
    let port = server.local_address().unwrap().unwrap().port();
    let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    connect_raw(fd, port);
    assert!(!is_nonblocking(fd) && !is_cloexec(fd));
    let socket = identity(fd);
    let client = SocketChannel::from_fd(fd).unwrap();
    assert!(is_nonblocking(fd) && is_cloexec(fd), "set underneath");
    assert!(client.is_blocking(), "starts in blocking mode");
    assert!(client.is_connected());
    assert_eq!(client.fd(), fd);
    assert_eq!(client.family(), Family::V4);
    let peer = server.accept().unwrap().unwrap();
    assert_eq!(
        client.remote_address().unwrap(),
        server.local_address().unwrap()
    );
    client.write(b"hi").unwrap();
    let mut buf = [0u8; 2];
    assert_eq!(peer.read(&mut buf).unwrap(), Some(2));
    client.close();
    assert_ne!(identity(fd), socket, "the channel owned it");
}

#[test]
fn a_listening_socket_is_adopted_bound() {
    let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    listen_raw(fd);
    let server = ServerSocketChannel::from_fd(fd).unwrap();
    let addr = server.local_address().unwrap().expect("bound");
    assert_eq!(
        server.bind("127.0.0.1:0".parse().unwrap(), 0),
        Err(ErrorKind::AlreadyBound.into())
    );
    let client = SocketChannel::open().unwrap();
    client.connect(addr).unwrap();
    assert!(server.accept().unwrap().is_some());
}

#[test]
fn unconnected_sockets_are_adopted_unconnected_and_unbound() {
    let server = ServerSocketChannel::from_fd(raw_socket(libc::AF_INET, libc::SOCK_STREAM));
    let server = server.unwrap();
    assert_eq!(server.local_address().unwrap(), None);
    server.bind("127.0.0.1:0".parse().unwrap(), 0).unwrap();
    let client = SocketChannel::from_fd(raw_socket(libc::AF_INET, libc::SOCK_STREAM)).unwrap();
    assert!(!client.is_connected() && !client.is_connection_pending());
    client
        .connect(server.local_address().unwrap().unwrap())
        .unwrap();
    assert!(client.is_connected());
    // SAFETY: plain socket(2).
    let v6 = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_STREAM, 0) };
    if v6 >= 0 {
        assert_eq!(SocketChannel::from_fd(v6).unwrap().family(), Family::V6);
    }
}

#[test]
fn bad_descriptors_are_refused_and_left_alone() {
    let invalid: Error = ErrorKind::InvalidArgument.into();
    assert_eq!(SocketChannel::from_fd(-1).unwrap_err(), invalid);
    assert_eq!(ServerSocketChannel::from_fd(-1).unwrap_err(), invalid);

    let fds = util::pipe();
    assert_eq!(
        SocketChannel::from_fd(fds[0]).unwrap_err(),
        Error::Os(libc::ENOTSOCK)
    );
    util::close_pipe(fds);
    assert_eq!(
        SocketChannel::from_fd(fds[0]).unwrap_err(),
        Error::Os(libc::EBADF),
        "a closed number"
    );

    for (domain, kind) in [
        (libc::AF_INET, libc::SOCK_DGRAM),
        (libc::AF_UNIX, libc::SOCK_STREAM),
    ] {
        let fd = raw_socket(domain, kind);
        assert_eq!(SocketChannel::from_fd(fd).unwrap_err(), invalid);
        assert_eq!(ServerSocketChannel::from_fd(fd).unwrap_err(), invalid);
        assert!(is_open(fd) && !is_nonblocking(fd), "untouched");
        close_raw(fd);
    }

    let listening = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    listen_raw(listening);
    assert_eq!(SocketChannel::from_fd(listening).unwrap_err(), invalid);
    assert!(is_open(listening) && !is_nonblocking(listening));
    let server = ServerSocketChannel::from_fd(listening).unwrap();
    let connected = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    connect_raw(connected, server.local_address().unwrap().unwrap().port());
    assert_eq!(
        ServerSocketChannel::from_fd(connected).unwrap_err(),
        invalid
    );
    assert!(is_open(connected) && !is_nonblocking(connected));
    close_raw(connected);
}

#[test]
fn detach_hands_the_descriptor_over_open() {
    let (client, peer) = pair();
    let fd = client.fd();
    assert_eq!(client.detach().unwrap(), fd);
    assert!(!client.is_open());
    assert_eq!(client.write(b"x"), Err(ErrorKind::Closed.into()));
    assert_eq!(client.detach(), Err(ErrorKind::Closed.into()));
    assert!(is_open(fd), "still open after detach");
    assert!(
        !is_nonblocking(fd),
        "a blocking channel gives a blocking descriptor"
    );
    assert!(is_cloexec(fd));
    drop(client);
    assert!(is_open(fd), "still open after the channel is dropped");
    // SAFETY: `fd` is ours now.
    assert_eq!(unsafe { libc::write(fd, b"ok".as_ptr().cast(), 2) }, 2);
    let mut buf = [0u8; 2];
    assert_eq!(peer.read(&mut buf).unwrap(), Some(2));
    assert_eq!(&buf, b"ok");
    close_raw(fd);

    peer.configure_blocking(false).unwrap();
    let fd = peer.detach().unwrap();
    assert!(
        is_nonblocking(fd),
        "a non-blocking channel gives a non-blocking one"
    );
    close_raw(fd);
}

#[test]
fn detach_is_refused_while_registered_or_watched() {
    let (client, _peer) = pair();
    client.configure_blocking(false).unwrap();
    let selector = Selector::open().unwrap();
    let key = selector
        .register(client.clone(), OP_READ, &mut None)
        .unwrap();
    assert_eq!(client.detach(), Err(ErrorKind::RegisteredElsewhere.into()));
    assert!(client.is_open(), "nothing changed");
    key.cancel();
    let fd = client.detach().expect("a cancelled key is no obstacle");
    assert_eq!(selector.select_now().unwrap(), 0);
    assert!(is_open(fd));
    close_raw(fd);

    let (client, _peer) = pair();
    client.configure_blocking(false).unwrap();
    let lp = EventLoop::new().unwrap();
    let watch = lp
        .watch(client.clone(), OP_READ, Box::new(|_, _, _| {}))
        .unwrap();
    assert_eq!(client.detach(), Err(ErrorKind::RegisteredElsewhere.into()));
    watch.close();
    let fd = client.detach().unwrap();
    close_raw(fd);
    lp.close();
}

#[test]
fn detach_wakes_a_blocked_read_and_waits_for_it() {
    let (client, peer) = pair();
    let reader = {
        let peer = peer.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4];
            peer.read(&mut buf)
        })
    };
    thread::sleep(Duration::from_millis(50));
    let fd = peer.detach().unwrap();
    assert_eq!(reader.join().unwrap(), Err(ErrorKind::AsyncClose.into()));
    assert!(is_open(fd));
    client.write(b"late").unwrap();
    let mut buf = [0u8; 4];
    // SAFETY: `fd` is ours now, and blocking.
    assert_eq!(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 4) }, 4);
    close_raw(fd);
}

#[test]
fn a_socket_still_connecting_is_adopted_pending() {
    // A listener whose accept queue is full drops new SYNs: a connect to it stays in
    // SYN_SENT (the kernel retries for a while).
    let server = ServerSocketChannel::open_family(Family::V4).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let port = server.local_address().unwrap().unwrap().port();
    let mut fds = Vec::new();
    let mut pending = None;
    for _ in 0..8 {
        let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK);
        let addr = sockaddr_v4(port);
        // SAFETY: `addr` is a valid sockaddr_in for the call.
        unsafe {
            libc::connect(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        thread::sleep(Duration::from_millis(20));
        let channel = SocketChannel::from_fd(fd).unwrap();
        if channel.is_connection_pending() {
            pending = Some(channel);
            break;
        }
        fds.push(channel);
    }
    let channel = pending.expect("a connect left in SYN_SENT");
    assert!(!channel.is_connected());
    channel.configure_blocking(false).unwrap();
    assert!(!channel.finish_connect().unwrap(), "still in progress");
    assert_eq!(
        channel.connect(server.local_address().unwrap().unwrap()),
        Err(ErrorKind::ConnectionPending.into())
    );
}

// Here rather than beside `GuardedFd`: the unit tests there check that a closed number is
// reused at once, which a test making descriptors in parallel would disturb.
#[test]
fn a_detached_descriptor_is_never_closed() {
    let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    let g = GuardedFd::new(fd);
    let call = g.enter().unwrap();
    assert_eq!(g.detach(), Some(fd));
    assert!(g.is_closed());
    assert!(g.is_busy(), "the call in flight is still counted");
    assert!(g.enter().is_none());
    assert_eq!(g.detach(), None, "a second detach gets nothing");
    assert!(!g.close(), "close after detach is a no-op");
    drop(call);
    assert!(!g.is_busy());
    drop(g);
    assert!(is_open(fd), "neither the last call nor the drop closed it");
    close_raw(fd);
}

#[test]
fn a_bound_socket_that_does_not_listen_is_no_server() {
    let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    let addr = sockaddr_v4(0);
    // SAFETY: `addr` is a valid sockaddr_in for the call.
    let rc = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(
        ServerSocketChannel::from_fd(fd).err(),
        Some(ErrorKind::InvalidArgument.into())
    );
    assert!(
        is_open(fd) && !is_nonblocking(fd) && !is_cloexec(fd),
        "untouched"
    );
    close_raw(fd);
}

#[test]
fn an_adoption_whose_commit_fails_is_undone() {
    let server = listener();
    let port = server.local_address().unwrap().unwrap().port();
    let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    connect_raw(fd, port);
    let before = fl(fd);
    let refused = SocketChannel::from_fd_then(fd, |channel| {
        assert!(channel.is_connected() && is_nonblocking(fd));
        Err("the caller's own step failed")
    });
    assert_eq!(refused.unwrap().err(), Some("the caller's own step failed"));
    assert_eq!(fl(fd), before, "its flags are as they were");
    assert!(!is_cloexec(fd));
    let adopted = SocketChannel::from_fd_then(fd, |_| Ok::<(), ()>(()))
        .unwrap()
        .unwrap();
    assert!(
        adopted.is_connected(),
        "still adoptable: it was never closed"
    );
    adopted.close();
    assert_eq!(
        SocketChannel::from_fd_then(-1, |_| Ok::<(), ()>(())).err(),
        Some(ErrorKind::InvalidArgument.into())
    );
}
