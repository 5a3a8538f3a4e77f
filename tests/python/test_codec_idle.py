"""Idle-state handlers from Python: IdleStateEvent singletons on an EmbeddedChannel's
virtual clock (every kind, first and later, reset by reads and writes, off at 0), read and
write timeouts raising ReadTimeoutException / WriteTimeoutException once and closing, native
handlers in a pipeline (added once, found again, replaced, refused twice), bad arguments, and
an idle connection over TCP. Every wait is bounded; addresses are 127.0.0.1 port 0."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

import nioxide
from nioxide import IdleState, IdleStateEvent

WAIT = 10.0

pytestmark = pytest.mark.usefixtures("pipeline_objects_released")


class Events(nioxide.ChannelInboundHandler):
    """Records the user events and exceptions that reach it; drops reads."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.closed = threading.Event()

    def channel_read(self, ctx: Any, msg: Any) -> None:
        pass

    def user_event_triggered(self, ctx: Any, event: Any) -> None:
        self.seen.append(event)

    def exception_caught(self, ctx: Any, cause: BaseException) -> None:
        self.seen.append(cause)

    def channel_inactive(self, ctx: Any) -> None:
        self.closed.set()

    def take(self) -> list[Any]:
        seen, self.seen = self.seen, []
        return seen


E = IdleStateEvent


def test_the_six_singletons_and_the_states() -> None:
    events = [
        (E.FIRST_READER_IDLE_STATE_EVENT, IdleState.READER_IDLE, True),
        (E.READER_IDLE_STATE_EVENT, IdleState.READER_IDLE, False),
        (E.FIRST_WRITER_IDLE_STATE_EVENT, IdleState.WRITER_IDLE, True),
        (E.WRITER_IDLE_STATE_EVENT, IdleState.WRITER_IDLE, False),
        (E.FIRST_ALL_IDLE_STATE_EVENT, IdleState.ALL_IDLE, True),
        (E.ALL_IDLE_STATE_EVENT, IdleState.ALL_IDLE, False),
    ]
    for event, state, first in events:
        assert event.state is state
        assert event.is_first is first
    assert len({id(e) for e, _, _ in events}) == 6
    assert repr(E.FIRST_ALL_IDLE_STATE_EVENT) == "nioxide.IdleStateEvent.FIRST_ALL_IDLE_STATE_EVENT"
    assert IdleState.READER_IDLE != IdleState.WRITER_IDLE
    with pytest.raises(TypeError):
        IdleStateEvent()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        nioxide.NativeHandler()  # type: ignore[call-arg]


def test_reader_idle_fires_first_then_repeats_and_a_read_resets_it() -> None:
    events = Events()
    ch = nioxide.EmbeddedChannel(nioxide.IdleStateHandler(1.0, 0, 0), events)
    ch.advance_time_by(0.75)
    assert events.take() == []
    ch.advance_time_by(0.25)
    ch.advance_time_by(1.0)
    assert events.take() == [E.FIRST_READER_IDLE_STATE_EVENT, E.READER_IDLE_STATE_EVENT]
    ch.advance_time_by(0.5)
    ch.write_inbound(b"x")
    ch.advance_time_by(0.5)
    assert events.take() == []
    ch.advance_time_by(0.5)
    [event] = events.take()
    assert event is E.FIRST_READER_IDLE_STATE_EVENT
    ch.write_outbound(b"y")  # writes do not count for reading
    ch.advance_time_by(1.0)
    assert events.take() == [E.READER_IDLE_STATE_EVENT]
    assert ch.finish_and_release_all()


