"""Failures end in a line of cause and a line of hint, never a traceback (unless --debug asks for one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import run_process
from tests.support.net import free_port

pytestmark = pytest.mark.slow  # each case starts the real `headwater` process


def short_failure(result: object, *, code: int) -> str:
    err = getattr(result, "stderr", "")
    assert getattr(result, "returncode", None) == code, err
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 3, err
    return str(err)


@pytest.mark.parametrize("command", [("credentials", "list"), ("serve",)])
def test_a_bad_secret_key_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {"HEADWATER_DATA_DIR": str(tmp_path / "data"), "HEADWATER_SECRET_KEY": "not-a-fernet-key"}
    env["HEADWATER_PORT"] = str(free_port())
    err = short_failure(run_process(*command, env=env), code=2)
    assert "HEADWATER_SECRET_KEY must be a Fernet key" in err
    assert "not-a-fernet-key" not in err


@pytest.mark.parametrize("command", [("migrate",), ("serve",), ("token",)])
def test_an_unreachable_metadata_database_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"postgresql+psycopg://headwater:s3cret-pw@127.0.0.1:{free_port()}/meta"
    env = {"HEADWATER_DATA_DIR": str(tmp_path / "data"), "HEADWATER_DATABASE_URL": url}
    env["HEADWATER_PORT"] = str(free_port())
    err = short_failure(run_process(*command, env=env), code=1)
    assert "metadata database" in err and "Connection refused" in err
    assert "s3cret-pw" not in err


def test_a_bad_setting_names_its_variable(tmp_path: Path) -> None:
    env = {"HEADWATER_DATA_DIR": str(tmp_path / "data"), "HEADWATER_PORT": "eighty"}
    err = short_failure(run_process("token", env=env), code=2)
    assert "HEADWATER_PORT" in err


def test_an_unreachable_server_names_its_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    secret = "Zq9-client-secret-Zq9"
    env = {"HEADWATER_CONFIG_DIR": str(tmp_path), "HEADWATER_CLIENT_ID": "id", "HEADWATER_CLIENT_SECRET": secret}
    err = short_failure(run_process("flows", "list", "--url", url, env=env), code=1)
    assert f"cannot connect to {url}: connection refused" in err
    assert secret not in err


def test_no_credentials_says_how_to_give_them(tmp_path: Path) -> None:
    err = short_failure(run_process("runs", "list", env={"HEADWATER_CONFIG_DIR": str(tmp_path)}), code=2)
    assert "headwater login" in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = {"HEADWATER_DATA_DIR": str(tmp_path / "data"), "HEADWATER_SECRET_KEY": "not-a-fernet-key"}
    result = run_process("--debug", "credentials", "list", env=env)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
