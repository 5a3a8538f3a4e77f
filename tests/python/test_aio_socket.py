"""AsynchronousSocketChannel and AsynchronousServerSocketChannel: handlers and futures,
pending-operation errors, close, timeouts, cancel, the write queue, buffers (issue 11 §2, §6)."""

from __future__ import annotations

import asyncio
import contextvars
import errno
import gc
import os
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import nioxide
from aio_support import Recorder, connected_pair
from support import WAIT


@pytest.fixture
def group() -> Iterator[nioxide.AsynchronousChannelGroup]:
    """A one-thread group, shut down and terminated after the test."""
    group = nioxide.AsynchronousChannelGroup.with_threads(1)
    yield group
    group.shutdown_now()
    assert group.await_termination(WAIT)


@pytest.fixture
def pair(
    group: nioxide.AsynchronousChannelGroup,
) -> Iterator[tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel]]:
    server, client, accepted = connected_pair(group)
    server.close()
    yield client, accepted
    client.close()
    accepted.close()


def test_handlers_accept_connect_read_write(group: nioxide.AsynchronousChannelGroup) -> None:
    with nioxide.AsynchronousServerSocketChannel.open(group) as server:
        server.bind(("127.0.0.1", 0))
        accepted, connected = Recorder(), Recorder()
        assert server.accept("a", accepted) is None
        client = nioxide.AsynchronousSocketChannel.open(group)
        assert client.connect(server.local_address, "c", connected) is None
        assert connected.wait() == ("completed", None, "c")
        kind, peer, attachment = accepted.wait()
        assert (kind, attachment) == ("completed", "a")
        assert isinstance(peer, nioxide.AsynchronousSocketChannel)
        assert peer.remote_address == client.local_address
        # Handlers run on the group's thread, never in the calling one.
        assert accepted.threads[0].startswith("nioxide") or accepted.threads[0] != "MainThread"

        wrote, read = Recorder(), Recorder()
        buf = bytearray(16)
        peer.read(buf, "r", wrote and read)
        client.write(memoryview(b"hello world"), "w", wrote)
        assert wrote.wait() == ("completed", 11, "w")
        assert read.wait() == ("completed", 11, "r")
        assert bytes(buf[:11]) == b"hello world"
        # A pair of callables is a handler too.
        got: list[Any] = []
        done = threading.Event()
        peer.write(b"back", None, (lambda r, a: (got.append(r), done.set()), lambda e, a: None))
        assert done.wait(WAIT) and got == [4]
        assert client.read(bytearray(4)).result(WAIT) == 4
        client.close()
        peer.close()