def test_writer_and_all_idle_count_completed_writes_with_and_without_promise() -> None:
    events = Events()
    ch = nioxide.EmbeddedChannel(nioxide.IdleStateHandler(0, 1.0, 1.5), events)
    ch.advance_time_by(1.0)
    assert events.take() == [E.FIRST_WRITER_IDLE_STATE_EVENT]
    ch.advance_time_by(0.5)
    assert events.take() == [E.FIRST_ALL_IDLE_STATE_EVENT]
    ch.write_outbound(b"with a promise")
    ch.advance_time_by(0.75)
    assert events.take() == []
    ch.channel.write_and_flush(b"without one")
    ch.run_pending_tasks()
    ch.advance_time_by(0.75)
    assert events.take() == []
    ch.advance_time_by(0.25)
    assert events.take() == [E.FIRST_WRITER_IDLE_STATE_EVENT]
    ch.write_inbound(b"a read resets all-idle only")
    ch.advance_time_by(1.0)
    assert events.take() == [E.WRITER_IDLE_STATE_EVENT]
    ch.advance_time_by(0.5)
    assert events.take() == [E.FIRST_ALL_IDLE_STATE_EVENT]
    assert ch.finish_and_release_all()


def test_zero_turns_every_kind_off_and_removal_stops_the_timers() -> None:
    events = Events()
    ch = nioxide.EmbeddedChannel(nioxide.IdleStateHandler(0, 0, 0), events)
    ch.advance_time_by(100.0)
    assert events.take() == []
    assert not ch.finish()

    handler, events = nioxide.IdleStateHandler(1.0, 1.0, 1.0), Events()
    ch = nioxide.EmbeddedChannel(handler, events)
    assert ch.pipeline.remove(handler) is handler
    ch.advance_time_by(10.0)
    assert events.take() == []
    assert not ch.finish()


def test_a_read_timeout_raises_once_and_closes_the_channel() -> None:
    events = Events()
    ch = nioxide.EmbeddedChannel(nioxide.ReadTimeoutHandler(1.0), events)
    ch.advance_time_by(0.5)
    ch.write_inbound(b"x")
    ch.advance_time_by(0.75)
    assert events.take() == [] and ch.channel.is_open()
    ch.advance_time_by(0.25)
    [cause] = events.take()
    assert isinstance(cause, nioxide.ReadTimeoutException)
    assert isinstance(cause, nioxide.TimeoutError) and isinstance(cause, TimeoutError)
    assert str(cause) == "[Errno 110] read timed out"
    assert not ch.channel.is_open() and events.closed.is_set()
    ch.advance_time_by(10.0)
    assert events.take() == []
    ch.finish()


def test_an_unhandled_read_timeout_is_raised_by_the_embedded_channel() -> None:
    ch = nioxide.EmbeddedChannel(nioxide.ReadTimeoutHandler(0.5))
    with pytest.raises(nioxide.ReadTimeoutException):
        ch.advance_time_by(0.5)
        ch.check_exception()
    ch.finish()


class Stall(nioxide.ChannelOutboundHandler):
    """Keeps every write and its promise without passing it on: a peer that never reads."""

    def __init__(self) -> None:
        self.kept: list[Any] = []

    def write(self, ctx: Any, msg: Any, promise: Any) -> None:
        self.kept.append(promise)


def test_a_write_that_does_not_complete_in_time_raises_once_and_closes() -> None:
    events, stall = Events(), Stall()
    ch = nioxide.EmbeddedChannel(stall, nioxide.WriteTimeoutHandler(1.0), events)
    ch.channel.write_and_flush(b"stuck")
    ch.channel.write_and_flush(b"stuck too")
    assert len(stall.kept) == 2
    ch.advance_time_by(0.75)
    assert events.take() == []
    ch.advance_time_by(0.25)
    [cause] = events.take()
    assert isinstance(cause, nioxide.WriteTimeoutException)
    assert not ch.channel.is_open()
    ch.advance_time_by(10.0)
    assert events.take() == []
    stall.kept.clear()
    ch.finish()


def test_writes_completed_in_time_cancel_their_timers() -> None:
    events, stall = Events(), Stall()
    ch = nioxide.EmbeddedChannel(stall, nioxide.WriteTimeoutHandler(1.0), events)
    for _ in range(3):
        ch.channel.write_and_flush(b"ok")
        ch.advance_time_by(0.5)
        for promise in stall.kept:
            promise.set_result(None)
        stall.kept.clear()
        ch.run_pending_tasks()
    ch.advance_time_by(10.0)
    assert events.take() == [] and ch.channel.is_open()
    assert not ch.finish()


