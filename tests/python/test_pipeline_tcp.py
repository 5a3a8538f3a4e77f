"""The pipeline from Python over TCP and local channels: echo of 1 MiB byte-exact with
auto-read on and off, writability per crossing against a peer that does not read, the hard
cap, close in a write listener, writes from another thread, a peer reset with writes queued,
half-closure, refused and timed-out connects, group shutdown with live channels, exceptions
at the tail, awaiting a write future in asyncio. Every wait is bounded; addresses are
127.0.0.1 with port 0 (local names are unique per test)."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import nioxide

WAIT = 10.0
MiB = 1 << 20


pytestmark = pytest.mark.usefixtures("pipeline_objects_released")


@pytest.fixture
def groups() -> Iterator[tuple[nioxide.EventLoopGroup, nioxide.EventLoopGroup]]:
    with nioxide.EventLoopGroup(1) as boss, nioxide.EventLoopGroup(2) as workers:
        yield boss, workers


class Echo(nioxide.ChannelInboundHandler):
    """Netty's EchoServerHandler: writes without a promise in channel_read, flushes in
    channel_read_complete; with auto-read off it asks for the next batch there."""

    sharable = True

    def channel_active(self, ctx: Any) -> None:
        if not ctx.channel.get_option("AUTO_READ"):
            ctx.read()

    def channel_read(self, ctx: Any, msg: Any) -> None:
        ctx.write(msg)

    def channel_read_complete(self, ctx: Any) -> None:
        ctx.flush()
        if not ctx.channel.get_option("AUTO_READ"):
            ctx.read()


class Collector(nioxide.ChannelInboundHandler):
    """Sends `data` fire-and-forget in 64 KiB writes once active, collects what comes back,
    and closes once it has it all."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.got = bytearray()
        self.done = threading.Event()
        self.events: list[str] = []

    def channel_active(self, ctx: Any) -> None:
        self.events.append("active")
        for at in range(0, len(self.data), 65536):
            ctx.write(self.data[at : at + 65536])
        ctx.flush()
        if not ctx.channel.get_option("AUTO_READ"):
            ctx.read()

    def channel_read(self, ctx: Any, msg: Any) -> None:
        self.got += msg
        if len(self.got) >= len(self.data):
            ctx.close()

    def channel_read_complete(self, ctx: Any) -> None:
        if not ctx.channel.get_option("AUTO_READ") and ctx.channel.is_open():
            ctx.read()

    def channel_inactive(self, ctx: Any) -> None:
        self.events.append("inactive")

    def channel_unregistered(self, ctx: Any) -> None:
        self.events.append("unregistered")
        self.done.set()


class Init(nioxide.ChannelInitializer):
    def __init__(self, *handlers: Any) -> None:
        self.handlers = handlers

    def init_channel(self, channel: nioxide.Channel) -> None:
        for handler in self.handlers:
            channel.pipeline.add_last(handler)


def serve(
    groups: tuple[nioxide.EventLoopGroup, nioxide.EventLoopGroup],
    transport: str,
    child: Any,
    **child_options: Any,
) -> tuple[nioxide.Channel, Any]:
    """A server on 127.0.0.1:0 (::1 for "tcp6", a fresh name for "local") whose accepted channels get `child`
    (an initializer); returns the server channel and the address to connect to."""
    boss, workers = groups
    bootstrap = nioxide.ServerBootstrap().group(boss, workers).child_handler(child)
    for name, value in child_options.items():
        bootstrap.child_option(name, value)
    if transport in ("tcp", "tcp6"):
        host = "::1" if transport == "tcp6" else "127.0.0.1"
        bound = bootstrap.channel(nioxide.TcpServerChannel).bind((host, 0))
    else:
        name = f"test-{uuid.uuid4()}"
        bound = bootstrap.channel(nioxide.LocalServerChannel).bind(name)
    bound.result(WAIT)
    server = bound.channel
    return server, server.local_address


def client(
    workers: nioxide.EventLoopGroup, transport: str, address: Any, handler: Any, **options: Any
) -> nioxide.ChannelFuture[None]:
    bootstrap = nioxide.Bootstrap().group(workers).handler(handler)
    bootstrap.channel(nioxide.LocalChannel if transport == "local" else nioxide.TcpChannel)
    for name, value in options.items():
        bootstrap.option(name, value)
    return bootstrap.connect(address)


