"""Taking over a socket.socket's descriptor (`from_socket`) and handing a channel's
descriptor over (`detach`), for sockets made by other libraries, inherited through socket
activation, or handed to `ssl`."""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from support import background, blocked_in

import nioxide

Pair = tuple[nioxide.SocketChannel, nioxide.SocketChannel]


def test_a_connected_socket_is_taken_over(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    sock = socket.create_connection(server.local_address)
    fd = sock.fileno()
    channel = closing(nioxide.SocketChannel.from_socket(sock))
    assert sock.fileno() == -1  # detached: the channel owns the descriptor, no duplicate
    assert channel.fileno() == fd
    assert channel.is_connected() and channel.is_blocking()
    assert not os.get_blocking(fd)  # non-blocking underneath
    assert not os.get_inheritable(fd)  # close-on-exec
    accepted = closing(server.accept())
    assert channel.remote_address == server.local_address
    channel.write(b"hi")
    assert accepted.read(2) == b"hi"
    channel.close()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the channel


def test_a_listening_socket_is_taken_over_bound(closing: Callable[[Any], Any]) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    address = listener.getsockname()
    server = closing(nioxide.ServerSocketChannel.from_socket(listener))
    assert server.local_address == address
    client = closing(nioxide.SocketChannel())
    client.connect(address)
    assert closing(server.accept()).is_connected()


def test_an_unconnected_socket_is_taken_over_unconnected(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    channel = closing(nioxide.SocketChannel.from_socket(socket.socket(socket.AF_INET)))
    assert not channel.is_connected() and not channel.is_connection_pending()
    assert channel.connect(server.local_address)
    closing(server.accept())
    unbound = closing(nioxide.ServerSocketChannel.from_socket(socket.socket(socket.AF_INET)))
    assert unbound.local_address is None
    unbound.bind(("127.0.0.1", 0))
    assert unbound.local_address is not None


@pytest.mark.parametrize(
    ("family", "kind"),
    [(socket.AF_INET, socket.SOCK_DGRAM), (socket.AF_UNIX, socket.SOCK_STREAM)],
)
def test_other_sockets_are_refused_and_left_alone(family: int, kind: int) -> None:
    with socket.socket(family, kind) as sock:
        fd = sock.fileno()
        for cls in (nioxide.SocketChannel, nioxide.ServerSocketChannel):
            with pytest.raises(nioxide.InvalidArgumentError):
                cls.from_socket(sock)
        assert sock.fileno() == fd and os.get_blocking(fd)  # still the socket's, untouched


def test_refusals(server: nioxide.ServerSocketChannel) -> None:
    with pytest.raises(TypeError):
        nioxide.SocketChannel.from_socket(3)  # type: ignore[arg-type]
    closed = socket.socket()
    closed.close()
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.SocketChannel.from_socket(closed)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with pytest.raises(nioxide.InvalidArgumentError):
            nioxide.SocketChannel.from_socket(listener)
        assert listener.fileno() >= 0
    with socket.create_connection(server.local_address) as connected:
        with pytest.raises(nioxide.InvalidArgumentError):
            nioxide.ServerSocketChannel.from_socket(connected)
        assert connected.fileno() >= 0
        server.accept().close()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with context.wrap_socket(socket.socket(), server_hostname="localhost", do_handshake_on_connect=False) as tls:
        with pytest.raises(TypeError, match="SSLSocket"):
            nioxide.SocketChannel.from_socket(tls)


def test_detach_hands_the_descriptor_over(pair: Pair) -> None:
    client, accepted = pair
    fd = client.fileno()
    assert client.detach() == fd
    assert not client.is_open()
    with pytest.raises(nioxide.ClosedChannelError):
        client.detach()
    with pytest.raises(nioxide.ClosedChannelError):
        client.write(b"x")
    assert os.get_blocking(fd)  # a blocking channel's descriptor comes back blocking
    with socket.socket(fileno=fd) as sock:
        sock.sendall(b"ok")
        assert accepted.read(2) == b"ok"
    accepted.configure_blocking(False)
    fd = accepted.detach()
    assert not os.get_blocking(fd)
    os.close(fd)


def test_detach_and_take_back(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    address = server.local_address
    fd = server.detach()
    again = closing(nioxide.ServerSocketChannel.from_socket(socket.socket(fileno=fd)))
    assert again.local_address == address


def test_detach_is_refused_while_registered_or_watched(selector: nioxide.Selector, pair: Pair, loop: nioxide.EventLoop) -> None:
    client, accepted = pair
    client.configure_blocking(False)
    key = client.register(selector, nioxide.OP_READ)
    with pytest.raises(nioxide.AlreadyRegisteredError):
        client.detach()
    assert client.is_open()
    key.cancel()
    os.close(client.detach())  # a cancelled key is no obstacle
    accepted.configure_blocking(False)
    watch = loop.watch(accepted, nioxide.OP_READ, lambda *args: None)
    with pytest.raises(nioxide.AlreadyRegisteredError):
        accepted.detach()
    watch.close()
    os.close(accepted.detach())


def test_detach_wakes_a_blocked_read(pair: Pair) -> None:
    client, accepted = pair
    reader = background(lambda: accepted.read_into(bytearray(8)))
    assert blocked_in(reader)
    fd = accepted.detach()
    with pytest.raises(nioxide.AsynchronousCloseError):
        reader.done()
    with socket.socket(fileno=fd) as sock:
        client.write(b"late")
        assert sock.recv(4) == b"late"


def test_a_detach_refused_after_a_close_leaves_the_close_to_the_last_call(pair: Pair) -> None:
    client, accepted = pair
    fd = accepted.fileno()
    before = os.fstat(fd)
    reader = background(lambda: accepted.read_into(bytearray(8)))
    assert blocked_in(reader)
    accepted.close()
    with pytest.raises(nioxide.ClosedChannelError):
        accepted.detach()
    with pytest.raises(nioxide.AsynchronousCloseError):
        reader.done()
    try:
        after = os.fstat(fd)
    except OSError:
        return  # closed, as it should be
    assert (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino), "leaked"


def test_a_bound_socket_that_does_not_listen_is_no_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(nioxide.InvalidArgumentError):
            nioxide.ServerSocketChannel.from_socket(sock)
        assert sock.fileno() != -1 and sock.getblocking()


def test_a_socket_that_refuses_to_detach_keeps_its_flags(server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]) -> None:
    class Stubborn(socket.socket):
        def detach(self) -> int:
            raise RuntimeError("no")

    with Stubborn(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)  # non-blocking underneath
        sock.connect(server.local_address[:2])
        closing(server.accept())
        before = (os.get_blocking(sock.fileno()), os.get_inheritable(sock.fileno()))
        with pytest.raises(RuntimeError):
            nioxide.SocketChannel.from_socket(sock)
        assert (os.get_blocking(sock.fileno()), os.get_inheritable(sock.fileno())) == before
        assert sock.fileno() != -1
