"""codec_line_echo: the line benchmark's (D), nioxide's pipeline in Python with the line
decoder in nioxide.

    python codec_line_echo.py [PORT]   (0 or nothing: the OS chooses; prints "listening on 127.0.0.1:PORT")

A ServerBootstrap on a one-thread EventLoopGroup (that thread accepts and serves), TCP_NODELAY
on each accepted channel (bench/pipeline_echo.py's serve), and in each channel's pipeline its
own nioxide.LineBasedFrameDecoder (16 KiB lines at most, keeping the '\\n', so a frame is the
very bytes to echo; the framing runs in Rust) followed by bench/pipeline_echo.py's
EchoServerHandler (Netty's) in Python:
  - channel_read writes each line (a nioxide.Buffer sharing the bytes read) back without a
    promise;
  - channel_read_complete flushes;
  - while the channel is unwritable auto-read is off (the server never buffers without
    bound), back on once writable.
The main thread only waits for signals: SIGUSR1 reports rusage (the whole process, the loop
thread included), SIGTERM/SIGINT report it and exit (bench/bench_common.py).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import nioxide  # noqa: E402
from bench_common import install  # noqa: E402
from pipeline_echo import EchoServerHandler, serve  # noqa: E402

MAX_LINE = 16384


class LineEchoInitializer(nioxide.ChannelInitializer):
    def __init__(self, counter: list[int]) -> None:
        self.counter = counter

    def init_channel(self, channel: nioxide.Channel) -> None:
        pipeline = channel.pipeline
        pipeline.add_last(nioxide.LineBasedFrameDecoder(MAX_LINE, strip_delimiter=False), "lines")
        pipeline.add_last(EchoServerHandler(self.counter), "echo")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counter = install()
    serve(LineEchoInitializer(counter), port)


if __name__ == "__main__":
    main()
