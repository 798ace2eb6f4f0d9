"""Running one step of a race test in a thread of its own, its result (or exception) kept for the test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Start `work` in a daemon thread; the list gets its return value, or the exception it raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:  # handed to the test thread to assert on
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome
