//! A full descriptor table is an ordinary error for an asynchronous accept: the handler gets
//! `EMFILE`, an accept started again waits out the back-off instead of spinning, and takes the
//! connection once a descriptor is free (its own test binary: it lowers the process's
//! descriptor limit).

mod util;

use std::sync::mpsc::channel;
use std::time::Duration;

use nioxide_core::Error;
use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousServerSocketChannel, AsynchronousSocketChannel,
};
use nioxide_core::channel::SocketChannel;
use util::{recv, to};

/// The highest descriptor number open now.
fn highest_fd() -> i32 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .max()
        .unwrap()
}

#[test]
fn an_accept_under_emfile_fails_then_waits_out_the_back_off() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let server = AsynchronousServerSocketChannel::open(&group).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap(), 8).unwrap();
    let addr = server.local_address().unwrap().unwrap();
    let client = SocketChannel::open().unwrap();
    client.connect(addr).unwrap();
    // Fill the table: a limit just above the highest descriptor open now, then duplicates
    // until the table is full (they take every hole below it too).
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain calls on a valid rlimit.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let saved = limit;
    limit.rlim_cur = (highest_fd() + 2) as libc::rlim_t;
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let mut placeholders = Vec::new();
    loop {
        // SAFETY: duplicates standard input's descriptor; closed below.
        let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            assert_eq!(Error::last_os_error(), Error::Os(libc::EMFILE));
            break;
        }
        placeholders.push(fd);
    }
    let (tx, rx) = channel();
    server.accept(to(&tx)).unwrap();
    assert_eq!(recv(&rx).unwrap_err(), Error::Os(libc::EMFILE));
    // Accepting again: nothing happens during the back-off (no spinning loop)...
    let lp = group.event_loop_group().loops()[0].clone();
    let before = lp.counters().turns;
    server.accept(to(&tx)).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    let turns = lp.counters().turns - before;
    assert!(turns < 20, "{turns} turns while waiting");
    // ...and once a descriptor is free, the connection is taken (a close by nioxide would
    // end the back-off at once; this one by the test, after it, about 100 ms).
    for fd in placeholders {
        // SAFETY: the test's own duplicates, closed once.
        unsafe { libc::close(fd) };
    }
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) }, 0);
    let accepted: AsynchronousSocketChannel = recv(&rx).unwrap();
    assert!(accepted.is_open());
    accepted.close();
    client.close();
    server.close();
    util::terminate(&group);
}
