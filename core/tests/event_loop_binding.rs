//! What language bindings and host loops rely on: the callback scope, wake-ups for work queued
//! between runs (embedding), and futures of submitted tasks that never run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nioxide_core::ErrorKind;
use nioxide_core::event_loop::{CallbackScope, EventLoop, Repeat, RunMode};

/// Whether `fd` is readable now (a host loop's `poll` with a zero timeout).
fn readable(fd: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

/// A scope that counts its entries and records whether callbacks ran inside it.
fn counting_scope(entries: Arc<AtomicUsize>, inside: Arc<AtomicBool>) -> CallbackScope {
    Arc::new(move |phase: &mut dyn FnMut()| {
        entries.fetch_add(1, Ordering::SeqCst);
        inside.store(true, Ordering::SeqCst);
        phase();
        inside.store(false, Ordering::SeqCst);
    })
}

#[test]
fn callbacks_of_one_phase_share_one_scope_entry() {
    let lp = EventLoop::new().unwrap();
    let entries = Arc::new(AtomicUsize::new(0));
    let inside = Arc::new(AtomicBool::new(false));
    lp.set_callback_scope(Some(counting_scope(entries.clone(), inside.clone())));
    let ran_inside = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let (inside, ran_inside) = (inside.clone(), ran_inside.clone());
        lp.execute(move |_| {
            if inside.load(Ordering::SeqCst) {
                ran_inside.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap();
    }
    assert!(!lp.run(RunMode::NoWait).unwrap());
    assert_eq!(ran_inside.load(Ordering::SeqCst), 100);
    assert_eq!(entries.load(Ordering::SeqCst), 1, "one entry for 100 tasks");

    // A turn with nothing to run does not enter the scope.
    assert!(!lp.run(RunMode::NoWait).unwrap());
    assert_eq!(entries.load(Ordering::SeqCst), 1);

    // Timers run inside it too, and so do the shutdown phases.
    let timer_inside = Arc::new(AtomicBool::new(false));
    let (t, i) = (timer_inside.clone(), inside.clone());
    lp.schedule(Duration::ZERO, Repeat::Once, move |_| {
        t.store(i.load(Ordering::SeqCst), Ordering::SeqCst);
        Ok(None)
    })
    .unwrap();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert!(timer_inside.load(Ordering::SeqCst));
    let before = entries.load(Ordering::SeqCst);
    lp.close();
    assert!(
        entries.load(Ordering::SeqCst) > before,
        "close runs its phases in the scope"
    );

    lp.set_callback_scope(None);
}

#[test]
fn work_queued_between_runs_wakes_a_host_loop() {
    let lp = EventLoop::new().unwrap();
    let fd = lp.backend_fd();
    assert!(!readable(fd));
    assert_eq!(lp.backend_timeout(), None);

    // A task from the owner thread while no turn runs: the descriptor becomes readable.
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    lp.execute(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    assert!(lp.in_event_loop());
    assert!(readable(fd), "a host polling the backend fd sees the task");
    assert_eq!(lp.backend_timeout(), Some(Duration::ZERO));
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(!readable(fd), "the turn consumed the wake-up");

    // So does a new earliest timer (the host must re-arm its timeout).
    let timer = lp
        .schedule(Duration::from_secs(60), Repeat::Once, |_| Ok(None))
        .unwrap();
    assert!(readable(fd));
    lp.run(RunMode::NoWait).unwrap();
    let left = lp.backend_timeout().unwrap();
    assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
    assert!(timer.cancel());

    // Tasks queued by a task in a turn need no wake-up: the same run picks them up.
    let r = ran.clone();
    lp.execute(move |lp| {
        let r = r.clone();
        lp.execute(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    })
    .unwrap();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    lp.close();
}

#[test]
fn awaiting_termination_from_a_loop_callback_is_an_error() {
    // A caller-driven loop: the callback runs inside run() on the thread that would have to
    // finish the loop.
    let lp = EventLoop::new().unwrap();
    let result = Arc::new(Mutex::new(None));
    let out = result.clone();
    lp.execute(move |lp| {
        *out.lock().unwrap() = Some(lp.await_termination(Some(Duration::from_secs(60))));
        lp.shutdown_now();
    })
    .unwrap();
    lp.run(RunMode::Default).unwrap();
    let result = result.lock().unwrap().take().unwrap();
    assert_eq!(result, Err(ErrorKind::WouldDeadlock.into()));
    // Between runs the owner may wait (another thread could run the loop); once it has
    // terminated the wait returns at once.
    assert_eq!(lp.await_termination(Some(Duration::ZERO)), Ok(true));
}

#[test]
fn a_submitted_task_that_never_runs_cancels_its_future() {
    // Dropped by close() of a caller-driven loop.
    let lp = EventLoop::new().unwrap();
    let future = lp.submit(|_| Ok(None)).unwrap();
    lp.close();
    assert!(future.is_done());
    assert_eq!(future.cause(), Some(ErrorKind::Cancelled.into()));

    // Dropped by shutdown_now() from inside a turn: the task a task submits after it is
    // drained at the end of that turn without running.
    let lp = EventLoop::new().unwrap();
    let slot = Arc::new(Mutex::new(None));
    let out = slot.clone();
    lp.execute(move |lp| {
        // Runs before the turn's wait; the next task runs after it, last in the turn.
        lp.execute(move |lp| {
            lp.shutdown_now();
            *out.lock().unwrap() = Some(lp.submit(|_| Ok(None)).unwrap());
        })
        .unwrap();
    })
    .unwrap();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert!(lp.is_terminated());
    let queued = slot.lock().unwrap().take().unwrap();
    assert_eq!(queued.cause(), Some(ErrorKind::Cancelled.into()));
}

#[test]
fn a_watch_reports_its_ref() {
    let lp = EventLoop::new().unwrap();
    let (a, b) = socket_pair();
    let watch = lp
        .watch_fd(a, nioxide_core::selector::OP_READ, Box::new(|_, _, _| {}))
        .unwrap();
    assert!(watch.has_ref());
    watch.set_ref(false);
    assert!(!watch.has_ref());
    assert!(
        !lp.run(RunMode::Default).unwrap(),
        "an unref'd watch keeps nothing alive"
    );
    watch.set_ref(true);
    assert!(watch.has_ref());
    watch.close();
    lp.close();
    // SAFETY: closing the pair's own descriptors.
    unsafe {
        libc::close(a);
        libc::close(b);
    }
}

/// A connected pair of Unix stream sockets.
fn socket_pair() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
    assert_eq!(rc, 0);
    (fds[0], fds[1])
}
