//! The pipeline on an embedded channel: event order, exception routing, pipeline changes,
//! closes from inside events, the virtual clock.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::support::{BufferCheck, Recorder, entries, log};
use crate::ErrorKind;
use crate::event_loop::{Failure, Promise};
use crate::pipeline::{
    ChannelHandler, ChannelOption, Context, EmbeddedChannel, HandlerResult, Mask, Message,
};

fn text(msg: &Message) -> String {
    String::from_utf8(msg.as_buffer().unwrap().to_vec()).unwrap()
}

#[test]
fn events_come_in_order_each_once() {
    let check = BufferCheck::start();
    let log = log();
    let ch = EmbeddedChannel::new(vec![
        Box::new(Recorder {
            name: "a",
            log: log.clone(),
        }),
        Box::new(Recorder {
            name: "b",
            log: log.clone(),
        }),
    ])
    .unwrap();
    // The binding slots and the attachment are apart from each other.
    ch.channel().set_binding(Some(Box::new(1u8)));
    ch.channel().set_attachment(Some(Box::new("user")));
    let ctx = ch.pipeline().get("handler-0").unwrap();
    ctx.set_binding(Some(Box::new(2u8)));
    assert_eq!(
        ch.channel()
            .with_binding(|b| b.and_then(|b| b.downcast_ref::<u8>().copied())),
        Some(1)
    );
    assert_eq!(
        ctx.with_binding(|b| b.and_then(|b| b.downcast_ref::<u8>().copied())),
        Some(2)
    );
    assert_eq!(
        ch.channel()
            .with_attachment(|a| a.and_then(|a| a.downcast_ref::<&str>().copied())),
        Some("user")
    );
    assert!(ch.write_inbound([Message::copy_from_slice(b"hi")]).unwrap());
    assert_eq!(text(&ch.read_inbound().unwrap()), "hi");
    let closed = ch.channel().close_future();
    assert!(!ch.finish().unwrap());
    assert!(closed.is_success());
    let seen = entries(&log);
    assert_eq!(
        seen,
        [
            "a:added",
            "b:added",
            "a:registered",
            "b:registered",
            "a:active",
            "b:active",
            "a:read",
            "b:read",
            "a:read_complete",
            "b:read_complete",
            "b:close",
            "a:close",
            "a:inactive",
            "b:inactive",
            "a:unregistered",
            "b:unregistered",
            "b:removed",
            "a:removed",
        ]
    );
    drop(ch);
    check.finish();
}

/// Fails its inbound callbacks and its exception callback when told.
struct Failing {
    fail_exception: bool,
    seen: Arc<AtomicUsize>,
}

impl ChannelHandler for Failing {
    fn channel_read(&self, _: &Context, _msg: Message) -> HandlerResult {
        Err(Failure::new(crate::Error::Os(libc::EPROTO)))
    }
    fn exception_caught(&self, ctx: &Context, failure: Failure) -> HandlerResult {
        self.seen.fetch_add(1, Ordering::SeqCst);
        if self.fail_exception {
            return Err(failure);
        }
        ctx.fire_exception_caught(failure);
        Ok(())
    }
    fn write(&self, _: &Context, _msg: Message, _: Option<Promise>) -> HandlerResult {
        Err(Failure::new(crate::Error::Os(libc::EMSGSIZE)))
    }
}