def test_native_handlers_in_a_pipeline() -> None:
    idle = nioxide.IdleStateHandler(1.0, 0, 0)
    ch = nioxide.EmbeddedChannel()
    pipeline = ch.pipeline
    pipeline.add_last(idle, "idle")
    assert pipeline.get("idle") is idle
    assert pipeline.context(idle).handler is idle
    assert "idle" in pipeline and idle in pipeline
    # One instance joins one pipeline, once.
    with pytest.raises(nioxide.InvalidArgumentError, match="joins one pipeline only"):
        pipeline.add_last(idle, "again")
    other = nioxide.EmbeddedChannel()
    with pytest.raises(nioxide.InvalidArgumentError):
        other.pipeline.add_first(idle)
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.EmbeddedChannel(idle)
    # A failed add leaves the instance free to add.
    timeout = nioxide.WriteTimeoutHandler(2.0)
    with pytest.raises(nioxide.InvalidArgumentError):
        pipeline.add_after("nobody", timeout, "write")
    with pytest.raises(nioxide.InvalidArgumentError):
        pipeline.add_first(timeout, "idle")
    pipeline.add_before("idle", timeout, "write")
    assert pipeline.names() == ["write", "idle"]
    assert pipeline.first() is timeout
    # A generated name is the class's, as for Python handlers.
    reads = nioxide.ReadTimeoutHandler(3.0)
    assert pipeline.replace("idle", reads) is idle
    assert pipeline.names() == ["write", "ReadTimeoutHandler#0"]
    assert pipeline.last() is reads
    assert (reads.timeout, timeout.timeout) == (3.0, 2.0)
    assert (idle.reader_idle_time, idle.writer_idle_time, idle.all_idle_time) == (1.0, 0, 0)
    assert repr(idle) == "nioxide.IdleStateHandler(1.0, 0.0, 0.0)"
    assert nioxide.IdleStateHandler(1e-6, 0, 0).reader_idle_time == 0.001
    assert not ch.finish()
    assert not other.finish()


@pytest.mark.parametrize(
    "make",
    [
        lambda: nioxide.IdleStateHandler(-1, 0, 0),
        lambda: nioxide.IdleStateHandler(0, float("nan"), 0),
        lambda: nioxide.IdleStateHandler(0, 0, -0.5),
        lambda: nioxide.ReadTimeoutHandler(-1),
        lambda: nioxide.WriteTimeoutHandler(float("nan")),
    ],
)
def test_bad_times_are_refused(make: Any) -> None:
    with pytest.raises(nioxide.InvalidArgumentError):
        make()
    with pytest.raises(ValueError):
        make()


def test_idle_events_can_be_fired_and_pass_through_handlers() -> None:
    events = Events()
    ch = nioxide.EmbeddedChannel(nioxide.WriteTimeoutHandler(0), events)
    ch.pipeline.fire_user_event_triggered(E.ALL_IDLE_STATE_EVENT)
    assert events.take() == [E.ALL_IDLE_STATE_EVENT]
    assert not ch.finish()


class Init(nioxide.ChannelInitializer):
    def __init__(self, events: Events) -> None:
        self.events = events

    def init_channel(self, channel: nioxide.Channel) -> None:
        channel.pipeline.add_last(nioxide.IdleStateHandler(0.02, 0, 0))
        channel.pipeline.add_last(nioxide.ReadTimeoutHandler(0.3))
        channel.pipeline.add_last(self.events)


