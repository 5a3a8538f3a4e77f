//! Local channels: echo through the registry, delivery on a later turn, backpressure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::support::{
    BufferCheck, Collector, EchoServer, adding, connected, random_bytes, shut_down, wait_until,
};
use crate::event_loop::EventLoopGroup;
use crate::pipeline::{
    Bootstrap, Channel, ChannelAddress, ChannelKind, ChannelOption, LOCAL_PEER_QUEUE, Message,
    ServerBootstrap,
};

const WAIT: Duration = Duration::from_secs(20);

fn local_echo(name: &str, manual_read: bool) {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(2).unwrap();
    let server = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .channel(ChannelKind::LocalServer)
        .child_option(ChannelOption::AutoRead(!manual_read))
        .child_handler(adding("echo", move || Box::new(EchoServer { manual_read })))
        .bind(ChannelAddress::local(name))
        .unwrap();
    connected(&server);
    let data = random_bytes(1 << 20, 99);
    let received = Arc::new(Mutex::new(Vec::new()));
    let collected = received.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .channel(ChannelKind::Local)
        .option(ChannelOption::AutoRead(!manual_read))
        .handler(adding("collect", move || {
            Box::new(Collector {
                data: collected.clone(),
                manual_read,
            })
        }))
        .connect(ChannelAddress::local(name))
        .unwrap();
    connected(&client);
    for chunk in data.chunks(8 * 1024) {
        client.channel.write(Message::copy_from_slice(chunk), None);
    }
    client.channel.flush();
    assert!(wait_until(WAIT, || received.lock().unwrap().len() >= data.len()));
    assert!(*received.lock().unwrap() == data);
    client.channel.close().wait(Some(WAIT)).unwrap();
    server.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
    check.finish();
}

#[test]
fn one_mebibyte_echoes_over_local_channels() {
    local_echo("echo-auto", false);
}

#[test]
fn one_mebibyte_echoes_over_local_channels_with_auto_read_off() {
    local_echo("echo-manual", true);
}

#[test]
fn a_refused_local_connect_and_a_taken_name() {
    let group = EventLoopGroup::new(1).unwrap();
    let client = Bootstrap::new()
        .group(group.clone())
        .channel(ChannelKind::Local)
        .connect(ChannelAddress::local("nobody-here"))
        .unwrap();
    assert!(client.future.wait(Some(WAIT)).unwrap());
    assert!(client.future.cause().unwrap().is_os(libc::ECONNREFUSED));
    let bootstrap = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .channel(ChannelKind::LocalServer);
    let first = bootstrap.bind(ChannelAddress::local("taken")).unwrap();
    connected(&first);
    let second = bootstrap.bind(ChannelAddress::local("taken")).unwrap();
    assert!(second.future.wait(Some(WAIT)).unwrap());
    assert!(second.future.cause().unwrap().is_os(libc::EADDRINUSE));
    first.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
}

#[test]
fn a_local_peer_that_does_not_read_holds_back_the_writer() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(1).unwrap();
    let accepted: Arc<Mutex<Option<Channel>>> = Arc::new(Mutex::new(None));
    let slot = accepted.clone();
    let server = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .channel(ChannelKind::LocalServer)
        .child_option(ChannelOption::AutoRead(false))
        .child_handler(move |ch: &Channel| {
            *slot.lock().unwrap() = Some(ch.clone());
            Ok(())
        })
        .bind(ChannelAddress::local("slow-reader"))
        .unwrap();
    connected(&server);
    let client = Bootstrap::new()
        .group(group.clone())
        .channel(ChannelKind::Local)
        .connect(ChannelAddress::local("slow-reader"))
        .unwrap();
    connected(&client);
    let mut promises = Vec::new();
    for _ in 0..64 {
        let p = client.channel.new_promise();
        client
            .channel
            .write_and_flush(Message::copy_from_slice(&[0u8; 8 * 1024]), Some(p.clone()));
        promises.push(p);
    }
    assert!(wait_until(WAIT, || promises
        .iter()
        .filter(|p| p.is_done())
        .count()
        > 0));
    std::thread::sleep(Duration::from_millis(50));
    let delivered = promises.iter().filter(|p| p.is_success()).count();
    assert!(
        delivered * (8 * 1024) <= LOCAL_PEER_QUEUE + 8 * 1024,
        "{delivered}"
    );
    assert!(delivered < promises.len());
    assert!(client.channel.queued_bytes() > 0);
    // The reader reads: everything goes through.
    let reader = accepted.lock().unwrap().clone().unwrap();
    reader.set_option(ChannelOption::AutoRead(true)).unwrap();
    assert!(wait_until(WAIT, || promises.iter().all(|p| p.is_success())));
    client.channel.close().wait(Some(WAIT)).unwrap();
    assert!(reader.close_future().wait(Some(WAIT)).unwrap());
    server.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
    check.finish();
}