#[test]
fn a_failing_read_goes_to_the_same_handlers_exception_callback_then_the_tail() {
    let check = BufferCheck::start();
    let seen = Arc::new(AtomicUsize::new(0));
    let ch = EmbeddedChannel::new(vec![Box::new(Failing {
        fail_exception: false,
        seen: seen.clone(),
    })])
    .unwrap();
    let err = ch
        .write_inbound([Message::copy_from_slice(b"x")])
        .unwrap_err();
    assert!(err.error.is_os(libc::EPROTO));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert!(ch.check_exception().is_ok(), "reported once");
    assert!(ch.channel().is_open(), "the tail leaves the channel open");
    // A failing write fails its promise; the exception event is not fired for it.
    let promise = ch.channel().new_promise();
    ch.channel()
        .write_and_flush(Message::copy_from_slice(b"y"), Some(promise.clone()));
    assert!(promise.cause().unwrap().is_os(libc::EMSGSIZE));
    assert!(ch.check_exception().is_ok());
    // Without a promise it fires the exception event.
    ch.channel()
        .write_and_flush(Message::copy_from_slice(b"z"), None);
    ch.run_pending_tasks();
    assert!(
        ch.check_exception()
            .unwrap_err()
            .error
            .is_os(libc::EMSGSIZE)
    );
    ch.finish().unwrap();
    drop(ch);
    check.finish();
}

/// Removes itself inside its read, then fails it.
struct RemoveThenFail {
    seen: Arc<AtomicUsize>,
}

impl ChannelHandler for RemoveThenFail {
    fn channel_read(&self, ctx: &Context, _msg: Message) -> HandlerResult {
        ctx.pipeline().remove_context(ctx).unwrap();
        Err(Failure::new(crate::Error::Os(libc::EPROTO)))
    }
    fn exception_caught(&self, ctx: &Context, failure: Failure) -> HandlerResult {
        self.seen.fetch_add(1, Ordering::SeqCst);
        ctx.fire_exception_caught(failure);
        Ok(())
    }
}

#[test]
fn a_handler_that_removed_itself_gets_not_its_own_failure_the_next_one_does() {
    let check = BufferCheck::start();
    let seen = Arc::new(AtomicUsize::new(0));
    let log = log();
    let ch = EmbeddedChannel::new(vec![
        Box::new(RemoveThenFail { seen: seen.clone() }),
        Box::new(Recorder {
            name: "r",
            log: log.clone(),
        }),
    ])
    .unwrap();
    let err = ch
        .write_inbound([Message::copy_from_slice(b"x")])
        .unwrap_err();
    assert!(err.error.is_os(libc::EPROTO));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "no event after handler_removed"
    );
    let exceptions: Vec<String> = entries(&log)
        .into_iter()
        .filter(|e| e.starts_with("r:exception"))
        .collect();
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    ch.finish().unwrap();
    drop(ch);
    check.finish();
}

#[test]
fn a_failing_exception_callback_is_reported_not_looped() {
    let seen = Arc::new(AtomicUsize::new(0));
    let before = crate::pipeline::unhandled_exceptions();
    let ch = EmbeddedChannel::new(vec![Box::new(Failing {
        fail_exception: true,
        seen: seen.clone(),
    })])
    .unwrap();
    ch.write_inbound([Message::user(7u32)]).unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert!(crate::pipeline::unhandled_exceptions() > before);
    ch.finish().unwrap();
}

/// On its first read: removes itself, adds a recorder after the "next" handler, and passes
/// the message on.
struct Rewirer {
    log: super::support::Log,
}

impl ChannelHandler for Rewirer {
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        let pipeline = ctx.pipeline();
        pipeline
            .add_last(
                "late",
                Box::new(Recorder {
                    name: "late",
                    log: self.log.clone(),
                }),
            )
            .unwrap();
        pipeline.remove_context(ctx).unwrap();
        assert!(ctx.is_removed());
        ctx.fire_channel_read(msg);
        Ok(())
    }
}

