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