#[test]
fn a_group_shutdown_closes_live_local_channels_once() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(2).unwrap();
    let log = super::support::log();
    let l = log.clone();
    let server = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .channel(ChannelKind::LocalServer)
        .child_handler(adding("r", move || {
            Box::new(super::support::Recorder {
                name: "child",
                log: l.clone(),
            })
        }))
        .bind(ChannelAddress::local("shut-down"))
        .unwrap();
    connected(&server);
    let l = log.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .channel(ChannelKind::Local)
        .handler(adding("r", move || {
            Box::new(super::support::Recorder {
                name: "client",
                log: l.clone(),
            })
        }))
        .connect(ChannelAddress::local("shut-down"))
        .unwrap();
    connected(&client);
    client
        .channel
        .write_and_flush(Message::copy_from_slice(b"queued"), None);
    assert!(wait_until(WAIT, || super::support::entries(&log)
        .contains(&"child:active".to_string())));
    shut_down(&group);
    assert!(!client.channel.is_open() && !server.channel.is_open());
    assert!(client.channel.close_future().is_done());
    assert!(server.channel.close_future().is_done());
    let seen = super::support::entries(&log);
    for who in ["client", "child"] {
        for event in ["inactive", "unregistered", "removed"] {
            let name = format!("{who}:{event}");
            assert_eq!(seen.iter().filter(|s| **s == name).count(), 1, "{seen:?}");
        }
    }
    // The name is free again.
    let again = EventLoopGroup::new(1).unwrap();
    let rebound = ServerBootstrap::new()
        .group(again.clone(), again.clone())
        .channel(ChannelKind::LocalServer)
        .bind(ChannelAddress::local("shut-down"))
        .unwrap();
    connected(&rebound);
    shut_down(&again);
    check.finish();
}

/// Counts the threads inside its `flush` at once.
struct Overlap {
    inside: Arc<std::sync::atomic::AtomicUsize>,
    overlaps: Arc<std::sync::atomic::AtomicUsize>,
}

impl crate::pipeline::ChannelHandler for Overlap {
    fn mask(&self) -> crate::pipeline::Mask {
        crate::pipeline::Mask::FLUSH
    }
    fn flush(&self, ctx: &crate::pipeline::Context) -> crate::pipeline::HandlerResult {
        use std::sync::atomic::Ordering::SeqCst;
        if self.inside.fetch_add(1, SeqCst) > 0 {
            self.overlaps.fetch_add(1, SeqCst);
        }
        std::thread::sleep(Duration::from_millis(1));
        self.inside.fetch_sub(1, SeqCst);
        ctx.flush();
        Ok(())
    }
}

#[test]
fn threads_taking_turns_running_a_caller_driven_loop_never_run_a_handler_at_once() {
    // The owner of a caller-driven loop between runs is not running it: another thread may
    // start a run meanwhile (and become the owner), so the first one's calls on a channel
    // must not run its handlers inline then.
    use crate::event_loop::{EventLoop, RunMode};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let lp = EventLoop::new().unwrap();
    let ch = crate::pipeline::LocalChannel::open(&lp);
    let overlaps = Arc::new(AtomicUsize::new(0));
    ch.pipeline()
        .add_last(
            "overlap",
            Box::new(Overlap {
                inside: Arc::new(AtomicUsize::new(0)),
                overlaps: overlaps.clone(),
            }),
        )
        .unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (lp, ch) = (lp.clone(), ch.clone());
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let _ = lp.run(RunMode::NoWait);
                    ch.flush();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    ch.close();
    lp.close();
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "a handler ran on two threads at once"
    );
}

