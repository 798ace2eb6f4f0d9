"""One `headwater serve` per module, API credentials for it, and the CLI run in-process or as a process.

In-process runs (typer's CliRunner) keep the many command calls fast; the error tests run the real
`headwater` process, since what they check is what a user's terminal shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headwater.cli import app
from headwater.cli_client.failure import CliError
from tests.support.ids import ORG
from tests.support.server import LiveServer, cli, running_server


def _refuse(name: str) -> Any:
    raise ValueError(f"not valid JSON: bare {name}")


def strict_json(text: str) -> Any:
    """JSON as a strict parser reads it: a bare NaN or Infinity is an error, not a float."""
    return json.loads(text, parse_constant=_refuse)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, f"exit {self.code}: {self.err}"
        return strict_json(self.out)


@dataclass
class Hw:
    """The `headwater` command pointed at one server with one set of credentials."""

    server: LiveServer
    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, ok: bool = True, env: dict[str, str] | None = None, input: str | None = None
    ) -> Result:
        runner = CliRunner()
        full_env = {"HEADWATER_CONFIG_DIR": str(self.config_dir), "HEADWATER_URL": self.server.base_url, **self.env}
        result = runner.invoke(app, list(args), env={**full_env, **(env or {})}, input=input, catch_exceptions=True)
        error = result.exception
        if isinstance(error, CliError):  # what CliApp prints when the real process runs
            out = Result(error.exit_code, result.stdout, f"error: {error.message}\n")
        elif error is not None and not isinstance(error, SystemExit):
            raise error
        else:
            out = Result(result.exit_code, result.stdout, result.stderr)
        if ok:
            assert out.code == 0, f"headwater {' '.join(args)} exited {out.code}:\n{out.out}\n{out.err}"
        return out


def run_process(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `headwater` process, as a user's shell runs it."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")} | env
    return subprocess.run(
        [sys.executable, "-m", "headwater.cli", *args], env=full, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Pages of 2 make every list command follow `_links.next`.
    env = {
        "HEADWATER_RUN_POLL_SECONDS": "0.2",
        "HEADWATER_RUN_PROGRESS_SECONDS": "0.2",
        "HEADWATER_DEFAULT_PAGE_SIZE": "2",
    }
    with running_server(tmp_path_factory.mktemp("cli") / "live", env) as live:
        yield live


@pytest.fixture(scope="module")
def account(server: LiveServer) -> dict[str, str]:
    created: dict[str, str] = json.loads(cli(server.data_dir, "credentials", "create", "--org", ORG, "--json"))
    return created


@pytest.fixture
def hw(server: LiveServer, account: dict[str, str], tmp_path: Path) -> Hw:
    """Credentials from the environment, as in CI; a private config dir per test."""
    env = {"HEADWATER_CLIENT_ID": account["client_id"], "HEADWATER_CLIENT_SECRET": account["client_secret"]}
    return Hw(server, tmp_path / "config", env)
