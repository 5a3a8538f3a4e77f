//! TCP pipeline channels on real loops: echo, backpressure, resets, half-closure, connect
//! failures, shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::support::{
    BufferCheck, Collector, EchoServer, Recorder, adding, connected, entries, log, random_bytes,
    read_peer, shut_down, shut_down_within, wait_until,
};
use crate::channel::{ServerSocketChannel, SocketChannel, SocketOption};
use crate::event_loop::{EventLoopGroup, Promise};
use crate::pipeline::{
    Bootstrap, Buffer, Channel, ChannelAddress, ChannelHandler, ChannelOption, Context,
    HandlerResult, Mask, Message, ServerBootstrap, UserEvent,
};

const WAIT: Duration = Duration::from_secs(20);

fn localhost() -> ChannelAddress {
    ChannelAddress::Inet("127.0.0.1:0".parse().unwrap())
}

fn bound_port(server: &Channel) -> SocketAddr {
    server.local_address().unwrap().inet().unwrap()
}

/// An echo server on `group` whose children read as `manual_read` says.
fn echo_server(group: &EventLoopGroup, manual_read: bool) -> Channel {
    let bound = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .child_option(ChannelOption::AutoRead(!manual_read))
        .child_handler(adding("echo", move || Box::new(EchoServer { manual_read })))
        .bind(localhost())
        .unwrap();
    connected(&bound);
    assert!(bound.channel.is_active());
    bound.channel
}

fn echo_one_mebibyte(manual_read: bool) {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(2).unwrap();
    let server = echo_server(&group, manual_read);
    let data = random_bytes(1 << 20, 7 + manual_read as u64);
    let received = Arc::new(Mutex::new(Vec::new()));
    let collected = received.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .option(ChannelOption::AutoRead(!manual_read))
        .handler(adding("collect", move || {
            Box::new(Collector {
                data: collected.clone(),
                manual_read,
            })
        }))
        .connect(bound_port(&server).into())
        .unwrap();
    connected(&client);
    // Fire-and-forget writes from this thread, 64 KiB each.
    for chunk in data.chunks(64 * 1024) {
        client.channel.write(Message::copy_from_slice(chunk), None);
    }
    client.channel.flush();
    assert!(wait_until(WAIT, || received.lock().unwrap().len() >= data.len()));
    assert!(*received.lock().unwrap() == data, "echoed byte-exact");
    client.channel.close().wait(Some(WAIT)).unwrap();
    server.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
    check.finish();
}

#[test]
fn one_mebibyte_echoes_byte_exact_with_auto_read() {
    echo_one_mebibyte(false);
}

#[test]
fn one_mebibyte_echoes_byte_exact_with_auto_read_off() {
    echo_one_mebibyte(true);
}

#[test]
fn a_connection_sees_its_events_in_order_each_once() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(1).unwrap();
    let server = echo_server(&group, false);
    let log = log();
    let l = log.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .handler(adding("r", move || {
            Box::new(Recorder {
                name: "r",
                log: l.clone(),
            })
        }))
        .connect(bound_port(&server).into())
        .unwrap();
    connected(&client);
    client
        .channel
        .write_and_flush(Message::copy_from_slice(b"ping"), None);
    assert!(wait_until(WAIT, || entries(&log)
        .contains(&"r:read_complete".to_string())));
    // The server closes its side: end of stream closes the client (no half-closure).
    server.close().wait(Some(WAIT)).unwrap();
    let close_future = client.channel.close_future();
    client.channel.close();
    assert!(close_future.wait(Some(WAIT)).unwrap());
    let seen = entries(&log);
    let order: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|s| {
            !s.ends_with(":read")
                && !s.ends_with(":read_complete")
                && *s != "r:write"
                && *s != "r:flush"
                && *s != "r:close"
        })
        .collect();
    assert_eq!(
        order,
        [
            "r:added",
            "r:registered",
            "r:active",
            "r:inactive",
            "r:unregistered",
            "r:removed"
        ]
    );
    shut_down(&group);
    check.finish();
}

