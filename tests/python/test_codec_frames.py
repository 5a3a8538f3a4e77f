"""The framing decoders, the length-field prepender and the string codecs from Python
(issue 12 §7), through EmbeddedChannel and over TCP: input fragmented byte by byte, many
frames in one read, frames of exactly the maximum, too-long frames in both fail modes (10 MiB
without a delimiter keeping memory bounded), a 2**31-1 length field with a 1 MiB maximum,
negative and corrupted length fields, end of input with a partial frame, malformed UTF-8
(overlong, lone continuation, truncated at the end) in replace and strict modes, other
encodings through Python's codecs, bad configurations, and an instance added twice. Every
test checks that its buffers, channels and contexts were released; every wait is bounded;
addresses are 127.0.0.1 port 0."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

import nioxide
from codec_support import Collect, kinds, write_failure
from nioxide import (
    CorruptedFrameException,
    DecoderException,
    MalformedInputException,
    TooLongFrameException,
)

WAIT = 10.0
MiB = 1024 * 1024

pytestmark = pytest.mark.usefixtures("pipeline_objects_released")


def rss() -> int:
    """The process's resident memory now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


# --- line and delimiter decoders ----------------------------------------------------------


def test_lines_fragmented_byte_by_byte_and_many_per_read() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LineBasedFrameDecoder(16), out)
    data = b"first\r\nsecond\n\nthird\r\n"
    for i in range(len(data)):
        ch.write_inbound(data[i : i + 1])
    assert out.take() == [b"first", b"second", b"", b"third"]
    ch.write_inbound(data * 3)
    assert out.take() == [b"first", b"second", b"", b"third"] * 3
    # A '\r' at the end of a read waits for what follows.
    ch.write_inbound(b"a\r")
    assert out.take() == []
    ch.write_inbound(b"\n")
    assert out.take() == [b"a"]
    assert not ch.finish()


def test_lines_keep_their_delimiter_when_asked() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LineBasedFrameDecoder(8, strip_delimiter=False), out)
    ch.write_inbound(b"one\r\ntwo\n")
    assert out.take() == [b"one\r\n", b"two\n"]
    assert not ch.finish()


def test_a_line_of_exactly_the_maximum_decodes_one_more_byte_is_too_long() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LineBasedFrameDecoder(5), out)
    ch.write_inbound(b"12345\r\n")
    assert out.take() == [b"12345"]
    ch.write_inbound(b"123456\nok\n")
    assert kinds(out.take()) == [TooLongFrameException, b"ok"]
    assert not ch.finish()


@pytest.mark.parametrize("fail_fast", [True, False])
def test_a_too_long_line_is_reported_once_in_either_mode(fail_fast: bool) -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LineBasedFrameDecoder(4, fail_fast=fail_fast), out)
    ch.write_inbound(b"abcdefgh")
    # Fail fast: reported as soon as more than the maximum arrived; otherwise once skipped.
    assert kinds(out.take()) == ([TooLongFrameException] if fail_fast else [])
    ch.write_inbound(b"ijkl")
    assert out.take() == []
    ch.write_inbound(b"mn\nxy\n")
    assert kinds(out.take()) == ([] if fail_fast else [TooLongFrameException]) + [b"xy"]
    assert not ch.finish()


def test_the_exceptions_have_their_classes_and_messages() -> None:
    ch = nioxide.EmbeddedChannel(nioxide.LineBasedFrameDecoder(4))
    with pytest.raises(TooLongFrameException, match="exceeds the maximum 4") as raised:
        ch.write_inbound(b"abcdef\n")
    assert isinstance(raised.value, DecoderException)
    assert isinstance(raised.value, nioxide.NioxideError)
    assert TooLongFrameException.code == "NX_ETOOLONG"
    assert CorruptedFrameException.code == "NX_ECORRUPTED"
    assert MalformedInputException.code == "NX_EMALFORMED"
    assert issubclass(MalformedInputException, UnicodeError)
    assert not ch.finish()


