"""The serve loop takes one pending connection per turn, so web workers sharing a socket share a burst of
connections; asyncio's own loop takes them all at once (what the first worker to wake got)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from headwater.api.serve_loop import TurnTakingLoop
from tests.support.threads import in_thread

PENDING = 10


def _accepted_per_turn(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> list[int]:
    """Connections taken after each loop turn, with PENDING connections waiting from the start.

    In a thread of its own: a loop another test left running in this thread would refuse to let one run.
    """
    thread, outcome = in_thread(lambda: _turns(make_loop))
    thread.join(timeout=30)
    assert outcome, "the loop did not finish its turns"
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    counts: list[int] = outcome[0]
    return counts


def _turns(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> list[int]:
    loop = make_loop()
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    clients: list[socket.socket] = []
    made: list[asyncio.Protocol] = []

    def protocol() -> asyncio.Protocol:
        made.append(asyncio.Protocol())
        return made[-1]

    try:
        server = loop.run_until_complete(loop.create_server(protocol, sock=listener))
        for _ in range(PENDING):
            clients.append(socket.create_connection(listener.getsockname()))  # queued by the kernel
        counts = []
        for _ in range(4 * PENDING):
            loop.call_soon(loop.stop)
            loop.run_forever()  # one turn
            counts.append(len(made))
            if len(made) == PENDING:
                break
        server.close()
        loop.run_until_complete(server.wait_closed())
        return counts
    finally:
        for client in clients:
            client.close()
        loop.close()


def test_the_serve_loop_takes_one_connection_per_turn_and_all_in_the_end() -> None:
    counts = _accepted_per_turn(TurnTakingLoop)
    assert counts[-1] == PENDING, counts
    steps = [b - a for a, b in zip([0, *counts], counts, strict=False)]
    assert max(steps) == 1, counts


@pytest.mark.parametrize("make_loop", [asyncio.SelectorEventLoop])
def test_asyncio_takes_every_pending_connection_at_once(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    # The behaviour the serve loop changes: if asyncio ever takes one per turn itself, this says so.
    counts = _accepted_per_turn(make_loop)
    assert counts[-1] == PENDING and max(b - a for a, b in zip([0, *counts], counts, strict=False)) > 1, counts
