"""`headwater serve` with several web workers: a SIGKILLed server takes every process it started with it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path

import pytest

from tests.support.net import wait_for
from tests.support.server import start_server

pytestmark = pytest.mark.slow  # a `headwater serve` with two worker processes


def _children() -> dict[int, list[int]]:
    """Every live process's children, read from /proc (parent pid is the 4th field of /proc/<pid>/stat)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited while we looked
        fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running, sleeping or stopped; a zombie has exited and only waits for its new parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_until_gone(pids: set[int], timeout: float = 15) -> set[int]:
    """The processes of `pids` still alive once all of them exited or `timeout` passed."""
    with contextlib.suppress(AssertionError):
        wait_for("the server's processes to exit", lambda: not any(_alive(p) for p in pids), timeout=timeout)
    return {p for p in pids if _alive(p)}


def test_sigkill_of_serve_leaves_no_process_and_frees_the_port(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", {"HEADWATER_WEB_WORKERS": "2"}, timeout=180)
    started: set[int] = set()
    try:
        wait_for(
            "both web workers to start",
            lambda: server.log_text().count("Application startup complete") >= 2,
            timeout=180,
            every=0.2,
        )
        started = _descendants(server.process.pid)
        workers = [p for p in started if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2, f"expected 2 worker processes under the server, found {sorted(started)}"
        port = int(server.base_url.rsplit(":", 1)[1])
        assert not _port_free(port)

        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)

        survivors = _wait_until_gone(started)
        assert not survivors, f"processes outlived the killed server: {sorted(survivors)}"
        wait_for("the port to be free", lambda: _port_free(port), timeout=10)
    finally:
        server.stop()
        for pid in started:  # a failed run of this test must not leave its orphans to the next ones
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