#[test]
fn a_refused_connect_fails_with_the_os_error_and_never_activates() {
    let group = EventLoopGroup::new(1).unwrap();
    let addr = {
        let listener = ServerSocketChannel::open().unwrap();
        listener.bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        listener.local_address().unwrap().unwrap()
    }; // closed: nothing listens there now
    let log = log();
    let l = log.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .handler(adding("r", move || {
            Box::new(Recorder {
                name: "r",
                log: l.clone(),
            })
        }))
        .connect(addr.into())
        .unwrap();
    assert!(client.future.wait(Some(WAIT)).unwrap());
    let cause = client.future.cause().unwrap();
    assert!(cause.is_os(libc::ECONNREFUSED), "{cause}");
    assert!(client.channel.close_future().wait(Some(WAIT)).unwrap());
    let seen = entries(&log);
    assert!(!seen.contains(&"r:active".to_string()), "{seen:?}");
    assert!(!seen.contains(&"r:inactive".to_string()), "{seen:?}");
    assert!(seen.contains(&"r:unregistered".to_string()), "{seen:?}");
    shut_down(&group);
}

#[test]
fn a_connect_that_gets_no_answer_times_out() {
    // A listener whose accept queue is full drops further handshakes, so a connect to it
    // waits until its timeout.
    let listener = ServerSocketChannel::open().unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let s = SocketChannel::open().unwrap();
        s.configure_blocking(false).unwrap();
        let _ = s.connect(addr);
        fillers.push(s);
    }
    std::thread::sleep(Duration::from_millis(50));
    let group = EventLoopGroup::new(1).unwrap();
    let client = Bootstrap::new()
        .group(group.clone())
        .option(ChannelOption::ConnectTimeout(Duration::from_millis(300)))
        .connect(addr.into())
        .unwrap();
    assert!(client.future.wait(Some(WAIT)).unwrap());
    let cause = client.future.cause().expect("the connect failed");
    assert!(cause.is_os(libc::ETIMEDOUT), "{cause}");
    assert!(client.channel.close_future().wait(Some(WAIT)).unwrap());
    assert!(!client.channel.is_active());
    shut_down(&group);
    drop(fillers);
}

/// Writes 16 KiB chunks while the channel is writable, resuming on writability events;
/// records the most bytes ever queued and the events.
struct Flood {
    chunk: Buffer,
    max_queued: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
    limit: usize,
    events: super::support::Log,
}

impl Flood {
    fn pump(&self, ctx: &Context) {
        let ch = ctx.channel();
        while ch.is_writable() && self.written.load(Ordering::SeqCst) < self.limit {
            ctx.write(Message::Buffer(self.chunk.clone()), None);
            self.written.fetch_add(self.chunk.len(), Ordering::SeqCst);
            self.max_queued
                .fetch_max(ch.queued_bytes(), Ordering::SeqCst);
        }
        ctx.flush();
    }
}

impl ChannelHandler for Flood {
    fn mask(&self) -> Mask {
        Mask::ACTIVE | Mask::WRITABILITY_CHANGED
    }
    fn channel_active(&self, ctx: &Context) -> HandlerResult {
        self.pump(ctx);
        Ok(())
    }
    fn channel_writability_changed(&self, ctx: &Context) -> HandlerResult {
        let writable = ctx.channel().is_writable();
        self.events.lock().unwrap().push(writable.to_string());
        if writable {
            self.pump(ctx);
        }
        Ok(())
    }
}