/// A child whose set-up is late (its server's loop is busy) gets no read before it is
/// registered and active: what its peer wrote at once waits in its queue.
#[test]
fn a_late_child_reads_nothing_before_it_is_active() {
    let check = BufferCheck::start();
    let boss = EventLoopGroup::new(1).unwrap();
    let workers = EventLoopGroup::new(1).unwrap();
    let name = "late-child";
    let server = ServerBootstrap::new()
        .group(boss.clone(), workers.clone())
        .channel(ChannelKind::LocalServer)
        .child_handler(adding("echo", move || {
            Box::new(EchoServer { manual_read: false })
        }))
        .bind(ChannelAddress::local(name))
        .unwrap();
    connected(&server);
    // The server's loop accepts (and so sets the child up) only after the client wrote.
    boss.next()
        .execute(|_| std::thread::sleep(Duration::from_millis(200)))
        .unwrap();
    let data = random_bytes(1 << 20, 7);
    let received = Arc::new(Mutex::new(Vec::new()));
    let collected = received.clone();
    let client = Bootstrap::new()
        .group(workers.clone())
        .channel(ChannelKind::Local)
        .handler(adding("collect", move || {
            Box::new(Collector {
                data: collected.clone(),
                manual_read: false,
            })
        }))
        .connect(ChannelAddress::local(name))
        .unwrap();
    for chunk in data.chunks(64 * 1024) {
        client.channel.write(Message::copy_from_slice(chunk), None);
    }
    client.channel.flush();
    assert!(wait_until(WAIT, || received.lock().unwrap().len() >= data.len()));
    assert!(*received.lock().unwrap() == data);
    client.channel.close().wait(Some(WAIT)).unwrap();
    server.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&boss);
    shut_down(&workers);
    check.finish();
}

/// Keeps the channel it is added to, and what it reads.
struct Keep {
    channel: Arc<Mutex<Option<Channel>>>,
    data: Arc<Mutex<Vec<u8>>>,
}

impl crate::pipeline::ChannelHandler for Keep {
    fn handler_added(&self, ctx: &crate::pipeline::Context) -> crate::pipeline::HandlerResult {
        *self.channel.lock().unwrap() = Some(ctx.channel().clone());
        Ok(())
    }
    fn channel_read(
        &self,
        _: &crate::pipeline::Context,
        msg: Message,
    ) -> crate::pipeline::HandlerResult {
        self.data
            .lock()
            .unwrap()
            .extend_from_slice(msg.as_buffer().expect("bytes"));
        Ok(())
    }
}

/// Switching auto-read off drops the read it had asked for and nothing served yet (the one
/// at activation), as on TCP: a message that arrives later waits for an explicit read().
#[test]
fn auto_read_off_clears_the_read_it_asked_for() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(1).unwrap();
    let name = "auto-read-off";
    let child: Arc<Mutex<Option<Channel>>> = Arc::default();
    let data: Arc<Mutex<Vec<u8>>> = Arc::default();
    let (kept, read) = (child.clone(), data.clone());
    let server = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .channel(ChannelKind::LocalServer)
        .child_handler(adding("keep", move || {
            Box::new(Keep {
                channel: kept.clone(),
                data: read.clone(),
            })
        }))
        .bind(ChannelAddress::local(name))
        .unwrap();
    connected(&server);
    let client = Bootstrap::new()
        .group(group.clone())
        .channel(ChannelKind::Local)
        .connect(ChannelAddress::local(name))
        .unwrap();
    connected(&client);
    // Activation asked for the first read (auto-read); nothing has arrived to serve it.
    // Switch auto-read off on the loop, after that.
    assert!(wait_until(WAIT, || {
        child
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(Channel::is_active)
    }));
    let accepted = child.lock().unwrap().clone().expect("accepted");
    let ch = accepted.clone();
    let (done, switched) = std::sync::mpsc::channel();
    accepted
        .event_loop()
        .execute(move |_| {
            done.send(ch.set_option(ChannelOption::AutoRead(false)))
                .unwrap()
        })
        .unwrap();
    switched.recv_timeout(WAIT).unwrap().unwrap();
    client
        .channel
        .write_and_flush(Message::copy_from_slice(b"a"), None);
    std::thread::sleep(Duration::from_millis(100));
    assert!(data.lock().unwrap().is_empty(), "read with auto-read off");
    accepted.read();
    assert!(wait_until(WAIT, || *data.lock().unwrap() == b"a"));
    client.channel.close().wait(Some(WAIT)).unwrap();
    server.channel.close().wait(Some(WAIT)).unwrap();
    drop(accepted);
    child.lock().unwrap().take();
    shut_down(&group);
    check.finish();
}