@pytest.mark.parametrize("fail_fast", [True, False])
@pytest.mark.parametrize("kind", ["line", "delimiter"])
def test_ten_mib_without_a_delimiter_keeps_memory_bounded(fail_fast: bool, kind: str) -> None:
    out = Collect()
    decoder = (
        nioxide.LineBasedFrameDecoder(MiB, fail_fast=fail_fast)
        if kind == "line"
        else nioxide.DelimiterBasedFrameDecoder(MiB, b"\n", fail_fast=fail_fast)
    )
    ch = nioxide.EmbeddedChannel(decoder, out)
    chunk = b"x" * (64 * 1024)
    ch.write_inbound(chunk)
    before = rss()
    for _ in range(10 * 16 - 1):
        ch.write_inbound(chunk)
    grown = rss() - before
    assert grown < 4 * MiB, f"memory grew by {grown} bytes while discarding"
    ch.write_inbound(b"tail\nnext\n")
    assert kinds(out.take()) == [TooLongFrameException, b"next"]
    assert not ch.finish()


def test_delimiters_the_shortest_frame_wins_and_split_delimiters_are_found() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.DelimiterBasedFrameDecoder(16, b"||", b"|;"), out)
    ch.write_inbound(b"a|;b||c|")
    assert out.take() == [b"a", b"b"]
    ch.write_inbound(b"|")
    assert out.take() == [b"c"]
    ch.write_inbound(bytearray(b"d|;"), memoryview(b"e||"))
    assert out.take() == [b"d", b"e"]
    assert not ch.finish()


def test_delimiters_keep_them_and_report_too_long_frames() -> None:
    out = Collect()
    decoder = nioxide.DelimiterBasedFrameDecoder(
        3, b"\0", strip_delimiter=False, fail_fast=False
    )
    assert decoder.delimiters == (b"\0",)
    ch = nioxide.EmbeddedChannel(decoder, out)
    ch.write_inbound(b"abc\0abcd\0x\0")
    assert kinds(out.take()) == [b"abc\0", TooLongFrameException, b"x\0"]
    assert not ch.finish()


# --- fixed length ---------------------------------------------------------------------------


def test_fixed_length_frames_and_a_partial_frame_at_the_end() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.FixedLengthFrameDecoder(3), out)
    for b in b"abcdefgh":
        ch.write_inbound(bytes([b]))
    assert out.take() == [b"abc", b"def"]
    # The partial frame is dropped at the end of input.
    assert not ch.finish()
    assert out.take() == []


# --- length field -------------------------------------------------------------------------


def frame(body: bytes, size: int = 2, order: str = "big") -> bytes:
    return len(body).to_bytes(size, order) + body


def test_length_field_frames_fragmented_and_many_per_read() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(
        nioxide.LengthFieldBasedFrameDecoder(64, 0, 2, initial_bytes_to_strip=2), out
    )
    data = frame(b"hello") + frame(b"") + frame(b"world!")
    for i in range(len(data)):
        ch.write_inbound(data[i : i + 1])
    assert out.take() == [b"hello", b"", b"world!"]
    ch.write_inbound(data * 4)
    assert out.take() == [b"hello", b"", b"world!"] * 4
    assert not ch.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("order", ["big", "little"])
def test_length_field_sizes_and_byte_orders_round_trip_with_the_prepender(
    size: int, order: str
) -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(
        nioxide.LengthFieldBasedFrameDecoder(200, 0, size, 0, size, byteorder=order),
        nioxide.LengthFieldPrepender(size, byteorder=order),
        out,
    )
    ch.write_outbound(b"payload")
    header, body = ch.read_outbound(), ch.read_outbound()
    assert bytes(header) == (7).to_bytes(size, order) and bytes(body) == b"payload"
    ch.write_inbound(bytes(header) + bytes(body))
    assert out.take() == [b"payload"]
    assert not ch.finish()


def test_length_field_at_an_offset_with_an_adjustment() -> None:
    # Two bytes of magic, a 2-byte length that counts the whole frame (-4), keep it all.
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LengthFieldBasedFrameDecoder(32, 2, 2, -4, 0), out)
    ch.write_inbound(b"MG\x00\x07abc" + b"MG\x00\x04")
    assert out.take() == [b"MG\x00\x07abc", b"MG\x00\x04"]
    assert not ch.finish()


