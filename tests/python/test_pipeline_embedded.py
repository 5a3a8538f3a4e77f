"""The pipeline from Python on an EmbeddedChannel (no I/O): event order, exactly-once,
pipeline changes during events, exception routing, closes inside events, the sharable
check, async def refused, masks, messages and buffers, writability, the hard cap, the
virtual clock."""

from __future__ import annotations

import gc
from typing import Any

import pytest

import nioxide

EVENTS = [
    "channel_registered",
    "channel_unregistered",
    "channel_active",
    "channel_inactive",
    "channel_read",
    "channel_read_complete",
    "user_event_triggered",
    "channel_writability_changed",
    "exception_caught",
]
OPERATIONS = ["bind", "connect", "disconnect", "close", "read", "write", "flush"]


pytestmark = pytest.mark.usefixtures("pipeline_objects_released")


class Recorder(nioxide.ChannelDuplexHandler):
    """Records every event and operation as "name:event", passing each on."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def note(self, what: str) -> None:
        self.log.append(f"{self.name}:{what}")

    def handler_added(self, ctx: nioxide.ChannelHandlerContext) -> None:
        self.note("added")

    def handler_removed(self, ctx: nioxide.ChannelHandlerContext) -> None:
        self.note("removed")

    def channel_registered(self, ctx: Any) -> None:
        self.note("registered")
        ctx.fire_channel_registered()

    def channel_unregistered(self, ctx: Any) -> None:
        self.note("unregistered")
        ctx.fire_channel_unregistered()

    def channel_active(self, ctx: Any) -> None:
        self.note("active")
        ctx.fire_channel_active()

    def channel_inactive(self, ctx: Any) -> None:
        self.note("inactive")
        ctx.fire_channel_inactive()

    def channel_read(self, ctx: Any, msg: Any) -> None:
        self.note(f"read {bytes(msg).decode()}")
        ctx.fire_channel_read(msg)

    def channel_read_complete(self, ctx: Any) -> None:
        self.note("read_complete")
        ctx.fire_channel_read_complete()

    def close(self, ctx: Any, promise: Any) -> None:
        self.note("close")
        ctx.close(promise)

    def write(self, ctx: Any, msg: Any, promise: Any) -> None:
        self.note(f"write {bytes(msg).decode()}")
        ctx.write(msg, promise)

    def flush(self, ctx: Any) -> None:
        self.note("flush")
        ctx.flush()


def test_events_come_in_order_each_once() -> None:
    log: list[str] = []
    ch = nioxide.EmbeddedChannel(Recorder("a", log), Recorder("b", log))
    assert ch.write_inbound(b"hi")
    assert bytes(ch.read_inbound()) == b"hi"
    assert ch.write_outbound(b"yo")
    assert bytes(ch.read_outbound()) == b"yo"
    closed = ch.channel.close_future
    assert ch.finish() is False
    assert closed.done() and closed.result() is None
    assert log == [
        "a:added", "b:added",
        "a:registered", "b:registered",
        "a:active", "b:active",
        "a:read hi", "b:read hi",
        "a:read_complete", "b:read_complete",
        "b:write yo", "a:write yo",
        "b:flush", "a:flush",
        "b:close", "a:close",
        "a:inactive", "b:inactive",
        "a:unregistered", "b:unregistered",
        "b:removed", "a:removed",
    ]  # fmt: skip


def test_only_overridden_methods_are_in_the_mask() -> None:
    bits = nioxide._nioxide._HANDLER_METHODS

    class ReadOnly(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            ctx.fire_channel_read(msg)

    class WriteOnly(nioxide.ChannelDuplexHandler):
        def write(self, ctx: Any, msg: Any, promise: Any) -> None:
            ctx.write(msg, promise)

    class Inherits(ReadOnly):
        def flush(self, ctx: Any) -> None:  # not an inbound handler's: taken as written
            ctx.flush()

    assert ReadOnly._nioxide_mask == bits["channel_read"]
    assert WriteOnly._nioxide_mask == bits["write"]
    assert Inherits._nioxide_mask == bits["channel_read"] | bits["flush"]
    assert nioxide.ChannelDuplexHandler._nioxide_mask == 0
    # A pass-through handler changes nothing, and never enters Python for the events.
    ch = nioxide.EmbeddedChannel(nioxide.ChannelDuplexHandler(), ReadOnly())
    assert ch.write_inbound(b"x")
    assert bytes(ch.read_inbound()) == b"x"
    assert not ch.finish()


def test_hot_methods_of_every_kind_are_called_with_the_handler() -> None:
    # channel_read, channel_read_complete, write and flush: a plain function (called through
    # the class's function), a staticmethod and a callable object (both looked up on the
    # instance at each call) all get their usual arguments.
    log: list[str] = []

    class Counter:
        def __call__(self, ctx: Any) -> None:
            log.append("read_complete")
            ctx.fire_channel_read_complete()

    class Mixed(nioxide.ChannelDuplexHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            assert isinstance(self, Mixed)
            log.append("read " + bytes(msg).decode())
            ctx.fire_channel_read(msg)

        channel_read_complete = Counter()

        @staticmethod
        def write(ctx: Any, msg: Any, promise: Any) -> None:
            log.append("write " + bytes(msg).decode())
            ctx.write(msg, promise)

        def flush(self, ctx: Any) -> None:
            assert isinstance(self, Mixed)
            log.append("flush")
            ctx.flush()

    ch = nioxide.EmbeddedChannel(Mixed())
    assert ch.write_inbound(b"in")
    assert ch.write_outbound(b"out")
    assert bytes(ch.read_inbound()) == b"in"
    assert bytes(ch.read_outbound()) == b"out"
    assert not ch.finish()
    assert log == ["read in", "read_complete", "write out", "flush"]


def test_async_def_handler_methods_are_refused() -> None:
    with pytest.raises(TypeError, match=r"Async\.channel_read is an async def"):

        class Async(nioxide.ChannelInboundHandler):
            async def channel_read(self, ctx: Any, msg: Any) -> None:
                pass

    with pytest.raises(TypeError, match="async def"):

        class AsyncInit(nioxide.ChannelInitializer):
            async def handler_added(self, ctx: Any) -> None:
                pass


def test_a_handler_that_is_not_sharable_joins_one_pipeline() -> None:
    class Plain(nioxide.ChannelInboundHandler):
        pass

    class Shared(nioxide.ChannelInboundHandler):
        sharable = True

    plain, shared = Plain(), Shared()
    first = nioxide.EmbeddedChannel(plain, shared)
    with pytest.raises(nioxide.InvalidArgumentError, match="not sharable"):
        nioxide.EmbeddedChannel(plain)
    second = nioxide.EmbeddedChannel(shared)
    second.pipeline.add_last(Shared())
    with pytest.raises(nioxide.InvalidArgumentError, match="not sharable"):
        second.pipeline.add_last(plain)
    with pytest.raises(TypeError, match="takes a handler"):
        second.pipeline.add_last(object())
    for ch in (first, second):
        assert not ch.finish()


def test_pipeline_changes_during_events() -> None:
    log: list[str] = []

    class Rewirer(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            # Adds a handler after itself, which sees this very read, then removes itself.
            ctx.pipeline.add_after(ctx.name, Recorder("late", log), "late")
            ctx.pipeline.remove(self)
            ctx.fire_channel_read(msg)

    rewirer = Rewirer()
    ch = nioxide.EmbeddedChannel(rewirer)
    assert ch.pipeline.names() == ["handler-0"]
    ch.write_inbound(b"one")
    ch.write_inbound(b"two")
    assert ch.pipeline.names() == ["late"]
    assert ch.pipeline.get("late") is not None and rewirer not in ch.pipeline
    assert log == ["late:added", "late:read one", "late:read_complete", "late:read two",
                   "late:read_complete"]  # fmt: skip
    assert [bytes(ch.read_inbound()) for _ in range(2)] == [b"one", b"two"]
    # replace, first/last, context lookups, a duplicate name
    old = ch.pipeline.replace("late", Recorder("new", log), "new")
    assert isinstance(old, Recorder) and old.name == "late"
    assert ch.pipeline.names() == ["new"]
    ctx = ch.pipeline.context("new")
    assert ctx is not None and ctx.name == "new" and ctx.handler is ch.pipeline.first()
    with pytest.raises(nioxide.InvalidArgumentError, match="named .new. already"):
        ch.pipeline.add_first(nioxide.ChannelInboundHandler(), "new")
    with pytest.raises(nioxide.InvalidArgumentError, match="no handler named"):
        ch.pipeline.add_before("missing", nioxide.ChannelInboundHandler())
    assert not ch.finish()
    assert log[-2:] == ["late:removed", "new:removed"] or "late:removed" in log


def test_a_raising_handler_gets_its_own_exception_caught() -> None:
    seen: list[Any] = []

    class Fails(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            raise ValueError(bytes(msg).decode())

        def exception_caught(self, ctx: Any, exception: BaseException) -> None:
            seen.append(exception)  # handled: not passed on

    ch = nioxide.EmbeddedChannel(Fails())
    ch.write_inbound(b"boom")
    assert len(seen) == 1 and isinstance(seen[0], ValueError) and str(seen[0]) == "boom"
    ch.check_exception()  # nothing reached the tail
    assert not ch.finish()


def test_a_handler_that_removed_itself_and_raises_does_not_get_its_own_exception() -> None:
    # No event reaches a removed handler, its exception_caught included: the exception goes
    # on to the next handler, as any event would.
    own: list[BaseException] = []
    passed: list[BaseException] = []

    class RemovesThenFails(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            ctx.pipeline.remove(self)
            raise ValueError("after removal")

        def exception_caught(self, ctx: Any, exception: BaseException) -> None:
            own.append(exception)

    class Watches(nioxide.ChannelInboundHandler):
        def exception_caught(self, ctx: Any, exception: BaseException) -> None:
            passed.append(exception)
            ctx.fire_exception_caught(exception)

    ch = nioxide.EmbeddedChannel(RemovesThenFails(), Watches())
    with pytest.raises(ValueError, match="after removal"):
        ch.write_inbound(b"x")
    assert own == [] and len(passed) == 1
    assert len(ch.pipeline.names()) == 1
    assert not ch.finish()


def test_an_exception_passed_on_reaches_the_tail_and_is_raised_once() -> None:
    class Fails(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            raise KeyError("lost")

    passed: list[BaseException] = []

    class Watches(nioxide.ChannelInboundHandler):
        def exception_caught(self, ctx: Any, exception: BaseException) -> None:
            passed.append(exception)
            ctx.fire_exception_caught(exception)

    ch = nioxide.EmbeddedChannel(Fails(), Watches())
    with pytest.raises(KeyError, match="lost") as raised:
        ch.write_inbound(b"x")
    assert passed == [raised.value]  # the very object raised, through the next handler
    ch.check_exception()  # raised once
    assert ch.channel.is_open()  # the tail leaves the channel open
    # An outbound handler that raises fails the write's promise instead.

    class BadWrite(nioxide.ChannelOutboundHandler):
        def write(self, ctx: Any, msg: Any, promise: Any) -> None:
            raise RuntimeError("no writes")

    ch.pipeline.add_first(BadWrite())
    promise = ch.channel.new_promise()
    assert ch.channel.write_and_flush(b"y", promise) is promise
    ch.run_pending_tasks()
    assert isinstance(promise.exception(timeout=0), RuntimeError)
    # ... and a write without a promise fires the exception event.
    ch.channel.write_and_flush(b"z")
    with pytest.raises(RuntimeError, match="no writes"):
        ch.check_exception()
    assert not ch.finish()


@pytest.mark.parametrize("event", ["channel_active", "channel_read", "channel_read_complete",
                                   "user_event_triggered", "channel_writability_changed",
                                   "exception_caught", "write", "flush"])  # fmt: skip
def test_close_inside_every_event(event: str) -> None:
    log: list[str] = []

    def closing(self: Any, ctx: Any, *args: Any) -> None:
        log.append(event)
        ctx.close()
        ctx.close()  # a second close is harmless
        if event in ("write",):
            ctx.write(args[0], args[1])  # fails: the channel is closed

    handler_class = type("Closer", (nioxide.ChannelDuplexHandler,), {event: closing})
    ch = nioxide.EmbeddedChannel(Recorder("r", log), handler_class())
    ch.channel.set_option(nioxide.ChannelOption.WRITE_BUFFER_WATER_MARK, (1, 2))
    if event == "channel_active":
        pass  # closed while being made
    elif event in ("channel_read", "channel_read_complete"):
        ch.write_inbound(b"in")
    elif event == "user_event_triggered":
        ch.pipeline.fire_user_event_triggered("custom")
    elif event == "exception_caught":
        ch.pipeline.fire_exception_caught(ValueError("x"))
    elif event == "channel_writability_changed":
        ch.channel.write(b"more than two bytes")
    elif event in ("write", "flush"):
        ch.channel.write_and_flush(b"out", ch.channel.new_promise())
    ch.run_pending_tasks()
    assert not ch.channel.is_open()
    # (the close fails the queued write, whose bytes then drop below the low mark: a second
    # crossing, a second writability event)
    assert log.count(event) == (2 if event == "channel_writability_changed" else 1)
    assert log.count("r:inactive") == 1 and log.count("r:removed") == 1
    # Nothing is read after a close.
    with pytest.raises(nioxide.ClosedChannelError):
        ch.write_inbound(b"late")
    ch.finish_and_release_all()


def test_messages_buffers_and_python_objects() -> None:
    kept: list[memoryview] = []

    class Keeps(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            kept.append(memoryview(msg))  # valid after the callback: the message owns its bytes
            ctx.fire_channel_read({"decoded": bytes(msg)})  # any object, to the next handler

    class Reads(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            assert msg == {"decoded": b"abc"}
            ctx.fire_channel_read(msg)

    ch = nioxide.EmbeddedChannel(Keeps(), Reads())
    assert ch.write_inbound(b"abc")
    assert ch.read_inbound() == {"decoded": b"abc"}
    assert kept[0].tobytes() == b"abc" and kept[0].readonly
    with pytest.raises(TypeError):
        kept[0][0] = 1
    kept.clear()
    # write takes bytes, bytearray, memoryview (copied at the call) and buffers (shared)
    data = bytearray(b"mutable")
    buffer = nioxide.Buffer(b"shared bytes")
    assert ch.write_outbound(b"bytes", data, memoryview(b"view")[1:], buffer, buffer.slice(7))
    data[:] = b"changed"
    out = [ch.read_outbound() for _ in range(5)]
    assert all(isinstance(m, nioxide.Buffer) for m in out)
    assert [bytes(m) for m in out] == [b"bytes", b"mutable", b"iew", b"shared bytes", b"bytes"]
    assert out[3][0] == ord("s") and out[3][-1] == ord("s") and out[3][:6] == b"shared"
    assert out[3].decode() == "shared bytes" and len(out[3]) == 12
    # a Python object written out passes too (an embedded channel keeps it)
    sentinel = object()
    assert ch.write_outbound(sentinel)
    assert ch.read_outbound() is sentinel
    assert ch.read_outbound() is None and ch.read_inbound() is None
    del out, buffer
    assert not ch.finish()


def test_user_events_are_singletons() -> None:
    events: list[Any] = []

    class Events(nioxide.ChannelInboundHandler):
        def user_event_triggered(self, ctx: Any, event: Any) -> None:
            events.append(event)

    ch = nioxide.EmbeddedChannel(Events())
    ch.pipeline.fire_user_event_triggered(nioxide.CHANNEL_INPUT_SHUTDOWN)
    ch.pipeline.fire_user_event_triggered(("mine", 1))
    ch.channel.shutdown_output()
    ch.run_pending_tasks()
    assert events[0] is nioxide.CHANNEL_INPUT_SHUTDOWN
    assert events[1] == ("mine", 1)
    assert nioxide.CHANNEL_OUTPUT_SHUTDOWN.name == "CHANNEL_OUTPUT_SHUTDOWN"
    assert not ch.finish()


def test_channel_attributes_hold_per_channel_state() -> None:
    class Counts(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_active(self, ctx: Any) -> None:
            ctx.channel.reads = 0
            ctx.fire_channel_active()

        def channel_read(self, ctx: Any, msg: Any) -> None:
            ctx.channel.reads += 1
            ctx.fire_channel_read(msg)

    counts = Counts()
    one, two = nioxide.EmbeddedChannel(counts), nioxide.EmbeddedChannel(counts)
    one.write_inbound(b"a", b"b")
    two.write_inbound(b"c")
    assert (one.channel.reads, two.channel.reads) == (2, 1)
    assert one.channel is one.pipeline.channel and one.channel != two.channel
    for ch in (one, two):
        ch.finish_and_release_all()


def test_writability_follows_the_water_marks_and_the_hard_cap_fails_a_write() -> None:
    changes: list[bool] = []

    class Watch(nioxide.ChannelInboundHandler):
        def channel_writability_changed(self, ctx: Any) -> None:
            changes.append(ctx.channel.is_writable())

    ch = nioxide.EmbeddedChannel(Watch())
    channel = ch.channel
    channel.set_option("WRITE_BUFFER_WATER_MARK", (100, 200))
    channel.set_option("WRITE_BUFFER_HARD_CAP", 1000)
    assert channel.get_option("WRITE_BUFFER_WATER_MARK") == (100, 200)
    assert channel.get_option("WRITE_BUFFER_HARD_CAP") == 1000
    channel.write(b"x" * 300)
    assert not channel.is_writable()  # at once
    assert changes == []  # the event follows later
    ch.run_pending_tasks()
    assert changes == [False]
    refused = channel.write(b"y" * 1000, channel.new_promise())
    ch.run_pending_tasks()
    assert refused is not None
    with pytest.raises(OSError) as raised:
        refused.result(timeout=0)
    assert raised.value.errno == 105  # ENOBUFS: the write would pass the hard cap
    channel.flush()
    ch.run_pending_tasks()
    assert channel.is_writable() and changes == [False, True]
    with pytest.raises(nioxide.InvalidArgumentError):
        channel.set_option("WRITE_BUFFER_WATER_MARK", (10, 5))
    with pytest.raises(nioxide.InvalidArgumentError, match="unknown channel option"):
        channel.set_option("NO_SUCH_OPTION", 1)
    ch.finish_and_release_all()


def test_virtual_time_runs_scheduled_tasks_when_advanced() -> None:
    ch = nioxide.EmbeddedChannel()
    fired: list[float] = []
    ch.channel.schedule(2.0, lambda: fired.append(ch.virtual_time))
    cancelled = ch.channel.schedule(1.0, fired.append, -1.0)
    assert cancelled.cancel()
    ch.advance_time_by(1.5)
    assert fired == []
    ch.advance_time_by(0.5)
    assert fired == [2.0]
    assert not ch.finish()


def test_the_executors_own_tasks_run_on_the_virtual_clock() -> None:
    """ctx.executor of an embedded channel is its loop (the channel's event_loop), whose own
    scheduled tasks come due on the virtual clock, as on Netty's EmbeddedEventLoop."""
    fired: list[str] = []

    class Idle(nioxide.ChannelInboundHandler):
        def handler_added(self, ctx: Any) -> None:
            assert ctx.executor is ctx.channel.event_loop and ctx.executor.in_event_loop()
            self.timeout = ctx.executor.schedule(60.0, fired.append, "idle")
            ctx.executor.schedule_at_fixed_rate(10.0, 10.0, fired.append, "tick")

    ch = nioxide.EmbeddedChannel(Idle())
    loop = ch.channel.event_loop
    assert isinstance(loop, nioxide.EventLoop)
    ch.run_pending_tasks()
    assert fired == []
    ch.advance_time_by(10.5)
    assert fired == ["tick"]
    ch.advance_time_by(50.0)
    assert fired.count("idle") == 1 and fired.count("tick") == 6
    assert ch.pipeline.get("handler-0").timeout.done()
    started = loop.now()
    ch.advance_time_by(100.0)
    assert loop.now() >= started + 100.0
    assert not ch.finish()
    del loop


def test_an_outbound_handler_completes_the_promise_it_is_given() -> None:
    class Swallow(nioxide.ChannelOutboundHandler):
        def write(self, ctx: Any, msg: Any, promise: Any) -> None:
            if promise is not None:
                promise.set_result(None)  # consumed here: never reaches the head

    ch = nioxide.EmbeddedChannel(Swallow())
    promise = ch.channel.write_and_flush(b"gone", ch.channel.new_promise())
    assert promise is not None and promise.result(timeout=0) is None
    assert ch.read_outbound() is None
    assert not ch.finish()


def test_initializer_sets_the_pipeline_up_and_leaves() -> None:
    class Init(nioxide.ChannelInitializer):
        def init_channel(self, channel: nioxide.Channel) -> None:
            channel.pipeline.add_last(Recorder("r", []), "r")

    ch = nioxide.EmbeddedChannel(Init())
    assert ch.pipeline.names() == ["r"]

    class Broken(nioxide.ChannelInitializer):
        def init_channel(self, channel: nioxide.Channel) -> None:
            raise LookupError("no setup")

    broken = nioxide.EmbeddedChannel(Broken())
    assert not broken.channel.is_open()  # an initializer's failure closes the channel
    with pytest.raises(LookupError):
        broken.check_exception()
    for c in (ch, broken):
        c.finish_and_release_all()


def test_a_handler_context_cycle_is_collected() -> None:
    class KeepsContext(nioxide.ChannelInboundHandler):
        def handler_added(self, ctx: Any) -> None:
            self.ctx = ctx  # handler -> context -> channel -> handler (below)
            ctx.channel.handler = self

    ch = nioxide.EmbeddedChannel(KeepsContext())
    ch.finish()
    del ch
    gc.collect()
    # (the autouse fixture checks that no channel or context object is left)
