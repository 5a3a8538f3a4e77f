//! Exactly once under races: threads start reads and writes (with and without timeouts, with
//! handlers and futures), cancel futures and close channels at random while the peers echo;
//! every operation that started reports exactly once, and no memory stays lent.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nioxide_core::aio::{
    AsynchronousChannelGroup, AsynchronousServerSocketChannel, AsynchronousSocketChannel, Handler,
    SharedBuf,
};
use nioxide_core::event_loop::Future;

/// A small xorshift generator: each thread its own, seeded differently.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Operations started, and reports received (handlers run, futures completed).
#[derive(Default)]
struct Tally {
    started: AtomicU64,
    reported: AtomicU64,
}

impl Tally {
    fn handler<V: Send + 'static>(self: &Arc<Self>) -> Handler<V> {
        let tally = self.clone();
        Handler::new(move |_| {
            tally.reported.fetch_add(1, Ordering::SeqCst);
        })
    }
}

/// One thread's random work on `client` for `run`.
fn churn(client: AsynchronousSocketChannel, tally: Arc<Tally>, seed: u64, run: Duration) {
    let mut rng = Rng(seed | 1);
    let bufs: Vec<SharedBuf> = (0..4).map(|_| SharedBuf::new(512)).collect();
    let mut futures: Vec<Future> = Vec::new();
    let until = Instant::now() + run;
    while Instant::now() < until {
        let buf = &bufs[rng.below(4) as usize];
        let Ok(lent) = buf.lend(0..1 + rng.below(511) as usize) else {
            std::thread::yield_now();
            continue;
        };
        let timeout = match rng.below(3) {
            0 => None,
            1 => Some(Duration::from_micros(rng.below(3000))),
            _ => Some(Duration::from_millis(20)),
        };
        let started = match rng.below(6) {
            0 => client.read(lent, timeout, tally.handler()).is_ok(),
            1 => client.write(lent, timeout, tally.handler()).is_ok(),
            2 => client.write_all(lent, tally.handler()).is_ok(),
            3 => match client.read_future(lent, timeout) {
                Ok(f) => {
                    futures.push(f);
                    true
                }
                Err(_) => false,
            },
            4 => match client.write_future(lent, timeout) {
                Ok(f) => {
                    futures.push(f);
                    true
                }
                Err(_) => false,
            },
            _ => {
                drop(lent);
                if let Some(f) = futures.get(rng.below(futures.len().max(1) as u64) as usize) {
                    f.cancel();
                }
                false
            }
        };
        if started {
            tally.started.fetch_add(1, Ordering::SeqCst);
        }
        if rng.below(2000) == 0 {
            client.close();
        }
    }
    client.close();
    for f in futures {
        assert!(
            f.wait(Some(Duration::from_secs(5))).unwrap(),
            "a future completed"
        );
        tally.reported.fetch_add(1, Ordering::SeqCst);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while bufs.iter().any(SharedBuf::is_lent) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!bufs.iter().any(SharedBuf::is_lent), "no memory stays lent");
}

#[test]
fn every_started_operation_reports_exactly_once_under_races() {
    let group = AsynchronousChannelGroup::new(2).unwrap();
    let server = AsynchronousServerSocketChannel::open(&group).unwrap();
    server.bind("127.0.0.1:0".parse().unwrap(), 64).unwrap();
    let addr = server.local_address().unwrap().unwrap();
    let tally = Arc::new(Tally::default());
    let mut threads = Vec::new();
    for i in 0..6u64 {
        let accepted = server.accept_future().unwrap();
        let client = AsynchronousSocketChannel::open(&group).unwrap();
        util::value::<()>(&client.connect_future(addr, None).unwrap()).unwrap();
        let peer = util::value::<AsynchronousSocketChannel>(&accepted).unwrap();
        util::echo(peer, SharedBuf::new(4096), true);
        // Two threads on each of the first connections, one on the others.
        let workers = if i < 2 { 2 } else { 1 };
        for w in 0..workers {
            let (client, tally) = (client.clone(), tally.clone());
            let seed = 0x9e37_79b9_7f4a_7c15 ^ (i * 31 + w);
            threads.push(std::thread::spawn(move || {
                churn(client, tally, seed, Duration::from_millis(400))
            }));
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    server.close();
    util::terminate(&group);
    let (started, reported) = (
        tally.started.load(Ordering::SeqCst),
        tally.reported.load(Ordering::SeqCst),
    );
    assert!(started > 20, "{started} operations started");
    assert_eq!(started, reported, "each started operation reported once");
}
