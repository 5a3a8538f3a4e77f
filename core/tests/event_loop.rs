//! Event loop semantics: run modes, refs, tasks, timers, promises, watches, shutdown.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nioxide_core::ErrorKind;
use nioxide_core::channel::ServerSocketChannel;
use nioxide_core::event_loop::{
    EventLoop, EventLoopGroup, Failure, Outcome, Promise, Repeat, RunMode,
};
use nioxide_core::selector::{OP_ACCEPT, OP_READ, OP_WRITE};
use util::{close_pipe, pair, pipe};

const LIMIT: Duration = Duration::from_secs(5);

#[test]
fn default_run_returns_when_nothing_is_referenced() {
    let lp = EventLoop::new().unwrap();
    assert!(!lp.run(RunMode::Default).unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    lp.execute(move |_| {
        h.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no callback inside execute");
    assert!(!lp.run(RunMode::Default).unwrap());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn unref_timer_does_not_keep_the_loop_alive() {
    let lp = EventLoop::new().unwrap();
    let timer = lp
        .schedule(Duration::from_secs(60), Repeat::Once, |_| Ok(None))
        .unwrap();
    timer.set_ref(false);
    let start = Instant::now();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert!(start.elapsed() < LIMIT);
    timer.set_ref(true);
    assert!(timer.cancel(), "cancel before firing wins");
    assert!(
        !lp.run(RunMode::Default).unwrap(),
        "a cancelled timer releases its ref"
    );
}

#[test]
fn stop_before_run_returns_after_one_turn() {
    let lp = EventLoop::new().unwrap();
    let _t = lp
        .schedule(Duration::from_secs(60), Repeat::Once, |_| Ok(None))
        .unwrap();
    lp.stop();
    let start = Instant::now();
    assert!(lp.run(RunMode::Default).unwrap());
    assert!(start.elapsed() < LIMIT);
}

#[test]
fn nowait_does_not_block_and_once_blocks_for_a_timer() {
    let lp = EventLoop::new().unwrap();
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    lp.schedule(Duration::from_millis(50), Repeat::Once, move |_| {
        f.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    })
    .unwrap();
    let start = Instant::now();
    assert!(lp.run(RunMode::NoWait).unwrap());
    assert!(start.elapsed() < Duration::from_millis(40));
    assert_eq!(fired.load(Ordering::SeqCst), 0);
    lp.run(RunMode::Once).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(50), "never early");
    assert_eq!(fired.load(Ordering::SeqCst), 1);
}

#[test]
fn reentrant_run_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    lp.execute(move |lp| *s.lock().unwrap() = Some(lp.run(RunMode::NoWait).unwrap_err()))
        .unwrap();
    lp.run(RunMode::Default).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(ErrorKind::Busy.into()));
    let spawned = EventLoop::spawn().unwrap();
    assert_eq!(spawned.run(RunMode::NoWait), Err(ErrorKind::Busy.into()));
    spawned.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(spawned.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn cross_thread_storm_keeps_per_producer_order() {
    let lp = EventLoop::spawn().unwrap();
    let producers = 4;
    let per = 100_000;
    let seen = Arc::new(Mutex::new(vec![0u64; producers]));
    let errors = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..producers)
        .map(|p| {
            let (lp, seen, errors, done) = (lp.clone(), seen.clone(), errors.clone(), done.clone());
            thread::spawn(move || {
                for i in 0..per as u64 {
                    let (seen, errors, done) = (seen.clone(), errors.clone(), done.clone());
                    lp.execute(move |_| {
                        let mut s = seen.lock().unwrap();
                        if s[p] != i {
                            errors.fetch_add(1, Ordering::SeqCst);
                        }
                        s[p] = i + 1;
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::SeqCst) < producers * per && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(done.load(Ordering::SeqCst), producers * per, "none lost");
    assert_eq!(
        errors.load(Ordering::SeqCst),
        0,
        "none duplicated or reordered"
    );
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn timers_fire_in_deadline_order_never_early() {
    let lp = EventLoop::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    for (i, ms) in [30u64, 10, 20, 10].into_iter().enumerate() {
        let order = order.clone();
        lp.schedule(Duration::from_millis(ms), Repeat::Once, move |_| {
            assert!(start.elapsed() >= Duration::from_millis(ms), "never early");
            order.lock().unwrap().push(i);
            Ok(None)
        })
        .unwrap();
    }
    lp.run(RunMode::Default).unwrap();
    assert_eq!(*order.lock().unwrap(), vec![1, 3, 2, 0]);
}

#[test]
fn cancel_after_firing_loses() {
    let lp = EventLoop::new().unwrap();
    let t = lp
        .schedule(Duration::ZERO, Repeat::Once, |_| Ok(Some(Box::new(5u32))))
        .unwrap();
    lp.run(RunMode::Default).unwrap();
    assert!(!t.cancel());
    assert!(t.is_success());
    t.with_outcome(|o| match o {
        Some(nioxide_core::event_loop::Outcome::Success(Some(v))) => {
            assert_eq!(v.downcast_ref::<u32>(), Some(&5))
        }
        other => panic!("{other:?}"),
    });
}

/// Counts its drops and records the thread that dropped it.
struct DropProbe(Arc<Mutex<Vec<thread::ThreadId>>>);
impl Drop for DropProbe {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(thread::current().id());
    }
}

#[test]
fn a_cancelled_timer_releases_its_task_on_the_loop_thread() {
    let lp = EventLoop::spawn().unwrap();
    let drops = Arc::new(Mutex::new(Vec::new()));
    let probe = DropProbe(drops.clone());
    let timer = lp
        .schedule(Duration::from_millis(20), Repeat::Once, move |_| {
            let _keep = &probe;
            Ok(None)
        })
        .unwrap();
    assert!(timer.cancel());
    let loop_thread = lp
        .submit(|_| Ok(Some(Box::new(thread::current().id()))))
        .unwrap();
    assert!(loop_thread.wait(Some(LIMIT)).unwrap());
    let loop_thread = loop_thread.with_outcome(|o| match o {
        Some(nioxide_core::event_loop::Outcome::Success(Some(v))) => {
            *v.downcast_ref::<thread::ThreadId>().unwrap()
        }
        other => panic!("{other:?}"),
    });
    // Past its deadline the loop drops the cancelled task, though `timer` still names it.
    let deadline = Instant::now() + LIMIT;
    while drops.lock().unwrap().is_empty() && Instant::now() < deadline {
        lp.execute(|_| {}).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        *drops.lock().unwrap(),
        vec![loop_thread],
        "once, on the loop thread"
    );
    drop(timer);
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
    assert_eq!(drops.lock().unwrap().len(), 1);
}

#[test]
fn fixed_rate_and_fixed_delay_repeat_until_cancelled_or_failed() {
    let lp = EventLoop::new().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let rate = lp
        .schedule(
            Duration::from_millis(1),
            Repeat::FixedRate(Duration::from_millis(5)),
            move |lp| {
                if r.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                    lp.stop();
                }
                Ok(None)
            },
        )
        .unwrap();
    lp.run(RunMode::Default).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(!rate.is_done());
    assert!(rate.cancel());
    let fails = Arc::new(AtomicUsize::new(0));
    let f = fails.clone();
    let delay = lp
        .schedule(
            Duration::ZERO,
            Repeat::FixedDelay(Duration::from_millis(2)),
            move |_| {
                if f.fetch_add(1, Ordering::SeqCst) == 1 {
                    return Err(Failure::new(ErrorKind::InvalidArgument.into()));
                }
                Ok(None)
            },
        )
        .unwrap();
    lp.run(RunMode::Default).unwrap();
    assert_eq!(
        fails.load(Ordering::SeqCst),
        2,
        "a failing run stops the repetition"
    );
    assert_eq!(delay.cause(), Some(ErrorKind::InvalidArgument.into()));
}

#[test]
fn listeners_run_in_order_on_a_later_turn_also_when_late() {
    let lp = EventLoop::new().unwrap();
    let p = Promise::new(Some(&lp));
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let o = order.clone();
        p.add_listener(Box::new(move |_| o.lock().unwrap().push(i)));
    }
    assert!(p.try_success(None));
    assert!(!p.try_success(None), "exactly once");
    assert_eq!(p.set_success(None), Err(ErrorKind::AlreadyCompleted.into()));
    assert!(
        order.lock().unwrap().is_empty(),
        "not inside the completing call"
    );
    let o = order.clone();
    p.add_listener(Box::new(move |_| o.lock().unwrap().push(3)));
    lp.run(RunMode::Default).unwrap();
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
}

#[test]
fn wait_times_out_and_waiting_on_the_loop_thread_is_an_error() {
    let lp = EventLoop::spawn().unwrap();
    let p = Promise::new(Some(&lp));
    let start = Instant::now();
    assert!(!p.wait(Some(Duration::from_millis(30))).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(30));
    let p2 = p.clone();
    let on_loop = lp
        .submit(move |_| Err(Failure::new(p2.wait(None).unwrap_err())))
        .unwrap();
    assert!(on_loop.wait(Some(LIMIT)).unwrap());
    assert_eq!(on_loop.cause(), Some(ErrorKind::WouldDeadlock.into()));
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn graceful_shutdown_drains_rejects_and_cancels_timers() {
    let group = EventLoopGroup::new(2).unwrap();
    let lp = group.next().clone();
    let ran = Arc::new(AtomicUsize::new(0));
    let timer = lp
        .schedule(Duration::from_secs(60), Repeat::Once, |_| Ok(None))
        .unwrap();
    let r = ran.clone();
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let g = gate.clone();
    lp.execute(move |lp| {
        let _wait = g.lock().unwrap();
        // Work from the loop's own thread is still accepted while shutting down.
        let r2 = r.clone();
        lp.execute(move |_| {
            r2.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    })
    .unwrap();
    let r = ran.clone();
    lp.execute(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    group.shutdown_gracefully(Duration::from_millis(20), LIMIT);
    assert_eq!(lp.execute(|_| {}), Err(ErrorKind::Rejected.into()));
    drop(held);
    assert!(group.await_termination(Some(LIMIT)).unwrap());
    assert_eq!(ran.load(Ordering::SeqCst), 2, "queued work ran");
    assert!(timer.is_cancelled());
    assert!(group.termination_future().is_success());
}

#[test]
fn shutdown_now_runs_no_queued_task_also_mid_turn() {
    let lp = EventLoop::spawn().unwrap();
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let entered = Arc::new(AtomicUsize::new(0));
    let (g, e) = (gate.clone(), entered.clone());
    lp.execute(move |_| {
        e.store(1, Ordering::SeqCst);
        let _wait = g.lock().unwrap();
    })
    .unwrap();
    while entered.load(Ordering::SeqCst) == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    let ran = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..3 {
        let (r, probe) = (ran.clone(), DropProbe(drops.clone()));
        lp.execute(move |_| {
            let _keep = &probe;
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    lp.shutdown_now();
    drop(held);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "queued before shutdown_now: never run"
    );
    assert_eq!(
        *drops.lock().unwrap(),
        vec![thread::current().id(); 3],
        "dropped on the waiting thread"
    );
}

#[test]
fn a_panicking_task_is_reported_and_the_loop_goes_on() {
    let lp = EventLoop::new().unwrap();
    lp.execute(|_| panic!("boom")).unwrap();
    let ok = Arc::new(AtomicUsize::new(0));
    let o = ok.clone();
    lp.execute(move |_| {
        o.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    lp.run(RunMode::Default).unwrap();
    assert_eq!(ok.load(Ordering::SeqCst), 1);
    assert_eq!(lp.counters().panics, 1);
}

#[test]
fn a_task_counts_its_failure_in_the_loop_counters() {
    let lp = EventLoop::new().unwrap();
    lp.execute(|lp| lp.count_task_failure()).unwrap();
    lp.execute(|lp| lp.count_task_failure()).unwrap();
    assert_eq!(lp.counters().task_failures, 0);
    lp.run(RunMode::Default).unwrap();
    assert_eq!(lp.counters().task_failures, 2);
    assert_eq!(lp.counters().panics, 0);
}

#[test]
fn a_task_can_close_its_own_loop() {
    let lp = EventLoop::new().unwrap();
    lp.execute(|lp| lp.shutdown_gracefully(Duration::ZERO, LIMIT))
        .unwrap();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert!(lp.is_terminated());
    assert_eq!(lp.execute(|_| {}), Err(ErrorKind::Rejected.into()));
    assert_eq!(lp.run(RunMode::Default), Err(ErrorKind::Closed.into()));
}

#[test]
fn channel_watch_is_level_triggered_without_epoll_ctl() {
    let lp = EventLoop::new().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let watch = lp
        .watch(
            peer.clone(),
            OP_READ,
            Box::new(move |_, _, ready| {
                assert_eq!(ready, OP_READ);
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
    client.write(b"unread").unwrap();
    let ctl = lp.backend_counters().ctl;
    for _ in 0..3 {
        lp.run(RunMode::Once).unwrap();
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "unread data is reported each turn"
    );
    assert_eq!(lp.backend_counters().ctl, ctl);
    watch.close();
    assert!(
        !lp.run(RunMode::Default).unwrap(),
        "a closed watch releases its ref"
    );
}

#[test]
fn a_watched_channel_cannot_be_watched_twice() {
    let lp = EventLoop::new().unwrap();
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let first = lp
        .watch(peer.clone(), OP_READ, Box::new(|_, _, _| {}))
        .unwrap();
    let second = lp.watch(peer.clone(), OP_WRITE, Box::new(|_, _, _| {}));
    assert_eq!(second.err(), Some(ErrorKind::RegisteredElsewhere.into()));
    assert_eq!(
        first.interest(),
        Ok(OP_READ),
        "the first watch keeps its key"
    );
    first.close();
    lp.run(RunMode::NoWait).unwrap();
    let again = lp
        .watch(peer.clone(), OP_WRITE, Box::new(|_, _, _| {}))
        .unwrap();
    again.close();
}

#[test]
fn raw_fd_watch_is_re_armed() {
    let lp = EventLoop::new().unwrap();
    let fds = pipe();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let watch = lp
        .watch_fd(
            fds[0],
            OP_READ,
            Box::new(move |_, _, _| {
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
    assert_eq!(unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) }, 1);
    lp.run(RunMode::Once).unwrap();
    lp.run(RunMode::Once).unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "not consumed: reported again"
    );
    watch.close();
    unsafe {
        assert_eq!(
            libc::fcntl(fds[0], libc::F_GETFD),
            libc::FD_CLOEXEC,
            "still open"
        );
    }
    close_pipe(fds);
    let _ = OP_WRITE;
}

#[test]
fn embedding_through_the_backend_fd() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.backend_timeout(), None);
    let hits = Arc::new(AtomicUsize::new(0));
    lp.execute({
        let h = hits.clone();
        move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert_eq!(
        lp.backend_timeout(),
        Some(Duration::ZERO),
        "a queued task needs a turn"
    );
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let remote = lp.clone();
    let poster = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        let h = hits.clone();
        remote
            .execute(move |_| {
                h.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        hits
    });
    let mut pfd = libc::pollfd {
        fd: lp.backend_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    assert_eq!(
        unsafe { libc::poll(&mut pfd, 1, 5000) },
        1,
        "the backend fd wakes the host"
    );
    lp.run(RunMode::NoWait).unwrap();
    let hits = poster.join().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

static RAW_RUNS: AtomicUsize = AtomicUsize::new(0);
static RAW_DISCARDS: AtomicUsize = AtomicUsize::new(0);

unsafe fn raw_run(_: &EventLoop, data: [usize; 4]) {
    RAW_RUNS.fetch_add(data[0], Ordering::SeqCst);
}

unsafe fn raw_discard(data: [usize; 4]) {
    RAW_DISCARDS.fetch_add(data[0], Ordering::SeqCst);
}

#[test]
fn raw_tasks_run_or_are_discarded_exactly_once() {
    use nioxide_core::event_loop::RawTask;
    let lp = EventLoop::new().unwrap();
    let mut task = Some(unsafe { RawTask::new(raw_run, raw_discard, [1, 0, 0, 0]) });
    lp.try_execute_raw(&mut task).unwrap();
    assert!(task.is_none());
    let mut dropped = Some(unsafe { RawTask::new(raw_run, raw_discard, [10, 0, 0, 0]) });
    lp.try_execute_raw(&mut dropped).unwrap();
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(RAW_RUNS.load(Ordering::SeqCst), 11);
    let mut unrun = Some(unsafe { RawTask::new(raw_run, raw_discard, [100, 0, 0, 0]) });
    lp.try_execute_raw(&mut unrun).unwrap();
    lp.close();
    assert_eq!(
        RAW_DISCARDS.load(Ordering::SeqCst),
        100,
        "dropped unrun: discarded once"
    );
    let mut refused = Some(unsafe { RawTask::new(raw_run, raw_discard, [1000, 0, 0, 0]) });
    assert_eq!(
        lp.try_execute_raw(&mut refused),
        Err(ErrorKind::Rejected.into())
    );
    assert_eq!(
        refused.take().unwrap().into_data()[0],
        1000,
        "the caller gets it back"
    );
    assert_eq!(
        RAW_RUNS.load(Ordering::SeqCst) + RAW_DISCARDS.load(Ordering::SeqCst),
        111
    );
}

#[test]
fn repeated_shutdown_calls_race_the_loop_without_deadlock() {
    fn requeue(lp: &EventLoop) {
        let _ = lp.execute(requeue);
    }
    // The rounds run on their own thread, so a deadlock fails the test instead of hanging it.
    let (done, finished) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for _ in 0..20 {
            let lp = EventLoop::spawn().unwrap();
            lp.execute(requeue).unwrap();
            let remote = lp.clone();
            let caller = thread::spawn(move || {
                for _ in 0..200 {
                    remote.shutdown_gracefully(Duration::ZERO, LIMIT);
                }
                remote.shutdown_now();
            });
            caller.join().unwrap();
            assert!(lp.await_termination(Some(LIMIT)).unwrap());
        }
        done.send(()).unwrap();
    });
    assert!(
        finished.recv_timeout(Duration::from_secs(60)).is_ok(),
        "shutdown calls racing the loop's own shutdown deadlocked"
    );
}

#[test]
fn closing_the_last_watch_from_another_thread_ends_a_default_run() {
    let fds = pipe();
    let (watched, watch_rx) = std::sync::mpsc::channel();
    let (returned, returned_rx) = std::sync::mpsc::channel();
    // The run happens on its own thread, so a run that never returns fails the test instead
    // of hanging it.
    let read_end = fds[0];
    thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let watch = lp
            .watch_fd(read_end, OP_READ, Box::new(|_, _, _| {}))
            .unwrap();
        watched.send(watch).unwrap();
        returned.send(lp.run(RunMode::Default)).unwrap();
    });
    let watch = watch_rx.recv_timeout(LIMIT).unwrap();
    thread::sleep(Duration::from_millis(100));
    watch.close();
    let outcome = returned_rx.recv_timeout(LIMIT);
    assert_eq!(
        outcome,
        Ok(Ok(false)),
        "the run noticed nothing is referenced any more"
    );
    close_pipe(fds);
}

/// The CPU time (user + system, in clock ticks) the thread `tid` of this process used so far.
fn thread_cpu_ticks(tid: i64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_loop_spins_only_briefly_after_a_stream_of_tasks_then_blocks() {
    let lp = EventLoop::spawn().unwrap();
    let tid = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let stream = 10_000;
    for _ in 0..stream {
        let (tid, done) = (tid.clone(), done.clone());
        lp.execute(move |_| {
            tid.store(unsafe { libc::gettid() } as usize, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let deadline = Instant::now() + LIMIT;
    while done.load(Ordering::SeqCst) < stream && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(done.load(Ordering::SeqCst), stream);
    let tid = tid.load(Ordering::SeqCst) as i64;
    let before = thread_cpu_ticks(tid);
    thread::sleep(Duration::from_millis(500));
    let spent = thread_cpu_ticks(tid) - before;
    // Spinning for the whole half second would be about 50 ticks; blocking, about none.
    assert!(
        spent <= 10,
        "the idle loop thread used {spent} ticks of CPU in 500 ms"
    );
    // Blocked, it still wakes for the next task.
    let (ran, ran_rx) = std::sync::mpsc::channel();
    lp.execute(move |_| ran.send(()).unwrap()).unwrap();
    ran_rx.recv_timeout(LIMIT).unwrap();
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn ref_changes_around_a_cancel_count_the_timer_once() {
    let lp = EventLoop::new().unwrap();
    for round in 0..2_000 {
        let future = lp
            .schedule(Duration::from_secs(3600), Repeat::Once, |_| Ok(None))
            .unwrap();
        let start = Arc::new(std::sync::Barrier::new(2));
        let toggler = {
            let (future, start) = (future.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for i in 0..64 {
                    future.set_ref(i % 2 == 1);
                }
            })
        };
        start.wait();
        for _ in 0..(round % 32) {
            std::hint::spin_loop();
        }
        assert!(future.cancel());
        toggler.join().unwrap();
        // End some rounds ref'd, some not: a cancelled timer holds no ref either way.
        future.set_ref(round % 2 == 0);
    }
    // What is referenced now: one 30 ms timer. A count left too high would keep the run
    // going forever; one too low would end it before the timer fired.
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    lp.schedule(Duration::from_millis(30), Repeat::Once, move |_| {
        f.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    })
    .unwrap();
    let (returned, returned_rx) = std::sync::mpsc::channel();
    thread::spawn(move || returned.send(lp.run(RunMode::Default)).unwrap());
    assert_eq!(
        returned_rx.recv_timeout(LIMIT),
        Ok(Ok(false)),
        "the run ended"
    );
    assert_eq!(
        fired.load(Ordering::SeqCst),
        1,
        "and not before the timer fired"
    );
}

#[test]
fn interest_added_from_another_thread_wakes_a_waiting_loop_for_cached_readiness() {
    let lp = EventLoop::spawn().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let (fired, fired_rx) = std::sync::mpsc::channel();
    let watch = lp
        .watch(
            peer.clone(),
            OP_WRITE,
            Box::new(move |_, watch, ready| {
                if ready & OP_READ != 0 {
                    let _ = fired.send(());
                    watch.set_interest(0).unwrap();
                } else {
                    watch.set_interest(0).unwrap(); // writable: seen once, then quiet
                }
            }),
        )
        .unwrap();
    client.write(b"waiting").unwrap();
    // The loop sees the data's edge while it has no read interest, then blocks.
    thread::sleep(Duration::from_millis(100));
    watch.set_interest(OP_READ).unwrap();
    assert!(
        fired_rx.recv_timeout(LIMIT).is_ok(),
        "the new interest was served without a new edge"
    );
    watch.close();
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn stop_has_no_effect_on_a_library_driven_loop() {
    let lp = EventLoop::spawn().unwrap();
    let (ran, ran_rx) = std::sync::mpsc::channel();
    let stopper = lp.clone();
    lp.execute(move |_| stopper.stop()).unwrap(); // from its own thread
    lp.stop(); // and from another
    thread::sleep(Duration::from_millis(50));
    lp.execute(move |_| ran.send(()).unwrap()).unwrap();
    assert!(
        ran_rx.recv_timeout(LIMIT).is_ok(),
        "the loop's thread still runs"
    );
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn a_listener_added_while_completion_hands_listeners_on_runs_after_them() {
    let lp = EventLoop::spawn().unwrap();
    for _ in 0..50 {
        let promise = Promise::new(Some(&lp));
        let order = Arc::new(Mutex::new(Vec::new()));
        let early = 500;
        for i in 0..early {
            let order = order.clone();
            promise.add_listener(Box::new(move |_| order.lock().unwrap().push(i)));
        }
        let late = {
            let (promise, order) = (promise.clone(), order.clone());
            thread::spawn(move || {
                let deadline = Instant::now() + LIMIT;
                while !promise.is_done() && Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                promise.add_listener(Box::new(move |_| order.lock().unwrap().push(early)));
            })
        };
        assert!(promise.try_success(None));
        late.join().unwrap();
        let deadline = Instant::now() + LIMIT;
        while order.lock().unwrap().len() < early + 1 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let order = order.lock().unwrap();
        assert_eq!(
            *order,
            (0..=early).collect::<Vec<_>>(),
            "in the order added"
        );
    }
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn a_panicking_submitted_task_fails_its_future() {
    let lp = EventLoop::spawn().unwrap();
    let future = lp
        .submit(|_| panic!("a deliberate panic in a task"))
        .unwrap();
    assert!(future.wait(Some(LIMIT)).unwrap(), "the future completes");
    assert_eq!(future.cause(), Some(ErrorKind::Panic.into()));
    // The future fails before the panic reaches the loop's report: wait for that too.
    let deadline = Instant::now() + Duration::from_secs(5);
    while lp.counters().panics == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(lp.counters().panics, 1, "and the loop reported the panic");
    lp.shutdown_gracefully(Duration::ZERO, LIMIT);
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
}

#[test]
fn a_shutdown_that_drops_tasks_still_runs_the_listeners_of_the_timers_it_cancels() {
    for close in [false, true] {
        let lp = if close {
            EventLoop::new().unwrap()
        } else {
            EventLoop::spawn().unwrap()
        };
        let heard = Arc::new(AtomicUsize::new(0));
        let future = lp
            .schedule(Duration::from_secs(60), Repeat::Once, |_| Ok(None))
            .unwrap();
        let h = heard.clone();
        future.add_listener(Box::new(move |p| {
            assert!(p.is_cancelled());
            h.fetch_add(1, Ordering::SeqCst);
        }));
        if close {
            lp.close();
        } else {
            lp.shutdown_now();
        }
        assert!(lp.await_termination(Some(LIMIT)).unwrap());
        assert!(future.is_cancelled());
        assert_eq!(heard.load(Ordering::SeqCst), 1, "close: {close}");
    }
}

#[test]
fn a_group_of_more_than_max_loops_is_refused() {
    use nioxide_core::event_loop::MAX_GROUP_LOOPS;
    for threads in [MAX_GROUP_LOOPS + 1, 1 << 40, usize::MAX] {
        assert_eq!(
            EventLoopGroup::new(threads).err().and_then(|e| e.kind()),
            Some(ErrorKind::InvalidArgument)
        );
    }
}

#[test]
fn a_periodic_task_slower_than_its_period_runs_at_most_once_per_timer_phase() {
    let lp = EventLoop::new().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let periodic = lp
        .schedule(
            Duration::ZERO,
            Repeat::FixedRate(Duration::from_millis(1)),
            move |_| {
                r.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(3));
                Ok(None)
            },
        )
        .unwrap();
    thread::sleep(Duration::from_millis(5));
    for turn in 0..6 {
        let before = runs.load(Ordering::SeqCst);
        lp.run(RunMode::NoWait).unwrap();
        let ran = runs.load(Ordering::SeqCst) - before;
        // A turn has two timer phases (before and after its wait for I/O).
        assert!(
            ran <= 2,
            "turn {turn} ran the task {ran} times: the backlog piles up"
        );
    }
    assert!(periodic.cancel());
    lp.close();
}

#[test]
fn the_backend_timeout_shows_a_raw_descriptor_left_unread_and_a_shutdowns_quiet_period() {
    let lp = EventLoop::new().unwrap();
    let fds = pipe();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let read_end = fds[0];
    let watch = lp
        .watch_fd(
            read_end,
            OP_READ,
            Box::new(move |_, _, _| {
                let mut byte = 0u8;
                unsafe { libc::read(read_end, (&raw mut byte).cast(), 1) };
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
    assert_eq!(unsafe { libc::write(fds[1], b"abc".as_ptr().cast(), 3) }, 3);
    let deadline = Instant::now() + Duration::from_secs(5);
    while calls.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        lp.run(RunMode::NoWait).unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Two bytes are left: epoll will report them only once the descriptor is re-armed.
    assert_eq!(lp.backend_timeout(), Some(Duration::ZERO));
    while calls.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        let timeout = lp.backend_timeout().map_or(-1, |t| t.as_millis() as i32);
        let mut pfd = libc::pollfd {
            fd: lp.backend_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut pfd, 1, timeout.min(1000)) };
        lp.run(RunMode::NoWait).unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3, "the host read every byte");
    watch.close();

    // A graceful shutdown's quiet period: waited for, not spun through.
    lp.run(RunMode::NoWait).unwrap();
    lp.shutdown_gracefully(Duration::from_secs(1), Duration::from_secs(5));
    let timeout = lp.backend_timeout().unwrap();
    assert!(
        timeout > Duration::ZERO && timeout <= Duration::from_millis(100),
        "{timeout:?}"
    );
    lp.close();
    close_pipe(fds);
}

#[test]
fn a_watch_survives_a_panicking_callback_and_its_dropped_handles() {
    let lp = EventLoop::new().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let reader = peer.clone();
    // No handle kept: the loop holds an active watch, as it holds an active timer.
    let _ = lp
        .watch(
            peer.clone(),
            OP_READ,
            Box::new(move |_, watch, _| {
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("a deliberate panic in a watch callback");
                }
                let mut buf = [0u8; 16];
                let _ = reader.read(&mut buf);
                watch.close();
            }),
        )
        .unwrap();
    client.write(b"data").unwrap();
    let (returned, returned_rx) = std::sync::mpsc::channel();
    thread::spawn(move || returned.send(lp.run(RunMode::Default)).unwrap());
    assert_eq!(
        returned_rx.recv_timeout(LIMIT),
        Ok(Ok(false)),
        "the callback ran again after its panic, and closed its watch"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn two_threads_watching_one_channel_at_once_never_share_a_key() {
    let lp = EventLoop::new().unwrap();
    for _ in 0..200 {
        let (_client, peer) = pair();
        peer.configure_blocking(false).unwrap();
        let start = Arc::new(std::sync::Barrier::new(2));
        let watchers: Vec<_> = (0..2)
            .map(|_| {
                let (lp, peer, start) = (lp.clone(), peer.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    lp.watch(peer, OP_READ, Box::new(|_, _, _| {}))
                })
            })
            .collect();
        let results: Vec<_> = watchers.into_iter().map(|t| t.join().unwrap()).collect();
        let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 1, "exactly one of the two watches");
        ok[0].close();
    }
    lp.close();
}

#[test]
fn a_closed_raw_descriptor_watch_lets_the_descriptor_be_watched_again_at_once() {
    let lp = EventLoop::new().unwrap();
    let fds = pipe();
    for _ in 0..3 {
        let watch = lp
            .watch_fd(fds[0], OP_READ, Box::new(|_, _, _| {}))
            .unwrap();
        watch.close();
        assert!(!watch.is_active());
    }
    lp.close();
    close_pipe(fds);
}

#[test]
fn closing_the_watched_channel_in_its_callback_ends_the_watch() {
    let lp = EventLoop::new().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    /// Counts the drops of the callback (what frees a C attachment).
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (c, d) = (calls.clone(), Dropped(drops.clone()));
    let channel = peer.clone();
    let watch = lp
        .watch(
            peer.clone(),
            OP_READ,
            Box::new(move |_, _, _| {
                let _keep = &d;
                let mut buf = [0u8; 16];
                if channel.read(&mut buf).unwrap() == Some(0) {
                    channel.close(); // end of stream: close
                }
                c.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
    client.close();
    let start = Instant::now();
    assert!(!lp.run(RunMode::Default).unwrap(), "the run returns");
    assert!(start.elapsed() < LIMIT);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!watch.is_active(), "closing its channel ends the watch");
    assert!(!lp.is_alive(), "its ref was given back");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the callback is dropped once"
    );
    watch.close();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn closing_the_watched_channel_elsewhere_ends_the_watch() {
    let lp = EventLoop::new().unwrap();
    let (_client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let watch = lp
        .watch(peer.clone(), OP_READ, Box::new(|_, _, _| {}))
        .unwrap();
    assert!(lp.is_alive());
    peer.close();
    assert!(!watch.is_active());
    assert!(!lp.is_alive(), "the watch gave its ref back");
    assert!(!lp.run(RunMode::Default).unwrap());
}

#[test]
fn a_closed_watch_leaves_its_channel_open_when_the_loop_closes() {
    let lp = EventLoop::new().unwrap();
    let (client, peer) = pair();
    peer.configure_blocking(false).unwrap();
    let watch = lp
        .watch(peer.clone(), OP_READ, Box::new(|_, _, _| {}))
        .unwrap();
    watch.close();
    lp.close(); // before another turn
    assert!(peer.is_open(), "a closed watch no longer owns its channel");
    client.write(b"still here").unwrap();
    let mut buf = [0u8; 16];
    peer.configure_blocking(true).unwrap();
    assert_eq!(peer.read(&mut buf).unwrap(), Some(10));
}

#[test]
fn a_long_promise_chain_without_a_loop_completes_on_a_bounded_stack() {
    // Each listener completes the next promise; without a loop, listeners run on the
    // completing thread, which must not nest them without bound.
    const LINKS: usize = 200_000;
    let promises: Vec<Promise> = (0..LINKS).map(|_| Promise::new(None)).collect();
    for pair in promises.windows(2) {
        let next = pair[1].clone();
        pair[0].add_listener(Box::new(move |_| {
            next.try_success(None);
        }));
    }
    let last = promises[LINKS - 1].clone();
    let first = promises[0].clone();
    // A small stack: 200,000 nested listeners would need far more.
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            first.try_success(None);
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(last.is_done());
}

#[test]
fn a_promise_chain_on_a_terminated_loop_completes() {
    let lp = EventLoop::new().unwrap();
    lp.close();
    let promises: Vec<Promise> = (0..50_000).map(|_| Promise::new(Some(&lp))).collect();
    for pair in promises.windows(2) {
        let next = pair[1].clone();
        pair[0].add_listener(Box::new(move |_| {
            next.try_success(None);
        }));
    }
    let (first, last) = (promises[0].clone(), promises[promises.len() - 1].clone());
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            first.try_success(None);
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(last.is_done());
}

#[test]
fn listeners_of_one_promise_keep_their_order_when_deferred() {
    // A chain deep enough to defer, whose last promise has several listeners.
    let promises: Vec<Promise> = (0..40).map(|_| Promise::new(None)).collect();
    for pair in promises.windows(2) {
        let next = pair[1].clone();
        pair[0].add_listener(Box::new(move |_| {
            next.try_success(None);
        }));
    }
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..5 {
        let o = order.clone();
        promises[39].add_listener(Box::new(move |_| o.lock().unwrap().push(i)));
    }
    promises[0].try_success(None);
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn a_task_queued_by_a_task_runs_in_the_next_turn() {
    let lp = EventLoop::new().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    fn requeue(lp: &EventLoop, runs: Arc<AtomicUsize>) {
        if runs.fetch_add(1, Ordering::SeqCst) < 100 {
            lp.execute(move |lp| requeue(lp, runs)).unwrap();
        }
    }
    let r = runs.clone();
    lp.execute(move |lp| requeue(lp, r)).unwrap();
    for turn in 1..=3 {
        assert!(lp.run(RunMode::Once).unwrap(), "the requeued task is left");
        assert_eq!(runs.load(Ordering::SeqCst), turn, "one run per turn");
    }
    assert!(!lp.run(RunMode::Default).unwrap());
    assert_eq!(runs.load(Ordering::SeqCst), 101);
}

#[test]
fn tasks_from_other_threads_keep_their_order_behind_a_task_queued_by_the_loop() {
    let lp = EventLoop::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o, remote) = (order.clone(), lp.clone());
    lp.execute(move |lp| {
        let o2 = o.clone();
        lp.execute(move |_| o2.lock().unwrap().push("own")).unwrap();
        let o3 = o.clone();
        thread::spawn(move || {
            remote
                .execute(move |_| o3.lock().unwrap().push("remote"))
                .unwrap()
        })
        .join()
        .unwrap();
    })
    .unwrap();
    assert!(lp.run(RunMode::Once).unwrap());
    assert!(
        order.lock().unwrap().is_empty(),
        "both wait for the next turn"
    );
    assert!(!lp.run(RunMode::Default).unwrap());
    assert_eq!(*order.lock().unwrap(), vec!["own", "remote"]);
}

#[test]
fn run_once_with_nothing_referenced_returns_at_once() {
    let lp = EventLoop::new().unwrap();
    assert!(!lp.is_alive());
    let start = Instant::now();
    assert!(!lp.run(RunMode::Once).unwrap());
    assert!(start.elapsed() < LIMIT);
    // An unref'd timer does not keep it alive either.
    let timer = lp
        .schedule(Duration::from_secs(60), Repeat::Once, |_| Ok(None))
        .unwrap();
    assert!(lp.is_alive());
    timer.set_ref(false);
    assert!(!lp.is_alive());
    assert!(!lp.run(RunMode::Once).unwrap());
    // A turn whose task leaves nothing referenced does not block either.
    lp.execute(|_| {}).unwrap();
    assert!(lp.is_alive());
    let start = Instant::now();
    assert!(!lp.run(RunMode::Once).unwrap());
    assert!(start.elapsed() < LIMIT);
    timer.cancel();
}

#[test]
fn a_huge_timer_timeout_is_kept_exact() {
    let lp = EventLoop::new().unwrap();
    let timer = lp.timer(|_, _| {}).unwrap();
    let two_centuries = Duration::from_secs(200 * 365 * 24 * 3600);
    timer.start(two_centuries, Duration::ZERO).unwrap();
    let left = timer.due_in().unwrap();
    assert!(left > two_centuries - Duration::from_secs(60), "{left:?}");
    // Beyond the clock: never fires, and nothing overflows.
    timer.start(Duration::MAX, Duration::ZERO).unwrap();
    assert!(timer.due_in().unwrap() > two_centuries);
    timer.close();
}

#[test]
fn a_task_queued_by_an_io_callback_runs_in_the_same_turn() {
    let lp = EventLoop::new().unwrap();
    let fds = pipe();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let watch = lp
        .watch_fd(
            fds[0],
            OP_READ,
            Box::new(move |lp, w, _| {
                let r = r.clone();
                lp.execute(move |_| {
                    r.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
                w.close();
            }),
        )
        .unwrap();
    // SAFETY: writes one byte to the pipe this test owns.
    unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
    let waits = lp.backend_counters().waits;
    lp.run(RunMode::Once).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1, "in the turn's last phase");
    assert_eq!(lp.backend_counters().waits - waits, 1);
    drop(watch);
    lp.close();
    close_pipe(fds);
}

#[test]
fn a_panicking_outermost_listener_leaves_no_deferred_listener_behind() {
    let ran = Arc::new(AtomicUsize::new(0));
    let promises: Vec<Promise> = (0..12).map(|_| Promise::new(None)).collect();
    for (i, pair) in promises.windows(2).enumerate() {
        let next = pair[1].clone();
        pair[0].add_listener(Box::new(move |_| {
            next.try_success(None);
            if i == 0 {
                panic!("a deliberate panic after completing the next promise");
            }
        }));
    }
    let r = ran.clone();
    promises[11].add_listener(Box::new(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    }));
    let first = promises[0].clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        first.try_success(None);
    }));
    assert!(outcome.is_err(), "the panic goes on");
    assert!(promises[11].is_done());
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "the deferred listeners ran first"
    );
}

#[test]
fn a_stop_is_used_up_by_a_run_that_returns_at_once() {
    let lp = EventLoop::new().unwrap();
    lp.stop();
    assert!(!lp.run(RunMode::Once).unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    lp.execute(move |lp| {
        r.fetch_add(1, Ordering::SeqCst);
        let r = r.clone();
        lp.execute(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    })
    .unwrap();
    assert!(!lp.run(RunMode::Default).unwrap());
    assert_eq!(ran.load(Ordering::SeqCst), 2, "no stale stop ended the run");
}

#[test]
fn a_future_is_running_while_its_task_runs_and_then_cannot_be_cancelled() {
    let lp = EventLoop::new().unwrap();
    let slot: Arc<Mutex<Option<Promise>>> = Arc::new(Mutex::new(None));
    let inside = slot.clone();
    let future = lp
        .submit(move |_| {
            let future = inside.lock().unwrap().clone().unwrap();
            Ok(Some(Box::new((future.is_running(), future.cancel()))))
        })
        .unwrap();
    *slot.lock().unwrap() = Some(future.clone());
    assert!(!future.is_running(), "queued, not started");
    lp.run(RunMode::Default).unwrap();
    let seen = future.with_outcome(|outcome| match outcome {
        Some(nioxide_core::event_loop::Outcome::Success(Some(value))) => {
            value.downcast_ref::<(bool, bool)>().copied()
        }
        _ => None,
    });
    assert_eq!(
        seen,
        Some((true, false)),
        "running inside its task, and uncancellable"
    );
    assert!(
        !future.is_running() && future.is_done(),
        "done: no longer running"
    );

    let promise = Promise::new(Some(&lp));
    assert!(!promise.is_running());
    assert!(promise.set_uncancellable() && promise.is_running());
    promise.set_success(None).unwrap();
    assert!(!promise.is_running());
    *slot.lock().unwrap() = None;
    lp.close();
}

#[test]
fn a_failed_watch_never_leaves_a_default_run_waiting() {
    // A watch that fails takes the loop's ref for a moment: a Default run that saw it must be
    // woken when it is given back.
    let closed = ServerSocketChannel::open().unwrap();
    closed.configure_blocking(false).unwrap();
    closed.close();
    for _ in 0..100 {
        let lp = EventLoop::new().unwrap();
        let server = util::listener();
        server.configure_blocking(false).unwrap();
        let watch = lp
            .watch(server.clone(), OP_ACCEPT, Box::new(|_, _, _| {}))
            .unwrap();
        let runner = lp.clone();
        let run = thread::spawn(move || runner.run(RunMode::Default));
        let failing = lp.clone();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let closed = closed.clone();
        let fails = thread::spawn(move || {
            while stop_rx.try_recv().is_err() {
                assert!(
                    failing
                        .watch(closed.clone(), OP_ACCEPT, Box::new(|_, _, _| {}))
                        .is_err()
                );
            }
        });
        thread::sleep(Duration::from_millis(1));
        watch.close();
        let start = Instant::now();
        while !run.is_finished() {
            assert!(start.elapsed() < LIMIT, "the Default run is left waiting");
            thread::sleep(Duration::from_millis(1));
        }
        stop_tx.send(()).unwrap();
        fails.join().unwrap();
        assert!(!run.join().unwrap().unwrap());
        server.close();
    }
}

#[test]
fn only_the_thread_inside_a_run_holds_the_run_right() {
    let lp = EventLoop::new().unwrap();
    assert!(
        lp.in_event_loop(),
        "the creating thread owns a caller-driven loop"
    );
    assert!(!lp.in_run(), "but holds no run right between runs");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    lp.execute(move |lp| s.lock().unwrap().push(lp.in_run()))
        .unwrap();
    lp.run(RunMode::Default).unwrap();
    assert!(!lp.in_run());
    // Another thread running the loop holds it; the owner meanwhile does not.
    let (cell, id) = lp.run_right();
    let other = lp.clone();
    let s = seen.clone();
    let (go, ready) = std::sync::mpsc::channel();
    other
        .execute(move |lp| {
            s.lock().unwrap().push(lp.in_run());
            go.send(()).unwrap();
            thread::sleep(Duration::from_millis(50));
        })
        .unwrap();
    let t = thread::spawn(move || other.run(RunMode::Default).unwrap());
    ready.recv_timeout(LIMIT).unwrap();
    assert!(
        !cell.held_for(id),
        "the idle owner while another thread runs"
    );
    t.join().unwrap();
    assert_eq!(*seen.lock().unwrap(), [true, true]);
    // A spawned loop's thread holds it in its tasks.
    let spawned = EventLoop::spawn().unwrap();
    let held = spawned
        .submit(|lp| Ok(Some(Box::new(lp.in_run()) as _)))
        .unwrap();
    assert!(held.wait(Some(LIMIT)).unwrap());
    let in_run = held.with_outcome(|outcome| match outcome {
        Some(Outcome::Success(Some(value))) => value.downcast_ref::<bool>().copied(),
        _ => None,
    });
    assert_eq!(in_run, Some(true));
    assert!(!spawned.in_run());
    spawned.shutdown_now();
    spawned.await_termination(Some(LIMIT)).unwrap();
    lp.close();
}

#[test]
fn a_forked_child_holds_no_run_right_even_forked_inside_a_callback() {
    let lp = EventLoop::new().unwrap();
    let status = Arc::new(Mutex::new(None));
    let st = status.clone();
    lp.execute(move |lp| {
        assert!(lp.in_run());
        // SAFETY: the child only reads atomics and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let (cell, id) = lp.run_right();
            let code = if lp.in_run() || cell.held_for(id) {
                1
            } else {
                0
            };
            unsafe { libc::_exit(code) };
        }
        let mut raw = 0;
        // SAFETY: waits for the child made above.
        unsafe { libc::waitpid(pid, &mut raw, 0) };
        *st.lock().unwrap() = Some(raw);
        assert!(lp.in_run(), "the parent still runs its loop");
    })
    .unwrap();
    lp.run(RunMode::Default).unwrap();
    let raw = status.lock().unwrap().expect("the task ran");
    assert!(
        libc::WIFEXITED(raw) && libc::WEXITSTATUS(raw) == 0,
        "the child held the run right: status {raw:#x}"
    );
    lp.close();
}

#[test]
fn a_reclaim_runs_once_at_the_end_of_a_turn_at_termination_or_on_the_caller() {
    let lp = EventLoop::new().unwrap();
    let runs = Arc::new(Mutex::new(Vec::new()));
    // From a callback: at the end of that turn, on the running thread, after the callback.
    let r = runs.clone();
    lp.execute(move |lp| {
        let inner = r.clone();
        lp.reclaim_later(move || inner.lock().unwrap().push(("turn", thread::current().id())));
        r.lock().unwrap().push(("callback", thread::current().id()));
    })
    .unwrap();
    lp.run(RunMode::Default).unwrap();
    let here = thread::current().id();
    assert_eq!(*runs.lock().unwrap(), [("callback", here), ("turn", here)]);
    // From another thread between runs: the next turn runs it.
    runs.lock().unwrap().clear();
    let (r, l) = (runs.clone(), lp.clone());
    thread::spawn(move || {
        l.reclaim_later(move || r.lock().unwrap().push(("next", thread::current().id())))
    })
    .join()
    .unwrap();
    assert!(runs.lock().unwrap().is_empty(), "not on the freeing thread");
    lp.run(RunMode::NoWait).unwrap();
    assert_eq!(*runs.lock().unwrap(), [("next", here)]);
    // Pending at termination: the termination runs it; after it, the caller does.
    runs.lock().unwrap().clear();
    let r = runs.clone();
    lp.reclaim_later(move || {
        r.lock()
            .unwrap()
            .push(("termination", thread::current().id()))
    });
    lp.close();
    let r = runs.clone();
    let l = lp.clone();
    thread::spawn(move || {
        l.reclaim_later(move || r.lock().unwrap().push(("caller", thread::current().id())))
    })
    .join()
    .unwrap();
    let seen = runs.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], ("termination", here));
    assert_eq!(seen[1].0, "caller");
    assert_ne!(seen[1].1, here);
}

#[test]
fn reclaims_racing_the_termination_each_run_exactly_once() {
    for _ in 0..20 {
        let lp = EventLoop::spawn().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (l, c) = (lp.clone(), count.clone());
                thread::spawn(move || {
                    for _ in 0..200 {
                        let c = c.clone();
                        l.reclaim_later(move || {
                            c.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                })
            })
            .collect();
        lp.shutdown_now();
        for t in threads {
            t.join().unwrap();
        }
        assert!(lp.await_termination(Some(LIMIT)).unwrap());
        assert_eq!(count.load(Ordering::SeqCst), 800);
    }
}

#[test]
fn a_reclaim_handed_over_before_the_wait_does_not_wait_for_the_next_event() {
    // A task queued by a task runs in the next turn's first phase, before that turn waits: a
    // reclaim it hands over must not wait in the blocked wait for some later wake-up.
    let lp = EventLoop::spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    lp.execute(move |lp| {
        lp.execute(move |lp| lp.reclaim_later(move || tx.send(()).unwrap()))
            .unwrap();
    })
    .unwrap();
    let ran = rx.recv_timeout(LIMIT).is_ok();
    lp.shutdown_now();
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
    assert!(ran, "the reclaim waited for a wake-up nobody sent");
}

#[test]
fn a_reclaim_from_another_thread_during_the_first_phase_wakes_the_loop() {
    let lp = EventLoop::spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (go, gone) = std::sync::mpsc::channel::<()>();
    let l = lp.clone();
    lp.execute(move |lp| {
        // Runs in the next turn's first phase; another thread hands a reclaim over meanwhile.
        lp.execute(move |_| {
            let t = thread::spawn(move || l.reclaim_later(move || tx.send(()).unwrap()));
            t.join().unwrap();
            drop(go);
        })
        .unwrap();
    })
    .unwrap();
    let _ = gone.recv_timeout(LIMIT);
    let ran = rx.recv_timeout(LIMIT).is_ok();
    lp.shutdown_now();
    assert!(lp.await_termination(Some(LIMIT)).unwrap());
    assert!(ran, "the reclaim waited for a wake-up nobody sent");
}
