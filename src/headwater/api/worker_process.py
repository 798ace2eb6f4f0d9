"""The app of one API worker process under `headwater serve` with several web workers.

uvicorn's supervisor starts the workers. A supervisor killed with SIGKILL cannot stop them, and
they would keep the port and keep running flows as orphans; so each worker asks the kernel to kill
it when its parent dies (PR_SET_PDEATHSIG), then checks that the parent it was started by is still
its parent, since the parent may have died before the request was made.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys

from fastapi import FastAPI

from headwater.api.app import create_app
from headwater.settings import Settings

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when the process that started it exits (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)  # the supervisor is already gone: nothing would ever stop this process


def create_worker_app() -> FastAPI:
    """uvicorn's factory in each worker process: tie the worker's life to the supervisor's, then build the app."""
    die_with_parent()
    logging.captureWarnings(True)  # uvicorn installed the logging config; warnings join it
    return create_app(Settings(), settle_heap=True)