#[test]
fn a_reader_that_never_reads_keeps_the_writer_bounded() {
    let check = BufferCheck::start();
    let listener = ServerSocketChannel::open().unwrap();
    listener.set_option(SocketOption::RcvBuf, 4096).unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let group = EventLoopGroup::new(1).unwrap();
    let max_queued = Arc::new(AtomicUsize::new(0));
    let written = Arc::new(AtomicUsize::new(0));
    let events = log();
    let limit = 4 << 20;
    let (m, w, e) = (max_queued.clone(), written.clone(), events.clone());
    let chunk = Buffer::copy_from_slice(&[42u8; 16 * 1024]);
    let client = Bootstrap::new()
        .group(group.clone())
        .option(ChannelOption::SoSndBuf(4096))
        .handler(adding("flood", move || {
            Box::new(Flood {
                chunk: chunk.clone(),
                max_queued: m.clone(),
                written: w.clone(),
                limit,
                events: e.clone(),
            })
        }))
        .connect(addr.into())
        .unwrap();
    connected(&client);
    let peer = listener.accept().unwrap().unwrap();
    // The writer stops at the high mark and stays there while nobody reads.
    assert!(wait_until(WAIT, || entries(&events)
        .first()
        .map(String::as_str)
        == Some("false")));
    std::thread::sleep(Duration::from_millis(100));
    let high = client.channel.water_marks().1;
    let bound = high + 16 * 1024 + crate::pipeline::ENTRY_OVERHEAD;
    assert!(
        max_queued.load(Ordering::SeqCst) <= bound,
        "queued at most the high mark plus one write"
    );
    assert!(written.load(Ordering::SeqCst) < limit);
    // Now read everything: writability comes back, the rest flows, the events alternate.
    let (got, _) = read_peer(&peer, limit, WAIT);
    assert_eq!(got, limit);
    // One event per crossing; each reads the writability of its moment, so a crossing
    // undone before its event ran shows twice the same value. The first saw the writer
    // stopped, and the writer got an event after each stop to go on (else it would have
    // stalled before writing everything).
    let seen = entries(&events);
    assert!(seen.len() >= 2, "{seen:?}");
    assert_eq!(seen[0], "false", "{seen:?}");
    assert!(wait_until(WAIT, || entries(&events)
        .last()
        .map(String::as_str)
        == Some("true")));
    client.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
    check.finish();
}

#[test]
fn a_message_that_is_not_a_buffer_fails_its_write_at_a_tcp_head() {
    let group = EventLoopGroup::new(1).unwrap();
    let server = echo_server(&group, false);
    let client = Bootstrap::new()
        .group(group.clone())
        .connect(bound_port(&server).into())
        .unwrap();
    connected(&client);
    let promise = client.channel.new_promise();
    client
        .channel
        .write_and_flush(Message::user("not bytes"), Some(promise.clone()));
    assert!(promise.wait(Some(WAIT)).unwrap());
    assert_eq!(
        promise.cause(),
        Some(crate::ErrorKind::InvalidArgument.into())
    );
    assert!(client.channel.is_open());
    client.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
}

#[test]
fn a_peer_reset_fails_each_queued_write_once_without_sigpipe() {
    let check = BufferCheck::start();
    let listener = ServerSocketChannel::open().unwrap();
    listener.set_option(SocketOption::RcvBuf, 4096).unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let group = EventLoopGroup::new(1).unwrap();
    let client = Bootstrap::new()
        .group(group.clone())
        .option(ChannelOption::SoSndBuf(4096))
        .connect(addr.into())
        .unwrap();
    connected(&client);
    let peer = listener.accept().unwrap().unwrap();
    // Writes queue up behind a peer that does not read...
    let mut promises: Vec<Promise> = Vec::new();
    let failures = Arc::new(AtomicUsize::new(0));
    for _ in 0..64 {
        let p = client.channel.new_promise();
        let f = failures.clone();
        p.add_listener(Box::new(move |p: &Promise| {
            if !p.is_success() {
                f.fetch_add(1, Ordering::SeqCst);
            }
        }));
        client
            .channel
            .write_and_flush(Message::copy_from_slice(&[1u8; 32 * 1024]), Some(p.clone()));
        promises.push(p);
    }
    // (once the loop has taken them into the channel's outbound buffer)...
    let taken = client.channel.event_loop().submit(|_| Ok(None)).unwrap();
    assert!(taken.wait(Some(WAIT)).unwrap());
    assert!(client.channel.queued_bytes() > 1 << 20);
    // ...then it resets the connection.
    peer.set_option(SocketOption::Linger, 0).unwrap();
    peer.close();
    assert!(client.channel.close_future().wait(Some(WAIT)).unwrap());
    for p in &promises {
        assert!(p.wait(Some(WAIT)).unwrap());
    }
    let failed: Vec<_> = promises.iter().filter_map(Promise::cause).collect();
    assert!(!failed.is_empty());
    for cause in &failed {
        assert!(
            cause.is_os(libc::ECONNRESET) || cause.is_os(libc::EPIPE),
            "{cause}"
        );
    }
    // Each failed once: one listener call each.
    assert!(wait_until(WAIT, || failures.load(Ordering::SeqCst) == failed.len()));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(failures.load(Ordering::SeqCst), failed.len());
    assert_eq!(client.channel.queued_bytes(), 0);
    shut_down(&group);
    check.finish();
}