/// Counts the handlers removed (a channel torn down).
struct CountRemoved(Arc<std::sync::atomic::AtomicUsize>);

impl crate::pipeline::ChannelHandler for CountRemoved {
    fn handler_removed(&self, _: &crate::pipeline::Context) -> crate::pipeline::HandlerResult {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// A client that closes before its accepted channel is set up (the server's loop is busy):
/// the child notices the closed peer once it becomes active, and closes (its handlers are
/// removed, once).
#[test]
fn a_child_whose_client_closed_before_it_was_set_up_closes_once_active() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let check = BufferCheck::start();
    let boss = EventLoopGroup::new(1).unwrap();
    let workers = EventLoopGroup::new(1).unwrap();
    let name = "child-of-a-closed-client";
    let removed = Arc::new(AtomicUsize::new(0));
    let counted = removed.clone();
    let server = ServerBootstrap::new()
        .group(boss.clone(), workers.clone())
        .channel(ChannelKind::LocalServer)
        .child_handler(adding("count", move || {
            Box::new(CountRemoved(counted.clone()))
        }))
        .bind(ChannelAddress::local(name))
        .unwrap();
    connected(&server);
    // The server's loop accepts only after the client has come and gone.
    boss.next()
        .execute(|_| std::thread::sleep(Duration::from_millis(200)))
        .unwrap();
    let client = Bootstrap::new()
        .group(workers.clone())
        .channel(ChannelKind::Local)
        .connect(ChannelAddress::local(name))
        .unwrap();
    client.future.wait(Some(WAIT)).unwrap();
    client.channel.close().wait(Some(WAIT)).unwrap();
    assert!(wait_until(WAIT, || removed.load(Ordering::SeqCst) == 1));
    server.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&boss);
    shut_down(&workers);
    assert_eq!(removed.load(Ordering::SeqCst), 1);
    check.finish();
}

/// Counts the channels that became active.
struct CountActive(Arc<std::sync::atomic::AtomicUsize>);

impl crate::pipeline::ChannelHandler for CountActive {
    fn channel_active(&self, ctx: &crate::pipeline::Context) -> crate::pipeline::HandlerResult {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ctx.fire_channel_active();
        Ok(())
    }
}