@pytest.mark.parametrize("auto_read", [True, False], ids=["auto-read", "read-on-demand"])
@pytest.mark.parametrize("transport", ["tcp", "tcp6", "local"])
def test_one_mib_echoes_byte_exact(groups: Any, transport: str, auto_read: bool) -> None:
    server, address = serve(groups, transport, Init(Echo()), AUTO_READ=auto_read)
    data = os.urandom(MiB)
    collector = Collector(data)
    connected = client(groups[1], transport, address, collector, AUTO_READ=auto_read)
    assert connected.result(WAIT) is None
    assert collector.done.wait(WAIT), f"echoed {len(collector.got)} of {len(data)} bytes"
    assert bytes(collector.got) == data
    assert collector.events == ["active", "inactive", "unregistered"]
    connected.channel.close_future.result(WAIT)
    server.close().result(WAIT)
    assert not server.is_open() and not connected.channel.is_active()


class Pump(nioxide.ChannelInboundHandler):
    """Writes `total` bytes in `chunk`-sized writes while the channel is writable, resuming
    on each writability event; records the events and the most bytes ever queued."""

    def __init__(self, total: int, chunk: int) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0
        self.events: list[bool] = []
        self.most_queued = 0
        self.finished = threading.Event()

    def pump(self, ctx: Any) -> None:
        ch = ctx.channel
        while ch.is_writable() and self.sent < self.total:
            ctx.write(b"w" * self.chunk)
            self.sent += self.chunk
            self.most_queued = max(self.most_queued, ch.queued_bytes())
        ctx.flush()
        if self.sent >= self.total:
            self.finished.set()

    def channel_active(self, ctx: Any) -> None:
        self.pump(ctx)

    def channel_writability_changed(self, ctx: Any) -> None:
        self.events.append(ctx.channel.is_writable())
        if ctx.channel.is_writable():
            self.pump(ctx)


