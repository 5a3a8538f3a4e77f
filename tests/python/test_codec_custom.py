"""Codecs written in Python: ByteToMessageDecoder subclasses (decode over the Cumulation view,
called while it makes progress, the rest kept for the next read; decode_last at the end of
input; exceptions wrapped in DecoderException; removal and replacement inside decode as in
Netty; the view's methods and its validity; memoryviews that outlive the call) and
MessageToByteEncoder subclasses (accept_outbound_message, bytes and lists of them, failures
of the write), through EmbeddedChannel and over TCP. Every test checks that its buffers,
channels and contexts were released; every wait is bounded."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import nioxide
from codec_support import Collect
from nioxide import DecoderException

WAIT = 10.0

pytestmark = pytest.mark.usefixtures("pipeline_objects_released")


class Frames(nioxide.ByteToMessageDecoder):
    """Frames with a 2-byte big-endian length header; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> list[Any] | None:
        self.calls += 1
        if len(buffer) < 2:
            return None
        n = int.from_bytes(buffer[0:2], "big")
        if len(buffer) < 2 + n:
            return None
        buffer.skip(2)
        return [buffer.read(n)]


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def test_a_subclass_decodes_fragmented_input_and_many_frames_per_read() -> None:
    out = Collect()
    decoder = Frames()
    ch = nioxide.EmbeddedChannel(decoder, out)
    data = frame(b"abc") + frame(b"") + frame(b"hello")
    for i in range(len(data)):
        ch.write_inbound(data[i : i + 1])
    assert out.take() == [b"abc", b"", b"hello"]
    decoder.calls = 0
    ch.write_inbound(data * 5)
    assert out.take() == [b"abc", b"", b"hello"] * 5
    # Called while it makes progress and bytes are left: once per frame.
    assert decoder.calls == 15
    ch.write_inbound(data + b"\x00")
    assert out.take() == [b"abc", b"", b"hello"]
    # ... and once more when what is left is not a whole frame.
    assert decoder.calls == 15 + 4
    assert ch.pipeline.first() is decoder
    assert not ch.finish()


def test_the_view_methods() -> None:
    seen: dict[str, Any] = {}

    class Probe(nioxide.ByteToMessageDecoder):
        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> list[Any]:
            seen["ctx"] = ctx.name
            seen["len"] = len(buffer)
            seen["bytes"] = bytes(buffer)
            seen["first"], seen["last"] = buffer[0], buffer[-1]
            seen["slice"] = buffer[1:3]
            seen["peek"] = buffer.peek(3)
            seen["find"] = (
                buffer.find(b"lo"),
                buffer.find(ord("o"), 5),
                buffer.find(b"zz"),
                buffer.find(b"o", -4),
                buffer.find(b"h", 99),
            )
            seen["repr"] = repr(buffer)
            with pytest.raises(IndexError):
                buffer[99]
            for bad in (-1, 99):
                with pytest.raises(nioxide.InvalidArgumentError, match="readable bytes"):
                    buffer.read(bad)
                with pytest.raises(nioxide.InvalidArgumentError):
                    buffer.skip(bad)
            with pytest.raises(TypeError):
                buffer.find(1.5)
            first = buffer.read(5)
            buffer.skip(1)
            seen["kept"] = buffer
            return [first, buffer.read(len(buffer))]

    out = Collect()
    ch = nioxide.EmbeddedChannel(Probe(), out)
    ch.pipeline.context(ch.pipeline.first()).name  # noqa: B018 - the name exists
    ch.write_inbound(b"hello world")
    assert out.take() == [b"hello", b"world"]
    assert seen["len"] == 11 and seen["bytes"] == b"hello world"
    assert (seen["first"], seen["last"], seen["slice"]) == (ord("h"), ord("d"), b"el")
    assert seen["peek"] == b"hel"
    assert seen["find"] == (3, 7, -1, 7, -1)
    assert seen["repr"] == "<nioxide.Cumulation 11 bytes>"
    # The view is valid only during its call.
    kept = seen.pop("kept")
    with pytest.raises(nioxide.InvalidArgumentError, match="only during the decode"):
        len(kept)
    with pytest.raises(nioxide.InvalidArgumentError):
        kept.read(0)
    assert repr(kept) == "<nioxide.Cumulation (released)>"
    assert not ch.finish()


