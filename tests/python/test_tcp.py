"""nioxide.ServerSocketChannel and nioxide.SocketChannel: issue 3, sections 4 and 6, from
Python; and the exception hierarchy."""

from __future__ import annotations

import array
import builtins
import concurrent.futures
import errno
import gc
import os
import signal
import socket
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from support import WAIT, background, blocked_in, interrupt_main

import nioxide
from nioxide import OP_CONNECT, OP_READ

Pair = tuple[nioxide.SocketChannel, nioxide.SocketChannel]


def refused_address() -> tuple[str, int]:
    """An address on 127.0.0.1 where nothing listens: a port that was just bound, then closed."""
    with nioxide.ServerSocketChannel(socket.AF_INET) as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.local_address
    assert address is not None
    return address[0], address[1]


# --- server channels -----------------------------------------------------------------------


def test_bind_reports_the_chosen_port(closing: Callable[[Any], Any]) -> None:
    server = closing(nioxide.ServerSocketChannel())
    assert server.local_address is None
    server.bind(("127.0.0.1", 0), backlog=16)
    host, port = server.local_address
    assert host == "127.0.0.1" and 0 < port < 65536
    with pytest.raises(nioxide.AlreadyBoundError):
        server.bind(("127.0.0.1", 0))


def test_accept(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    assert server.is_blocking()
    server.configure_blocking(False)
    assert server.accept() is None  # nothing pending
    client = closing(nioxide.SocketChannel())
    client.connect(server.local_address)
    server.configure_blocking(True)
    accepted = closing(server.accept())
    assert isinstance(accepted, nioxide.SocketChannel)
    assert accepted.is_blocking()  # accepted channels start blocking, as in Java
    assert accepted.is_connected()
    assert accepted.remote_address == client.local_address
    assert accepted.local_address == client.remote_address == server.local_address


def test_accept_needs_a_bound_channel(closing: Callable[[Any], Any]) -> None:
    server = closing(nioxide.ServerSocketChannel())
    with pytest.raises(nioxide.NotYetBoundError):
        server.accept()


def test_bind_in_use_is_an_os_error(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    other = closing(nioxide.ServerSocketChannel())
    other.set_option(nioxide.SO_REUSEADDR, 0)
    with pytest.raises(nioxide.NioxideOSError) as raised:
        other.bind(server.local_address)
    assert raised.value.errno == errno.EADDRINUSE
    assert isinstance(raised.value, OSError)


# --- connecting ------------------------------------------------------------------------------


def test_blocking_connect(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    client = closing(nioxide.SocketChannel())
    assert not client.is_connected() and client.remote_address is None
    assert client.connect(server.local_address) is True
    assert client.is_connected() and not client.is_connection_pending()
    assert client.remote_address == server.local_address
    assert client.finish_connect() is True
    with pytest.raises(nioxide.AlreadyConnectedError):
        client.connect(server.local_address)
    closing(server.accept())


def test_nonblocking_connect_finishes_through_op_connect(
    selector: nioxide.Selector, server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]
) -> None:
    client = closing(nioxide.SocketChannel())
    client.configure_blocking(False)
    if not client.connect(server.local_address):
        assert client.is_connection_pending()
        with pytest.raises(nioxide.ConnectionPendingError):
            client.connect(server.local_address)
        key = client.register(selector, OP_CONNECT)
        assert selector.select(WAIT) == [key]
        assert key.is_connectable()
        assert client.finish_connect() is True
    assert client.is_connected()
    closing(server.accept())


def test_refused_connect_is_reported_as_connectable(selector: nioxide.Selector, closing: Callable[[Any], Any]) -> None:
    address = refused_address()
    client = closing(nioxide.SocketChannel())
    client.configure_blocking(False)
    assert client.connect(address) is False  # Linux answers a loopback connect later too
    key = client.register(selector, OP_CONNECT)
    assert selector.select(WAIT) == [key]
    assert key.is_connectable()  # a refused connect is reported as connectable
    with pytest.raises(nioxide.ConnectionRefusedError) as raised:
        client.finish_connect()
    assert raised.value.errno == errno.ECONNREFUSED
    assert raised.value.strerror
    assert isinstance(raised.value, builtins.ConnectionRefusedError)
    assert not key.is_valid()
    assert not client.is_open()  # a failed connect closes the channel, as in Java


def test_blocking_connect_refused(closing: Callable[[Any], Any]) -> None:
    address = refused_address()
    client = closing(nioxide.SocketChannel())
    with pytest.raises(ConnectionRefusedError) as raised:  # the built-in class catches it
        client.connect(address)
    assert raised.value.errno == errno.ECONNREFUSED


def test_finish_connect_without_connect(closing: Callable[[Any], Any]) -> None:
    client = closing(nioxide.SocketChannel())
    with pytest.raises(nioxide.NoConnectionPendingError):
        client.finish_connect()


def test_io_before_connect(closing: Callable[[Any], Any]) -> None:
    client = closing(nioxide.SocketChannel())
    for call in (lambda: client.read(1), lambda: client.write(b"x"), client.shutdown_output):
        with pytest.raises(nioxide.NotYetConnectedError):
            call()


def test_bind_before_connect(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    client = closing(nioxide.SocketChannel(socket.AF_INET))
    assert client.local_address is None
    client.bind(("127.0.0.1", 0))
    local = client.local_address
    client.connect(server.local_address)
    assert client.local_address == local
    closing(server.accept())


def test_host_names_and_any_address(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    client = closing(nioxide.SocketChannel(socket.AF_INET))
    client.bind(("", 0))  # "": any address (a client's local side, no listener)
    assert client.local_address[0] == "0.0.0.0"
    client.connect(("localhost", server.local_address[1]))  # a name, resolved
    assert client.local_address[0] == "127.0.0.1"
    closing(server.accept())


def test_a_host_name_that_does_not_resolve(
    closing: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nioxide error that is also the socket module's gaierror (with its errno). The
    resolver is the socket module's getaddrinfo, made to fail here as it does for a name no
    server knows (no DNS query leaves the test)."""

    def unknown(host: str, *args: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    client = closing(nioxide.SocketChannel(socket.AF_INET))
    server = closing(nioxide.ServerSocketChannel())
    for call in (lambda: client.connect(("nowhere.invalid", 80)), lambda: server.bind(("nowhere.invalid", 0))):
        with pytest.raises(socket.gaierror) as raised:
            call()
        assert isinstance(raised.value, nioxide.UnresolvedAddressError)
        assert isinstance(raised.value, nioxide.NioxideError)
        assert (raised.value.errno, raised.value.strerror) == (socket.EAI_NONAME, "Name or service not known")
        assert isinstance(raised.value.__cause__, socket.gaierror)
    assert client.is_open() and not client.is_connected()
    monkeypatch.undo()
    # A name the socket module refuses to encode (a label over 63 bytes): a ValueError.
    with pytest.raises(nioxide.InvalidArgumentError, match="host name"):
        client.connect(("x" * 64 + ".invalid", 80))


def test_bad_addresses_and_families(closing: Callable[[Any], Any]) -> None:
    client = closing(nioxide.SocketChannel())
    with pytest.raises(TypeError):
        client.connect("127.0.0.1:80")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.connect(("127.0.0.1", 70000))
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.SocketChannel(socket.AF_UNIX)
    v4 = closing(nioxide.SocketChannel(socket.AF_INET))
    with pytest.raises(nioxide.NioxideOSError) as raised:
        v4.connect(("::1", 9))
    assert raised.value.errno == errno.EAFNOSUPPORT


# --- reading and writing -------------------------------------------------------------------


def test_read_into_writes_straight_into_the_buffer(pair: Pair) -> None:
    client, accepted = pair
    client.write(b"hello")
    buffer = bytearray(b"..........")
    view = memoryview(buffer)
    assert accepted.read_into(view[3:8]) == 5
    assert buffer == bytearray(b"...hello..")  # no copy: the bytearray itself changed
    client.write(b"abcd")
    numbers = array.array("B", [0] * 4)
    assert accepted.read_into(numbers) == 4
    assert numbers.tobytes() == b"abcd"
    client.write(b"xyz")
    target = bytearray(3)
    assert accepted.read_into(target) == 3 and target == b"xyz"


def test_read_into_refuses_read_only_and_scattered_buffers(pair: Pair) -> None:
    _, accepted = pair
    with pytest.raises(TypeError):
        accepted.read_into(b"immutable")
    with pytest.raises(TypeError):
        accepted.read_into("text")  # type: ignore[arg-type]
    with pytest.raises(BufferError):
        accepted.read_into(memoryview(bytearray(8))[::2])


def test_read_while_a_buffer_is_held_keeps_it_fixed(pair: Pair) -> None:
    client, accepted = pair
    buffer = bytearray(4)
    client.write(b"data")
    assert accepted.read_into(buffer) == 4
    buffer.extend(b"more")  # the export was released when the call returned
    assert len(buffer) == 8


def test_a_huge_read_size_is_no_huge_allocation(pair: Pair) -> None:
    client, accepted = pair
    client.write(b"abc")
    assert accepted.read(1 << 62) == b"abc", "a read returns what is there"
    with nioxide.SocketChannel() as unconnected, pytest.raises(nioxide.NotYetConnectedError):
        unconnected.read(1 << 62)


def test_nonblocking_read_returns_none_when_nothing_is_there(pair: Pair) -> None:
    _, accepted = pair
    accepted.configure_blocking(False)
    assert accepted.read_into(bytearray(8)) is None
    assert accepted.read(8) is None
    assert accepted.readv_into([bytearray(4), bytearray(4)]) is None


def test_half_close_is_end_of_stream(pair: Pair) -> None:
    client, accepted = pair
    client.write(b"last")
    client.shutdown_output()
    client.shutdown_output()  # idempotent
    assert accepted.read(100) == b"last"
    assert accepted.read(100) == b""
    assert accepted.read_into(bytearray(8)) == 0
    # The other direction still works.
    assert accepted.write(b"reply") == 5
    assert client.read(5) == b"reply"
    with pytest.raises(nioxide.ChannelShutdownError) as raised:
        client.write(b"x")
    assert isinstance(raised.value, BrokenPipeError) and isinstance(raised.value, nioxide.ClosedChannelError)
    assert raised.value.errno == errno.EPIPE


def test_shutdown_state_is_reported(pair: Pair) -> None:
    client, accepted = pair
    assert not client.is_input_shutdown() and not client.is_output_shutdown()
    client.shutdown_output()
    assert not client.is_input_shutdown() and client.is_output_shutdown()
    client.shutdown_input()
    assert client.is_input_shutdown() and client.is_output_shutdown()
    assert not accepted.is_input_shutdown() and not accepted.is_output_shutdown()
    client.close()
    assert not client.is_input_shutdown() and not client.is_output_shutdown()


def test_shutdown_input_reads_end_of_stream(pair: Pair) -> None:
    client, accepted = pair
    accepted.shutdown_input()
    assert accepted.read(10) == b""
    assert accepted.write(b"still") == 5
    assert client.read(5) == b"still"


def test_empty_buffers(pair: Pair) -> None:
    _, accepted = pair
    assert accepted.read_into(bytearray()) == 0
    assert accepted.read(0) == b""
    assert accepted.write(b"") == 0
    with pytest.raises(ValueError):
        accepted.read(-1)


def test_scattering_read_and_gathering_write(pair: Pair) -> None:
    client, accepted = pair
    assert client.writev([b"abc", bytearray(b"defg"), memoryview(b"hij")]) == 10
    first, second = bytearray(4), bytearray(10)
    got = accepted.readv_into([first, memoryview(second)])
    assert got == 10
    assert first == b"abcd" and second[:6] == b"efghij"
    with pytest.raises(TypeError):
        accepted.readv_into([bytearray(2), b"read-only"])


def test_large_blocking_write_completes(pair: Pair) -> None:
    client, accepted = pair
    payload = bytes(range(256)) * 16384  # 4 MiB: more than the socket buffers hold
    reader = background(lambda: b"".join(iter(lambda: accepted.read(65536) or b"", b"")))
    assert client.write(payload) == len(payload)
    client.shutdown_output()
    assert reader.done() == payload


def test_nonblocking_write_writes_what_fits(pair: Pair) -> None:
    client, _ = pair
    client.configure_blocking(False)
    chunk = b"x" * 65536
    total = 0
    for _ in range(1000):
        n = client.write(chunk)
        total += n
        if n == 0:
            break
    else:
        pytest.fail("the socket never filled up")
    assert total > 0


def test_peer_reset(pair: Pair) -> None:
    client, accepted = pair
    accepted.set_option(nioxide.SO_LINGER, 0)  # close sends RST
    accepted.close()
    with pytest.raises(ConnectionResetError) as raised:
        client.read(10)
    assert isinstance(raised.value, nioxide.ConnectionResetError)
    assert raised.value.errno == errno.ECONNRESET


def test_write_to_a_reset_peer_raises_no_sigpipe(pair: Pair) -> None:
    client, accepted = pair
    accepted.set_option(nioxide.SO_LINGER, 0)
    accepted.close()
    with pytest.raises((nioxide.ConnectionResetError, nioxide.BrokenPipeError)) as raised:
        for _ in range(100):
            client.write(b"x" * 1024)
    assert raised.value.errno in (errno.ECONNRESET, errno.EPIPE)


# --- blocking calls: close from another thread, Ctrl-C ------------------------------------


def test_blocking_read_is_woken_by_close(pair: Pair) -> None:
    _, accepted = pair
    reader = background(lambda: accepted.read_into(bytearray(8)))
    assert blocked_in(reader)  # no data was sent: it waits (and this thread runs on)
    accepted.close()
    with pytest.raises(nioxide.AsynchronousCloseError) as raised:
        reader.done()
    assert isinstance(raised.value, nioxide.ClosedChannelError)
    with pytest.raises(nioxide.ClosedChannelError):
        accepted.read(1)


def test_blocking_accept_is_woken_by_close(server: nioxide.ServerSocketChannel) -> None:
    acceptor = background(server.accept)
    assert blocked_in(acceptor)
    server.close()
    with pytest.raises(nioxide.AsynchronousCloseError):
        acceptor.done()


def test_ctrl_c_interrupts_a_blocking_accept(server: nioxide.ServerSocketChannel, sigint_handler: None) -> None:
    sender = interrupt_main(0.1, "main")
    try:
        with pytest.raises(KeyboardInterrupt):
            server.accept()
    finally:
        sender.done()
    server.configure_blocking(False)
    assert server.accept() is None  # still usable


def test_ctrl_c_interrupts_a_blocking_read(pair: Pair, sigint_handler: None) -> None:
    client, accepted = pair
    sender = interrupt_main(0.1, "process")
    try:
        with pytest.raises(KeyboardInterrupt):
            accepted.read(10)
    finally:
        sender.done()
    client.write(b"ok")
    assert accepted.read(10) == b"ok"


def test_other_signal_handlers_run_and_the_wait_goes_on(pair: Pair) -> None:
    client, accepted = pair
    seen: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append(signum))
    try:
        sender = background(lambda: signal.pthread_kill(_main_ident(), signal.SIGUSR1), delay=0.1)
        writer = background(lambda: client.write(b"late"), delay=0.4)
        assert accepted.read(10) == b"late"  # EINTR was retried after the handler ran
        sender.done()
        writer.done()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert seen == [signal.SIGUSR1]


def _main_ident() -> int:
    import threading

    ident = threading.main_thread().ident
    assert ident is not None
    return ident


# --- options ---------------------------------------------------------------------------------


def test_option_constants_match_c() -> None:
    names = ["SO_REUSEADDR", "SO_REUSEPORT", "TCP_NODELAY", "SO_KEEPALIVE", "SO_RCVBUF", "SO_SNDBUF", "SO_LINGER", "IPV6_V6ONLY"]
    names += ["TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"]
    assert [getattr(nioxide, n) for n in names] == list(range(1, 12))


def test_supported_options(server: nioxide.ServerSocketChannel, pair: Pair) -> None:
    client, _ = pair
    assert sorted(client.supported_options()) == list(range(1, 12))
    assert sorted(server.supported_options()) == sorted(
        [nioxide.SO_REUSEADDR, nioxide.SO_REUSEPORT, nioxide.SO_RCVBUF, nioxide.IPV6_V6ONLY]
    )
    with nioxide.SocketChannel(socket.AF_INET) as v4:
        assert nioxide.IPV6_V6ONLY not in v4.supported_options()
        with pytest.raises(nioxide.UnsupportedOptionError):
            v4.get_option(nioxide.IPV6_V6ONLY)
    with pytest.raises(nioxide.UnsupportedOptionError) as raised:
        server.set_option(nioxide.TCP_NODELAY, 1)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(nioxide.UnsupportedOptionError):
        server.get_option(nioxide.SO_LINGER)
    with pytest.raises(nioxide.InvalidArgumentError):
        client.get_option(99)


def test_socket_options(server: nioxide.ServerSocketChannel, pair: Pair) -> None:
    client, _ = pair
    assert server.get_option(nioxide.SO_REUSEADDR) == 1  # on by default, as in Java
    for opt in (nioxide.TCP_NODELAY, nioxide.SO_KEEPALIVE, nioxide.SO_REUSEADDR, nioxide.SO_REUSEPORT):
        client.set_option(opt, True)
        assert client.get_option(opt) == 1
        client.set_option(opt, 0)
        assert client.get_option(opt) == 0
    # Linux doubles buffer sizes: it promises at least what was asked.
    for opt in (nioxide.SO_RCVBUF, nioxide.SO_SNDBUF):
        client.set_option(opt, 65536)
        assert client.get_option(opt) >= 65536
    with pytest.raises(nioxide.InvalidArgumentError):
        client.set_option(nioxide.SO_RCVBUF, 0)
    assert client.get_option(nioxide.SO_LINGER) == -1  # off
    client.set_option(nioxide.SO_LINGER, 5)
    assert client.get_option(nioxide.SO_LINGER) == 5
    client.set_option(nioxide.SO_LINGER, -1)
    assert client.get_option(nioxide.SO_LINGER) == -1


def test_keepalive_tuning_round_trips(server: nioxide.ServerSocketChannel, pair: Pair) -> None:
    client, _ = pair
    for opt, value in ((nioxide.TCP_KEEPIDLE, 42), (nioxide.TCP_KEEPINTVL, 7), (nioxide.TCP_KEEPCNT, 3)):
        client.set_option(opt, value)
        assert client.get_option(opt) == value
        for bad in (0, -1, 1 << 40):
            with pytest.raises(nioxide.InvalidArgumentError):
                client.set_option(opt, bad)
        assert client.get_option(opt) == value  # unchanged
        with pytest.raises(nioxide.UnsupportedOptionError):
            server.set_option(opt, value)
    with pytest.raises(nioxide.NioxideOSError) as raised:
        client.set_option(nioxide.TCP_KEEPCNT, 1000)  # above the kernel's bound
    assert raised.value.errno == errno.EINVAL
    assert client.get_option(nioxide.SO_KEEPALIVE) == 0  # tuning leaves keep-alive off


# --- IPv6 --------------------------------------------------------------------------------


def test_ipv6_loopback(closing: Callable[[Any], Any]) -> None:
    server = closing(nioxide.ServerSocketChannel(socket.AF_INET6))
    assert server.get_option(nioxide.IPV6_V6ONLY) == 0  # dual-stack until bound to an IPv6 address
    server.bind(("::1", 0))
    host, port, flowinfo, scope_id = server.local_address
    assert (host, flowinfo, scope_id) == ("::1", 0, 0)
    client = closing(nioxide.SocketChannel(socket.AF_INET6))
    client.connect(("::1", port))
    accepted = closing(server.accept())
    assert accepted.remote_address == client.local_address
    assert client.remote_address == ("::1", port, 0, 0)
    client.write(b"six")
    assert accepted.read(3) == b"six"


def test_default_channels_are_dual_stack(closing: Callable[[Any], Any]) -> None:
    server = closing(nioxide.ServerSocketChannel())  # IPv6, taking IPv4 addresses too
    server.bind(("127.0.0.1", 0))
    assert server.local_address == ("127.0.0.1", server.local_address[1])
    client = closing(nioxide.SocketChannel(socket.AF_INET))
    client.connect(server.local_address)
    accepted = closing(server.accept())
    assert accepted.remote_address == client.local_address  # IPv4-mapped comes back as IPv4
    v6 = closing(nioxide.SocketChannel())
    v6_server = closing(nioxide.ServerSocketChannel())
    v6_server.bind(("::1", 0))
    v6.connect(v6_server.local_address)
    closing(v6_server.accept())


def test_v6only(closing: Callable[[Any], Any]) -> None:
    server = closing(nioxide.ServerSocketChannel(socket.AF_INET6))
    server.set_option(nioxide.IPV6_V6ONLY, 1)
    assert server.get_option(nioxide.IPV6_V6ONLY) == 1
    with pytest.raises(nioxide.NioxideOSError) as raised:
        server.bind(("127.0.0.1", 0))  # no IPv4 on an IPv6-only socket
    assert raised.value.errno == errno.EINVAL


# --- closing -------------------------------------------------------------------------------


def test_closed_channels(pair: Pair) -> None:
    client, _ = pair
    assert client.fileno() >= 0
    with client:
        assert client.is_open()
    assert not client.is_open() and client.fileno() == -1
    client.close()  # idempotent
    for call in (
        lambda: client.read(1),
        lambda: client.write(b"x"),
        lambda: client.set_option(nioxide.TCP_NODELAY, 1),
        lambda: client.configure_blocking(False),
        lambda: client.local_address,
    ):
        with pytest.raises(nioxide.ClosedChannelError) as raised:
            call()
        assert raised.value.code == "NX_ECLOSED"


def test_use_after_close_is_an_os_error_with_ebadf(
    pair: Pair, selector: nioxide.Selector
) -> None:
    """As the socket module's: ``except OSError`` catches a use after close, errno EBADF."""
    client, accepted = pair
    reader = background(lambda: accepted.read_into(bytearray(8)))
    assert blocked_in(reader)
    accepted.close()
    server = nioxide.ServerSocketChannel()
    loop = nioxide.EventLoop()
    for closed in (client, server, selector, loop):
        closed.close()
    for call in (
        lambda: client.read(1),
        lambda: client.write(b"x"),
        server.accept,
        selector.select_now,
        loop.run,
        reader.done,  # woken by the close: AsynchronousCloseError
    ):
        with pytest.raises(OSError) as raised:
            call()
        assert isinstance(raised.value, nioxide.ClosedChannelError)
        assert raised.value.errno == errno.EBADF and raised.value.strerror


def _is_open_socket(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except FileNotFoundError:
        return False


def test_an_abandoned_channel_warns_and_is_closed(server: nioxide.ServerSocketChannel) -> None:
    """As socket.socket: a ResourceWarning "unclosed <...>", and the descriptor is closed."""
    listener = nioxide.ServerSocketChannel()
    listener.bind(("127.0.0.1", 0))
    fd = listener.fileno()
    with pytest.warns(ResourceWarning, match=r"unclosed <nioxide.ServerSocketChannel fd=\d+ local=127") as got:
        del listener
    assert got[0].filename == __file__, "reported where the object went"
    assert not _is_open_socket(fd)

    client = nioxide.SocketChannel()
    client.connect(server.local_address)
    with pytest.warns(ResourceWarning, match="unclosed <nioxide.SocketChannel") as got:
        fds = client.fileno(), server.accept().fileno()  # the accepted one goes at once
        del client
        gc.collect()
    assert len(got) == 2 and not any(_is_open_socket(fd) for fd in fds)


def test_a_closed_or_registered_channel_is_not_abandoned(
    server: nioxide.ServerSocketChannel, selector: nioxide.Selector
) -> None:
    """No warning for a closed channel, nor for one a selector key holds: `key.channel`
    hands out a new object for it."""
    client = nioxide.SocketChannel()
    client.connect(server.local_address)
    client.configure_blocking(False)
    fd = client.fileno()
    key = client.register(selector, OP_READ)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        del client
        closed = nioxide.SocketChannel()
        closed.close()
        del closed
        gc.collect()
    assert got == []
    assert key.channel.fileno() == fd and _is_open_socket(fd)
    key.channel.close()
    server.accept().close()


def test_server_context_manager() -> None:
    with nioxide.ServerSocketChannel() as server:
        server.bind(("127.0.0.1", 0))
    assert not server.is_open()
    with pytest.raises(nioxide.ClosedChannelError):
        server.accept()


def test_repr(pair: Pair) -> None:
    client, _ = pair
    assert "SocketChannel" in repr(client)
    client.close()
    assert "closed" in repr(client)


# --- exceptions ----------------------------------------------------------------------------

KINDS = {
    "ClosedChannelError": ("NX_ECLOSED", (OSError,)),
    "ClosedSelectorError": ("NX_ECLOSED", (nioxide.ClosedChannelError,)),
    "AsynchronousCloseError": ("NX_EASYNCCLOSE", (nioxide.ClosedChannelError,)),
    "CancelledKeyError": ("NX_ECANCELLEDKEY", ()),
    "IllegalBlockingModeError": ("NX_EBLOCKINGMODE", ()),
    "UnsupportedOperationError": ("NX_EOPS", (ValueError,)),
    "UnsupportedOptionError": ("NX_ENOOPT", (ValueError,)),
    "AlreadyRegisteredError": ("NX_EREGISTERED", ()),
    "NotYetConnectedError": ("NX_ENOTCONNECTED", ()),
    "AlreadyConnectedError": ("NX_EISCONNECTED", ()),
    "ConnectionPendingError": ("NX_ECONNPENDING", ()),
    "NoConnectionPendingError": ("NX_ENOCONNPENDING", ()),
    "NotYetBoundError": ("NX_ENOTBOUND", ()),
    "AlreadyBoundError": ("NX_EALREADYBOUND", ()),
    "ForkedError": ("NX_EFORKED", ()),
    "ReadPendingError": ("NX_EREADPENDING", ()),
    "WritePendingError": ("NX_EWRITEPENDING", ()),
    "AcceptPendingError": ("NX_EACCEPTPENDING", ()),
    "WriteQueueFullError": ("NX_EQUEUEFULL", ()),
    "DirectionDisabledError": ("NX_EDISABLED", (RuntimeError,)),
    "ShutdownChannelGroupError": ("NX_EGROUPSHUTDOWN", (RuntimeError,)),
    "OverlappingFileLockError": ("NX_EOVERLAPPINGLOCK", (RuntimeError,)),
    "InvalidArgumentError": ("NX_EINVAL", (ValueError,)),
    "ChannelShutdownError": ("NX_ESHUTDOWN", (builtins.BrokenPipeError, nioxide.ClosedChannelError)),
    "TimeoutError": ("NX_ETIMEDOUT", (builtins.TimeoutError, nioxide.NioxideOSError)),
    "ConnectionRefusedError": ("ECONNREFUSED", (builtins.ConnectionRefusedError, nioxide.NioxideOSError)),
    "ConnectionResetError": ("ECONNRESET", (builtins.ConnectionResetError, nioxide.NioxideOSError)),
    "ConnectionAbortedError": ("ECONNABORTED", (builtins.ConnectionAbortedError, nioxide.NioxideOSError)),
    "BrokenPipeError": ("EPIPE", (builtins.BrokenPipeError, nioxide.NioxideOSError)),
    "UnresolvedAddressError": (None, (socket.gaierror, nioxide.NioxideOSError)),
    # the runtime (test_event_loop.py, test_future.py raise them)
    "ClosedEventLoopError": ("NX_ECLOSED", (nioxide.ClosedChannelError, RuntimeError)),
    "CancelledError": ("NX_ECANCELLED", (concurrent.futures.CancelledError,)),
    "RejectedExecutionError": ("NX_EREJECTED", (RuntimeError,)),
    "DeadlockError": ("NX_EDEADLK", (RuntimeError,)),
    "LoopBusyError": ("NX_EBUSY", (RuntimeError,)),
    "InvalidStateError": ("NX_EALREADYDONE", (concurrent.futures.InvalidStateError,)),
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_exception_hierarchy(name: str) -> None:
    cls = getattr(nioxide, name)
    code, bases = KINDS[name]
    assert issubclass(cls, nioxide.NioxideError)
    assert cls.code == code
    for base in bases:
        assert issubclass(cls, base)
    assert cls.__module__ == "nioxide.exceptions"


def test_every_exception_is_tested() -> None:
    exported = {n for n in nioxide.__all__ if n.endswith("Error")}
    assert exported == set(KINDS) | {"NioxideError", "NioxideOSError"}


def test_os_errors_carry_errno() -> None:
    error = nioxide.ConnectionResetError(errno.ECONNRESET, "reset")
    assert (error.errno, error.strerror) == (errno.ECONNRESET, "reset")
    assert issubclass(nioxide.NioxideOSError, OSError)
    with pytest.raises(nioxide.NioxideError):
        raise error


def test_a_reset_is_reported_by_every_later_read(pair: Pair) -> None:
    client, accepted = pair
    accepted.set_option(nioxide.SO_LINGER, 0)  # close sends RST
    accepted.close()
    for _ in range(3):
        with pytest.raises(nioxide.ConnectionResetError):
            client.read(10)
    with pytest.raises(nioxide.ConnectionResetError):
        client.read_into(bytearray(10))
    client.configure_blocking(False)
    with pytest.raises(nioxide.ConnectionResetError):
        client.read(10)


def test_bind_twice_or_after_connect_is_already_bound(
    server: nioxide.ServerSocketChannel, pair: Pair, closing: Callable[[Any], Any]
) -> None:
    channel = closing(nioxide.SocketChannel(socket.AF_INET))
    channel.bind(("127.0.0.1", 0))
    with pytest.raises(nioxide.AlreadyBoundError):
        channel.bind(("127.0.0.1", 0))
    client, _ = pair
    with pytest.raises(nioxide.AlreadyBoundError):
        client.bind(("127.0.0.1", 0))
    with pytest.raises(nioxide.AlreadyBoundError):
        server.bind(("127.0.0.1", 0))


def test_a_blocking_call_in_a_signal_handler_during_a_blocking_read(
    server: nioxide.ServerSocketChannel, pair: Pair, closing: Callable[[Any], Any]
) -> None:
    """A signal handler runs inside the wait of a blocking read; a blocking call it makes
    (here detach, which waits with the GIL released) works, and the read goes on waiting."""
    client, accepted = pair
    other = nioxide.SocketChannel.from_socket(socket.create_connection(server.local_address[:2]))
    closing(server.accept())
    handed: list[int] = []

    def handler(signum: int, frame: object) -> None:
        handed.append(other.detach())
        client.write(b"x")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        assert accepted.read(1) == b"x"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        for fd in handed:
            os.close(fd)
    assert len(handed) == 1