@pytest.fixture
def slow_peer() -> Iterator[tuple[socket.socket, tuple[str, int]]]:
    """A plain listening socket with a small receive buffer (what it accepts does not read
    until the test says so)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    yield listener, listener.getsockname()
    listener.close()


def test_writability_events_per_crossing_and_bounded_memory(groups: Any, slow_peer: Any) -> None:
    listener, address = slow_peer
    total, chunk, (low, high) = 4 * MiB, 4096, (16384, 65536)
    pump = Pump(total, chunk)
    connected = client(groups[1], "tcp", address, pump, WRITE_BUFFER_WATER_MARK=(low, high),
                       SO_SNDBUF=8192)  # fmt: skip
    peer, _ = listener.accept()
    try:
        connected.result(WAIT)
        deadline = time.monotonic() + WAIT
        while not pump.events and time.monotonic() < deadline:
            time.sleep(0.01)  # the peer does not read: the writer stops at the high mark
        assert pump.events[:1] == [False]
        assert pump.most_queued <= high + chunk + 1024  # the high mark plus one write
        received = 0
        peer.settimeout(WAIT)
        while received < total:
            data = peer.recv(1 << 20)
            assert data, "the writer closed early"
            received += len(data)
        assert received == total and pump.finished.is_set()
        events = list(pump.events)
        assert events[0] is False and True in events
        assert all(a != b for a, b in zip(events, events[1:])), events  # one per crossing
        assert pump.most_queued <= high + chunk + 1024
    finally:
        peer.close()
        connected.channel.close().result(WAIT)


def test_the_hard_cap_fails_a_write_whole(groups: Any, slow_peer: Any) -> None:
    listener, address = slow_peer
    connected = client(groups[1], "tcp", address, nioxide.ChannelInboundHandler(),
                       WRITE_BUFFER_HARD_CAP=256 * 1024)  # fmt: skip
    peer, _ = listener.accept()
    try:
        ch = connected.result(WAIT) or connected.channel
        big = ch.write_and_flush(b"x" * (512 * 1024), ch.new_promise())
        small = ch.write_and_flush(b"y" * 1024, ch.new_promise())
        with pytest.raises(OSError) as refused:
            big.result(WAIT)
        assert refused.value.errno == 105  # ENOBUFS
        assert small.result(WAIT) is None
        assert ch.is_open()
    finally:
        peer.close()
        connected.channel.close().result(WAIT)


@pytest.mark.parametrize("listener_kind", ["CLOSE", "callable"])
def test_close_in_a_write_listener(groups: Any, listener_kind: str) -> None:
    got = bytearray()
    ended = threading.Event()

    class Sink(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_read(self, ctx: Any, msg: Any) -> None:
            got.extend(msg)

        def channel_inactive(self, ctx: Any) -> None:
            ended.set()

    class Bye(nioxide.ChannelInboundHandler):
        def channel_active(self, ctx: Any) -> None:
            done = ctx.write_and_flush(b"bye", ctx.new_promise())
            if listener_kind == "CLOSE":
                done.add_done_callback(nioxide.CLOSE)
            else:
                done.add_done_callback(lambda future: future.channel.close())

    server, address = serve(groups, "tcp", Init(Sink()))
    connected = client(groups[1], "tcp", address, Bye())
    connected.result(WAIT)
    connected.channel.close_future.result(WAIT)
    assert ended.wait(WAIT) and bytes(got) == b"bye"
    server.close().result(WAIT)


def test_writes_from_another_thread_keep_their_order(groups: Any) -> None:
    got = bytearray()
    count = 2000
    complete = threading.Event()

    class Sink(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_read(self, ctx: Any, msg: Any) -> None:
            got.extend(msg)
            if len(got) >= count * 6:
                complete.set()

    server, address = serve(groups, "tcp", Init(Sink()))
    connected = client(groups[1], "tcp", address, nioxide.ChannelInboundHandler())
    connected.result(WAIT)
    ch = connected.channel

    def writer() -> None:
        for i in range(count):
            ch.write_and_flush(b"%06d" % i)

    threads = [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert complete.wait(WAIT)
    assert bytes(got) == b"".join(b"%06d" % i for i in range(count))
    ch.close().result(WAIT)
    server.close().result(WAIT)


def test_a_peer_reset_fails_each_queued_write_once(groups: Any, slow_peer: Any) -> None:
    listener, address = slow_peer
    connected = client(groups[1], "tcp", address, nioxide.ChannelInboundHandler(),
                       SO_SNDBUF=8192)  # fmt: skip
    peer, _ = listener.accept()
    ch = connected.result(WAIT) or connected.channel
    calls: list[Any] = []
    promises = []
    for _ in range(64):
        promise = ch.write(b"r" * 16384, ch.new_promise())
        assert promise is not None
        promise.add_done_callback(calls.append)
        promises.append(promise)
    ch.flush()
    time.sleep(0.1)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()  # a reset: the queued writes fail
    ch.close_future.result(WAIT)
    deadline = time.monotonic() + WAIT
    while len(calls) < len(promises) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) == len(promises)  # each listener once
    assert len({id(p) for p in calls}) == len(promises)
    failures = [p.exception(0) for p in promises if p.exception(0) is not None]
    assert failures, "no write failed"
    assert all(isinstance(e, (nioxide.ConnectionResetError, nioxide.ClosedChannelError,
                              nioxide.BrokenPipeError)) for e in failures), failures  # fmt: skip


@pytest.mark.parametrize("half_closure", [True, False], ids=["half-closure", "close-at-eof"])
def test_half_closure(groups: Any, half_closure: bool) -> None:
    seen: list[Any] = []
    answered = threading.Event()
    got = bytearray()

    class Server(nioxide.ChannelInboundHandler):
        sharable = True

        def user_event_triggered(self, ctx: Any, event: Any) -> None:
            seen.append(event)
            if event is nioxide.CHANNEL_INPUT_SHUTDOWN:
                assert ctx.channel.is_open() and ctx.channel.is_writable()
                reply = ctx.write_and_flush(b"after eof", ctx.new_promise())
                reply.add_done_callback(nioxide.CLOSE)

        def channel_inactive(self, ctx: Any) -> None:
            seen.append("inactive")

    class Client(nioxide.ChannelInboundHandler):
        def channel_active(self, ctx: Any) -> None:
            ctx.channel.shutdown_output()

        def channel_read(self, ctx: Any, msg: Any) -> None:
            got.extend(msg)

        def channel_inactive(self, ctx: Any) -> None:
            answered.set()

    server, address = serve(groups, "tcp", Init(Server()), ALLOW_HALF_CLOSURE=half_closure)
    connected = client(groups[1], "tcp", address, Client())  # closes at end of stream
    connected.result(WAIT)
    assert answered.wait(WAIT)
    if half_closure:
        assert bytes(got) == b"after eof"
        assert seen[:1] == [nioxide.CHANNEL_INPUT_SHUTDOWN]
    else:
        assert bytes(got) == b"" and nioxide.CHANNEL_INPUT_SHUTDOWN not in seen
    connected.channel.close().result(WAIT)
    server.close().result(WAIT)


class Watcher(nioxide.ChannelInboundHandler):
    def __init__(self) -> None:
        self.events: list[str] = []

    def channel_active(self, ctx: Any) -> None:
        self.events.append("active")

    def channel_unregistered(self, ctx: Any) -> None:
        self.events.append("unregistered")


def test_a_refused_connect_fails_and_never_becomes_active(groups: Any) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    address = probe.getsockname()
    probe.close()  # nothing listens there now
    watcher = Watcher()
    connected = client(groups[1], "tcp", address, watcher)
    with pytest.raises(nioxide.ConnectionRefusedError) as refused:
        connected.result(WAIT)
    assert refused.value.errno == 111
    connected.channel.close_future.result(WAIT)
    assert "active" not in watcher.events and watcher.events == ["unregistered"]


def test_a_connect_times_out(groups: Any) -> None:
    # A listener whose accept queue is full drops the SYNs of further connects.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(listener.getsockname())
            fillers.append(s)
        time.sleep(0.1)
        watcher = Watcher()
        started = time.monotonic()
        connected = client(groups[1], "tcp", listener.getsockname(), watcher,
                           CONNECT_TIMEOUT_MILLIS=300)  # fmt: skip
        with pytest.raises(nioxide.TimeoutError):
            connected.result(WAIT)
        assert time.monotonic() - started < WAIT
        connected.channel.close_future.result(WAIT)
        assert "active" not in watcher.events
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_group_shutdown_closes_live_channels_once() -> None:
    boss, workers = nioxide.EventLoopGroup(1), nioxide.EventLoopGroup(2)
    log: list[str] = []
    lock = threading.Lock()

    class Life(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_active(self, ctx: Any) -> None:
            with lock:
                log.append(f"active {ctx.channel.id}")
            ctx.fire_channel_active()

        def channel_inactive(self, ctx: Any) -> None:
            with lock:
                log.append(f"inactive {ctx.channel.id}")

        def channel_unregistered(self, ctx: Any) -> None:
            with lock:
                log.append(f"unregistered {ctx.channel.id}")

    server, address = serve((boss, workers), "tcp", Init(Life(), Echo()))
    connected = client(workers, "tcp", address, Init(Life()))
    connected.result(WAIT)
    ch = connected.channel
    deadline = time.monotonic() + WAIT
    while len(log) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # both ends active (the server accepted)
    for _ in range(8):
        ch.write(b"q" * 65536)  # queued writes at the shutdown
    ch.flush()
    close_futures = [ch.close_future, server.close_future]
    for group in (boss, workers):
        group.shutdown_gracefully(0.0, 2.0)
    for group in (boss, workers):
        assert group.await_termination(WAIT)
    for future in close_futures:
        assert future.done()
    with lock:
        entries = list(log)
    # each live channel (client, accepted) inactive and unregistered exactly once, in order
    ids = [e.split()[1] for e in entries if e.startswith("active")]
    assert len(ids) == 2, entries
    for id_ in ids:
        mine = [e.split()[0] for e in entries if e.split()[1] == id_]
        assert mine == ["active", "inactive", "unregistered"], entries
    del ch, connected, server, close_futures


def test_an_exception_at_the_tail_goes_to_the_loops_handler_and_the_channel_stays_open(
    groups: Any,
) -> None:
    contexts: list[dict[str, Any]] = []
    echoed = threading.Event()
    got = bytearray()

    class FailsOnce(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_read(self, ctx: Any, msg: Any) -> None:
            if not getattr(ctx.channel, "failed", False):
                ctx.channel.failed = True
                raise ValueError("handler bug")
            ctx.fire_channel_read(msg)

    class Talk(nioxide.ChannelInboundHandler):
        def channel_active(self, ctx: Any) -> None:
            ctx.write_and_flush(b"first")

        def channel_read(self, ctx: Any, msg: Any) -> None:
            got.extend(msg)
            echoed.set()

    groups[1].set_exception_handler(lambda loop, context: contexts.append(context))
    server, address = serve(groups, "tcp", Init(FailsOnce(), Echo()))
    connected = client(groups[1], "tcp", address, Talk())
    ch = connected.result(WAIT) or connected.channel
    deadline = time.monotonic() + WAIT
    while not contexts and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], ValueError)
    assert isinstance(contexts[0]["channel"], nioxide.TcpChannel)
    ch.write_and_flush(b"second")  # the accepted channel is still open and echoes
    assert echoed.wait(WAIT) and bytes(got) == b"second"
    groups[1].set_exception_handler(None)
    ch.close().result(WAIT)
    server.close().result(WAIT)
    contexts.clear()


def test_a_write_future_is_awaitable_in_asyncio(groups: Any) -> None:
    server, address = serve(groups, "local", Init(Echo()))

    async def main() -> Any:
        connected = client(groups[1], "local", address, nioxide.ChannelInboundHandler())
        await connected
        ch = connected.channel
        written = ch.write_and_flush(b"awaited", ch.new_promise())
        assert written is not None
        result = await asyncio.wait_for(asyncio.ensure_future(_await(written)), WAIT)
        await asyncio.wait_for(asyncio.ensure_future(_await(ch.close())), WAIT)
        return result

    assert asyncio.run(main()) is None
    server.close().result(WAIT)


async def _await(future: Any) -> Any:
    return await future


def test_a_channel_made_by_hand_registers_and_connects(groups: Any) -> None:
    server, address = serve(groups, "tcp", Init(Echo()))
    loop = groups[1].next()
    ch = nioxide.TcpChannel.open(loop)
    assert isinstance(ch, nioxide.TcpChannel) and ch.event_loop is loop
    assert not ch.is_registered() and not ch.is_active()
    got = bytearray()
    echoed = threading.Event()

    class Reads(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            got.extend(msg)
            echoed.set()

    ch.pipeline.add_last(Reads())
    assert ch.register().result(WAIT) is None
    assert ch.connect(address).result(WAIT) is None
    assert ch.is_active() and ch.remote_address == address
    # A message that is not bytes fails at a TCP channel's head.
    refused = ch.write_and_flush(object(), ch.new_promise())
    with pytest.raises(nioxide.InvalidArgumentError):
        refused.result(WAIT)
    ch.write_and_flush(b"by hand")
    assert echoed.wait(WAIT)
    deadline = time.monotonic() + WAIT
    while bytes(got) != b"by hand" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bytes(got) == b"by hand"
    ch.close().result(WAIT)
    server.close().result(WAIT)


def test_a_failing_exception_caught_is_reported_once_not_looped(groups: Any) -> None:
    contexts: list[dict[str, Any]] = []
    calls: list[str] = []

    class FailsTwice(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_read(self, ctx: Any, msg: Any) -> None:
            calls.append("read")
            raise ValueError("first")

        def exception_caught(self, ctx: Any, exception: BaseException) -> None:
            calls.append(f"caught {exception}")
            raise RuntimeError("second")

    groups[1].set_exception_handler(lambda loop, context: contexts.append(context))
    server, address = serve(groups, "tcp", Init(FailsTwice()))
    connected = client(groups[1], "tcp", address, nioxide.ChannelInboundHandler())
    ch = connected.result(WAIT) or connected.channel
    ch.write_and_flush(b"x")
    deadline = time.monotonic() + WAIT
    while not contexts and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert calls == ["read", "caught first"]
    assert len(contexts) == 1 and isinstance(contexts[0]["exception"], RuntimeError)
    groups[1].set_exception_handler(None)
    ch.close().result(WAIT)
    server.close().result(WAIT)
    contexts.clear()


def test_a_taken_address_fails_the_bind_and_an_unbound_name_the_connect(groups: Any) -> None:
    server, address = serve(groups, "tcp", Init(Echo()))
    again = nioxide.ServerBootstrap().group(*groups).child_handler(Init(Echo())).bind(address)
    with pytest.raises(OSError) as taken:
        again.result(WAIT)
    assert taken.value.errno == 98  # EADDRINUSE
    again.channel.close_future.result(WAIT)
    assert not again.channel.is_open()
    nowhere = client(groups[1], "local", f"nobody-{uuid.uuid4()}", nioxide.ChannelInboundHandler())
    with pytest.raises(nioxide.ConnectionRefusedError):
        nowhere.result(WAIT)
    nowhere.channel.close_future.result(WAIT)
    with pytest.raises(nioxide.InvalidArgumentError, match="sharable"):
        nioxide.ServerBootstrap().child_handler(nioxide.ChannelInboundHandler())
    with pytest.raises(TypeError, match="channel"):
        nioxide.Bootstrap().channel(nioxide.SocketChannel)
    server.close().result(WAIT)


def test_a_write_listener_runs_though_nothing_holds_its_future(groups: Any, slow_peer: Any) -> None:
    listener, address = slow_peer
    connected = client(groups[1], "tcp", address, nioxide.ChannelInboundHandler(),
                       SO_SNDBUF=8192)  # fmt: skip
    peer, _ = listener.accept()
    try:
        ch = connected.result(WAIT) or connected.channel
        ran = threading.Event()
        ch.write_and_flush(b"p" * MiB, ch.new_promise()).add_done_callback(lambda f: ran.set())
        gc.collect()  # the future and its callback form a cycle only the write ends
        assert not ran.is_set()
        received = 0
        peer.settimeout(WAIT)
        while received < MiB:
            data = peer.recv(1 << 20)
            assert data
            received += len(data)
        assert ran.wait(WAIT)
    finally:
        peer.close()
        connected.channel.close().result(WAIT)


def test_a_server_handler_sees_each_accepted_channel_and_passes_it_on(groups: Any) -> None:
    accepted: list[nioxide.Channel] = []

    class Accepts(nioxide.ChannelInboundHandler):
        def channel_read(self, ctx: Any, msg: Any) -> None:
            assert isinstance(msg, nioxide.TcpChannel) and msg.parent == ctx.channel
            accepted.append(msg)
            ctx.fire_channel_read(msg)  # on to the bootstrap's acceptor, which sets it up

    boss, workers = groups
    bound = (nioxide.ServerBootstrap().group(boss, workers).handler(Accepts())
             .child_handler(Init(Echo())).bind(("127.0.0.1", 0)))  # fmt: skip
    bound.result(WAIT)
    data = os.urandom(4096)
    collector = Collector(data)
    connected = client(workers, "tcp", bound.channel.local_address, collector)
    connected.result(WAIT)
    assert collector.done.wait(WAIT) and bytes(collector.got) == data
    assert len(accepted) == 1
    accepted.clear()
    bound.channel.close().result(WAIT)


def test_a_local_channel_drops_its_pending_read_when_auto_read_goes_off(groups: Any) -> None:
    """The read auto-read asked for at activation, never served, is dropped when auto-read
    is switched off (as on TCP): a later message waits for read()."""
    active = threading.Event()
    got = bytearray()
    children: list[nioxide.Channel] = []

    class Keep(nioxide.ChannelInboundHandler):
        def channel_active(self, ctx: Any) -> None:
            children.append(ctx.channel)
            active.set()

        def channel_read(self, ctx: Any, msg: Any) -> None:
            got.extend(msg)

    server, address = serve(groups, "local", Init(Keep()))
    connected = client(groups[1], "local", address, Init())
    connected.result(WAIT)
    assert active.wait(WAIT)
    child = children[0]
    child.set_option("AUTO_READ", False)
    connected.channel.write_and_flush(b"a")
    time.sleep(0.1)
    assert got == b"", "read with auto-read off"
    child.read()
    deadline = time.monotonic() + WAIT
    while got != b"a" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == b"a"
    connected.channel.close().result(WAIT)
    server.close().result(WAIT)
    children.clear()


def test_bootstraps_take_a_native_handler_for_one_pipeline(groups: Any) -> None:
    contexts: list[dict[str, Any]] = []
    accepted: list[nioxide.Channel] = []

    class Accepts(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_read(self, ctx: Any, msg: Any) -> None:
            accepted.append(msg)
            ctx.fire_channel_read(msg)

    boss, workers = groups
    workers.set_exception_handler(lambda loop, context: contexts.append(context))
    server_native = nioxide.IdleStateHandler(0, 0, 60)
    child_native = nioxide.LineBasedFrameDecoder(64)
    # The server channel's single pipeline takes a native handler, and so does the first
    # accepted channel's.
    bound = (nioxide.ServerBootstrap().group(boss, workers).handler(server_native)
             .child_handler(child_native).channel(nioxide.LocalServerChannel)
             .bind(f"test-{uuid.uuid4()}"))  # fmt: skip
    bound.result(WAIT)
    server = bound.channel
    assert server.pipeline.get(server.pipeline.names()[0]) is server_native
    server.pipeline.add_first(Accepts())  # sees each accepted channel on its way in
    first = client(workers, "local", server.local_address, Init())
    first.result(WAIT)
    deadline = time.monotonic() + WAIT
    # Seen on its way to the acceptor, which then sets it up on its own loop.

    def first_handler(channel: nioxide.Channel) -> Any:
        names = channel.pipeline.names()
        return channel.pipeline.get(names[0]) if names else None

    while not (accepted and first_handler(accepted[0]) is child_native):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # The next accepted channel's add fails as a second add of a non-sharable handler does:
    # that channel is closed and the error goes to its loop's exception handler.
    second = client(workers, "local", server.local_address, Init())
    second.result(WAIT)
    second.channel.close_future.result(WAIT)
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], nioxide.InvalidArgumentError)
    assert "joins one pipeline only" in str(contexts[0]["exception"])
    assert accepted[0].is_open()
    # A client bootstrap (to a server of plain children): the first connect takes it, the
    # next one's add fails.
    plain, address = serve(groups, "local", Init())
    native = nioxide.LineBasedFrameDecoder(64)
    bootstrap = nioxide.Bootstrap().group(workers).channel(nioxide.LocalChannel).handler(native)
    one = bootstrap.connect(address)
    one.result(WAIT)
    assert first_handler(one.channel) is native
    with pytest.raises(nioxide.InvalidArgumentError, match="joins one pipeline only"):
        bootstrap.connect(address)  # at the call: no channel is made
    # Likewise a bind whose server handler joined another server's pipeline.
    with pytest.raises(nioxide.InvalidArgumentError, match="joins one pipeline only"):
        (nioxide.ServerBootstrap().group(boss, workers).handler(server_native)
         .child_handler(Init()).channel(nioxide.LocalServerChannel).bind("unused"))  # fmt: skip
    with pytest.raises(TypeError):
        nioxide.Bootstrap().handler(42)
    with pytest.raises(TypeError):
        nioxide.ServerBootstrap().handler(object())
    workers.set_exception_handler(None)
    for ch in (one.channel, first.channel, server, plain):
        ch.close().result(WAIT)
    contexts.clear()
    accepted.clear()


def test_each_bootstrap_takes_only_its_own_channel_kinds() -> None:
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.ServerBootstrap().channel(nioxide.TcpChannel)
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.Bootstrap().channel(nioxide.LocalServerChannel)
    nioxide.ServerBootstrap().channel(nioxide.LocalServerChannel)
    nioxide.Bootstrap().channel(nioxide.LocalChannel)


def test_a_context_that_outlived_its_handler_writes_nowhere(groups: Any) -> None:
    """C's context handle answers NX_ECLOSED once its channel is torn down; a Python context
    object stays usable as an object, and what it starts fails as closed (writes) or goes
    nowhere, from the loop's thread and from another, without raising."""
    kept: dict[str, Any] = {}
    removed = threading.Event()

    class Keeps(nioxide.ChannelInboundHandler):
        def handler_added(self, ctx: Any) -> None:
            kept["ctx"] = ctx

        def handler_removed(self, ctx: Any) -> None:
            removed.set()

    server, address = serve(groups, "local", Init(Keeps()))
    connected = client(groups[1], "local", address, nioxide.ChannelInboundHandler())
    connected.result(WAIT)
    connected.channel.close().result(WAIT)
    assert removed.wait(WAIT)
    ctx = kept.pop("ctx")
    ctx.channel.close_future.result(WAIT)
    assert ctx.is_removed() and ctx.handler is None

    def use() -> list[type[BaseException]]:
        failures: list[type[BaseException]] = []
        future = ctx.write_and_flush(b"late", ctx.new_promise())
        exc = future.exception(WAIT) if not ctx.executor.in_event_loop() else None
        if exc is not None:
            failures.append(type(exc))
        ctx.flush()
        ctx.read()
        ctx.fire_channel_read(b"late")
        kept["future"] = future
        return failures

    assert use() == [nioxide.ClosedChannelError]  # from this thread
    assert ctx.executor.submit(use).result(WAIT) == []  # from the loop's (no waiting there)
    assert isinstance(kept.pop("future").exception(WAIT), nioxide.ClosedChannelError)
    server.close().result(WAIT)


