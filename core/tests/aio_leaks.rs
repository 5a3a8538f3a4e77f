//! A group that terminates leaves no thread and no descriptor behind (its own test binary,
//! so no other test opens descriptors or starts threads meanwhile).

mod util;

use std::sync::mpsc::channel;
use std::time::Duration;

use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousFileChannel, AsynchronousServerSocketChannel,
    AsynchronousSocketChannel, OpenOptions, ReadOutcome, SharedBuf,
};
use util::{recv, to};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn a_terminated_group_leaves_no_thread_and_no_descriptor() {
    let (fds, tasks) = (open_fds(), threads());
    let group = AsynchronousChannelGroup::new(2).unwrap();
    let server = AsynchronousServerSocketChannel::open(&group).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = server.local_address().unwrap().unwrap();
    let (atx, arx) = channel();
    server.accept(to(&atx)).unwrap();
    let client = AsynchronousSocketChannel::open(&group).unwrap();
    let (ctx, crx) = channel();
    client.connect(addr, None, to(&ctx)).unwrap();
    recv(&crx).unwrap();
    let peer = recv(&arx).unwrap();
    let data = SharedBuf::from_vec(b"ping".to_vec());
    let (wtx, wrx) = channel();
    client
        .write(data.lend(0..4).unwrap(), None, to(&wtx))
        .unwrap();
    assert_eq!(recv(&wrx).unwrap(), 4);
    let inbuf = SharedBuf::new(4);
    let (rtx, rrx) = channel();
    peer.read(inbuf.lend(0..4).unwrap(), None, to(&rtx))
        .unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::Bytes(4));
    // A file channel starts the group's pool.
    let path = std::env::temp_dir().join(format!("nioxide-aio-leaks-{}", std::process::id()));
    let options = OpenOptions {
        read: true,
        write: true,
        create: true,
        ..OpenOptions::default()
    };
    let file = AsynchronousFileChannel::open(&group, &path, options).unwrap();
    let (ftx, frx) = channel();
    file.write(data.lend(0..4).unwrap(), 0, to(&ftx)).unwrap();
    assert_eq!(recv(&frx).unwrap(), 4);
    // A read left pending: shutdown_now reports it (closed, or the end of stream if the
    // peer's close reached it first).
    let (ptx, prx) = channel();
    client
        .read(inbuf.lend(0..4).unwrap(), None, to(&ptx))
        .unwrap();
    group.shutdown_now();
    let reported = recv(&prx);
    assert!(reported.is_err() || reported == Ok(ReadOutcome::EndOfStream));
    assert!(
        group
            .await_termination(Some(Duration::from_secs(5)))
            .unwrap()
    );
    drop((server, client, peer, file, group));
    let _ = std::fs::remove_file(&path);
    // Threads that were joined may take a moment to leave /proc.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while threads() > tasks && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(threads(), tasks, "threads");
    assert_eq!(open_fds(), fds, "descriptors");
}