/// Records user events and answers an input shutdown with a reply.
struct HalfClose {
    log: super::support::Log,
}

impl ChannelHandler for HalfClose {
    fn user_event_triggered(&self, ctx: &Context, event: UserEvent) -> HandlerResult {
        self.log.lock().unwrap().push(format!("{event:?}"));
        if matches!(event, UserEvent::InputShutdown) {
            ctx.write_and_flush(Message::copy_from_slice(b"bye"), None);
        }
        Ok(())
    }
    fn channel_inactive(&self, _: &Context) -> HandlerResult {
        self.log.lock().unwrap().push("inactive".into());
        Ok(())
    }
}

fn half_closure(allowed: bool) {
    let check = BufferCheck::start();
    let listener = ServerSocketChannel::open().unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let group = EventLoopGroup::new(1).unwrap();
    let log = log();
    let l = log.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .option(ChannelOption::AllowHalfClosure(allowed))
        .handler(adding("half", move || {
            Box::new(HalfClose { log: l.clone() })
        }))
        .connect(addr.into())
        .unwrap();
    connected(&client);
    let peer = listener.accept().unwrap().unwrap();
    peer.shutdown_output().unwrap();
    if allowed {
        assert!(wait_until(WAIT, || entries(&log)
            .contains(&"InputShutdown".to_string())));
        assert!(client.channel.is_open() && client.channel.is_active());
        assert_eq!(read_peer(&peer, 3, WAIT).0, 3, "the reply (\"bye\") came");
        client.channel.close().wait(Some(WAIT)).unwrap();
    } else {
        assert!(client.channel.close_future().wait(Some(WAIT)).unwrap());
        assert_eq!(entries(&log), ["inactive"]);
    }
    shut_down(&group);
    check.finish();
}

#[test]
fn end_of_stream_with_half_closure_allowed_keeps_the_channel_writable() {
    half_closure(true);
}

#[test]
fn end_of_stream_without_half_closure_closes() {
    half_closure(false);
}