#[test]
fn the_pipeline_changes_inside_an_event() {
    let check = BufferCheck::start();
    let log = log();
    let ch = EmbeddedChannel::new(vec![Box::new(Rewirer { log: log.clone() })]).unwrap();
    assert_eq!(ch.pipeline().names(), ["handler-0"]);
    ch.write_inbound([
        Message::copy_from_slice(b"1"),
        Message::copy_from_slice(b"2"),
    ])
    .unwrap();
    assert_eq!(ch.pipeline().names(), ["late"]);
    // The first message went on past the removed handler to the new one; so did the second.
    assert_eq!(
        entries(&log),
        ["late:added", "late:read", "late:read", "late:read_complete"]
    );
    assert_eq!(ch.inbound_len(), 2);
    // Names are unique; unknown bases fail.
    let dup = ch
        .pipeline()
        .add_first("late", Box::new(Rewirer { log: log.clone() }));
    assert_eq!(dup.unwrap_err(), ErrorKind::InvalidArgument.into());
    assert!(
        ch.pipeline()
            .add_before("nope", "x", Box::new(Rewirer { log: log.clone() }))
            .is_err()
    );
    ch.pipeline()
        .replace(
            "late",
            "later",
            Box::new(Recorder {
                name: "later",
                log: log.clone(),
            }),
        )
        .unwrap();
    assert_eq!(ch.pipeline().names(), ["later"]);
    assert!(ch.finish_and_release_all().unwrap());
    drop(ch);
    check.finish();
}

/// Closes the channel from inside the event named `at`.
struct CloseIn {
    at: &'static str,
}

impl ChannelHandler for CloseIn {
    fn channel_active(&self, ctx: &Context) -> HandlerResult {
        if self.at == "active" {
            ctx.close(None);
        }
        ctx.fire_channel_active();
        Ok(())
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        if self.at == "read" {
            ctx.channel().close();
        }
        ctx.fire_channel_read(msg);
        Ok(())
    }
    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        if self.at == "read_complete" {
            ctx.close(None);
        }
        ctx.fire_channel_read_complete();
        Ok(())
    }
    fn channel_inactive(&self, ctx: &Context) -> HandlerResult {
        ctx.close(None);
        ctx.fire_channel_inactive();
        Ok(())
    }
    fn channel_unregistered(&self, ctx: &Context) -> HandlerResult {
        ctx.close(None);
        ctx.fire_channel_unregistered();
        Ok(())
    }
    fn handler_removed(&self, ctx: &Context) -> HandlerResult {
        ctx.close(None);
        Ok(())
    }
}

#[test]
fn close_inside_every_event_is_safe_and_each_event_comes_once() {
    let check = BufferCheck::start();
    for at in ["active", "read", "read_complete", "none"] {
        let log = log();
        let ch = EmbeddedChannel::new(vec![
            Box::new(CloseIn { at }),
            Box::new(Recorder {
                name: "r",
                log: log.clone(),
            }),
        ])
        .unwrap();
        let _ = ch.write_inbound([Message::copy_from_slice(b"m")]);
        ch.finish_and_release_all().unwrap();
        let seen = entries(&log);
        for event in ["r:registered", "r:inactive", "r:unregistered", "r:removed"] {
            assert_eq!(
                seen.iter().filter(|s| *s == event).count(),
                1,
                "{at}: {seen:?}"
            );
        }
        let inactive = seen.iter().position(|s| s == "r:inactive").unwrap();
        assert!(
            seen[inactive..].iter().all(|s| !s.ends_with(":read")),
            "{at}: {seen:?}"
        );
        assert!(ch.channel().close_future().is_success());
    }
    check.finish();
}

#[test]
fn a_close_inside_a_write_listener_is_safe() {
    let check = BufferCheck::start();
    let ch = EmbeddedChannel::new(vec![]).unwrap();
    let promise = ch.channel().new_promise();
    let channel = ch.channel().clone();
    promise.add_listener(Box::new(move |_: &Promise| {
        channel.close();
    }));
    ch.write_outbound([Message::copy_from_slice(b"bye")])
        .unwrap();
    ch.channel()
        .write_and_flush(Message::copy_from_slice(b"last"), Some(promise.clone()));
    assert!(!promise.is_done() || promise.is_success());
    ch.run_pending_tasks();
    assert!(promise.is_success());
    assert!(!ch.channel().is_open());
    assert_eq!(ch.outbound_len(), 2);
    ch.finish_and_release_all().unwrap();
    drop(ch);
    check.finish();
}