def test_a_memoryview_outlives_the_call_and_later_reads() -> None:
    views: list[memoryview] = []

    class Keep(nioxide.ByteToMessageDecoder):
        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> None:
            views.append(memoryview(buffer))
            if len(buffer) > 3:
                buffer.skip(2)
            return None

    ch = nioxide.EmbeddedChannel(Keep())
    ch.write_inbound(b"ab")
    ch.write_inbound(b"cd" * 1000)
    ch.write_inbound(b"ef" * 50000)
    assert views[0].tobytes() == b"ab"
    assert views[1].tobytes() == b"ab" + b"cd" * 1000
    assert views[2].tobytes() == (b"ab" + b"cd" * 1000)[2:]
    assert all(v.readonly for v in views)
    for v in views:
        v.release()
    assert not ch.finish_and_release_all()


def test_single_decode_takes_one_message_per_read() -> None:
    class One(Frames):
        single_decode = True

    out = Collect()
    ch = nioxide.EmbeddedChannel(One(), out)
    ch.write_inbound(frame(b"a") + frame(b"b") + frame(b"c"))
    assert out.take() == [b"a"]
    ch.write_inbound(b"")
    assert out.take() == [b"b"]
    # The rest at the end of input.
    assert not ch.finish()
    assert out.take() == [b"c"]


def test_produced_without_consuming_is_a_decoder_bug() -> None:
    class Bad(nioxide.ByteToMessageDecoder):
        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> list[bytes]:
            return [b"again"]

    out = Collect()
    ch = nioxide.EmbeddedChannel(Bad(), out)
    ch.write_inbound(b"x")
    seen = out.take()
    assert seen[0] == b"again"
    assert isinstance(seen[1], nioxide.InvalidArgumentError)
    assert "without consuming" in str(seen[1])
    assert len(seen) == 2
    assert not ch.finish_and_release_all()


def test_an_exception_in_decode_is_wrapped_and_decoding_goes_on() -> None:
    class Picky(nioxide.ByteToMessageDecoder):
        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> list[bytes] | None:
            byte = buffer.read(1)
            if bytes(byte) == b"!":
                raise ValueError("no bangs")
            if bytes(byte) == b"?":
                raise nioxide.CorruptedFrameException("a question")
            return [byte]

    out = Collect()
    ch = nioxide.EmbeddedChannel(Picky(), out)
    ch.write_inbound(b"a!b?c")
    seen = out.take()
    assert seen[0] == b"a" and seen[2] == b"b" and seen[4] == b"c"
    assert type(seen[1]) is DecoderException
    assert isinstance(seen[1].__cause__, ValueError)
    assert "ValueError: no bangs" in str(seen[1])
    assert type(seen[3]) is nioxide.CorruptedFrameException
    assert not ch.finish()


def test_a_wrong_return_type_is_reported() -> None:
    class Single(nioxide.ByteToMessageDecoder):
        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> Any:
            return bytes(buffer.read(len(buffer)))

    out = Collect()
    ch = nioxide.EmbeddedChannel(Single(), out)
    ch.write_inbound(b"abc")
    (error,) = out.take()
    assert isinstance(error, DecoderException)
    assert isinstance(error.__cause__, TypeError)
    assert "wrap it in a list" in str(error)
    assert not ch.finish()


def test_the_base_decode_is_abstract() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.ByteToMessageDecoder(), out)
    ch.write_inbound(b"x")
    (error,) = out.take()
    assert isinstance(error.__cause__, NotImplementedError)
    assert not ch.finish()


