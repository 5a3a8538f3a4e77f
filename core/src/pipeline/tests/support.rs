//! What the pipeline tests share: a handler that records what reaches it, and the
//! live-buffer check.

use std::sync::{Arc, Mutex};

use crate::event_loop::Failure;
use crate::event_loop::Promise;
use crate::pipeline::{
    Channel, ChannelAddress, ChannelFuture, ChannelHandler, Context, HandlerResult, Message,
    UserEvent,
};

/// A log of events, shared between handlers and the test.
pub(crate) type Log = Arc<Mutex<Vec<String>>>;

pub(crate) fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

pub(crate) fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Records every event and operation under its name, passing each on.
pub(crate) struct Recorder {
    pub(crate) name: &'static str,
    pub(crate) log: Log,
}

impl Recorder {
    fn note(&self, what: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:{what}", self.name));
    }
}

impl ChannelHandler for Recorder {
    fn handler_added(&self, _: &Context) -> HandlerResult {
        self.note("added");
        Ok(())
    }
    fn handler_removed(&self, _: &Context) -> HandlerResult {
        self.note("removed");
        Ok(())
    }
    fn channel_registered(&self, ctx: &Context) -> HandlerResult {
        self.note("registered");
        ctx.fire_channel_registered();
        Ok(())
    }
    fn channel_unregistered(&self, ctx: &Context) -> HandlerResult {
        self.note("unregistered");
        ctx.fire_channel_unregistered();
        Ok(())
    }
    fn channel_active(&self, ctx: &Context) -> HandlerResult {
        self.note("active");
        ctx.fire_channel_active();
        Ok(())
    }
    fn channel_inactive(&self, ctx: &Context) -> HandlerResult {
        self.note("inactive");
        ctx.fire_channel_inactive();
        Ok(())
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        self.note("read");
        ctx.fire_channel_read(msg);
        Ok(())
    }
    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        self.note("read_complete");
        ctx.fire_channel_read_complete();
        Ok(())
    }
    fn user_event_triggered(&self, ctx: &Context, event: UserEvent) -> HandlerResult {
        self.note(&format!("event:{event:?}"));
        ctx.fire_user_event_triggered(event);
        Ok(())
    }
    fn channel_writability_changed(&self, ctx: &Context) -> HandlerResult {
        self.note(&format!("writable:{}", ctx.channel().is_writable()));
        ctx.fire_channel_writability_changed();
        Ok(())
    }
    fn exception_caught(&self, ctx: &Context, failure: Failure) -> HandlerResult {
        self.note(&format!("exception:{}", failure.error));
        ctx.fire_exception_caught(failure);
        Ok(())
    }
    fn bind(&self, ctx: &Context, local: ChannelAddress, p: Option<Promise>) -> HandlerResult {
        self.note("bind");
        ctx.bind(local, p);
        Ok(())
    }
    fn close(&self, ctx: &Context, p: Option<Promise>) -> HandlerResult {
        self.note("close");
        ctx.close(p);
        Ok(())
    }
    fn write(&self, ctx: &Context, msg: Message, p: Option<Promise>) -> HandlerResult {
        self.note("write");
        ctx.write(msg, p);
        Ok(())
    }
    fn flush(&self, ctx: &Context) -> HandlerResult {
        self.note("flush");
        ctx.flush();
        Ok(())
    }
}

/// Serialises the tests that count live buffers (the count is process-wide) and checks at
/// the end that the test's buffers are all gone. Every pipeline test that makes buffers
/// holds one, so none runs beside another's count.
pub(crate) struct BufferCheck {
    _guard: std::sync::MutexGuard<'static, ()>,
}

static BUFFER_TESTS: Mutex<()> = Mutex::new(());

impl BufferCheck {
    pub(crate) fn start() -> BufferCheck {
        let guard = BUFFER_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(
            crate::pipeline::live_buffers(),
            0,
            "buffers alive before the test"
        );
        BufferCheck { _guard: guard }
    }