/// Counts writability events and what `is_writable` said each time.
struct Writability {
    log: super::support::Log,
}

impl ChannelHandler for Writability {
    fn mask(&self) -> Mask {
        Mask::WRITABILITY_CHANGED
    }
    fn channel_writability_changed(&self, ctx: &Context) -> HandlerResult {
        self.log
            .lock()
            .unwrap()
            .push(format!("{}", ctx.channel().is_writable()));
        Ok(())
    }
}

#[test]
fn writability_flips_at_the_call_and_the_event_follows_later_once_per_crossing() {
    let check = BufferCheck::start();
    let log = log();
    let ch = EmbeddedChannel::new(vec![Box::new(Writability { log: log.clone() })]).unwrap();
    ch.channel()
        .set_option(ChannelOption::WriteBufferWaterMark {
            low: 100,
            high: 200,
        })
        .unwrap();
    let channel = ch.channel();
    channel.write(Message::copy_from_slice(&[0; 100]), None);
    assert!(channel.is_writable());
    let entry = 100 + crate::pipeline::ENTRY_OVERHEAD;
    assert_eq!(channel.queued_bytes(), entry);
    assert_eq!(channel.bytes_before_unwritable(), 201 - entry);
    assert_eq!(channel.bytes_before_writable(), 0);
    channel.write(Message::copy_from_slice(&[0; 100]), None);
    assert!(!channel.is_writable(), "flipped inside the write");
    assert_eq!(channel.bytes_before_unwritable(), 0);
    assert_eq!(channel.bytes_before_writable(), 2 * entry + 1 - 100);
    assert!(entries(&log).is_empty(), "the event comes later");
    channel.write(Message::copy_from_slice(&[0; 100]), None);
    ch.run_pending_tasks();
    assert_eq!(entries(&log), ["false"]);
    channel.flush();
    assert!(channel.is_writable());
    ch.run_pending_tasks();
    assert_eq!(entries(&log), ["false", "true"]);
    assert_eq!(channel.queued_bytes(), 0);
    // The hard cap fails a write whole.
    channel
        .set_option(ChannelOption::WriteBufferHardCap(1000))
        .unwrap();
    let promise = channel.new_promise();
    channel.write(Message::copy_from_slice(&[0; 2000]), Some(promise.clone()));
    assert!(promise.cause().unwrap().is_os(libc::ENOBUFS));
    assert_eq!(channel.queued_bytes(), 0);
    ch.finish_and_release_all().unwrap();
    drop(ch);
    check.finish();
}

