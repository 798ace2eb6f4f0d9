"""First runs racing in a new sandbox: creating the namespace and the table is idempotent under concurrency."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from headwater.errors import ConfigError
from headwater.lake import DatasetIdent, Lake

SCHEMA = pa.schema([("id", pa.int64())])


def race(writers: int, work: Callable[[int], Any]) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # collected: the test shows every thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def lakes_that_check_together(config: dict[str, str], n: int) -> list[Lake]:
    """`n` Lakes whose first namespace check returns only when all have checked: the loser's insert collides.

    This is the interleaving that failed in production (check, check, insert, insert), made certain
    rather than left to luck; the catalog database and pyiceberg are the real ones.
    """
    barrier = threading.Barrier(n, timeout=30)
    lakes = [Lake(**config) for _ in range(n)]
    for lake in lakes:
        original = lake.catalog.namespace_exists
        first = [True]

        def checked_together(namespace: Any, original: Any = original, first: list[bool] = first) -> bool:
            found = bool(original(namespace))
            if first[0]:
                first[0] = False
                barrier.wait()
            return found

        lake.catalog.namespace_exists = checked_together  # type: ignore[method-assign]
    return lakes


def test_two_first_runs_in_a_new_sandbox_both_create_their_datasets(lake_config: dict[str, str]) -> None:
    namespace = f"ns_{uuid.uuid4().hex[:8]}"
    lakes = lakes_that_check_together(lake_config, 2)
    idents = [DatasetIdent(namespace, f"ds_{uuid.uuid4().hex[:12]}") for _ in lakes]
    try:
        errors = race(2, lambda i: lakes[i].create_dataset(idents[i], SCHEMA))
        assert errors == []
        assert all(lakes[0].exists(i) for i in idents)
    finally:
        for lake in lakes:
            lake.close()


def test_runs_racing_to_create_one_table_all_proceed(lake_config: dict[str, str]) -> None:
    ident = DatasetIdent(f"ns_{uuid.uuid4().hex[:8]}", f"ds_{uuid.uuid4().hex[:12]}")
    lakes = lakes_that_check_together(lake_config, 3)
    try:
        errors = race(3, lambda i: lakes[i].create_dataset(ident, SCHEMA, exist_ok=True))
        assert errors == []
        assert lakes[0].exists(ident)
        # Without exist_ok, a dataset that exists is still the caller's error.
        with pytest.raises(ConfigError, match="already exists"):
            lakes[0].create_dataset(ident, SCHEMA)
    finally:
        for lake in lakes:
            lake.close()


_CHILD = """
import sys, pyarrow as pa
from headwater.lake import DatasetIdent, Lake
lake = Lake(catalog_url=sys.argv[1], warehouse=sys.argv[2])
sys.stdin.readline()  # start together
for i in range(int(sys.argv[4])):
    lake.create_dataset(DatasetIdent(f"{sys.argv[3]}_{i}", f"ds_{sys.argv[5]}_{i}"), pa.schema([("id", pa.int64())]))
print("ok")
"""


def test_processes_racing_over_many_new_namespaces(lake_config: dict[str, str]) -> None:
    prefix, rounds = f"ns_{uuid.uuid4().hex[:8]}", 15
    Lake(**lake_config).close()  # pyiceberg's own tables exist before the race
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                lake_config["catalog_url"],
                lake_config["warehouse"],
                prefix,
                str(rounds),
                str(n),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