def test_a_channel_knows_its_event_loop_and_a_context_its_executor(groups: Any) -> None:
    seen: list[tuple[Any, Any, bool]] = []
    done = threading.Event()

    class Looks(nioxide.ChannelInboundHandler):
        def channel_active(self, ctx: Any) -> None:
            seen.append((ctx.channel.event_loop, ctx.executor, ctx.executor.in_event_loop()))
            done.set()
            ctx.fire_channel_active()

    boss, workers = groups
    server, address = serve(groups, "local", Init(Looks()))
    connected = client(workers, "local", address, nioxide.ChannelInboundHandler())
    connected.result(WAIT)
    assert done.wait(WAIT)
    channel_loop, executor, inside = seen.pop()
    assert channel_loop is executor and inside
    assert any(channel_loop is lp for lp in workers.loops)
    assert any(server.event_loop is lp for lp in boss.loops)
    ran = executor.submit(lambda: executor.in_event_loop()).result(WAIT)
    assert ran is True and not executor.in_event_loop()
    connected.channel.close().result(WAIT)
    server.close().result(WAIT)


def test_a_local_servers_auto_read_gates_accepting(groups: Any) -> None:
    """As on TCP: with auto-read off, connections wait (their clients connected) until
    read(); turning auto-read on issues read(); the server's close closes those waiting."""
    active: list[Any] = []

    class Counts(nioxide.ChannelInboundHandler):
        sharable = True

        def channel_active(self, ctx: Any) -> None:
            active.append(ctx.channel)
            ctx.fire_channel_active()

    def stays_at(want: int) -> None:
        deadline = time.monotonic() + WAIT
        while len(active) < want and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert len(active) == want

    boss, workers = groups
    bootstrap = nioxide.ServerBootstrap().group(boss, workers).channel(nioxide.LocalServerChannel)
    bound = bootstrap.option("AUTO_READ", False).child_handler(Init(Counts())).bind(
        f"test-{uuid.uuid4()}"
    )
    bound.result(WAIT)
    server = bound.channel
    clients = []
    for _ in range(3):
        connected = client(workers, "local", server.local_address, nioxide.ChannelInboundHandler())
        connected.result(WAIT)  # connected, as in a listen backlog
        clients.append(connected.channel)
    stays_at(0)
    server.read()
    stays_at(3)
    connected = client(workers, "local", server.local_address, nioxide.ChannelInboundHandler())
    connected.result(WAIT)
    clients.append(connected.channel)
    stays_at(3)
    server.set_option("AUTO_READ", True)
    stays_at(4)
    server.set_option("AUTO_READ", False)
    time.sleep(0.05)
    connected = client(workers, "local", server.local_address, nioxide.ChannelInboundHandler())
    connected.result(WAIT)
    stays_at(4)
    server.close().result(WAIT)
    connected.channel.close_future.result(WAIT)
    assert not connected.channel.is_open() and len(active) == 4
    for ch in clients:
        ch.close().result(WAIT)
    active.clear()


