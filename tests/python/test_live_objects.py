"""nioxide.live_objects(): the leak check a test's teardown can call; the counts go up with
the objects a test makes and back down once Python frees them."""

from __future__ import annotations

import gc

import nioxide


def test_counts_go_up_and_back_down() -> None:
    gc.collect()
    before = nioxide.live_objects()
    assert all(count > 0 for count in before.values())

    selector = nioxide.Selector()
    server = nioxide.ServerSocketChannel()
    server.bind(("127.0.0.1", 0))
    client = nioxide.SocketChannel()
    client.connect(server.local_address)
    accepted = server.accept()
    assert accepted is not None
    accepted.configure_blocking(False)
    key = accepted.register(selector, nioxide.OP_READ)
    loop = nioxide.EventLoop()
    future = loop.create_promise()
    timer = loop.timer(lambda timer: None)

    now = nioxide.live_objects()
    grown = {name: now.get(name, 0) - before.get(name, 0) for name in now}
    for name, count in {
        "Selector": 1,
        "ServerSocketChannel": 1,
        "SocketChannel": 2,
        "SelectionKey": 1,
        "EventLoop": 1,
        "Future": 1,
        "Timer": 1,
    }.items():
        assert grown.get(name) == count, (name, now, before)

    timer.close()
    loop.close()
    for channel in (client, accepted, server):
        channel.close()
    selector.close()
    del selector, server, client, accepted, channel, key, loop, future, timer
    gc.collect()
    assert nioxide.live_objects() == before


def test_closed_objects_count_until_freed() -> None:
    gc.collect()
    before = nioxide.live_objects().get("SocketChannel", 0)
    channel = nioxide.SocketChannel()
    channel.close()
    assert nioxide.live_objects()["SocketChannel"] == before + 1
    del channel
    gc.collect()
    assert nioxide.live_objects().get("SocketChannel", 0) == before