    /// Waits (bounded) until every buffer is released, then asserts it.
    pub(crate) fn finish(self) {
        for _ in 0..200 {
            if crate::pipeline::live_buffers() == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(crate::pipeline::live_buffers(), 0, "buffers leaked");
    }
}

/// Polls `done` every few milliseconds until it holds or `limit` passes; whether it held.
pub(crate) fn wait_until(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Shuts a group down and waits (bounded) for its threads to end.
pub(crate) fn shut_down(group: &crate::event_loop::EventLoopGroup) {
    shut_down_within(group, std::time::Duration::from_secs(5));
}

/// Shuts a group down gracefully with `timeout` as its deadline and waits (bounded) for its
/// threads to end.
pub(crate) fn shut_down_within(
    group: &crate::event_loop::EventLoopGroup,
    timeout: std::time::Duration,
) {
    group.shutdown_gracefully(std::time::Duration::ZERO, timeout);
    assert!(
        group
            .await_termination(Some(std::time::Duration::from_secs(20)))
            .unwrap()
    );
}

/// Random bytes from a small xorshift generator (no dependency, reproducible per seed).
pub(crate) fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Echoes what it reads (Netty's `EchoServerHandler`): writes without a promise in read,
/// flushes in read complete; with auto-read off it asks for each batch itself.
pub(crate) struct EchoServer {
    pub(crate) manual_read: bool,
}

impl ChannelHandler for EchoServer {
    fn channel_active(&self, ctx: &Context) -> HandlerResult {
        if self.manual_read {
            ctx.read();
        }
        ctx.fire_channel_active();
        Ok(())
    }
    fn channel_read(&self, ctx: &Context, msg: Message) -> HandlerResult {
        ctx.write(msg, None);
        Ok(())
    }
    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        ctx.flush();
        if self.manual_read {
            ctx.read();
        }
        Ok(())
    }
}

/// Collects the bytes it reads; with auto-read off it asks for each batch itself.
pub(crate) struct Collector {
    pub(crate) data: Arc<Mutex<Vec<u8>>>,
    pub(crate) manual_read: bool,
}

impl ChannelHandler for Collector {
    fn channel_active(&self, ctx: &Context) -> HandlerResult {
        if self.manual_read {
            ctx.read();
        }
        ctx.fire_channel_active();
        Ok(())
    }
    fn channel_read(&self, _: &Context, msg: Message) -> HandlerResult {
        self.data
            .lock()
            .unwrap()
            .extend_from_slice(msg.as_buffer().expect("bytes"));
        Ok(())
    }
    fn channel_read_complete(&self, ctx: &Context) -> HandlerResult {
        if self.manual_read {
            ctx.read();
        }
        Ok(())
    }
}

/// An initializer that adds the handler `make` builds, under `name`.
pub(crate) fn adding(
    name: &'static str,
    make: impl Fn() -> Box<dyn ChannelHandler> + Send + Sync + 'static,
) -> impl Fn(&Channel) -> HandlerResult + Send + Sync + 'static {
    move |ch: &Channel| {
        ch.pipeline()
            .add_last(name, make())
            .map(|_| ())
            .map_err(Into::into)
    }
}

/// Waits (bounded) for a bind or connect and asserts it succeeded.
pub(crate) fn connected(started: &ChannelFuture) {
    assert!(
        started
            .future
            .wait(Some(std::time::Duration::from_secs(20)))
            .unwrap()
    );
    assert!(started.future.is_success(), "{:?}", started.future.cause());
}

/// Reads from a raw peer socket until `want` bytes came, end of stream, or `limit` passed
/// (non-blocking reads, polled: a stalled writer fails the test instead of hanging it).
/// Returns how many bytes came and whether end of stream was seen.
pub(crate) fn read_peer(
    peer: &crate::channel::SocketChannel,
    want: usize,
    limit: std::time::Duration,
) -> (usize, bool) {
    peer.configure_blocking(false).unwrap();
    let deadline = std::time::Instant::now() + limit;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < want && std::time::Instant::now() < deadline {
        match peer.try_read(&mut buf) {
            Ok(Some(0)) => return (got, true),
            Ok(Some(n)) => got += n,
            Ok(None) => std::thread::sleep(std::time::Duration::from_micros(200)),
            Err(e) => panic!("the peer's read failed: {e}"),
        }
    }
    (got, false)
}