#[test]
fn writes_from_another_thread_keep_their_order() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(2).unwrap();
    let server = echo_server(&group, false);
    let received = Arc::new(Mutex::new(Vec::new()));
    let collected = received.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .handler(adding("collect", move || {
            Box::new(Collector {
                data: collected.clone(),
                manual_read: false,
            })
        }))
        .connect(bound_port(&server).into())
        .unwrap();
    connected(&client);
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let ch = client.channel.clone();
            std::thread::spawn(move || {
                for i in 0..2000u32 {
                    ch.write_and_flush(Message::copy_from_slice(&i.to_be_bytes()), None);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert!(wait_until(WAIT, || received.lock().unwrap().len() >= 2 * 2000 * 4));
    // Each writer's numbers arrive in its order: every number shows up twice, and the
    // sequence of first occurrences and of second occurrences each count up.
    let data = received.lock().unwrap().clone();
    let mut seen = vec![0u8; 2000];
    let mut expected = [0u32; 2];
    for word in data.chunks(4) {
        let n = u32::from_be_bytes(word.try_into().unwrap());
        let copy = seen[n as usize] as usize;
        assert!(copy < 2);
        assert_eq!(n, expected[copy], "out of order");
        expected[copy] += 1;
        seen[n as usize] += 1;
    }
    client.channel.close().wait(Some(WAIT)).unwrap();
    server.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
    check.finish();
}

/// A client on a fresh group connected to a raw listener with small buffers on both
/// sides, with a recorder; the accepted raw socket.
fn client_to_raw_peer(
    group: &EventLoopGroup,
    log: &super::support::Log,
) -> (Channel, SocketChannel) {
    let listener = ServerSocketChannel::open().unwrap();
    listener.set_option(SocketOption::RcvBuf, 4096).unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let l = log.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .option(ChannelOption::SoSndBuf(4096))
        .handler(adding("r", move || {
            Box::new(Recorder {
                name: "r",
                log: l.clone(),
            })
        }))
        .connect(addr.into())
        .unwrap();
    connected(&client);
    let peer = listener.accept().unwrap().unwrap();
    (client.channel, peer)
}

/// Queues `count` flushed writes of 64 KiB; their promises.
fn queue_writes(channel: &Channel, count: usize) -> Vec<Promise> {
    (0..count)
        .map(|_| {
            let p = channel.new_promise();
            channel.write_and_flush(Message::copy_from_slice(&[7u8; 64 * 1024]), Some(p.clone()));
            p
        })
        .collect()
}

fn assert_closed_once(log: &super::support::Log) {
    let seen = entries(log);
    for event in ["r:inactive", "r:unregistered", "r:removed"] {
        assert_eq!(seen.iter().filter(|s| *s == event).count(), 1, "{seen:?}");
    }
}

#[test]
fn a_group_shutdown_closes_live_channels_once_and_fails_what_its_deadline_left() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(1).unwrap();
    let server = echo_server(&group, false);
    let log = log();
    let (client, _peer) = client_to_raw_peer(&group, &log); // the peer never reads
    let promises = queue_writes(&client, 32);
    assert!(wait_until(WAIT, || client.queued_bytes() > 0));
    shut_down_within(&group, Duration::from_millis(300));
    assert!(!client.is_open() && !server.is_open());
    assert!(client.close_future().is_done());
    assert!(
        promises.iter().all(Promise::is_done),
        "no write left pending"
    );
    assert!(
        promises
            .iter()
            .any(|p| p.cause() == Some(crate::ErrorKind::Closed.into()))
    );
    assert_closed_once(&log);
    check.finish();
}

#[test]
fn a_group_shutdown_flushes_queued_writes_until_its_deadline() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(1).unwrap();
    let log = log();
    let (client, peer) = client_to_raw_peer(&group, &log);
    let promises = queue_writes(&client, 32);
    let taken = client.event_loop().submit(|_| Ok(None)).unwrap();
    assert!(taken.wait(Some(WAIT)).unwrap());
    // The peer reads everything, slowly at first, until the close.
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        read_peer(&peer, usize::MAX, WAIT)
    });
    shut_down_within(&group, Duration::from_secs(10));
    assert!(
        promises.iter().all(Promise::is_success),
        "all written before the close"
    );
    assert_eq!(reader.join().unwrap(), (32 * 64 * 1024, true));
    assert_closed_once(&log);
    check.finish();
}

#[test]
fn a_host_name_is_resolved_off_the_loop_and_ipv6_loopback_works() {
    let check = BufferCheck::start();
    let group = EventLoopGroup::new(1).unwrap();
    let server = echo_server(&group, false);
    let port = bound_port(&server).port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let collected = received.clone();
    let client = Bootstrap::new()
        .group(group.clone())
        .handler(adding("collect", move || {
            Box::new(Collector {
                data: collected.clone(),
                manual_read: false,
            })
        }))
        .connect_host("localhost", port)
        .unwrap();
    assert!(client.future.wait(Some(WAIT)).unwrap());
    if client.future.is_success() {
        client
            .channel
            .write_and_flush(Message::copy_from_slice(b"by name"), None);
        assert!(wait_until(WAIT, || received.lock().unwrap().len() == 7));
        client.channel.close().wait(Some(WAIT)).unwrap();
    } else {
        // "localhost" may name ::1 first while the server listens on 127.0.0.1 only.
        assert!(client.future.cause().unwrap().is_os(libc::ECONNREFUSED));
    }
    // IPv6 loopback, where the machine has it.
    if let Ok(bound) = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .child_handler(adding("echo", || {
            Box::new(EchoServer { manual_read: false })
        }))
        .bind(ChannelAddress::Inet("[::1]:0".parse().unwrap()))
    {
        assert!(bound.future.wait(Some(WAIT)).unwrap());
        if bound.future.is_success() {
            let six = Bootstrap::new()
                .group(group.clone())
                .connect(bound_port(&bound.channel).into())
                .unwrap();
            connected(&six);
            assert!(
                matches!(six.channel.remote_address(), Some(ChannelAddress::Inet(a)) if a.is_ipv6())
            );
            six.channel.close().wait(Some(WAIT)).unwrap();
            bound.channel.close().wait(Some(WAIT)).unwrap();
        }
    }
    server.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
    check.finish();
}

#[test]
fn writes_before_the_connection_fail_and_after_shutdown_output_fail_without_closing() {
    let check = BufferCheck::start();
    let listener = ServerSocketChannel::open().unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_address().unwrap().unwrap();
    let group = EventLoopGroup::new(1).unwrap();
    let channel = crate::pipeline::TcpChannel::open(group.next()).unwrap();
    assert!(channel.register().wait(Some(WAIT)).unwrap());
    let early = channel.new_promise();
    channel.write_and_flush(Message::copy_from_slice(b"early"), Some(early.clone()));
    assert!(early.wait(Some(WAIT)).unwrap());
    assert_eq!(
        early.cause(),
        Some(crate::ErrorKind::NotYetConnected.into())
    );
    assert!(channel.is_open());
    let connecting = channel.connect(addr.into());
    assert!(connecting.wait(Some(WAIT)).unwrap() && connecting.is_success());
    let peer = listener.accept().unwrap().unwrap();
    let log = log();
    let l = log.clone();
    channel
        .pipeline()
        .add_last("r", Box::new(Recorder { name: "r", log: l }))
        .unwrap();
    let shut = channel.shutdown_output();
    assert!(shut.wait(Some(WAIT)).unwrap() && shut.is_success());
    assert_eq!(
        read_peer(&peer, 1, WAIT),
        (0, true),
        "the peer reads end of stream"
    );
    let late = channel.new_promise();
    channel.write_and_flush(Message::copy_from_slice(b"late"), Some(late.clone()));
    assert!(late.wait(Some(WAIT)).unwrap());
    assert_eq!(late.cause(), Some(crate::ErrorKind::Shutdown.into()));
    assert!(wait_until(WAIT, || entries(&log)
        .contains(&"r:event:OutputShutdown".to_string())));
    assert!(channel.is_open() && channel.is_active());
    // The input side too: its event, and the channel stays open.
    let shut = channel.shutdown_input();
    assert!(shut.wait(Some(WAIT)).unwrap() && shut.is_success());
    assert!(wait_until(WAIT, || entries(&log)
        .contains(&"r:event:InputShutdown".to_string())));
    assert!(channel.is_open());
    // A disconnect closes a TCP channel.
    let gone = channel.new_promise();
    channel.pipeline().disconnect(Some(gone.clone()));
    assert!(gone.wait(Some(WAIT)).unwrap() && gone.is_success());
    assert!(!channel.is_open());
    shut_down(&group);
    check.finish();
}

