"""nioxide.Selector and nioxide.SelectionKey: the rules of issue 3, section 3, from Python."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from support import WAIT, background, blocked_in, interrupt_main

import nioxide
from nioxide import OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE

Pair = tuple[nioxide.SocketChannel, nioxide.SocketChannel]


def nonblocking(channel: Any) -> Any:
    channel.configure_blocking(False)
    return channel


def read_exactly(channel: nioxide.SocketChannel, n: int) -> bytes:
    """Reads `n` bytes from a blocking channel."""
    data = b""
    while len(data) < n:
        chunk = channel.read(n - len(data))
        assert chunk, "end of stream"
        data += chunk
    return data


# --- select, select_now, wakeup ------------------------------------------------------------


def test_constants_match_c() -> None:
    assert (OP_READ, OP_WRITE, OP_CONNECT, OP_ACCEPT) == (1, 4, 8, 16)


def test_select_times_out_with_nothing_ready(selector: nioxide.Selector) -> None:
    start = time.monotonic()
    assert selector.select(0.05) == []
    assert time.monotonic() - start >= 0.05
    assert selector.select_now() == []
    assert selector.select(0) == []
    assert selector.select(-1) == []  # <= 0 does not wait, as in `selectors`


def test_select_rejects_nan(selector: nioxide.Selector) -> None:
    with pytest.raises(ValueError):
        selector.select(float("nan"))


def test_wakeup_before_select_makes_it_return_at_once(selector: nioxide.Selector) -> None:
    selector.wakeup()
    selector.wakeup()  # a second one while one is pending changes nothing
    start = time.monotonic()
    assert selector.select(None) == []
    assert time.monotonic() - start < 1.0
    # It was used up: the next select waits.
    start = time.monotonic()
    assert selector.select(0.05) == []
    assert time.monotonic() - start >= 0.05


def test_select_now_clears_a_pending_wakeup(selector: nioxide.Selector) -> None:
    selector.wakeup()
    assert selector.select_now() == []
    start = time.monotonic()
    assert selector.select(0.05) == []
    assert time.monotonic() - start >= 0.05


def test_wakeup_from_another_thread_ends_a_blocked_select(selector: nioxide.Selector) -> None:
    waker = background(selector.wakeup, delay=0.1)
    start = time.monotonic()
    assert selector.select(None) == []
    assert time.monotonic() - start < WAIT
    waker.done()


def test_select_releases_the_gil(selector: nioxide.Selector) -> None:
    blocked = background(lambda: selector.select(None))
    assert blocked_in(blocked)  # this thread kept running while the other waits
    selector.wakeup()
    assert blocked.done() == []


def test_select_returns_what_is_ready(
    selector: nioxide.Selector, server: nioxide.ServerSocketChannel, closing: Callable[[Any], Any]
) -> None:
    nonblocking(server)
    key = server.register(selector, OP_ACCEPT)
    client = closing(nioxide.SocketChannel())
    client.connect(server.local_address)
    keys = selector.select(WAIT)
    assert keys == [key]
    assert key.ready_ops == OP_ACCEPT
    assert key.is_acceptable() and not key.is_readable() and not key.is_writable()
    assert not key.is_connectable()
    assert selector.selected_keys() == [key]
    closing(server.accept())
    # nioxide learns that accept readiness is used up when accept finds nothing.
    assert server.accept() is None
    assert selector.select_now() == []
    assert selector.selected_keys() == []  # each select replaces the set


# --- keys --------------------------------------------------------------------------------


def test_the_same_key_object_comes_back(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ, "first")
    client.write(b"x")
    (selected,) = selector.select(WAIT)
    assert selected is key
    assert selector.keys() == [key] and selector.keys()[0] is key
    assert key.channel is accepted
    assert key.selector is selector
    # Registering again updates the key (Java's register) and returns it.
    again = accepted.register(selector, OP_READ | OP_WRITE, "second")
    assert again is key
    assert key.interest_ops == OP_READ | OP_WRITE
    assert key.attachment == "second"


def test_a_dropped_key_object_loses_nothing(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    marker = object()
    nonblocking(accepted).register(selector, OP_READ, marker)  # the key object dies
    gc.collect()
    client.write(b"x")
    (key,) = selector.select(WAIT)
    assert key.attachment is marker
    assert key.channel is accepted


def test_key_channel_outlives_the_channel_object(selector: nioxide.Selector, closing: Callable[[Any], Any]) -> None:
    listener = nioxide.ServerSocketChannel()
    listener.bind(("127.0.0.1", 0))
    address = listener.local_address
    nonblocking(listener).register(selector, OP_ACCEPT)
    del listener  # the key keeps the channel open
    gc.collect()
    client = closing(nioxide.SocketChannel())
    client.connect(address)
    (key,) = selector.select(WAIT)
    channel = key.channel
    assert isinstance(channel, nioxide.ServerSocketChannel)
    assert key.channel is channel
    closing(channel)
    closing(channel.accept())


def test_attach_returns_the_previous_attachment(selector: nioxide.Selector, pair: Pair) -> None:
    _, accepted = pair
    first, second = object(), object()
    key = nonblocking(accepted).register(selector, OP_READ, first)
    assert key.attachment is first
    assert key.attach(second) is first
    assert key.attach(None) is second
    assert key.attachment is None


def test_interest_changes_take_effect_at_the_next_select(selector: nioxide.Selector, pair: Pair) -> None:
    _, accepted = pair
    key = nonblocking(accepted).register(selector, OP_WRITE)
    assert selector.select(WAIT) == [key]
    assert key.is_writable()
    key.interest_ops = 0
    assert selector.select_now() == []
    key.interest_ops = OP_WRITE
    assert selector.select_now() == [key]


def test_interest_ops_or_and_return_the_set_before(selector: nioxide.Selector, pair: Pair) -> None:
    _, accepted = pair
    key = nonblocking(accepted).register(selector, 0)
    assert key.interest_ops_or(OP_READ) == 0
    assert key.interest_ops_or(OP_WRITE) == OP_READ
    assert key.interest_ops == OP_READ | OP_WRITE
    assert selector.select(WAIT) == [key]  # writable: seen by the next select
    assert key.interest_ops_and(~OP_WRITE) == OP_READ | OP_WRITE
    assert key.interest_ops == OP_READ
    assert selector.select_now() == []
    with pytest.raises(nioxide.UnsupportedOperationError):
        key.interest_ops_or(OP_ACCEPT)
    with pytest.raises(nioxide.InvalidArgumentError):
        key.interest_ops_and(1 << 40)
    assert key.interest_ops == OP_READ  # unchanged
    key.cancel()
    with pytest.raises(nioxide.CancelledKeyError):
        key.interest_ops_or(OP_WRITE)
    with pytest.raises(nioxide.CancelledKeyError):
        key.interest_ops_and(0)


def test_interest_ops_or_and_lose_no_update_across_threads(selector: nioxide.Selector, pair: Pair) -> None:
    _, accepted = pair
    key = nonblocking(accepted).register(selector, 0)

    def toggle(bit: int) -> None:
        for _ in range(5000):
            assert not key.interest_ops_or(bit) & bit
            assert key.interest_ops_and(~bit) & bit

    threads = [background(lambda bit=bit: toggle(bit)) for bit in (OP_READ, OP_WRITE)]
    for thread in threads:
        thread.done()
    assert key.interest_ops == 0


def test_unsupported_ops_are_refused(selector: nioxide.Selector, pair: Pair, server: nioxide.ServerSocketChannel) -> None:
    _, accepted = pair
    nonblocking(accepted)
    with pytest.raises(nioxide.UnsupportedOperationError) as raised:
        accepted.register(selector, OP_ACCEPT)
    assert isinstance(raised.value, ValueError)
    assert not accepted.is_registered()
    with pytest.raises(nioxide.UnsupportedOperationError):
        nonblocking(server).register(selector, OP_READ)
    key = accepted.register(selector, OP_READ)
    with pytest.raises(nioxide.UnsupportedOperationError):
        key.interest_ops = OP_ACCEPT
    assert key.interest_ops == OP_READ


def test_an_interest_mask_out_of_range_is_a_value_error(selector: nioxide.Selector, pair: Pair) -> None:
    """A negative number (or one beyond 32 bits) is no mask of OP_* bits: ValueError, as for
    bits the channel does not support, not OverflowError; nothing changes."""
    _, accepted = pair
    nonblocking(accepted)
    for ops in (-1, -OP_READ, 2**32):
        with pytest.raises(nioxide.InvalidArgumentError, match="OP_") as raised:
            accepted.register(selector, ops)
        assert isinstance(raised.value, ValueError)
    assert not accepted.is_registered()
    key = accepted.register(selector, OP_READ)
    for ops in (-1, 2**40):
        with pytest.raises(ValueError):
            key.interest_ops = ops
    assert key.interest_ops == OP_READ
    with pytest.raises(TypeError):
        key.interest_ops = "OP_READ"  # type: ignore[assignment]


def test_register_errors(selector: nioxide.Selector, pair: Pair, closing: Callable[[Any], Any]) -> None:
    client, accepted = pair
    with pytest.raises(nioxide.IllegalBlockingModeError):
        accepted.register(selector, OP_READ)  # blocking mode
    nonblocking(accepted).register(selector, OP_READ)
    with pytest.raises(nioxide.IllegalBlockingModeError):
        accepted.configure_blocking(True)  # registered
    other = closing(nioxide.Selector())
    with pytest.raises(nioxide.AlreadyRegisteredError):
        accepted.register(other, OP_READ)
    other.close()
    with pytest.raises(nioxide.ClosedSelectorError):
        nonblocking(client).register(other, OP_READ)
    client.close()
    with pytest.raises(nioxide.ClosedChannelError):
        client.register(selector, OP_READ)


def test_failed_register_keeps_nothing(selector: nioxide.Selector, pair: Pair) -> None:
    _, accepted = pair
    attachment = object()
    before = sys.getrefcount(attachment)
    with pytest.raises(nioxide.IllegalBlockingModeError):
        accepted.register(selector, OP_READ, attachment)
    assert sys.getrefcount(attachment) == before
    assert selector.keys() == []


# --- cancel and close --------------------------------------------------------------------


def test_cancel(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    attachment = object()
    key = nonblocking(accepted).register(selector, OP_READ, attachment)
    client.write(b"x")
    key.cancel()
    key.cancel()  # idempotent
    assert not key.is_valid()
    assert key.attachment is None  # dropped at cancel
    for call in (lambda: key.interest_ops, lambda: key.ready_ops, key.is_readable):
        with pytest.raises(nioxide.CancelledKeyError):
            call()
    with pytest.raises(nioxide.CancelledKeyError):
        key.interest_ops = OP_READ
    with pytest.raises(nioxide.CancelledKeyError):
        key.attach(attachment)
    # Until the next select the channel stays registered and cannot register again.
    with pytest.raises(nioxide.CancelledKeyError):
        accepted.register(selector, OP_READ)
    assert selector.select_now() == []  # readable, but the key is gone
    assert selector.keys() == []
    assert not accepted.is_registered()
    fresh = accepted.register(selector, OP_READ)
    assert fresh is not key and fresh.is_valid()
    assert selector.select_now() == [fresh]


def test_closing_a_channel_cancels_its_key(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ)
    client.write(b"x")
    accepted.close()
    assert not key.is_valid()
    assert selector.select_now() == []
    assert selector.keys() == []


def test_close_selector(selector: nioxide.Selector, pair: Pair) -> None:
    _, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ, object())
    assert selector.fileno() >= 0 and selector.is_open()
    selector.close()
    selector.close()  # idempotent
    assert not selector.is_open() and selector.fileno() == -1
    assert not key.is_valid() and key.attachment is None
    assert not accepted.is_registered()
    accepted.configure_blocking(True)  # free again
    for call in (selector.select, selector.select_now, selector.keys, selector.selected_keys, selector.wakeup):
        with pytest.raises(nioxide.ClosedSelectorError) as raised:
            call()
        assert isinstance(raised.value, nioxide.ClosedChannelError)


def _epoll_descriptors() -> int:
    return sum(os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]" for fd in _fds())


def _fds() -> list[str]:
    return [fd for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}")]


def test_selector_object_releases_its_descriptors() -> None:
    gc.collect()
    before = _epoll_descriptors()
    selector = nioxide.Selector()
    assert _epoll_descriptors() > before
    selector.close()
    del selector
    gc.collect()
    assert _epoll_descriptors() == before
    unclosed = nioxide.Selector()
    with pytest.warns(ResourceWarning, match="unclosed <nioxide.Selector"):
        del unclosed  # collected without close(): closed then
    assert _epoll_descriptors() == before


def test_context_manager_closes() -> None:
    with nioxide.Selector() as selector:
        assert selector.is_open()
    assert not selector.is_open()


def test_counters_are_a_dict(selector: nioxide.Selector) -> None:
    counters = selector.counters()
    assert set(counters) == {"waits", "ctl", "events", "empty_waits"}
    selector.select_now()
    assert selector.counters()["waits"] == counters["waits"] + 1


# --- level- and edge-triggered -------------------------------------------------------------


def test_level_triggered_reports_unread_data_again(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ)
    assert not key.edge_triggered
    client.write(b"0123456789")
    assert selector.select(WAIT) == [key]
    assert accepted.read(4) == b"0123"  # leave 6 bytes unread
    assert selector.select_now() == [key]
    assert selector.select(WAIT) == [key]
    assert accepted.read(100) == b"456789"  # a short read drains the socket
    assert selector.select_now() == []
    assert accepted.read(100) is None


def test_edge_triggered_reports_each_readiness_once(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ)
    key.edge_triggered = True
    assert key.edge_triggered
    client.write(b"0123456789")
    assert selector.select(WAIT) == [key]
    assert accepted.read(4) == b"0123"
    assert selector.select(0.05) == []  # data left, but no new edge
    client.write(b"more")
    assert selector.select(WAIT) == [key]  # a new edge
    assert accepted.read(100) == b"456789more"
    key.interest_ops = OP_READ | OP_WRITE  # an interest change counts as new
    assert selector.select_now() == [key]
    assert key.ready_ops == OP_WRITE


def test_channels_registered_before_connect_or_bind_do_not_spin(
    selector: nioxide.Selector,
    server: nioxide.ServerSocketChannel,
    closing: Callable[[Any], Any],
) -> None:
    """epoll reports an idle socket as hung up: that is neither readiness nor a lasting error."""
    client = nonblocking(closing(nioxide.SocketChannel()))
    key = client.register(selector, OP_CONNECT)
    assert selector.select(0.05) == [], "no connect pending"
    if not client.connect(server.local_address):
        assert selector.select(WAIT) == [key] and key.ready_ops == OP_CONNECT
        assert client.finish_connect()
    accepted = closing(server.accept())
    assert accepted is not None
    key.interest_ops = OP_READ
    for _ in range(3):
        assert selector.select(0.03) == [], "no data: never readable"

    unbound = nonblocking(closing(nioxide.ServerSocketChannel()))
    unbound.register(selector, OP_ACCEPT)
    assert selector.select(0.05) == []
    unbound.bind(("127.0.0.1", 0))
    for _ in range(3):
        assert selector.select(0.03) == [], "no connection: never acceptable"


def test_edge_triggered_readiness_survives_re_register_and_switch_back(
    selector: nioxide.Selector, pair: Pair
) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, 0)
    key.edge_triggered = True
    client.write(b"hello")
    assert selector.select(0.05) == []  # the edge came while nothing was of interest
    assert accepted.register(selector, OP_READ) is key
    assert selector.select(WAIT) == [key], "re-registering looks again"
    assert selector.select(0.03) == []
    key.edge_triggered = False
    assert selector.select(WAIT) == [key], "level-triggered again: unread data"


def test_steady_echo_makes_no_epoll_ctl_per_event(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ)
    message, buffer = b"m" * 64, bytearray(1024)
    rounds = 200
    before = selector.counters()
    for _ in range(rounds):
        assert client.write(message) == 64
        got = 0
        while got < 64:
            assert selector.select(WAIT) == [key]
            n = accepted.read_into(buffer)
            assert n is not None and n > 0
            assert accepted.write(memoryview(buffer)[:n]) == n
            got += n
        assert read_exactly(client, 64) == message
    after = selector.counters()
    assert after["ctl"] == before["ctl"], "epoll_ctl during a steady echo"
    waits = after["waits"] - before["waits"]
    assert rounds <= waits <= 2 * rounds  # one epoll_wait per message, give or take an edge
    assert after["events"] - before["events"] <= 2 * rounds


# --- threads ---------------------------------------------------------------------------------


def test_register_from_another_thread_during_a_blocked_select(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    client.write(b"x")
    nonblocking(accepted)
    selecting = background(lambda: selector.select(WAIT))
    assert blocked_in(selecting)
    key = accepted.register(selector, OP_READ)
    assert selecting.done() == [key]


def test_cancel_from_another_thread_during_a_blocked_select(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ)
    selecting = background(lambda: selector.select(0.3))
    assert blocked_in(selecting)
    key.cancel()
    client.write(b"x")
    assert selecting.done() == []
    assert selector.keys() == []


def test_close_from_another_thread_ends_a_blocked_select(selector: nioxide.Selector) -> None:
    selecting = background(lambda: selector.select(None))
    assert blocked_in(selecting)
    selector.close()
    assert selecting.done() == []


# --- Ctrl-C ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["main", "process"])
def test_ctrl_c_interrupts_select(selector: nioxide.Selector, sigint_handler: None, how: str) -> None:
    # "main": the signal hits the waiting thread (EINTR); "process" with SIGINT blocked here:
    # another thread takes it, and the wait's 100 ms slices notice.
    watchdog = threading.Timer(WAIT, selector.wakeup)
    watchdog.start()
    sender = interrupt_main(0.1, how)
    if how == "process":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            selector.select(None)
        assert time.monotonic() - start < WAIT
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        sender.done()
    selector.wakeup()
    selector.select_now()
    assert selector.select(0.01) == []  # still usable
    watchdog.cancel()
    watchdog.join()


# --- garbage collection ------------------------------------------------------------------


def test_an_abandoned_selector_warns_and_is_closed(pair: Pair) -> None:
    """As a socket: a ResourceWarning "unclosed <...>" when it goes away open (also as
    cyclic garbage), and it is closed; none for a closed one."""
    _, accepted = pair
    selector = nioxide.Selector()
    nonblocking(accepted).register(selector, OP_READ, attachment=selector)  # a cycle
    fd = selector.fileno()
    with pytest.warns(ResourceWarning, match=f"unclosed <nioxide.Selector fd={fd}>") as got:
        del selector
        gc.collect()
    assert len(got) == 1 and got[0].filename == __file__
    assert not accepted.is_registered(), "closed: the channel is free again"
    accepted.configure_blocking(True)
    closed = nioxide.Selector()
    closed.close()
    with warnings.catch_warnings(record=True) as none:
        warnings.simplefilter("always")
        del closed
        gc.collect()
    assert none == []


class Holder:
    """An attachment that refers back to things."""

    key: Any = None
    selector: Any = None


def test_key_attachment_cycle_is_collected(pair: Pair) -> None:
    _, accepted = pair
    selector = nioxide.Selector()
    holder = Holder()
    holder.key = nonblocking(accepted).register(selector, OP_READ, holder)
    gone_holder, gone_selector = weakref.ref(holder), weakref.ref(selector)
    with pytest.warns(ResourceWarning, match="unclosed <nioxide.Selector"):
        del holder, selector
        gc.collect()
    assert gone_holder() is None and gone_selector() is None
    # The collected selector was closed: the channel is free again.
    assert not accepted.is_registered()
    accepted.configure_blocking(True)


def test_attachment_referring_to_its_selector_is_collected(pair: Pair) -> None:
    _, accepted = pair
    holder = Holder()
    holder.selector = nioxide.Selector()
    nonblocking(accepted).register(holder.selector, OP_READ, holder)
    gone = weakref.ref(holder)
    with pytest.warns(ResourceWarning, match="unclosed <nioxide.Selector"):
        del holder
        gc.collect()
    assert gone() is None
    assert not accepted.is_registered()


def test_attachment_lives_while_its_selector_does(selector: nioxide.Selector, pair: Pair) -> None:
    _, accepted = pair
    holder = Holder()
    holder.key = nonblocking(accepted).register(selector, OP_READ, holder)
    gone = weakref.ref(holder)
    del holder
    gc.collect()
    assert gone() is not None  # the selector still reaches it
    (key,) = selector.keys()
    assert key.attachment is gone()
    key.cancel()
    del key
    gc.collect()
    assert gone() is None


# --- fork --------------------------------------------------------------------------------


def test_objects_fail_with_forked_error_in_a_child(selector: nioxide.Selector, pair: Pair) -> None:
    client, accepted = pair
    key = nonblocking(accepted).register(selector, OP_READ)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return to pytest
        status = 0
        try:
            checks = [
                selector.select_now,
                lambda: accepted.read(1),
                lambda: client.write(b"x"),
                lambda: accepted.register(selector, OP_READ),
            ]
            for bit, check in enumerate(checks):
                try:
                    check()
                    status |= 1 << bit
                except nioxide.ForkedError:
                    pass
            with nioxide.Selector() as fresh:  # new objects work
                if fresh.select_now() != []:
                    status |= 1 << 5
            selector.close()  # closing in the child must not touch the parent's epoll set
            accepted.close()
        except BaseException:
            status |= 1 << 6
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    # The parent is unaffected: its registration still delivers readiness.
    client.write(b"x")
    assert selector.select(WAIT) == [key]
    assert accepted.read(1) == b"x"


def _eventfds() -> int:
    return sum(1 for fd in _fds() if "eventfd" in os.readlink(f"/proc/self/fd/{fd}"))


def test_close_releases_the_descriptors_while_the_object_lives() -> None:
    """Java's Selector.close() and Python's selectors release the descriptors at close, also
    when something keeps the object alive."""
    before = (_epoll_descriptors(), _eventfds())
    kept = [nioxide.Selector(), nioxide.EventLoop(), nioxide.EventLoop.spawn(), nioxide.EventLoopGroup(2)]
    assert _epoll_descriptors() > before[0]
    for obj in kept:
        obj.close()
    assert (_epoll_descriptors(), _eventfds()) == before
    assert kept[0].fileno() == -1
    del kept


def test_an_exact_read_leaves_no_readiness_behind(selector: nioxide.Selector, pair: Pair) -> None:
    client, peer = pair
    peer.configure_blocking(False)
    key = peer.register(selector, OP_READ)
    client.write(b"1234567")
    assert len(selector.select(WAIT)) == 1
    assert peer.read(7) == b"1234567"
    started = time.monotonic()
    assert selector.select(0.1) == [], "nothing is left to read"
    assert time.monotonic() - started >= 0.09
    client.write(b"12345678")
    assert len(selector.select(WAIT)) == 1
    assert peer.read(7) == b"1234567"
    assert selector.select(0) == [key], "one byte is"


def test_the_descriptor_polls_as_documented(selector: nioxide.Selector, pair: Pair) -> None:
    """It may poll readable for readiness outside every interest (a select then finds
    nothing); a key still ready after a select is selected again although the descriptor
    need not poll readable."""
    import select as select_module

    client, peer = pair
    peer.configure_blocking(False)
    poller = select_module.poll()
    poller.register(selector.fileno(), select_module.POLLIN)
    peer.register(selector, OP_READ)
    assert poller.poll(WAIT * 1000), "the write edge, outside the interest"
    assert selector.select(0) == []
    assert poller.poll(0) == []
    client.write(b"abc")
    assert poller.poll(WAIT * 1000)
    assert len(selector.select(WAIT)) == 1
    assert poller.poll(0) == []
    assert len(selector.select(0)) == 1, "selected again: poll with a zero timeout then"


def test_a_forked_child_closes_a_selector_a_parent_thread_selects_on() -> None:
    selector = nioxide.Selector()
    waiting = threading.Thread(target=selector.select)  # waits in epoll_wait
    waiting.start()
    time.sleep(0.1)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return to pytest
        signal.alarm(5)
        try:
            selector.close()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    selector.close()
    waiting.join(WAIT)
    assert os.waitstatus_to_exitcode(status) == 0, "the child hung in close"


@pytest.mark.parametrize("name, mask", [("interest_ops_or", -1), ("interest_ops_or", 1 << 40), ("interest_ops_and", 1 << 70), ("interest_ops_and", -(1 << 40))])
def test_interest_ops_or_and_refuse_what_is_no_mask(selector: nioxide.Selector, pair: Pair, name: str, mask: int) -> None:
    _, peer = pair
    peer.configure_blocking(False)
    key = peer.register(selector, OP_READ)
    with pytest.raises(nioxide.InvalidArgumentError):
        getattr(key, name)(mask)
    with pytest.raises(TypeError):
        getattr(key, name)("OP_READ")
    assert key.interest_ops == OP_READ