def test_a_frame_of_exactly_the_maximum_decodes_one_more_is_too_long() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LengthFieldBasedFrameDecoder(10, 0, 2), out)
    ch.write_inbound(frame(b"12345678"))
    assert out.take() == [frame(b"12345678")]
    ch.write_inbound(frame(b"123456789") + frame(b"ok"))
    assert kinds(out.take()) == [TooLongFrameException, frame(b"ok")]
    assert not ch.finish()


@pytest.mark.parametrize("fail_fast", [True, False])
def test_a_too_long_length_field_frame_is_skipped_in_either_mode(fail_fast: bool) -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(
        nioxide.LengthFieldBasedFrameDecoder(8, 0, 2, 0, 2, fail_fast=fail_fast), out
    )
    ch.write_inbound(frame(b"x" * 20)[:10])
    assert kinds(out.take()) == ([TooLongFrameException] if fail_fast else [])
    ch.write_inbound(b"x" * 12 + frame(b"ok"))
    assert kinds(out.take()) == ([] if fail_fast else [TooLongFrameException]) + [b"ok"]
    assert not ch.finish()


def test_a_huge_length_field_with_a_small_maximum_allocates_nothing() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LengthFieldBasedFrameDecoder(MiB, 0, 4), out)
    before = rss()
    ch.write_inbound((2**31 - 1).to_bytes(4, "big") + b"some of the body")
    assert kinds(out.take()) == [TooLongFrameException]
    assert rss() - before < 16 * MiB
    # Still discarding the announced frame: more of it is dropped as it comes.
    ch.write_inbound(b"z" * 4096)
    assert out.take() == []
    assert not ch.finish()


def test_negative_and_corrupted_length_fields() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LengthFieldBasedFrameDecoder(64, 0, 8, 0, 8), out)
    # An 8-byte field of 2**63 or more is negative.
    ch.write_inbound((2**64 - 5).to_bytes(8, "big") + frame(b"after", 8))
    assert kinds(out.take()) == [CorruptedFrameException, b"after"]
    assert not ch.finish()
    # An adjustment that makes a frame shorter than its own header (the field counts itself
    # and one more byte: a value under 3 is corrupted).
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LengthFieldBasedFrameDecoder(64, 0, 2, -3, 0), out)
    ch.write_inbound(b"\x00\x01" + b"\x00\x08hello")
    assert kinds(out.take()) == [CorruptedFrameException, b"\x00\x08hello"]
    assert not ch.finish()


def test_a_length_field_frame_cut_short_by_the_end_of_input_is_dropped() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.LengthFieldBasedFrameDecoder(64, 0, 2, 0, 2), out)
    ch.write_inbound(frame(b"whole") + frame(b"partial")[:4])
    assert not ch.finish()
    assert out.take() == [b"whole"]


def test_the_prepender_options_and_a_length_that_does_not_fit() -> None:
    ch = nioxide.EmbeddedChannel(
        nioxide.LengthFieldPrepender(1, length_adjustment=1, length_includes_length_field_length=True)
    )
    ch.write_outbound(b"abc")
    assert bytes(ch.read_outbound()) == b"\x05"
    assert bytes(ch.read_outbound()) == b"abc"
    failure = write_failure(ch, b"x" * 300)
    assert isinstance(failure, nioxide.InvalidArgumentError)
    assert "does not fit in a 1-byte length field" in str(failure)
    assert ch.read_outbound() is None
    assert not ch.finish()


# --- strings --------------------------------------------------------------------------------


