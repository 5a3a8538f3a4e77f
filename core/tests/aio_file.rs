//! Asynchronous file channels: positional reads and writes, size, truncate, force, locks
//! (two channels of one process conflict), close with pending operations, a read-only file.

mod util;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::time::Duration;

use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousFileChannel, FileLock, Handler, OpenOptions, ReadOutcome,
    SharedBuf,
};
use nioxide_core::{Error, ErrorKind, Result};
use util::{recv, to};

const WAIT: Duration = Duration::from_secs(5);

/// A fresh path in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        TempFile(
            std::env::temp_dir().join(format!("nioxide-aio-{}-{n}-{name}", std::process::id())),
        )
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const RW_CREATE: OpenOptions = OpenOptions {
    read: true,
    write: true,
    create: true,
    create_new: false,
    truncate: false,
};

fn finish(group: AsynchronousChannelGroup) {
    group.shutdown();
    assert!(group.await_termination(Some(WAIT)).unwrap());
}

#[test]
fn positional_writes_and_reads_beyond_the_end_size_truncate_force() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let path = TempFile::new("rw");
    let file = AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap();
    let data = SharedBuf::from_vec(b"abcdef".to_vec());
    let (tx, rx) = channel();
    let thread = Arc::new(std::sync::Mutex::new(String::new()));
    let seen = thread.clone();
    let tx2 = tx.clone();
    file.write(
        data.lend(0..6).unwrap(),
        10,
        Handler::new(move |r| {
            *seen.lock().unwrap() = std::thread::current().name().unwrap_or("").into();
            let _ = tx2.send(r);
        }),
    )
    .unwrap();
    assert_eq!(recv(&rx).unwrap(), 6);
    assert!(
        thread.lock().unwrap().starts_with("nioxide-loop"),
        "completions on the loop"
    );
    assert_eq!(file.size().unwrap(), 16);
    let buf = SharedBuf::new(32);
    let (rtx, rrx) = channel();
    file.read(buf.lend(0..32).unwrap(), 0, to(&rtx)).unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::Bytes(16));
    let mut expected = vec![0u8; 10];
    expected.extend_from_slice(b"abcdef");
    assert_eq!(buf.to_vec(0..16).unwrap(), expected);
    file.read(buf.lend(0..32).unwrap(), 16, to(&rtx)).unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::EndOfStream);
    file.read(buf.lend(0..32).unwrap(), 1000, to(&rtx)).unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::EndOfStream);
    file.read(buf.lend(0..0).unwrap(), 0, to(&rtx)).unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::Bytes(0));
    // A file's reads and writes take one region: several are refused at the call.
    let other = SharedBuf::new(4);
    let two = SharedBuf::lend_vectored(&[(&buf, 0..4), (&other, 0..4)]).unwrap();
    assert_eq!(
        file.read(two, 0, to(&rtx)).unwrap_err(),
        ErrorKind::InvalidArgument.into()
    );
    assert!(!buf.is_lent() && !other.is_lent());
    // Truncate shortens only; force flushes.
    file.truncate(100).unwrap();
    assert_eq!(file.size().unwrap(), 16);
    file.truncate(12).unwrap();
    assert_eq!(file.size().unwrap(), 12);
    file.force(false).unwrap();
    file.force(true).unwrap();
    // The future variant.
    let f = file.read_future(buf.lend(0..4).unwrap(), 10).unwrap();
    assert!(f.wait(Some(WAIT)).unwrap());
    assert!(f.is_success());
    assert_eq!(buf.to_vec(0..2).unwrap(), b"ab");
    file.close();
    assert_eq!(file.size().unwrap_err(), ErrorKind::Closed.into());
    assert_eq!(
        file.read(buf.lend(0..1).unwrap(), 0, Handler::new(|_| {}))
            .unwrap_err(),
        ErrorKind::Closed.into()
    );
    finish(group);
}

#[test]
fn a_read_only_file_reports_the_os_error_for_a_write() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let path = TempFile::new("ro");
    std::fs::write(&path.0, b"x").unwrap();
    let read_only = OpenOptions {
        read: true,
        ..OpenOptions::default()
    };
    let file = AsynchronousFileChannel::open(&group, &path.0, read_only).unwrap();
    let data = SharedBuf::from_vec(b"y".to_vec());
    let (tx, rx) = channel();
    file.write(data.lend(0..1).unwrap(), 0, to(&tx)).unwrap();
    assert_eq!(recv(&rx).unwrap_err(), Error::Os(libc::EBADF));
    // Options that cannot be: refused at the call.
    let nothing = OpenOptions::default();
    assert_eq!(
        AsynchronousFileChannel::open(&group, &path.0, nothing).unwrap_err(),
        ErrorKind::InvalidArgument.into()
    );
    let missing = TempFile::new("missing");
    assert_eq!(
        AsynchronousFileChannel::open(&group, &missing.0, read_only).unwrap_err(),
        Error::Os(libc::ENOENT)
    );
    file.close();
    finish(group);
}

#[test]
fn locks_of_two_channels_in_one_process_conflict_and_a_waiting_lock_is_granted_later() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    group.set_file_threads(1).unwrap();
    let path = TempFile::new("lock");
    let first = AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap();
    let second = AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap();
    let held = first.try_lock(0, 0, false).unwrap().expect("first lock");
    assert!(second.try_lock(0, 0, false).unwrap().is_none());
    assert!(second.try_lock(0, 0, true).unwrap().is_none());
    let (tx, rx) = channel::<Result<FileLock>>();
    second.lock(0, 0, false, to(&tx)).unwrap();
    // While it waits, the pool still serves reads (the waiting lock holds no pool thread).
    let buf = SharedBuf::new(4);
    let (rtx, rrx) = channel();
    second.read(buf.lend(0..4).unwrap(), 0, to(&rtx)).unwrap();
    assert_eq!(recv(&rrx).unwrap(), ReadOutcome::EndOfStream);
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err());
    held.release().unwrap();
    assert!(!held.is_valid());
    let granted = recv(&rx).unwrap();
    assert!(granted.is_valid() && !granted.is_shared());
    assert!(first.try_lock(0, 0, true).unwrap().is_none());
    // A waiting lock fails with the close of its channel.
    let (wtx, wrx) = channel::<Result<FileLock>>();
    first.lock(0, 10, true, to(&wtx)).unwrap();
    first.close();
    assert_eq!(recv(&wrx).unwrap_err(), ErrorKind::AsyncClose.into());
    second.close();
    assert!(!granted.is_valid());
    finish(group);
}

#[test]
fn overlapping_locks_on_one_channel_are_refused_as_in_java() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let path = TempFile::new("overlap");
    let file = AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap();
    let other = AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap();
    let overlapping = ErrorKind::OverlappingLock.into();
    let first = file.try_lock(10, 10, true).unwrap().expect("a free region");
    // Any overlap is refused at the call, shared or not, with try_lock or lock.
    assert_eq!(file.try_lock(15, 1, true).unwrap_err(), overlapping);
    assert_eq!(file.try_lock(0, 11, false).unwrap_err(), overlapping);
    assert_eq!(file.try_lock(19, 0, false).unwrap_err(), overlapping);
    let (tx, rx) = channel::<Result<FileLock>>();
    assert_eq!(
        file.lock(0, 0, false, to(&tx)).unwrap_err(),
        overlapping,
        "size 0 reaches to the end"
    );
    // Adjacent regions do not overlap.
    let before = file
        .try_lock(0, 10, false)
        .unwrap()
        .expect("adjacent before");
    let after = file
        .try_lock(20, 5, false)
        .unwrap()
        .expect("adjacent after");
    // A lock waiting for another channel's claims its region too.
    let blocker = other
        .try_lock(100, 0, false)
        .unwrap()
        .expect("other's lock");
    file.lock(100, 10, false, to(&tx)).unwrap();
    assert_eq!(file.try_lock(105, 1, false).unwrap_err(), overlapping);
    blocker.release().unwrap();
    let waited = recv(&rx).unwrap();
    assert_eq!(file.try_lock(109, 1, true).unwrap_err(), overlapping);
    // A release gives the region back.
    first.release().unwrap();
    let again = file
        .try_lock(12, 2, false)
        .unwrap()
        .expect("released region");
    for lock in [again, before, after, waited] {
        lock.release().unwrap();
    }
    let whole = file
        .try_lock(0, 0, false)
        .unwrap()
        .expect("everything released");
    whole.release().unwrap();
    file.close();
    other.close();
    finish(group);
}