def test_an_exception_at_the_tail_goes_to_its_own_loops_handler_only() -> None:
    """Each loop has its own handler and count: an exception on a channel of one group
    reaches that group's handler, not the other's."""
    seen: dict[str, list[Any]] = {"a": [], "b": []}
    with nioxide.EventLoopGroup(1) as a, nioxide.EventLoopGroup(1) as b:
        a.set_exception_handler(lambda loop, context: seen["a"].append((loop, context)))
        b.set_exception_handler(lambda loop, context: seen["b"].append((loop, context)))
        server, address = serve((b, b), "local", Init(Echo()))
        connected = client(a, "local", address, nioxide.ChannelInboundHandler())
        connected.result(WAIT)
        ch = connected.channel
        before_a = ch.event_loop.counters()["unhandled_exceptions"]
        before_b = server.event_loop.counters()["unhandled_exceptions"]
        ch.pipeline.fire_exception_caught(ValueError("nobody handles this"))
        deadline = time.monotonic() + WAIT
        while not seen["a"] and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        assert len(seen["a"]) == 1 and seen["b"] == []
        loop, context = seen["a"][0]
        assert loop is ch.event_loop and context["channel"] is ch
        assert isinstance(context["exception"], ValueError)
        assert ch.event_loop.counters()["unhandled_exceptions"] == before_a + 1
        assert server.event_loop.counters()["unhandled_exceptions"] == before_b
        assert ch.is_open()
        ch.close().result(WAIT)
        server.close().result(WAIT)
        a.set_exception_handler(None)
        b.set_exception_handler(None)
        del loop, context
        seen.clear()