#[test]
fn scheduled_tasks_run_on_the_virtual_clock() {
    let ch = EmbeddedChannel::new(vec![]).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let later = ch
        .channel()
        .schedule(
            Duration::from_secs(10),
            Box::new(move |_| {
                r.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
    let r = ran.clone();
    let cancelled = ch
        .channel()
        .schedule(
            Duration::from_secs(5),
            Box::new(move |_| {
                r.fetch_add(100, Ordering::SeqCst);
            }),
        )
        .unwrap();
    ch.advance_time_by(Duration::from_secs(9));
    assert_eq!(ran.load(Ordering::SeqCst), 100);
    assert!(cancelled.is_success());
    assert!(!later.is_done());
    ch.advance_time_by(Duration::from_secs(1));
    assert_eq!(ran.load(Ordering::SeqCst), 101);
    assert!(later.is_success());
    assert_eq!(ch.virtual_time(), Duration::from_secs(10));
    let r = ran.clone();
    let never = ch
        .channel()
        .schedule(
            Duration::from_secs(1),
            Box::new(move |_| {
                r.fetch_add(1000, Ordering::SeqCst);
            }),
        )
        .unwrap();
    assert!(never.cancel());
    ch.advance_time_by(Duration::from_secs(2));
    assert_eq!(ran.load(Ordering::SeqCst), 101);
    ch.finish().unwrap();
}

/// What is scheduled on an embedded channel's loop itself (`ctx.executor().schedule`), and
/// the loop's timers, come due on the virtual clock too (Netty's `EmbeddedEventLoop`).
#[test]
fn the_loops_own_tasks_and_timers_run_on_the_virtual_clock() {
    use crate::event_loop::Repeat;
    let ch = EmbeddedChannel::new(vec![]).unwrap();
    let event_loop = ch.channel().event_loop().clone();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let hour = event_loop
        .schedule(Duration::from_secs(3600), Repeat::Once, move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        })
        .unwrap();
    let r = ran.clone();
    let every_minute = event_loop
        .schedule(
            Duration::from_secs(60),
            Repeat::FixedRate(Duration::from_secs(60)),
            move |_| {
                r.fetch_add(100, Ordering::SeqCst);
                Ok(None)
            },
        )
        .unwrap();
    let r = ran.clone();
    let timer = event_loop
        .timer(move |_, _| {
            r.fetch_add(10_000, Ordering::SeqCst);
        })
        .unwrap();
    timer
        .start(Duration::from_secs(90), Duration::ZERO)
        .unwrap();
    let before = event_loop.now();
    ch.run_pending_tasks();
    assert_eq!(ran.load(Ordering::SeqCst), 0, "nothing is due in real time");
    ch.advance_time_by(Duration::from_secs(61));
    assert_eq!(ran.load(Ordering::SeqCst), 100);
    ch.advance_time_by(Duration::from_secs(60)); // 121 s: the rate's second run, the timer
    assert_eq!(ran.load(Ordering::SeqCst), 10_200);
    assert!(!hour.is_done());
    ch.advance_time_by(Duration::from_secs(3600));
    assert_eq!(
        ran.load(Ordering::SeqCst) % 100,
        1,
        "the hour's task ran once"
    );
    assert!(hour.is_success());
    assert!(event_loop.now() >= before + Duration::from_secs(3721));
    assert!(every_minute.cancel());
    timer.close();
    ch.finish().unwrap();
}

/// Writes every read back, flushing at read complete (Netty's echo handler).
pub(crate) struct Echo;

impl ChannelHandler for Echo {
    fn mask(&self) -> Mask {
        Mask::READ | Mask::READ_COMPLETE
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        ctx.write(msg, None);
        Ok(())
    }
    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        ctx.flush();
        Ok(())
    }
}

#[test]
fn operations_from_another_thread_are_queued_in_order() {
    let check = BufferCheck::start();
    let ch = EmbeddedChannel::new(vec![Box::new(Echo)]).unwrap();
    let channel = ch.channel().clone();
    std::thread::spawn(move || {
        for i in 0..100u8 {
            channel.write(Message::copy_from_slice(&[i]), None);
        }
        assert!(channel.queued_bytes() > 0, "counted at the call");
        channel.flush();
    })
    .join()
    .unwrap();
    ch.run_pending_tasks();
    for i in 0..100u8 {
        assert_eq!(ch.read_outbound().unwrap().as_buffer().unwrap()[0], i);
    }
    assert_eq!(ch.channel().queued_bytes(), 0);
    let done = Cell::new(false);
    ch.write_inbound([Message::copy_from_slice(b"echo")])
        .unwrap();
    assert_eq!(text(&ch.read_outbound().unwrap()), "echo");
    done.set(true);
    ch.finish().unwrap();
    drop(ch);
    check.finish();
}

/// Shows itself through `as_any`, as a binding's handler does.
struct Visible(u32);

impl ChannelHandler for Visible {
    fn mask(&self) -> Mask {
        Mask::NONE
    }
    fn as_any(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        Some(self)
    }
}

#[test]
fn a_context_shows_a_handler_that_shows_itself() {
    let ch = EmbeddedChannel::new(vec![Box::new(Visible(7))]).unwrap();
    let pipeline = ch.pipeline();
    pipeline
        .add_last(
            "opaque",
            Box::new(Recorder {
                name: "r",
                log: log(),
            }),
        )
        .unwrap();
    let visible = pipeline.get("handler-0").unwrap();
    assert_eq!(visible.handler_as::<Visible>().map(|v| v.0), Some(7));
    assert!(visible.handler_as::<Recorder>().is_none());
    assert!(
        pipeline
            .get("opaque")
            .unwrap()
            .handler_as::<Visible>()
            .is_none()
    );
}

#[test]
fn closing_a_closed_channel_succeeds() {
    let ch = EmbeddedChannel::new(vec![]).unwrap();
    assert!(!ch.finish().unwrap());
    let again = ch.channel().close();
    ch.run_pending_tasks();
    assert!(again.is_success());
    let write = ch.channel().new_promise();
    ch.channel()
        .write(Message::copy_from_slice(b"late"), Some(write.clone()));
    assert!(write.is_done() && !write.is_success());
}

#[test]
fn a_handler_added_from_another_thread_gets_handler_added_before_any_event() {
    let check = BufferCheck::start();
    let log = log();
    let ch = EmbeddedChannel::new(vec![]).unwrap();
    let pipeline = ch.pipeline();
    let l = log.clone();
    std::thread::spawn(move || {
        pipeline
            .add_last(
                "late",
                Box::new(Recorder {
                    name: "late",
                    log: l,
                }),
            )
            .unwrap();
        // The name is taken at once, from any thread.
        assert!(pipeline.add_first("late", Box::new(Echo)).is_err());
    })
    .join()
    .unwrap();
    assert_eq!(ch.pipeline().names(), ["late"]);
    assert!(entries(&log).is_empty(), "queued to the loop");
    // A read fired on the loop before the queued addition ran passes the new handler by;
    // the addition runs in the same call's pending tasks, and later reads reach it.
    ch.write_inbound([Message::copy_from_slice(b"x")]).unwrap();
    assert_eq!(entries(&log), ["late:added"]);
    ch.write_inbound([Message::copy_from_slice(b"x")]).unwrap();
    assert_eq!(
        entries(&log),
        ["late:added", "late:read", "late:read_complete"]
    );
    let pipeline = ch.pipeline();
    std::thread::spawn(move || {
        pipeline.remove("late").unwrap();
    })
    .join()
    .unwrap();
    ch.run_pending_tasks();
    ch.write_inbound([Message::copy_from_slice(b"y")]).unwrap();
    let seen = entries(&log);
    assert_eq!(
        seen.last().unwrap(),
        "late:removed",
        "no event after its removal"
    );
    assert!(ch.finish_and_release_all().unwrap());
    drop(ch);
    check.finish();
}

#[test]
fn a_change_the_loop_refuses_leaves_the_pipeline_as_it_was() {
    let log = log();
    let ch = EmbeddedChannel::new(vec![Box::new(Recorder {
        name: "r",
        log: log.clone(),
    })])
    .unwrap();
    // A loop that shuts down refuses work from other threads.
    ch.channel()
        .event_loop()
        .shutdown_gracefully(Duration::from_secs(10), Duration::from_secs(10));
    let pipeline = ch.pipeline();
    let refused = std::thread::spawn(move || {
        let removed = pipeline.remove("handler-0").map(|_| ());
        let replaced = pipeline
            .replace("handler-0", "other", Box::new(Echo))
            .map(|_| ());
        let added = pipeline.add_last("more", Box::new(Echo)).map(|_| ());
        (removed, replaced, added)
    })
    .join()
    .unwrap();
    let rejected = Err(ErrorKind::Rejected.into());
    assert_eq!(refused, (rejected, rejected, rejected));
    assert_eq!(ch.pipeline().names(), ["handler-0"]);
    // The handler is still there, and its removal comes with the channel's close.
    drop(ch);
    let seen = entries(&log);
    assert_eq!(
        seen.iter().filter(|s| *s == "r:removed").count(),
        1,
        "{seen:?}"
    );
}