def test_end_of_input_with_a_partial_frame_and_decode_last() -> None:
    # Without decode_last: decode runs while it makes progress, then once more in place of
    # decode_last; what is left is dropped.
    out = Collect()
    decoder = Frames()
    ch = nioxide.EmbeddedChannel(decoder, out)
    ch.write_inbound(frame(b"whole") + frame(b"partial")[:5])
    decoder.calls = 0
    assert not ch.finish()
    assert out.take() == [b"whole"]
    assert decoder.calls == 2

    # With decode_last: it gets the rest, once.
    class Rest(Frames):
        def decode_last(self, ctx: Any, buffer: nioxide.Cumulation) -> list[Any]:
            return ["last", buffer.read(len(buffer))]

    out = Collect()
    ch = nioxide.EmbeddedChannel(Rest(), out)
    ch.write_inbound(frame(b"whole") + b"\x00\x09abc")
    assert not ch.finish()
    assert out.take() == [b"whole", "last", b"\x00\x09abc"]


def test_removed_inside_decode_hands_the_rest_on() -> None:
    class Once(Frames):
        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> list[Any] | None:
            frames = super().decode(ctx, buffer)
            if frames:
                ctx.pipeline.remove(self)
            return frames

    out = Collect()
    ch = nioxide.EmbeddedChannel(Once(), out)
    ch.write_inbound(frame(b"first") + frame(b"second"))
    # The frame of the call that removed it, then the rest as one buffer.
    assert out.take() == [b"first", frame(b"second")]
    assert ch.pipeline.names() == ["handler-1"]
    ch.write_inbound(b"raw")
    assert out.take() == [b"raw"]
    assert not ch.finish()


def test_replaced_inside_decode_the_replacement_gets_the_rest() -> None:
    class Upgrade(nioxide.ByteToMessageDecoder):
        """Reads a one-line greeting, then hands over to length-field frames. What this call
        returns and the bytes left go through the replacement (Netty's rule: the removed
        context forwards to it), so the greeting is fired before the replacement."""

        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> list[Any] | None:
            at = buffer.find(b"\n")
            if at < 0:
                return None
            ctx.fire_channel_read(buffer.read(at))
            buffer.skip(1)
            ctx.pipeline.replace(self, Frames(), "frames")
            return [frame(b"via the replacement")]

    out = Collect()
    upgrade = Upgrade()
    ch = nioxide.EmbeddedChannel(upgrade, out)
    ch.write_inbound(b"HEL")
    ch.write_inbound(b"LO\n" + frame(b"one") + frame(b"two")[:3])
    assert out.take() == [b"HELLO", b"via the replacement", b"one"]
    assert isinstance(ch.pipeline.get("frames"), Frames)
    ch.write_inbound(frame(b"two")[3:])
    assert out.take() == [b"two"]
    # The replaced instance is out of the pipeline and cannot join another.
    assert upgrade not in ch.pipeline
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.EmbeddedChannel(upgrade)
    assert not ch.finish()


def test_a_decoder_instance_added_twice_is_refused() -> None:
    decoder = Frames()
    ch = nioxide.EmbeddedChannel(decoder)
    with pytest.raises(nioxide.InvalidArgumentError, match="joins one pipeline only"):
        ch.pipeline.add_last(decoder, "again")
    with pytest.raises(nioxide.InvalidArgumentError):
        nioxide.EmbeddedChannel(decoder)
    assert ch.pipeline.get("handler-0") is decoder
    assert not ch.finish()


def test_a_decoder_and_its_context_are_released_with_the_channel() -> None:
    import gc
    import weakref

    class Keeps(Frames):
        def decode(self, ctx: Any, buffer: nioxide.Cumulation) -> list[Any] | None:
            self.ctx = ctx  # a cycle through Rust: let go when the handler is removed
            return super().decode(ctx, buffer)

    decoder = Keeps()
    ref = weakref.ref(decoder)
    ch = nioxide.EmbeddedChannel(decoder)
    ch.write_inbound(frame(b"x"))
    assert ch.finish_and_release_all()  # the frame waited at the tail
    del decoder, ch
    gc.collect()
    assert ref() is None