/// A local server's auto-read gates accepting, as on TCP: with it off, connections wait
/// (their clients connected, as in a listen backlog) until a read() lets a batch of at most
/// 16 through; turning auto-read on issues read(); closing the server closes those waiting.
#[test]
fn a_local_servers_auto_read_gates_accepting() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(2).unwrap();
    let name = "gated-accept";
    let active = Arc::new(AtomicUsize::new(0));
    let counted = active.clone();
    let server = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .channel(ChannelKind::LocalServer)
        .option(ChannelOption::AutoRead(false))
        .child_handler(adding("count", move || {
            Box::new(CountActive(counted.clone()))
        }))
        .bind(ChannelAddress::local(name))
        .unwrap();
    connected(&server);
    let bootstrap = Bootstrap::new()
        .group(group.clone())
        .channel(ChannelKind::Local);
    let connect = || {
        let client = bootstrap.connect(ChannelAddress::local(name)).unwrap();
        connected(&client);
        client.channel
    };
    let settle = || std::thread::sleep(Duration::from_millis(100));
    let mut clients: Vec<Channel> = (0..20).map(|_| connect()).collect();
    settle();
    assert_eq!(
        active.load(Ordering::SeqCst),
        0,
        "accepted with auto-read off"
    );
    // Two reads before the batch is served (both on the loop's thread, in one task)
    // coalesce: one batch.
    let ch = server.channel.clone();
    server
        .channel
        .event_loop()
        .execute(move |_| {
            ch.read();
            ch.read();
        })
        .unwrap();
    assert!(wait_until(WAIT, || active.load(Ordering::SeqCst) == 16));
    settle();
    assert_eq!(active.load(Ordering::SeqCst), 16, "one batch per read()");
    server.channel.read();
    assert!(wait_until(WAIT, || active.load(Ordering::SeqCst) == 20));
    // A read() with nobody waiting lets the next arrival through.
    server.channel.read();
    settle();
    clients.push(connect());
    assert!(wait_until(WAIT, || active.load(Ordering::SeqCst) == 21));
    clients.push(connect());
    settle();
    assert_eq!(active.load(Ordering::SeqCst), 21);
    // Auto-read on issues read(): the waiting one is accepted, and later ones at once.
    server
        .channel
        .set_option(ChannelOption::AutoRead(true))
        .unwrap();
    assert!(wait_until(WAIT, || active.load(Ordering::SeqCst) == 22));
    clients.push(connect());
    assert!(wait_until(WAIT, || active.load(Ordering::SeqCst) == 23));
    // Off again: a new connection waits; the server's close closes it (its client too).
    server
        .channel
        .set_option(ChannelOption::AutoRead(false))
        .unwrap();
    settle();
    let waiting = connect();
    settle();
    assert_eq!(active.load(Ordering::SeqCst), 23);
    server.channel.close().wait(Some(WAIT)).unwrap();
    waiting.close_future().wait(Some(WAIT)).unwrap();
    assert!(!waiting.is_open());
    assert_eq!(active.load(Ordering::SeqCst), 23);
    for client in &clients {
        client.close().wait(Some(WAIT)).unwrap();
    }
    shut_down(&group);
    check.finish();
}

/// An exception that reaches the tail goes to the exception handler of the channel's loop
/// (with the channel as its source) and is counted by that loop only; the channel stays
/// open.
#[test]
fn an_unhandled_exception_goes_to_its_loops_handler() {
    use crate::event_loop::{EventLoop, Failure};
    let check = BufferCheck::start();
    let servers = EventLoopGroup::new(1).unwrap();
    let clients = EventLoopGroup::new(1).unwrap();
    let name = "unhandled-per-loop";
    let server = ServerBootstrap::new()
        .group(servers.clone(), servers.clone())
        .channel(ChannelKind::LocalServer)
        .bind(ChannelAddress::local(name))
        .unwrap();
    connected(&server);
    let client = Bootstrap::new()
        .group(clients.clone())
        .channel(ChannelKind::Local)
        .connect(ChannelAddress::local(name))
        .unwrap();
    connected(&client);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let saw = seen.clone();
    let client_loop = client.channel.event_loop().downgrade(); // the loop keeps the handler
    client
        .channel
        .event_loop()
        .set_exception_handler(Some(Arc::new(
            move |lp: &EventLoop, failure: &Failure, source: &dyn std::any::Any| {
                let own = client_loop.upgrade().is_some_and(|l| l.same(lp));
                let id = source.downcast_ref::<Channel>().map(Channel::id);
                saw.lock().unwrap().push((own, failure.error, id));
            },
        )));
    let server_loop = server.channel.event_loop().clone();
    let (client_before, server_before) = (
        client.channel.event_loop().counters().unhandled_exceptions,
        server_loop.counters().unhandled_exceptions,
    );
    let process_before = crate::pipeline::unhandled_exceptions();
    client
        .channel
        .pipeline()
        .fire_exception_caught(Failure::new(crate::Error::Os(libc::EIO)));
    assert!(wait_until(WAIT, || !seen.lock().unwrap().is_empty()));
    let got = seen.lock().unwrap().pop().unwrap();
    assert!(got.0, "the handler got its own loop");
    assert!(got.1.is_os(libc::EIO));
    assert_eq!(got.2, Some(client.channel.id()));
    let counters = client.channel.event_loop().counters();
    assert_eq!(counters.unhandled_exceptions, client_before + 1);
    assert_eq!(server_loop.counters().unhandled_exceptions, server_before);
    assert!(crate::pipeline::unhandled_exceptions() > process_before);
    assert!(client.channel.is_open());
    client.channel.event_loop().set_exception_handler(None);
    client.channel.close().wait(Some(WAIT)).unwrap();
    server.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&servers);
    shut_down(&clients);
    check.finish();
}