#[test]
fn close_reports_every_pending_operation_once() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    group.set_file_threads(1).unwrap();
    let path = TempFile::new("close");
    std::fs::write(&path.0, vec![1u8; 4096]).unwrap();
    let file = AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap();
    let reported = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let bufs: Vec<SharedBuf> = (0..50).map(|_| SharedBuf::new(4096)).collect();
    for b in &bufs {
        let reported = reported.clone();
        let closed = closed.clone();
        file.read(
            b.lend(0..4096).unwrap(),
            0,
            Handler::new(move |r| {
                if r == Err(ErrorKind::AsyncClose.into()) {
                    closed.fetch_add(1, Ordering::SeqCst);
                }
                reported.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
    }
    file.close();
    let deadline = std::time::Instant::now() + WAIT;
    while reported.load(Ordering::SeqCst) < 50 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(reported.load(Ordering::SeqCst), 50, "each reported once");
    assert!(closed.load(Ordering::SeqCst) > 0, "some were still pending");
    assert!(bufs.iter().all(|b| !b.is_lent()));
    finish(group.clone());
    assert_eq!(
        AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap_err(),
        ErrorKind::GroupShutdown.into()
    );
}

#[test]
fn a_full_disk_reports_the_os_error() {
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let write_only = OpenOptions {
        write: true,
        ..OpenOptions::default()
    };
    let full = AsynchronousFileChannel::open(&group, std::path::Path::new("/dev/full"), write_only)
        .unwrap();
    let data = SharedBuf::from_vec(vec![1; 16]);
    let (tx, rx) = channel();
    full.write(data.lend(0..16).unwrap(), 0, to(&tx)).unwrap();
    assert_eq!(recv(&rx).unwrap_err(), Error::Os(libc::ENOSPC));
    full.close();
    finish(group);
}

/// The environment variable that makes [`lock_holder_child`] hold a lock on its path.
const HOLDER: &str = "NIOXIDE_AIO_LOCK_HOLDER";

/// The child process of the test below (run with `--ignored` there): takes an exclusive lock
/// on the file named by `HOLDER`, says so on standard output, and keeps it until its standard
/// input closes.
#[test]
#[ignore = "the child process of a_lock_held_by_another_process_conflicts_until_it_exits"]
fn lock_holder_child() {
    let path = std::env::var(HOLDER).expect("run by the two-process lock test");
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let file =
        AsynchronousFileChannel::open(&group, std::path::Path::new(&path), RW_CREATE).unwrap();
    let lock = file
        .try_lock(0, 0, false)
        .unwrap()
        .expect("the child's lock");
    println!("locked");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    lock.release().unwrap();
    file.close();
    finish(group);
}

#[test]
fn a_lock_held_by_another_process_conflicts_until_it_exits() {
    use std::io::BufRead;
    let path = TempFile::new("two-processes");
    std::fs::write(&path.0, b"shared").unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER, &path.0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("locked") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child took its lock"
        );
    }
    let group = AsynchronousChannelGroup::new(1).unwrap();
    let file = AsynchronousFileChannel::open(&group, &path.0, RW_CREATE).unwrap();
    assert!(file.try_lock(0, 0, true).unwrap().is_none());
    let (tx, rx) = channel::<Result<FileLock>>();
    file.lock(0, 0, false, to(&tx)).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err());
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(recv(&rx).unwrap().is_valid());
    file.close();
    finish(group);
}
