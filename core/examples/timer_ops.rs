//! The core's cost of a timer operation, without the C layer's handle check: on the loop's
//! running thread, `N` times "start a reusable timer 1 s out, stop it" (and, for reference,
//! one monotonic clock read, and a scheduled task with its future: schedule + cancel); from
//! another thread while the loop runs (each operation queued to the loop).
//!
//! Usage: `cargo run --release -p nioxide-core --example timer_ops -- [N] [WHICH]`, WHICH a
//! comma-separated subset of `timer,clock,schedule,remote` (all by default). Prints
//! `core_ops_total N` and one `core_NAME_ns NS_PER_OP` line per measure; timer and clock are
//! the medians of 5 repetitions of N, run back to back, and `core_timer_net_ns` the median of
//! their differences. `core_ops_total` counts the operations of one of those loops (N times
//! the repetitions). Under `valgrind
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
    // What a callgrind run of timer or clock does, for the instructions per operation.
    println!("core_ops_total {}", u64::from(n) * REPS as u64);
    let lp = EventLoop::new().expect("a loop");
    let timer = lp
        .timer(|_, _| panic!("a stopped timer fired"))
        .expect("a timer");
    let (timing, clocking) = (which.contains("timer"), which.contains("clock"));
    if timing || clocking {
        // Repetitions of both loops back to back, so that their difference is taken within
        // one stretch of whatever else the machine runs.
        let t = timer.clone();
        let (timer_ns, clock_ns, net_ns) = on_loop(&lp, move || {
            let (mut timer_ns, mut clock_ns, mut net_ns) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..REPS {
                let start = Instant::now();
                for _ in 0..if timing { n } else { 0 } {
                    t.start(Duration::from_secs(1), Duration::ZERO)
                        .expect("start");
                    t.stop().expect("stop");
                }
                let timer = per_op(start, n);
                let start = Instant::now();
                for _ in 0..if clocking { n } else { 0 } {
                    black_box(Instant::now());
                }
                let clock = per_op(start, n);
                timer_ns.push(timer);
                clock_ns.push(clock);
                net_ns.push(timer - clock);
            }
            (median(timer_ns), median(clock_ns), median(net_ns))
        });
        if timing {
            println!("core_timer_ns {timer_ns:.2}");
        }
        if clocking {
            println!("core_clock_ns {clock_ns:.2}");
        }
        if timing && clocking {
            println!("core_timer_net_ns {net_ns:.2}");
        }
    }
    if which.contains("schedule") {
        let inner = lp.clone();
        let ns = on_loop(&lp, move || {
            let start = Instant::now();
            for _ in 0..n {
                let f = inner
                    .schedule(Duration::from_secs(1), Repeat::Once, |_| {
                        panic!("a cancelled task ran")
                    })
                    .expect("schedule");
                assert!(f.cancel());
            }
            per_op(start, n)
        });
        println!("core_schedule_ns {ns:.2}");
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

/// Repetitions of the on-loop measures (the median is printed).
const REPS: usize = 5;

/// Nanoseconds per operation of `n` operations since `start`.
fn per_op(start: Instant, n: u32) -> f64 {
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// The median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `f` once as a task on `lp`'s thread (so it holds the run right) and returns what it
/// returned.
fn on_loop<R: Send + 'static>(lp: &EventLoop, f: impl FnOnce() -> R + Send + 'static) -> R {
    let result = std::sync::Arc::new(std::sync::Mutex::new(None));
    let r = result.clone();
    lp.execute(move |lp| {
        assert!(lp.in_run());
        *r.lock().unwrap() = Some(f());
    })
    .expect("execute");
    lp.run(RunMode::NoWait).expect("run");
    let value = result.lock().unwrap().take();
    value.expect("the task ran")
}
