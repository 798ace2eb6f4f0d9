"""The event loop of `headwater serve`: asyncio's own, taking one connection per turn when several web
workers share the listening socket.

uvloop (uvicorn's default when installed) is not used: under a full ready queue it left about 1% of
requests waiting several loop turns, five times the median (p99 280-350 ms at p50 60 ms, 25 clients,
a bare Starlette app with a 2.5 ms handler), where asyncio served them in turn (p99 62 ms) at the
same throughput.

asyncio accepts every pending connection at once when the listening socket is readable. The web
workers share that socket, so a burst of new connections (a client pool opening 50 keep-alive
connections) went to whichever worker woke first, and stayed there: a split of 40 to 10 measured
three times the median latency on the busy worker. Taking one connection per turn lets every
worker woken by the same burst take its share.
"""

from __future__ import annotations

import asyncio
from typing import Any


class TurnTakingLoop(asyncio.SelectorEventLoop):
    """A selector loop that accepts one pending connection each time the listening socket is ready."""

    # asyncio's private hook, called once per readiness of the listening socket with every argument.
    def _accept_connection(
        self,
        protocol_factory: Any,
        sock: Any,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super()._accept_connection(protocol_factory, sock, sslcontext, server, 1, *args, **kwargs)  # type: ignore[misc]