def test_utf8_strings_decode_to_str_and_str_encodes() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(
        nioxide.LineBasedFrameDecoder(64), nioxide.StringDecoder(), nioxide.StringEncoder(), out
    )
    text = "h\u00e9llo \u4e16\u754c \U0001f600"
    data = (text + "\n").encode()
    for i in range(len(data)):  # every multi-byte character split across reads
        ch.write_inbound(data[i : i + 1])
    assert out.take() == [text]
    assert type(ch.pipeline.last()) is Collect
    # A str crosses the pipeline as core's string message: the decoders pass it by, and it
    # reaches Python as an equal str.
    ch.write_inbound("not bytes: \u00e9")
    assert out.take() == ["not bytes: \u00e9"]
    # A lone surrogate has no UTF-8 form: the write raises at the call.
    with pytest.raises(UnicodeEncodeError):
        ch.write_outbound("\ud800")
    ch.write_outbound("\u00e9t\u00e9\n", b"raw")
    assert bytes(ch.read_outbound()) == "\u00e9t\u00e9\n".encode()
    assert bytes(ch.read_outbound()) == b"raw"
    assert not ch.finish()


MALFORMED = [
    (b"\xc0\xaf", "overlong"),
    (b"a\x80b", "lone continuation"),
    (b"ok\xe2\x82", "truncated at the end"),
    (b"\xed\xa0\x80", "surrogate"),
]


@pytest.mark.parametrize("data,what", MALFORMED)
def test_malformed_utf8_is_replaced_by_default(data: bytes, what: str) -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.StringDecoder(), out)
    ch.write_inbound(data)
    assert out.take() == [data.decode("utf-8", "replace")], what
    assert not ch.finish()


@pytest.mark.parametrize("data,what", MALFORMED)
def test_malformed_utf8_fails_in_strict_mode(data: bytes, what: str) -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.StringDecoder(errors="strict"), out)
    ch.write_inbound(data, b"fine")
    seen = out.take()
    assert kinds(seen) == [MalformedInputException, "fine"], what
    assert "malformed UTF-8" in str(seen[0])
    assert not ch.finish()


def test_other_encodings_go_through_pythons_codecs() -> None:
    out = Collect()
    ch = nioxide.EmbeddedChannel(
        nioxide.StringDecoder("latin-1"), nioxide.StringEncoder("utf-16-le"), out
    )
    ch.write_inbound(b"caf\xe9")
    assert out.take() == ["caf\u00e9"]
    ch.write_outbound("\u00e9")
    assert bytes(ch.read_outbound()) == b"\xe9\x00"
    assert not ch.finish()
    # Strict decoding through a codec: MalformedInputException caused by the codec's error.
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.StringDecoder("ascii", "strict"), out)
    ch.write_inbound(b"\xff", b"ok")
    seen = out.take()
    assert kinds(seen) == [MalformedInputException, "ok"]
    assert isinstance(seen[0].__cause__, UnicodeDecodeError)
    assert not ch.finish()
    # Another error handler on UTF-8 goes through the codec too.
    out = Collect()
    ch = nioxide.EmbeddedChannel(nioxide.StringDecoder("utf8", "ignore"), out)
    ch.write_inbound(b"a\xffb")
    assert out.take() == ["ab"]
    assert not ch.finish()
    # A character the encoding cannot represent fails the write.
    ch = nioxide.EmbeddedChannel(nioxide.StringEncoder("ascii"))
    assert isinstance(write_failure(ch, "\u00e9"), UnicodeEncodeError)
    assert ch.read_outbound() is None
    assert not ch.finish()


def test_string_codec_names() -> None:
    assert nioxide.StringDecoder().encoding == "utf-8"
    assert nioxide.StringDecoder("UTF8", "strict").errors == "strict"
    assert nioxide.StringEncoder("Latin-1").encoding == "iso8859-1"
    assert repr(nioxide.StringDecoder()) == "nioxide.StringDecoder(\"utf-8\", errors=\"replace\")"


# --- configuration --------------------------------------------------------------------------

BAD: list[tuple[Callable[[], Any], str]] = [
    (lambda: nioxide.LineBasedFrameDecoder(0), "max_frame_length must be greater than 0"),
    (lambda: nioxide.LineBasedFrameDecoder(-1), "max_length must not be negative"),
    (lambda: nioxide.DelimiterBasedFrameDecoder(8), "at least one delimiter"),
    (lambda: nioxide.DelimiterBasedFrameDecoder(8, b""), "must not be empty"),
    (lambda: nioxide.DelimiterBasedFrameDecoder(0, b"\n"), "greater than 0"),
    (lambda: nioxide.FixedLengthFrameDecoder(0), "frame_length must be greater than 0"),
    (lambda: nioxide.LengthFieldBasedFrameDecoder(0, 0, 2), "greater than 0"),
    (lambda: nioxide.LengthFieldBasedFrameDecoder(64, 0, 5), "must be 1, 2, 3, 4 or 8"),
    (lambda: nioxide.LengthFieldBasedFrameDecoder(4, 2, 4), "must be at least"),
    (lambda: nioxide.LengthFieldBasedFrameDecoder(8, -1, 2), "must not be negative"),
    (lambda: nioxide.LengthFieldBasedFrameDecoder(8, 0, 2, 0, 9), "must not exceed"),
    (lambda: nioxide.LengthFieldBasedFrameDecoder(8, 0, 2, byteorder="middle"), "byteorder"),
    (lambda: nioxide.LengthFieldPrepender(7), "must be 1, 2, 3, 4 or 8"),
    (lambda: nioxide.LengthFieldPrepender(2, byteorder="BIG"), "byteorder"),
    (lambda: nioxide.StringDecoder("no-such-encoding"), "unknown encoding"),
    (lambda: nioxide.StringDecoder(errors="no-such-handler"), "unknown error handler"),
    (lambda: nioxide.StringEncoder("no-such-encoding"), "unknown encoding"),
]


@pytest.mark.parametrize("make,message", BAD)
def test_bad_configurations_are_refused_at_construction(
    make: Callable[[], Any], message: str
) -> None:
    with pytest.raises(nioxide.InvalidArgumentError, match=message):
        make()
    with pytest.raises(ValueError):
        make()


def test_a_delimiter_must_be_bytes_like() -> None:
    with pytest.raises(TypeError, match="bytes-like"):
        nioxide.DelimiterBasedFrameDecoder(8, "\n")  # type: ignore[arg-type]


def test_an_instance_joins_one_pipeline_once() -> None:
    decoder = nioxide.LineBasedFrameDecoder(8)
    ch = nioxide.EmbeddedChannel(decoder)
    assert ch.pipeline.first() is decoder
    with pytest.raises(nioxide.InvalidArgumentError, match="joins one pipeline only"):
        ch.pipeline.add_last(decoder)
    other = nioxide.EmbeddedChannel()
    with pytest.raises(nioxide.InvalidArgumentError, match="joins one pipeline only"):
        other.pipeline.add_last(decoder)
    assert not ch.finish()
    assert not other.finish()


def test_removing_a_decoder_hands_its_bytes_on() -> None:
    out = Collect()
    decoder = nioxide.LineBasedFrameDecoder(64)
    ch = nioxide.EmbeddedChannel(decoder, out)
    ch.write_inbound(b"whole\npart")
    assert ch.pipeline.remove(decoder) is decoder
    assert out.take() == [b"whole", b"part"]
    ch.write_inbound(b"raw\n")
    assert out.take() == [b"raw\n"]
    assert not ch.finish()


# --- over TCP -----------------------------------------------------------------------------


class Answer(nioxide.ChannelInboundHandler):
    """Answers each line (a str) with its upper case and its length; reports exceptions as
    an "error" line."""

    def __init__(self, errors: list[BaseException]) -> None:
        self.errors = errors

    def channel_read(self, ctx: Any, msg: Any) -> None:
        assert isinstance(msg, str)
        ctx.write(f"{msg.upper()} {len(msg)}\n")

    def channel_read_complete(self, ctx: Any) -> None:
        ctx.flush()

    def exception_caught(self, ctx: Any, cause: BaseException) -> None:
        self.errors.append(cause)
        ctx.write_and_flush(f"error {type(cause).__name__}\n")


class LineServer(nioxide.ChannelInitializer):
    def __init__(self, errors: list[BaseException], fail_fast: bool) -> None:
        self.errors, self.fail_fast = errors, fail_fast

    def init_channel(self, channel: nioxide.Channel) -> None:
        p = channel.pipeline
        p.add_last(nioxide.LineBasedFrameDecoder(32, fail_fast=self.fail_fast), "lines")
        p.add_last(nioxide.StringDecoder(), "text")
        p.add_last(nioxide.StringEncoder(), "encoder")
        p.add_last(Answer(self.errors), "answer")


def read_lines(sock: socket.socket, n: int) -> list[str]:
    data = b""
    while data.count(b"\n") < n:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data.decode().splitlines()


@pytest.mark.parametrize("fail_fast", [True, False])
def test_a_line_protocol_over_tcp(fail_fast: bool) -> None:
    errors: list[BaseException] = []
    with nioxide.EventLoopGroup(1) as group:
        bound = (
            nioxide.ServerBootstrap()
            .group(group, group)
            .child_handler(LineServer(errors, fail_fast))
            .bind(("127.0.0.1", 0))
        )
        bound.result(WAIT)
        server = bound.channel
        try:
            with socket.create_connection(server.local_address, timeout=WAIT) as peer:
                peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # Byte by byte, a multi-byte character split across segments.
                for b in "h\u00e9\r\n".encode():
                    peer.sendall(bytes([b]))
                assert read_lines(peer, 1) == ["H\u00c9 2"]
                # Many lines in one write, one of exactly the maximum.
                peer.sendall(b"a\nbb\n" + b"m" * 32 + b"\n")
                assert read_lines(peer, 3) == ["A 1", "BB 2", "M" * 32 + " 32"]
                # A line of 100 KiB: reported once, the next line answered.
                peer.sendall(b"z" * (100 * 1024) + b"\nafter\n")
                assert read_lines(peer, 2) == ["error TooLongFrameException", "AFTER 5"]
                # Malformed UTF-8 is replaced.
                peer.sendall(b"\xc0\xaf!\n")
                assert read_lines(peer, 1) == ["\ufffd\ufffd! 3"]
            assert [type(e) for e in errors] == [TooLongFrameException]
        finally:
            server.close().result(WAIT)


class Client(nioxide.ChannelInboundHandler):
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.done = threading.Event()

    def channel_read(self, ctx: Any, msg: Any) -> None:
        self.frames.append(bytes(msg))
        if len(self.frames) == 3:
            self.done.set()


class EchoFrames(nioxide.ChannelInboundHandler):
    def channel_read(self, ctx: Any, msg: Any) -> None:
        ctx.write(msg)

    def channel_read_complete(self, ctx: Any) -> None:
        ctx.flush()


class Framed(nioxide.ChannelInitializer):
    def __init__(self, last: nioxide.ChannelHandler) -> None:
        self.last = last

    def init_channel(self, channel: nioxide.Channel) -> None:
        p = channel.pipeline
        p.add_last(nioxide.LengthFieldBasedFrameDecoder(MiB, 0, 4, 0, 4))
        p.add_last(nioxide.LengthFieldPrepender(4))
        p.add_last(self.last)


def test_length_field_frames_over_tcp_both_ends_in_nioxide() -> None:
    client = Client()
    with nioxide.EventLoopGroup(1) as group:
        bound = (
            nioxide.ServerBootstrap()
            .group(group, group)
            .child_handler(Framed(EchoFrames()))
            .bind(("127.0.0.1", 0))
        )
        bound.result(WAIT)
        server = bound.channel
        try:
            connected = (
                nioxide.Bootstrap()
                .group(group)
                .handler(Framed(client))
                .connect(server.local_address)
            )
            connected.result(WAIT)
            ch = connected.channel
            big = bytes(range(256)) * 1024  # spans many reads
            for body in (b"one", big, b""):
                ch.write(body)
            ch.flush()
            assert client.done.wait(WAIT)
            assert client.frames == [b"one", big, b""]
            ch.close().result(WAIT)
        finally:
            server.close().result(WAIT)