def test_an_idle_tcp_connection_is_told_then_closed_by_the_read_timeout() -> None:
    events = Events()
    with nioxide.EventLoopGroup(1) as group:
        bound = nioxide.ServerBootstrap().group(group, group).child_handler(Init(events)).bind(
            ("127.0.0.1", 0)
        )
        bound.result(WAIT)
        server = bound.channel
        try:
            with socket.create_connection(server.local_address, timeout=WAIT) as peer:
                assert peer.recv(1) == b""  # the server closed it
            assert events.closed.wait(WAIT)
            seen = events.take()
            assert seen[0] is E.FIRST_READER_IDLE_STATE_EVENT
            assert all(e is E.READER_IDLE_STATE_EVENT for e in seen[1:-1])
            assert isinstance(seen[-1], nioxide.ReadTimeoutException)
        finally:
            server.close().result(WAIT)


@pytest.mark.parametrize("observe_output", [False, True])
def test_observe_output_counts_queued_output_after_the_first_event(observe_output: bool) -> None:
    events = Events()
    handler = nioxide.IdleStateHandler(0, 1.0, 0, observe_output=observe_output)
    assert handler.observe_output is observe_output
    assert ("observe_output=True" in repr(handler)) is observe_output
    ch = nioxide.EmbeddedChannel(handler, events)
    ch.channel.write(b"queued, never flushed")  # in progress, never complete
    ch.run_pending_tasks()
    ch.advance_time_by(1.0)
    assert events.take() == [E.FIRST_WRITER_IDLE_STATE_EVENT]  # either way
    ch.channel.write(b"more")  # the outbound buffer changed
    ch.run_pending_tasks()
    ch.advance_time_by(1.0)
    assert events.take() == ([] if observe_output else [E.WRITER_IDLE_STATE_EVENT])
    ch.advance_time_by(1.0)  # nothing changed for a period: idle
    assert events.take() == [E.WRITER_IDLE_STATE_EVENT]
    ch.channel.flush()
    assert ch.finish_and_release_all()
    assert not nioxide.IdleStateHandler(1, 1, 1).observe_output
    with pytest.raises(TypeError):
        nioxide.IdleStateHandler(1, 1, 1, True)  # type: ignore[misc]


class Flood(nioxide.ChannelInboundHandler):
    """Writes `size` bytes, one message, once active."""

    def __init__(self, size: int) -> None:
        self.size = size

    def channel_active(self, ctx: Any) -> None:
        ctx.write_and_flush(b"\x07" * self.size)
        ctx.fire_channel_active()


class FloodInit(nioxide.ChannelInitializer):
    def __init__(self, events: Events, size: int) -> None:
        self.events = events
        self.size = size

    def init_channel(self, channel: nioxide.Channel) -> None:
        channel.pipeline.add_last(nioxide.IdleStateHandler(0, 0.02, 0, observe_output=True))
        channel.pipeline.add_last(Flood(self.size))
        channel.pipeline.add_last(self.events)


def test_observe_output_over_tcp_against_a_peer_that_does_not_read() -> None:
    """Output stalled by a peer that does not read is still idle (after the first event,
    later ones fire while no byte leaves); once the peer reads it all, the completed write
    starts a new first event."""
    events = Events()
    size = 8 << 20
    with nioxide.EventLoopGroup(1) as group:
        bound = nioxide.ServerBootstrap().group(group, group).child_handler(
            FloodInit(events, size)
        ).bind(("127.0.0.1", 0))
        bound.result(WAIT)
        server = bound.channel
        try:
            with socket.create_connection(server.local_address, timeout=WAIT) as peer:
                deadline = time.monotonic() + WAIT
                while len(events.seen) < 3 and time.monotonic() < deadline:
                    time.sleep(0.01)
                stalled = events.take()
                assert len(stalled) >= 3
                assert stalled[0] is E.FIRST_WRITER_IDLE_STATE_EVENT
                assert all(e is E.WRITER_IDLE_STATE_EVENT for e in stalled[1:])
                got = 0
                while got < size:
                    chunk = peer.recv(1 << 16)
                    assert chunk and chunk.count(7) == len(chunk)
                    got += len(chunk)
                deadline = time.monotonic() + WAIT
                while E.FIRST_WRITER_IDLE_STATE_EVENT not in events.seen:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
        finally:
            server.close().result(WAIT)
