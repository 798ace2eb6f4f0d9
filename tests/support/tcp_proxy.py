"""A loopback TCP proxy that can cut every connection through it, as a network fault would."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable

from tests.support.net import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; after `cut_after` bytes towards the client, resets all
    connections once (RST, as a dropped link looks to gRPC). New connections are served again after.

    After `freeze_after` bytes towards the client instead, nothing more is forwarded either way and
    nothing is closed: a server that accepted a call and never answers, as a hung one looks."""

    def __init__(
        self, target: tuple[str, int], *, cut_after: int | None = None, freeze_after: int | None = None
    ) -> None:
        self.target, self.cut_after, self.freeze_after = target, cut_after, freeze_after
        self.frozen = threading.Event()
        self.port = free_port()
        self.connections = 0
        self.cuts = 0
        self._down = 0  # bytes sent towards clients so far
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stopped = False
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def release(self) -> None:
        """Forward again after a freeze, and freeze no more."""
        with self._lock:
            self.freeze_after = None
            self.frozen.clear()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stopped = True
        self._listener.close()
        self._reset_all()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self._counted), daemon=True).start()

    def _counted(self, n: int) -> None:
        with self._lock:
            self._down += n
            due = self.cut_after is not None and self.cuts == 0 and self._down >= self.cut_after
            if due:
                self.cuts += 1
            if self.freeze_after is not None and self._down >= self.freeze_after:
                self.frozen.set()
        if due:
            self._reset_all()

    def _pump(self, source: socket.socket, sink: socket.socket, count: Callable[[int], None] | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.frozen.is_set() and not self._stopped:
                    time.sleep(0.05)
                sink.sendall(data)
                if count is not None:
                    count(len(data))
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.close()

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for s in sockets:
            with contextlib.suppress(OSError):
                # SO_LINGER 0: close sends RST, not FIN; shutdown wakes the pump blocked in recv.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