#[test]
fn a_server_with_auto_read_off_accepts_one_batch_per_read() {
    let group = EventLoopGroup::new(1).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let server = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .option(ChannelOption::AutoRead(false))
        .child_handler(move |_: &Channel| {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .bind(localhost())
        .unwrap();
    connected(&server);
    let addr = bound_port(&server.channel);
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let c = SocketChannel::open().unwrap();
            c.connect(addr).unwrap(); // the kernel completes the handshake
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "nothing accepted without a read"
    );
    server.channel.read();
    assert!(wait_until(WAIT, || accepted.load(Ordering::SeqCst) == 3));
    // Turning auto-read on asks for reads by itself.
    let late = SocketChannel::open().unwrap();
    late.connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    server
        .channel
        .set_option(ChannelOption::AutoRead(true))
        .unwrap();
    assert!(wait_until(WAIT, || accepted.load(Ordering::SeqCst) == 4));
    drop(clients);
    drop(late);
    server.channel.close().wait(Some(WAIT)).unwrap();
    shut_down(&group);
}

#[test]
fn options_and_child_options_reach_the_sockets() {
    let group = EventLoopGroup::new(1).unwrap();
    let children: Arc<Mutex<Vec<Channel>>> = Arc::new(Mutex::new(Vec::new()));
    let seen = children.clone();
    let bootstrap = ServerBootstrap::new()
        .group(group.clone(), group.clone())
        .option(ChannelOption::SoReusePort(true))
        .option(ChannelOption::SoBacklog(8))
        .child_option(ChannelOption::SoKeepAlive(true))
        .child_option(ChannelOption::TcpNoDelay(false))
        .child_option(ChannelOption::WriteBufferWaterMark { low: 10, high: 20 })
        .child_handler(move |ch: &Channel| {
            seen.lock().unwrap().push(ch.clone());
            Ok(())
        });
    let first = bootstrap.bind(localhost()).unwrap();
    connected(&first);
    // SO_REUSEPORT was set before the bind: a second server binds the same port.
    let port = bound_port(&first.channel);
    let second = bootstrap.bind(ChannelAddress::Inet(port)).unwrap();
    connected(&second);
    assert_eq!(
        first
            .channel
            .socket_option(SocketOption::ReusePort)
            .unwrap(),
        1
    );
    let client = Bootstrap::new()
        .group(group.clone())
        .option(ChannelOption::SoKeepAlive(true))
        .connect(port.into())
        .unwrap();
    connected(&client);
    assert_eq!(
        client
            .channel
            .socket_option(SocketOption::KeepAlive)
            .unwrap(),
        1
    );
    assert_eq!(
        client
            .channel
            .socket_option(SocketOption::TcpNoDelay)
            .unwrap(),
        1
    );
    assert!(wait_until(WAIT, || !children.lock().unwrap().is_empty()));
    let child = children.lock().unwrap()[0].clone();
    assert_eq!(child.socket_option(SocketOption::KeepAlive).unwrap(), 1);
    assert_eq!(child.socket_option(SocketOption::TcpNoDelay).unwrap(), 0);
    assert_eq!(child.water_marks(), (10, 20));
    assert!(
        child
            .parent()
            .is_some_and(|p| p.same(&first.channel) || p.same(&second.channel))
    );
    // Bad water marks are refused.
    assert_eq!(
        child.set_option(ChannelOption::WriteBufferWaterMark { low: 30, high: 20 }),
        Err(crate::ErrorKind::InvalidArgument.into())
    );
    client.channel.close().wait(Some(WAIT)).unwrap();
    first.channel.close().wait(Some(WAIT)).unwrap();
    second.channel.close().wait(Some(WAIT)).unwrap();
    drop(child);
    children.lock().unwrap().clear();
    shut_down(&group);
}

#[test]
fn a_close_after_the_loop_terminated_still_closes_an_unregistered_channel() {
    let group = EventLoopGroup::new(1).unwrap();
    let channel = crate::pipeline::TcpChannel::open(group.next()).unwrap();
    let log = log();
    let l = log.clone();
    std::thread::spawn({
        let channel = channel.clone();
        move || {
            channel
                .pipeline()
                .add_last("r", Box::new(Recorder { name: "r", log: l }))
                .unwrap();
        }
    })
    .join()
    .unwrap();
    shut_down(&group);
    // Nobody runs the channel any more: the close happens on this thread.
    let closed = channel.close();
    assert!(closed.wait(Some(WAIT)).unwrap() && closed.is_success());
    assert!(!channel.is_open());
    assert!(channel.close_future().is_success());
    assert_eq!(entries(&log), ["r:added", "r:removed"]);
}