# --- encoders -------------------------------------------------------------------------------


class Tagged(nioxide.MessageToByteEncoder):
    """Encodes ints as a tagged 4-byte big-endian value; other messages pass by."""

    def accept_outbound_message(self, msg: Any) -> bool:
        return isinstance(msg, int)

    def encode(self, ctx: Any, msg: Any) -> Any:
        if msg < 0:
            raise ValueError("negative")
        if msg == 0:
            return None
        return [b"I", msg.to_bytes(4, "big")]


def test_an_encoder_encodes_what_it_accepts_and_passes_the_rest() -> None:
    ch = nioxide.EmbeddedChannel(Tagged())
    ch.write_outbound(7, b"raw", nioxide.Buffer(b"buf"))
    assert [bytes(ch.read_outbound()) for _ in range(4)] == [b"I", b"\0\0\0\x07", b"raw", b"buf"]
    assert ch.read_outbound() is None
    # None writes no bytes (an empty buffer), and the write completes.
    promise = ch.channel.new_promise()
    ch.channel.write_and_flush(0, promise)
    ch.run_pending_tasks()
    assert promise.done() and promise.exception(timeout=0) is None
    assert ch.read_outbound() == b""
    # A failure fails the write's future with the exception raised; nothing is written.
    promise = ch.channel.new_promise()
    ch.channel.write_and_flush(-1, promise)
    ch.run_pending_tasks()
    assert isinstance(promise.exception(timeout=0), ValueError)
    assert ch.read_outbound() is None
    assert not ch.finish_and_release_all()


def test_an_encoder_without_a_filter_takes_everything_and_checks_its_result() -> None:
    class Repr(nioxide.MessageToByteEncoder):
        def encode(self, ctx: Any, msg: Any) -> Any:
            return repr(msg).encode() if msg != "bad" else 42

    ch = nioxide.EmbeddedChannel(Repr())
    ch.write_outbound("s", (1, 2))
    assert [bytes(ch.read_outbound()) for _ in range(2)] == [b"'s'", b"(1, 2)"]
    promise = ch.channel.new_promise()
    ch.channel.write_and_flush("bad", promise)
    ch.run_pending_tasks()
    assert isinstance(promise.exception(timeout=0), TypeError)
    assert not ch.finish_and_release_all()


# --- over TCP -----------------------------------------------------------------------------


class Sum(nioxide.ChannelInboundHandler):
    """Answers each frame with the sum of its bytes, as an int (encoded by Tagged)."""

    def channel_read(self, ctx: Any, msg: Any) -> None:
        ctx.write(sum(bytes(msg)))

    def channel_read_complete(self, ctx: Any) -> None:
        ctx.flush()


class Init(nioxide.ChannelInitializer):
    def init_channel(self, channel: nioxide.Channel) -> None:
        channel.pipeline.add_last(Frames(), "frames")
        channel.pipeline.add_last(Tagged(), "tagged")
        channel.pipeline.add_last(Sum(), "sum")


def test_python_codecs_over_tcp() -> None:
    with nioxide.EventLoopGroup(1) as group:
        bound = nioxide.ServerBootstrap().group(group, group).child_handler(Init()).bind(
            ("127.0.0.1", 0)
        )
        bound.result(WAIT)
        server = bound.channel
        try:
            with socket.create_connection(server.local_address, timeout=WAIT) as peer:
                peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                data = frame(b"\x01\x02") + frame(bytes(range(100)))
                for i in range(len(data)):
                    peer.sendall(data[i : i + 1])
                peer.sendall(frame(b"\x05") * 20)
                expected = b"".join(
                    b"I" + n.to_bytes(4, "big") for n in [3, sum(range(100))] + [5] * 20
                )
                got = b""
                while len(got) < len(expected):
                    chunk = peer.recv(65536)
                    assert chunk
                    got += chunk
                assert got == expected
        finally:
            server.close().result(WAIT)
