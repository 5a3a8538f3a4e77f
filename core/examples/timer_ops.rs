//! The core's cost of a timer operation, without the C layer's handle check: on the loop's
//! running thread, `N` times "start a reusable timer 1 s out, stop it" (and, for reference,
//! one monotonic clock read, and a scheduled task with its future: schedule + cancel); from
//! another thread while the loop runs (each operation queued to the loop).
//!
//! Usage: `cargo run --release -p nioxide-core --example timer_ops -- [N] [WHICH]`, WHICH a
//! comma-separated subset of `timer,clock,schedule,remote` (all by default). Prints
//! `core_ops_total N` and one `core_NAME_ns NS_PER_OP` line per measure. Under `valgrind
//! --tool=callgrind`, two runs of different N, differenced, give the instructions per
//! operation (`bench/runtime/run.sh` does both, beside the C API's figures).

use std::hint::black_box;
use std::time::{Duration, Instant};

use nioxide_core::event_loop::{EventLoop, Repeat, RunMode};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().map_or(1_000_000, |a| a.parse().expect("N"));
    let which = args
        .next()
        .unwrap_or_else(|| "timer,clock,schedule,remote".into());
    println!("core_ops_total {n}");
    let lp = EventLoop::new().expect("a loop");
    let timer = lp
        .timer(|_, _| panic!("a stopped timer fired"))
        .expect("a timer");
    if which.contains("timer") {
        let t = timer.clone();
        let ns = on_loop(&lp, move || {
            for _ in 0..n {
                t.start(Duration::from_secs(1), Duration::ZERO)
                    .expect("start");
                t.stop().expect("stop");
            }
        });
        println!("core_timer_ns {:.2}", ns / f64::from(n));
    }
    if which.contains("clock") {
        let ns = on_loop(&lp, move || {
            for _ in 0..n {
                black_box(Instant::now());
            }
        });
        println!("core_clock_ns {:.2}", ns / f64::from(n));
    }
    if which.contains("schedule") {
        let inner = lp.clone();
        let ns = on_loop(&lp, move || {
            for _ in 0..n {
                let f = inner
                    .schedule(Duration::from_secs(1), Repeat::Once, |_| {
                        panic!("a cancelled task ran")
                    })
                    .expect("schedule");
                assert!(f.cancel());
            }
        });
        println!("core_schedule_ns {:.2}", ns / f64::from(n));
    }
    lp.close();
    if which.contains("remote") {
        let lp = EventLoop::spawn().expect("a loop");
        let timer = lp
            .timer(|_, _| panic!("a stopped timer fired"))
            .expect("a timer");
        let start = Instant::now();
        for _ in 0..n {
            timer
                .start(Duration::from_secs(1), Duration::ZERO)
                .expect("start");
            timer.stop().expect("stop");
        }
        // Until the loop has run them all.
        lp.submit(|_| Ok(None))
            .expect("submit")
            .wait(None)
            .expect("wait");
        let ns = start.elapsed().as_nanos() as f64;
        println!("core_remote_ns {:.2}", ns / f64::from(n));
        lp.shutdown_gracefully(Duration::ZERO, Duration::from_secs(5));
        lp.await_termination(None).expect("terminated");
    }
}

/// Runs `f` once as a task on `lp`'s thread (so it holds the run right) and returns how long
/// it took, in nanoseconds.
fn on_loop(lp: &EventLoop, f: impl FnOnce() + Send + 'static) -> f64 {
    let took = std::sync::Arc::new(std::sync::Mutex::new(0.0));
    let t = took.clone();
    lp.execute(move |lp| {
        assert!(lp.in_run());
        let start = Instant::now();
        f();
        *t.lock().unwrap() = start.elapsed().as_nanos() as f64;
    })
    .expect("execute");
    lp.run(RunMode::NoWait).expect("run");
    *took.lock().unwrap()
}
