//! The loop's one I/O dispatch point (Netty 4.2's `IoHandle` and `IoEvent`).
//!
//! What an event loop serves is an [`IoHandle`]: an object kept in a registration (a key of
//! the loop's backend) that receives the backend's events and is closed by the loop's
//! shutdown. The loop knows nothing else about it: watches are one implementation, and each
//! further kind of loop-served object (a pipeline channel, an asynchronous channel) is another,
//! in its own module. The event is the backend's: readiness on epoll; a completion backend
//! adds its own variant without changing what the loop does with it.

use std::sync::Arc;

use super::EventLoop;
use crate::selector::SelectionKey;

/// What the backend reports to an [`IoHandle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IoEvent {
    /// The registered channel is ready for these ops (`OP_*`, within the registration's
    /// interest; error and hang-up readiness report every interest op).
    Ready(u32),
}

/// An object an event loop serves through a registration of its backend. Thread-safe: the
/// events and the shutdown's close come on the loop's thread; `deregistered` on whichever
/// thread ended the registration.
pub(crate) trait IoHandle: Send + Sync {
    /// An event arrived for `registration`. On the loop's thread, never inside a call that
    /// started an operation.
    fn handle(self: Arc<Self>, event_loop: &EventLoop, registration: &SelectionKey, event: IoEvent);

    /// The loop is shutting down: close what this handle serves (its registration ends with
    /// it). On the loop's thread (or the thread that closes a loop nobody runs).
    fn close(self: Arc<Self>, event_loop: &EventLoop);

    /// The registration ended: the handle's own close, its channel's close, or the backend's.
    /// Called once, on the thread that ended it, with no lock of the backend held.
    fn deregistered(self: Arc<Self>);
}

/// Serves one selected registration of the loop's backend: its handle gets the event.
pub(super) fn dispatch(event_loop: &EventLoop, registration: &SelectionKey) {
    let Some(handle) = registration.io_handle() else {
        return; // cancelled since the select, or not handed its handle yet
    };
    if let Ok(ready) = registration.ready_ops() {
        handle.handle(event_loop, registration, IoEvent::Ready(ready));
    }
}

/// At shutdown: closes what a registration serves. A cancelled registration serves nothing
/// any more (what it served is its user's again).
pub(super) fn close(event_loop: &EventLoop, registration: &SelectionKey) {
    if let Some(handle) = registration.io_handle() {
        handle.close(event_loop);
    }
    registration.cancel();
}

/// Registers `channel` with the loop's backend for `ops`, served by the handle `make` builds
/// from the registration. The channel must have no registration yet.
pub(crate) fn register<H: IoHandle + 'static>(
    event_loop: &EventLoop,
    channel: crate::channel::Channel,
    ops: u32,
    make: impl FnOnce(SelectionKey) -> Arc<H>,
) -> crate::Result<Arc<H>> {
    let registration = event_loop
        .selector()
        .register_new(channel, ops, &mut None)?;
    let handle = make(registration.clone());
    if let Err(e) = registration.set_io_handle(handle.clone()) {
        registration.cancel_now();
        return Err(e);
    }
    Ok(handle)
}

impl EventLoop {
    /// [`register`] for the loop-served objects of other modules (the pipeline's channels):
    /// registers `channel` for `ops`, served by the handle `make` builds from the registration.
    ///
    /// # Errors
    /// As [`Selector::register`](crate::selector::Selector::register).
    pub(crate) fn register_io<H: IoHandle + 'static>(
        &self,
        channel: crate::channel::Channel,
        ops: u32,
        make: impl FnOnce(SelectionKey) -> Arc<H>,
    ) -> crate::Result<Arc<H>> {
        register(self, channel, ops, make)
    }

    /// The deadline of the shutdown under way, if it has one (a graceful shutdown's timeout;
    /// now, for `shutdown_now`): how long an I/O handle that the shutdown closes may still
    /// finish its work (a pipeline channel flushing its queued writes).
    pub(crate) fn shutdown_deadline(&self) -> Option<std::time::Instant> {
        crate::sync::lock(&self.inner.shutdown)
            .as_ref()
            .and_then(|s| s.deadline)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::channel::{ServerSocketChannel, SocketChannel};
    use crate::event_loop::RunMode;
    use crate::selector::OP_READ;

    /// A handle that records what the loop tells it.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
    }

    impl IoHandle for Recorder {
        fn handle(self: Arc<Self>, _: &EventLoop, _: &SelectionKey, event: IoEvent) {
            self.seen.lock().unwrap().push(format!("{event:?}"));
        }
        fn close(self: Arc<Self>, _: &EventLoop) {
            self.seen.lock().unwrap().push("close".into());
        }
        fn deregistered(self: Arc<Self>) {
            self.seen.lock().unwrap().push("deregistered".into());
        }
    }

    fn pair() -> (SocketChannel, SocketChannel) {
        let server = ServerSocketChannel::open().unwrap();
        server.bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
        let client = SocketChannel::open().unwrap();
        client
            .connect(server.local_address().unwrap().unwrap())
            .unwrap();
        let peer = server.accept().unwrap().unwrap();
        peer.configure_blocking(false).unwrap();
        (client, peer)
    }

    #[test]
    fn a_handle_gets_its_events_then_one_deregistration() {
        let lp = EventLoop::new().unwrap();
        let (client, peer) = pair();
        let recorder = register(&lp, peer.clone().into(), OP_READ, |_| {
            Arc::new(Recorder::default())
        })
        .unwrap();
        client.write(b"x").unwrap();
        // A registration alone holds no ref of the loop's: turn it without waiting.
        for _ in 0..1000 {
            if !recorder.seen.lock().unwrap().is_empty() {
                break;
            }
            lp.run(RunMode::NoWait).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(recorder.seen.lock().unwrap()[0], "Ready(1)");
        peer.close();
        peer.close();
        let seen = recorder.seen.lock().unwrap().clone();
        assert_eq!(seen.iter().filter(|s| *s == "deregistered").count(), 1);
        lp.close();
        assert!(!recorder.seen.lock().unwrap().contains(&"close".to_string()));
    }

    #[test]
    fn the_shutdown_closes_what_is_registered() {
        let lp = EventLoop::new().unwrap();
        let (_client, peer) = pair();
        let recorder =
            register(&lp, peer.into(), OP_READ, |_| Arc::new(Recorder::default())).unwrap();
        lp.close();
        let seen = recorder.seen.lock().unwrap().clone();
        assert_eq!(seen, ["close", "deregistered"]);
    }
}