def test_futures_and_asyncio(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    assert client.write(b"abc").result(WAIT) == 3
    buf = bytearray(8)
    assert accepted.read(buf).result(WAIT) == 3

    async def exchange() -> int:
        written = await client.write_all(b"12345")
        assert written == 5
        return await accepted.read(buf)

    assert asyncio.run(asyncio.wait_for(exchange(), WAIT)) == 5
    assert bytes(buf[:5]) == b"12345"


def test_end_of_stream_and_empty_buffer(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    assert accepted.read(bytearray(0)).result(WAIT) == 0
    client.shutdown_output()
    assert accepted.read(bytearray(4)).result(WAIT) == -1


def test_refused_connect(group: nioxide.AsynchronousChannelGroup) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with nioxide.AsynchronousSocketChannel.open(group) as client:
        with pytest.raises(ConnectionRefusedError) as info:
            client.connect(("127.0.0.1", port)).result(WAIT)
        assert info.value.errno == errno.ECONNREFUSED
        assert not client.is_open()  # a failed connect closes the channel, as in Java


def test_connect_timeout_against_a_full_backlog(group: nioxide.AsynchronousChannelGroup) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = []
        try:
            # Fill the accept queue: later SYNs are dropped, so a connect never completes.
            for _ in range(8):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(listener.getsockname())
                fillers.append(s)
            client = nioxide.AsynchronousSocketChannel.open(group)
            recorder = Recorder()
            client.connect(listener.getsockname(), None, recorder, timeout=0.3)
            kind, exc, _ = recorder.wait()
            assert kind == "failed" and isinstance(exc, nioxide.TimeoutError)
            assert not client.is_open()
            assert len(recorder.calls) == 1
        finally:
            for s in fillers:
                s.close()


def test_pending_errors_at_the_call(group: nioxide.AsynchronousChannelGroup) -> None:
    server, client, accepted = connected_pair(group)
    with server, client, accepted:
        first = client.read(bytearray(4))
        second = Recorder()
        with pytest.raises(nioxide.ReadPendingError):
            client.read(bytearray(4), None, second)
        pending_accept = server.accept()
        with pytest.raises(nioxide.AcceptPendingError):
            server.accept(None, second)
        # A raw write while write_all's writes are queued: write-pending.
        client.set_write_queue_cap(1 << 30)
        big = client.write_all(bytes(32 << 20))
        with pytest.raises(nioxide.WritePendingError):
            client.write(b"x", None, second)
        # Closing fails each pending operation with the asynchronous-close error.
        server.close()
        client.close()
        for future in (first, pending_accept, big):
            with pytest.raises(nioxide.AsynchronousCloseError):
                future.result(WAIT)
        # The calls that raised never call their handler.
        assert second.calls == []


def test_close_fails_pending_operations_once(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    read = Recorder()
    accepted.read(bytearray(4), "x", read)
    accepted.close()
    accepted.close()
    kind, exc, attachment = read.wait()
    assert (kind, attachment) == ("failed", "x")
    assert isinstance(exc, nioxide.AsynchronousCloseError)
    client.read(bytearray(1)).result(WAIT)  # -1: the peer closed
    assert len(read.calls) == 1


def test_read_timeout_disables_reads(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    with pytest.raises(nioxide.TimeoutError):
        accepted.read(bytearray(4), timeout=0.05).result(WAIT)
    client.write(b"late").result(WAIT)
    with pytest.raises(nioxide.DirectionDisabledError):
        accepted.read(bytearray(4))
    # Writes still work.
    assert accepted.write(b"ok").result(WAIT) == 2


def test_write_timeout_disables_writes(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, _ = pair
    client.set_option(nioxide.SO_SNDBUF, 4096)
    chunk = bytes(1 << 20)
    for _ in range(1000):
        future = client.write(chunk, timeout=0.2)
        try:
            future.result(WAIT)
        except nioxide.TimeoutError:
            break
    else:
        pytest.fail("the peer never stopped taking bytes")
    with pytest.raises(nioxide.DirectionDisabledError):
        client.write(b"x")


def test_future_cancel(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    future = accepted.read(bytearray(4))
    assert future.cancel()
    assert future.cancelled()
    with pytest.raises(nioxide.CancelledError):
        future.result(WAIT)
    with pytest.raises(nioxide.DirectionDisabledError):
        accepted.read(bytearray(4))


def test_buffers_are_pinned_until_completion(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    buf = bytearray(8)
    future = accepted.read(buf)
    with pytest.raises(BufferError):
        buf.extend(b"more")
    client.write(b"data").result(WAIT)
    assert future.result(WAIT) == 4
    buf.extend(b"more")  # let go once complete
    with pytest.raises(TypeError):
        accepted.read(b"bytes is read-only")
    with pytest.raises(TypeError):
        accepted.read(bytearray(4), None, object())
    with pytest.raises(TypeError):
        accepted.read(bytearray(4), "an attachment without a handler")
    # Neither call started a read.
    client.write(b"x").result(WAIT)
    assert accepted.read(bytearray(4)).result(WAIT) == 1


def test_one_mebibyte_echo_scattering_gathering(group: nioxide.AsynchronousChannelGroup) -> None:
    server, client, accepted = connected_pair(group)
    server.close()
    data = random.Random(11).randbytes(1 << 20)

    class Echo:
        """read → write_all → read, its state in the attachment."""

        def completed(self, n: int, state: dict[str, Any]) -> None:
            if n < 0:
                accepted.close()
                return
            parts, left = [], n
            for buf in state["bufs"]:
                take = min(left, len(buf))
                parts.append(bytes(buf[:take]))
                left -= take
            accepted.write_all(parts, state, Wrote())

        def failed(self, exc: BaseException, state: dict[str, Any]) -> None:
            accepted.close()

    class Wrote:
        def completed(self, n: int, state: dict[str, Any]) -> None:
            accepted.read(state["bufs"], state, Echo())

        def failed(self, exc: BaseException, state: dict[str, Any]) -> None:
            accepted.close()

    state = {"bufs": [bytearray(1000), bytearray(3000), bytearray(4192)]}
    accepted.read(state["bufs"], state, Echo())

    pieces = [memoryview(data)[i : i + 65536] for i in range(0, len(data), 65536)]
    sent = client.write_all(pieces[:8])
    sent2 = client.write_all(pieces[8:])
    received = bytearray()
    scatter = [bytearray(7000), bytearray(9000)]
    while len(received) < len(data):
        n = client.read(scatter).result(WAIT)
        assert n > 0
        joined = bytes(scatter[0]) + bytes(scatter[1])
        received += joined[:n]
    assert sent.result(WAIT) + sent2.result(WAIT) == len(data)
    assert bytes(received) == data
    client.close()


def test_peer_reset_with_writes_queued(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    client.set_write_queue_cap(1 << 30)
    futures = [client.write_all(bytes(4 << 20)) for _ in range(4)]
    accepted.set_option(nioxide.SO_LINGER, 0)
    accepted.close()  # a reset
    outcomes = [f.exception(WAIT) for f in futures]
    assert all(isinstance(e, OSError) for e in outcomes), outcomes
    # Later writes fail at the call; reads are untouched (they see the reset or the end).
    with pytest.raises(OSError):
        client.write_all(b"x")


def test_write_queue_cap_against_a_peer_that_never_reads(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, _ = pair
    client.set_write_queue_cap(1 << 20, "fail")
    chunk = bytes(256 << 10)
    futures = []
    with pytest.raises(nioxide.WriteQueueFullError):
        for _ in range(1000):
            futures.append(client.write_all(chunk))
    assert client.queued_bytes <= (1 << 20)
    with pytest.raises(nioxide.InvalidArgumentError):
        client.set_write_queue_cap(1, "drop")
    client.set_write_queue_cap(1 << 20, "close")
    with pytest.raises(nioxide.ClosedChannelError):
        for _ in range(1000):
            futures.append(client.write_all(chunk))
    assert not client.is_open()
    # What the kernel took completed in full; what was queued failed with the close.
    for f in futures:
        error = f.exception(WAIT)
        assert error is None and f.result() == len(chunk) or isinstance(
            error, nioxide.AsynchronousCloseError
        )
    assert isinstance(futures[-1].exception(WAIT), nioxide.AsynchronousCloseError)


def test_close_and_group_shutdown_inside_a_handler() -> None:
    group = nioxide.AsynchronousChannelGroup.with_threads(1)
    server, client, accepted = connected_pair(group)
    seen: list[Any] = []
    done = threading.Event()

    class Closer:
        def completed(self, n: int, attachment: Any) -> None:
            accepted.close()
            server.close()
            group.shutdown_now()
            try:
                group.await_termination(0.1)
            except nioxide.DeadlockError as e:
                seen.append(e)
            done.set()

        def failed(self, exc: BaseException, attachment: Any) -> None:
            seen.append(exc)
            done.set()

    accepted.read(bytearray(4), None, Closer())
    client.write(b"x").result(WAIT)
    assert done.wait(WAIT)
    assert group.await_termination(WAIT)
    assert group.is_terminated()
    assert len(seen) == 1 and isinstance(seen[0], nioxide.DeadlockError)
    assert not client.is_open()
    with pytest.raises(nioxide.ShutdownChannelGroupError):
        nioxide.AsynchronousSocketChannel.open(group)


def test_raising_handlers_go_to_the_exception_handler(
    group: nioxide.AsynchronousChannelGroup,
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    contexts: list[dict[str, Any]] = []
    reported = threading.Semaphore(0)

    def on_error(loop: nioxide.EventLoop, context: dict[str, Any]) -> None:
        contexts.append(context)
        reported.release()

    group.set_exception_handler(on_error)

    class Raising:
        def completed(self, n: int, i: int) -> None:
            raise ValueError(i)

        def failed(self, exc: BaseException, i: int) -> None:
            raise ValueError(i)

    handler = Raising()
    for i in range(300):
        client.write(b"x", i, handler)
        assert reported.acquire(timeout=WAIT)
    assert [c["exception"].args[0] for c in contexts] == list(range(300))
    assert contexts[0]["handler"] is handler
    assert "completion handler" in contexts[0]["message"]
    # The group's thread goes on.
    assert accepted.read(bytearray(400)).result(WAIT) > 0


def test_shutdown_now_fails_pending_operations() -> None:
    group = nioxide.AsynchronousChannelGroup.with_threads(1)
    server, client, accepted = connected_pair(group)
    read, accept = Recorder(), Recorder()
    accepted.read(bytearray(4), None, read)
    server.accept(None, accept)
    group.shutdown_now()
    assert group.await_termination(WAIT)
    # The handlers ran before the group terminated, once each.
    for recorder in (read, accept):
        assert len(recorder.calls) == 1
        kind, exc, _ = recorder.calls[0]
        assert kind == "failed" and isinstance(exc, nioxide.AsynchronousCloseError)
        assert len(recorder.calls) == 1
    assert not (client.is_open() or accepted.is_open() or server.is_open())


def test_group_over_an_event_loop_group_is_never_shut_down_by_it() -> None:
    with nioxide.EventLoopGroup(1) as loops:
        group = nioxide.AsynchronousChannelGroup.with_event_loop_group(loops)
        assert group.event_loop_group is loops
        server, client, accepted = connected_pair(group)
        for channel in (server, client, accepted):
            channel.close()
        group.shutdown()
        assert group.await_termination(WAIT)
        assert not loops.is_shutting_down()
        assert loops.submit(int, "7").result(WAIT) == 7


def test_options_addresses_and_objects(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    client.set_option(nioxide.TCP_NODELAY, 1)
    assert client.get_option(nioxide.TCP_NODELAY) == 1
    assert nioxide.TCP_NODELAY in client.supported_options()
    assert client.remote_address == accepted.local_address
    assert client.fileno() >= 0
    assert "open" in repr(client)


# A program that echoes over channels opened without a group, on the default group, and
# prints "ok".
ECHO_ON_THE_DEFAULT_GROUP = (
    "import nioxide\n"
    "s = nioxide.AsynchronousServerSocketChannel.open()\n"
    "s.bind(('127.0.0.1', 0))\n"
    "f = s.accept()\n"
    "c = nioxide.AsynchronousSocketChannel.open()\n"
    "c.connect(s.local_address).result(5)\n"
    "a = f.result(5)\n"
    "assert nioxide.AsynchronousChannelGroup.default().open_channels() == 3\n"
    "a.write(b'hi').result(5)\n"
    "b = bytearray(2); assert c.read(b).result(5) == 2 and b == b'hi'\n"
    "for x in (a, c, s): x.close()\n"
    "print('ok')\n"
)


def run_in_a_fresh_process(program: str) -> None:
    """Runs `program` in a new interpreter (its default group lives only as long as that
    process) and checks that it printed "ok" and exited cleanly."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_default_group_in_a_fresh_process() -> None:
    run_in_a_fresh_process(ECHO_ON_THE_DEFAULT_GROUP)


def test_default_group_cannot_be_shut_down() -> None:
    program = (
        "import nioxide\n"
        "g = nioxide.AsynchronousChannelGroup.default()\n"
        "assert g is nioxide.AsynchronousChannelGroup.default()\n"
        "calls = [g.shutdown, g.shutdown_now, g.await_termination,\n"
        "         lambda: g.__exit__(None, None, None)]\n"
        "for call in calls:\n"
        "    try:\n"
        "        call()\n"
        "    except nioxide.UnsupportedOperationError as e:\n"
        "        assert 'default AsynchronousChannelGroup' in str(e), e\n"
        "    else:\n"
        "        raise AssertionError(call)\n"
        "try:\n"
        "    with g:\n"
        "        pass\n"
        "except nioxide.UnsupportedOperationError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('with')\n"
        "assert g.await_termination(0.01) is False\n"
        "assert not g.is_shutdown() and not g.is_terminated()\n"
    ) + ECHO_ON_THE_DEFAULT_GROUP  # the group still serves its channels
    run_in_a_fresh_process(program)


def test_groups_of_their_own_still_shut_down() -> None:
    group = nioxide.AsynchronousChannelGroup.with_threads(1)
    group.shutdown()
    assert group.is_shutdown()
    group.shutdown_now()
    assert group.await_termination(WAIT)


def test_no_objects_left(group: nioxide.AsynchronousChannelGroup) -> None:
    before = nioxide.live_objects().get("AsynchronousSocketChannel", 0)
    server, client, accepted = connected_pair(group)
    for channel in (server, client, accepted):
        channel.close()
    del server, client, accepted, channel
    gc.collect()
    assert nioxide.live_objects().get("AsynchronousSocketChannel", 0) == before


REQUEST = contextvars.ContextVar("REQUEST", default="none")


def test_handlers_run_in_the_context_of_the_starting_call(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair
    seen: list[str] = []
    done = threading.Event()

    def completed(n: int, attachment: Any) -> None:
        seen.append(REQUEST.get())
        done.set()

    token = REQUEST.set("request 7")
    try:
        accepted.read(bytearray(4), None, (completed, lambda e, a: None))
    finally:
        REQUEST.reset(token)
    client.write(b"x").result(WAIT)
    assert done.wait(WAIT)
    assert seen == ["request 7"]


def test_each_operation_runs_in_its_own_copy_of_the_context(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    # As asyncio's callbacks: a variable a handler sets stays in that operation's copy (the
    # caller and a sibling operation do not see it), and an operation a handler starts
    # copies the handler's context, the change included.
    client, accepted = pair
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    class Handler:
        def __init__(self, name: str) -> None:
            self.name = name

        def completed(self, n: int, attachment: Any) -> None:
            seen.append((self.name, REQUEST.get()))
            REQUEST.set("set by " + self.name)
            if self.name == "first":
                accepted.read(bytearray(1), None, Handler("chained"))
            elif self.name == "chained":
                done.set()

        def failed(self, exc: BaseException, attachment: Any) -> None:
            seen.append((self.name, repr(exc)))
            done.set()

    token = REQUEST.set("request 1")
    try:
        accepted.read(bytearray(1), None, Handler("first"))
    finally:
        REQUEST.reset(token)
    client.write(b"x").result(WAIT)
    deadline = time.monotonic() + WAIT
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    # A second operation on the same channel, started after the first handler set the
    # variable, in another context of the caller's.
    token = REQUEST.set("request 2")
    try:
        accepted.write(b"y", None, Handler("second"))
    finally:
        REQUEST.reset(token)
    client.write(b"z").result(WAIT)
    assert done.wait(WAIT)
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(seen) == [
        ("chained", "set by first"),
        ("first", "request 1"),
        ("second", "request 2"),
    ]
    assert REQUEST.get() == "none"


def test_shutdown_terminates_once_the_channels_are_closed() -> None:
    group = nioxide.AsynchronousChannelGroup.with_threads(1)
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.AsynchronousChannelGroup.with_threads(0)
    server, client, accepted = connected_pair(group)
    assert group.open_channels() == 3
    group.shutdown()
    assert group.is_shutdown()
    with pytest.raises(nioxide.ShutdownChannelGroupError):
        nioxide.AsynchronousServerSocketChannel.open(group)
    assert not group.await_termination(0.05)
    # The open channels still work.
    client.write(b"ok").result(WAIT)
    assert accepted.read(bytearray(2)).result(WAIT) == 2
    for channel in (server, client, accepted):
        channel.close()
    assert group.await_termination(WAIT)
    assert group.is_terminated()


def test_close_with_a_connect_pending(group: nioxide.AsynchronousChannelGroup) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = []
        try:
            for _ in range(8):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(listener.getsockname())
                fillers.append(s)
            client = nioxide.AsynchronousSocketChannel.open(group)
            recorder = Recorder()
            client.connect(listener.getsockname(), "c", recorder)
            with pytest.raises(nioxide.ConnectionPendingError):
                client.connect(listener.getsockname())
            client.close()
            kind, exc, attachment = recorder.wait()
            assert (kind, attachment) == ("failed", "c")
            assert isinstance(exc, nioxide.AsynchronousCloseError)
            assert len(recorder.calls) == 1
        finally:
            for s in fillers:
                s.close()


def test_handler_forms_and_their_failed(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    client, accepted = pair

    class NoFailed:
        def completed(self, result: Any, attachment: Any) -> None:
            pass

    class NotCallable:
        failed = 3

        def completed(self, result: Any, attachment: Any) -> None:
            pass

    class OwnFailed:
        """`failed` is the instance's own attribute, not a method of the class."""

        def __init__(self) -> None:
            self.seen: list[Any] = []
            self.failed = lambda exc, attachment: self.seen.append((type(exc), attachment))

        def completed(self, result: Any, attachment: Any) -> None:
            self.seen.append(("completed", result))

    for bad in (NoFailed(), NotCallable(), (print,), (print, 3)):
        with pytest.raises(TypeError):
            accepted.read(bytearray(4), None, bad)  # type: ignore[arg-type]
    # None of those started a read; a class method `failed` runs on failure.
    read = Recorder()
    accepted.read(bytearray(4), "a", read)
    accepted.close()
    kind, exc, attachment = read.wait()
    assert (kind, attachment) == ("failed", "a")
    assert isinstance(exc, nioxide.AsynchronousCloseError)
    own = OwnFailed()
    client.read(bytearray(4), "b", own)  # type: ignore[arg-type]
    client.close()
    deadline = WAIT
    while not own.seen and deadline > 0:
        threading.Event().wait(0.01)
        deadline -= 0.01
    assert own.seen == [(nioxide.AsynchronousCloseError, "b")]


class _Echo:
    """The server's chain read -> write -> read, its state in the attachment."""

    def __init__(self, channel: nioxide.AsynchronousSocketChannel) -> None:
        self.channel = channel
        self.buf = bytearray(256)
        self.read = _EchoRead()
        self.write = _EchoWrite()

    def start(self) -> None:
        self.channel.read(self.buf, self, self.read)


class _EchoRead:
    def completed(self, result: int, echo: _Echo) -> None:
        if result > 0:
            echo.channel.write_all(memoryview(echo.buf)[:result], echo, echo.write)

    def failed(self, exc: BaseException, echo: _Echo) -> None:
        pass


class _EchoWrite:
    def completed(self, result: int, echo: _Echo) -> None:
        echo.start()

    def failed(self, exc: BaseException, echo: _Echo) -> None:
        pass


def test_a_steady_echo_costs_no_epoll_ctl_and_about_one_wait_per_request(
    group: nioxide.AsynchronousChannelGroup,
) -> None:
    server = nioxide.AsynchronousServerSocketChannel.open(group)
    server.bind(("127.0.0.1", 0))
    accepted = server.accept()
    client = socket.create_connection(server.local_address, timeout=WAIT)
    peer = accepted.result(WAIT)
    server.close()
    try:
        _Echo(peer).start()
        message = bytes(range(64))

        def exchange() -> None:
            client.sendall(message)
            got = b""
            while len(got) < len(message):
                more = client.recv(len(message) - len(got))
                assert more, "the echo server closed"
                got += more
            assert got == message

        for _ in range(20):
            exchange()
        loop = group.loops[0]
        before = loop.counters()
        n = 300
        for _ in range(n):
            exchange()
        after = loop.counters()
    finally:
        client.close()
        peer.close()
    assert after["epoll_ctls"] == before["epoll_ctls"], "no epoll_ctl per request"
    waits = after["epoll_waits"] - before["epoll_waits"]
    # Each request waits for its own readable edge: the counters do count.
    assert n // 2 <= waits <= n + n // 10, f"{waits} epoll_waits for {n} requests"
    assert after["empty_waits"] - before["empty_waits"] <= n // 10, "the loop does not spin"
    # One readiness event per request: no wake-up through the eventfd besides.
    events = after["backend_events"] - before["backend_events"]
    assert n // 2 <= events <= n + n // 10, f"{events} events for {n} requests"


class _Shadowed(Recorder):
    """A Recorder whose `completed` this instance replaces with its own attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.completed = self.own_completed  # type: ignore[method-assign]

    def own_completed(self, result: Any, attachment: Any) -> None:
        self.calls.append(("own", result, attachment))
        self.event.set()


class _Redirected(Recorder):
    """A Recorder whose attribute lookup hands out another `completed`."""

    def __getattribute__(self, name: str) -> Any:
        if name == "completed":
            return lambda result, attachment: Recorder.completed(self, -result, attachment)
        return super().__getattribute__(name)


class _Slotted:
    __slots__ = ("calls", "event")

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self.event = threading.Event()

    def completed(self, result: Any, attachment: Any) -> None:
        self.calls.append((result, attachment))
        self.event.set()

    def failed(self, exc: BaseException, attachment: Any) -> None:
        self.event.set()


def test_a_handler_object_runs_the_completed_its_attribute_lookup_finds(
    pair: tuple[nioxide.AsynchronousSocketChannel, nioxide.AsynchronousSocketChannel],
) -> None:
    # The class's function is called directly (no bound method) only where that is what
    # `handler.completed` gives: an instance attribute of that name, or a class lookup of its
    # own, is what runs; a class without an instance dictionary works as any other.
    client, accepted = pair
    shadowed, redirected, plain, slotted = _Shadowed(), _Redirected(), Recorder(), _Slotted()
    for handler, attachment in ((shadowed, "s"), (redirected, "r"), (plain, "p")):
        client.write(b"abc").result(WAIT)
        accepted.read(bytearray(3), attachment, handler)
        assert handler.event.wait(WAIT)
    client.write(b"abc").result(WAIT)
    accepted.read(bytearray(3), "x", slotted)
    assert slotted.event.wait(WAIT)
    assert shadowed.calls == [("own", 3, "s")]
    assert redirected.calls == [("completed", -3, "r")]
    assert plain.calls == [("completed", 3, "p")]
    assert slotted.calls == [(3, "x")]
