"""AsynchronousFileChannel and FileLock: positional reads and writes, size, truncate, force,
locks, close, errors (issue 11 §3, §6)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import nioxide
from aio_support import Recorder
from support import WAIT


@pytest.fixture
def group() -> Iterator[nioxide.AsynchronousChannelGroup]:
    """A one-thread group; after the test it is terminated and no descriptor is left open
    (the conftest fixture checks sockets and threads, this one files too)."""
    before = set(os.listdir("/proc/self/fd"))
    group = nioxide.AsynchronousChannelGroup.with_threads(1)
    yield group
    group.shutdown_now()
    assert group.await_termination(WAIT)
    leaked = {
        (fd, target)
        for fd in set(os.listdir("/proc/self/fd")) - before
        if (target := _target(fd)) is not None and not target.startswith(("pipe:", "anon_inode:"))
    }
    assert not leaked, f"descriptors left open: {sorted(leaked)}"


def _target(fd: str) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except FileNotFoundError:
        return None


def open_rw(path: Path, group: nioxide.AsynchronousChannelGroup) -> nioxide.AsynchronousFileChannel:
    return nioxide.AsynchronousFileChannel.open(
        path,
        nioxide.StandardOpenOption.READ,
        nioxide.StandardOpenOption.WRITE,
        nioxide.StandardOpenOption.CREATE,
        group=group,
    )


def test_positional_read_write_beyond_the_end(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    with open_rw(tmp_path / "f", group) as f:
        assert f.write(b"tail", 100).result(WAIT) == 4
        assert f.size() == 104
        buf = bytearray(8)
        assert f.read(buf, 98).result(WAIT) == 6
        assert bytes(buf[:6]) == b"\0\0tail"
        assert f.read(buf, 104).result(WAIT) == -1
        assert f.read(buf, 1 << 40).result(WAIT) == -1
        # With a handler and an attachment.
        recorder = Recorder()
        f.write(memoryview(b"abcd"), 0, "w", recorder)
        assert recorder.wait() == ("completed", 4, "w")
        assert f.read(buf, 0).result(WAIT) == 8
        assert bytes(buf[:4]) == b"abcd"
        # One buffer per operation, as in Java.
        with pytest.raises(nioxide.InvalidArgumentError):
            f.read([bytearray(1), bytearray(3)], 0)
        with pytest.raises(ValueError):
            f.read(buf, -1)
        with pytest.raises(ValueError):
            f.write(b"x", -5)


def test_truncate_and_force(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    with open_rw(tmp_path / "f", group) as f:
        f.write(bytes(1000), 0).result(WAIT)
        f.truncate(10)
        assert f.size() == 10
        f.truncate(100)  # larger: nothing changes
        assert f.size() == 10
        f.force()
        f.force(metadata=True)
        with pytest.raises(ValueError):
            f.truncate(-1)


def test_read_only_file_reports_the_os_error(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    path = tmp_path / "ro"
    path.write_bytes(b"data")
    with nioxide.AsynchronousFileChannel.open(path, group=group) as f:
        buf = bytearray(4)
        assert f.read(buf, 0).result(WAIT) == 4 and buf == b"data"
        error = f.write(b"x", 0).exception(WAIT)
        assert isinstance(error, OSError) and error.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        nioxide.AsynchronousFileChannel.open(tmp_path / "missing", "read", group=group)
    assert info.value.errno == errno.ENOENT
    with pytest.raises(OSError) as info:
        nioxide.AsynchronousFileChannel.open(path, "write", "create_new", group=group)
    assert info.value.errno == errno.EEXIST
    with pytest.raises(ValueError):
        nioxide.AsynchronousFileChannel.open(path, "sideways", group=group)


def test_full_disk_reports_the_os_error(group: nioxide.AsynchronousChannelGroup) -> None:
    with nioxide.AsynchronousFileChannel.open("/dev/full", "write", group=group) as f:
        error = f.write(b"0123456789abcdef", 0).exception(WAIT)
        assert isinstance(error, OSError) and error.errno == errno.ENOSPC


def test_locks_between_two_channels(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    path = tmp_path / "locked"
    with open_rw(path, group) as a, open_rw(path, group) as b:
        lock = a.try_lock()
        assert lock is not None and lock.is_valid() and not lock.is_shared()
        assert (lock.position, lock.size) == (0, 0)
        assert b.try_lock() is None
        waiting = b.lock(0, 10, True)
        assert not waiting.done()
        lock.release()
        assert not lock.is_valid()
        shared = waiting.result(WAIT)
        assert isinstance(shared, nioxide.FileLock) and shared.is_shared()
        # A shared lock admits another shared one, not an exclusive one.
        with a.try_lock(0, 10, True) as other:
            assert other is not None
        assert a.try_lock(5, 1) is None
        recorder = Recorder()
        a.lock(5, 1, False, "x", recorder)
        b.close()  # releases b's locks: a's lock is taken
        kind, taken, attachment = recorder.wait()
        assert (kind, attachment) == ("completed", "x")
        taken.release()


def test_overlapping_locks_on_one_channel(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    with open_rw(tmp_path / "overlap", group) as f:
        first = f.try_lock(10, 10, True)
        assert first is not None
        for position, size, shared in ((15, 1, True), (0, 11, False), (0, 0, False)):
            with pytest.raises(nioxide.OverlappingFileLockError):
                f.try_lock(position, size, shared)
        with pytest.raises(nioxide.OverlappingFileLockError):
            f.lock(19, 5)
        with pytest.raises(nioxide.OverlappingFileLockError):
            f.lock(19, 5, False, None, Recorder())
        after = f.try_lock(20, 5)  # adjacent: no overlap
        assert after is not None
        first.release()  # gives the region back
        again = f.lock(12, 2).result(WAIT)
        again.release()
        after.release()
        whole = f.try_lock()
        assert whole is not None
        whole.release()


def test_lock_in_another_process(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    path = tmp_path / "locked"
    program = (
        "import nioxide, sys\n"
        "g = nioxide.AsynchronousChannelGroup.with_threads(1)\n"
        "f = nioxide.AsynchronousFileChannel.open(sys.argv[1], 'read', 'write', group=g)\n"
        "print(f.try_lock() is None)\n"
        "f.close(); g.shutdown(); g.await_termination(5)\n"
    )
    with open_rw(path, group) as f:
        with f.try_lock():
            out = subprocess.run(
                [sys.executable, "-c", program, str(path)], capture_output=True, text=True, timeout=60
            )
            assert out.stdout.strip() == "True", out.stderr
        out = subprocess.run(
            [sys.executable, "-c", program, str(path)], capture_output=True, text=True, timeout=60
        )
        assert out.stdout.strip() == "False", out.stderr


def test_close_fails_a_waiting_lock(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    path = tmp_path / "locked"
    with open_rw(path, group) as a:
        b = open_rw(path, group)
        held = a.try_lock()
        waiting = b.lock()
        b.close()
        with pytest.raises(nioxide.AsynchronousCloseError):
            waiting.result(WAIT)
        held.release()


def test_buffer_pinned_while_a_file_read_is_pending(tmp_path: Path, group: nioxide.AsynchronousChannelGroup) -> None:
    with open_rw(tmp_path / "f", group) as f:
        f.write(b"0123456789", 0).result(WAIT)
        blocker = threading.Event()
        # Keep the group's thread busy so the read's completion waits behind it.
        group.loops[0].execute(blocker.wait, WAIT)
        buf = bytearray(10)
        future = f.read(buf, 0)
        with pytest.raises(BufferError):
            buf.append(1)
        blocker.set()
        assert future.result(WAIT) == 10
        buf.append(1)
