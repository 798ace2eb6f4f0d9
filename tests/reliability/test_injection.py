"""SQL injection: hostile table, column and delta-column names and cursor values never change the SQL.

The source is the private cluster, which logs every statement (log_statement=all) with the role in
each line's prefix. Headwater connects as a role of its own, explores, previews and runs two
incremental flows over a table whose schema, table and column names and delta values are made of
quotes, semicolons, comments and unicode. Then every statement that role issued is lexed: with
quoted identifiers ("…"), string literals ('…', E'…') and bind parameters taken out, what remains
must be plain SQL — no comment, no second statement, no word of the payloads — and the hostile
names must appear as correctly quoted identifiers. A `victim` table must survive.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from headwater.api import create_app
from headwater.runs.model import RunSettings, RunStatus
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Scope
from tests.support.chain import basic_auth, connection_body, make_chain, run_until_done, trigger
from tests.support.cluster import Cluster
from tests.support.ids import FLOW
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.slow  # a private cluster with a statement log

ORG = "INJECTION0000000000000000@AdobeOrg"
SCHEMA = 's"; DROP TABLE victim; --ü'
TABLE = "t'); DELETE FROM victim; /* 表 */"
COL_NAME = "na\"me'; DROP TABLE victim; --"
COL_TS = 'up.dated" /* x */ -- é'
COL_TEXT = "k'); TRUNCATE victim; --"
VALUES = ["a'; DROP TABLE victim; --", "b\\'; TRUNCATE victim; --", "c\u2019 OR 1=1 /* 注 */", 'd"; --']
PAYLOAD_WORDS = ("DROP", "DELETE", "TRUNCATE", "victim", "pg_sleep", "OR 1=1")

_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.M)
_STATEMENT = re.compile(r"LOG:\s+(?:statement|execute [^:]*):\s(.*)", re.S)


def path_of(schema: str, table: str) -> str:
    """Headwater's explore path: a part with a dot or a quote is double-quoted, quotes doubled."""

    def part(name: str) -> str:
        return '"' + name.replace('"', '""') + '"' if ("." in name or '"' in name) else name

    return f"{part(schema)}.{part(table)}"


def strip_quoted(statement: str) -> str:
    """The statement with identifiers, literals and $n parameters replaced by placeholders.

    Raises if a quote is left open (which an injected quote would cause).
    """
    out: list[str] = []
    i, n = 0, len(statement)
    while i < n:
        ch = statement[i]
        if ch == '"':
            j = i + 1
            while True:
                j = statement.index('"', j)  # ValueError: unterminated identifier
                if j + 1 < n and statement[j + 1] == '"':
                    j += 2
                    continue
                break
            out.append(" IDENT ")
            i = j + 1
        elif ch == "'" or (
            ch in "eE" and i + 1 < n and statement[i + 1] == "'" and (i == 0 or not statement[i - 1].isalnum())
        ):
            escaped = ch in "eE"
            j = i + (2 if escaped else 1)
            while True:
                if j >= n:
                    raise ValueError(f"unterminated literal in {statement!r}")
                c = statement[j]
                if escaped and c == "\\":
                    j += 2
                    continue
                if c == "'":
                    if j + 1 < n and statement[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(" LITERAL ")
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return re.sub(r"\$\d+", " PARAM ", "".join(out))


def statements_of(log: str, role: str) -> list[str]:
    """The SQL text of every statement `role` ran (DETAIL lines with bind values are left out)."""
    found = []
    starts = [m.start() for m in _ENTRY.finditer(log)] + [len(log)]
    for a, b in itertools.pairwise(starts):
        entry = log[a:b]
        if f"<{role}@" not in entry.split("\n", 1)[0]:
            continue
        match = _STATEMENT.search(entry)
        if match:
            text = match.group(1)
            text = re.split(r"\n\S.*?DETAIL:", text)[0]
            found.append(text.strip())
    return found


def problems_in(statement: str) -> list[str]:
    """What is wrong with a logged statement: payload syntax or words outside quotes."""
    try:
        bare = strip_quoted(statement)
    except ValueError as exc:
        return [f"unbalanced quotes: {exc}"]
    bare = bare.rstrip().removesuffix(";")  # a driver's own `SELECT version();` ends with one
    found = [f"{bad!r} outside quotes in: {statement[:400]}" for bad in ("--", "/*", "*/", ";") if bad in bare]
    for word in PAYLOAD_WORDS:
        if re.search(rf"\\b{re.escape(word)}\\b", bare, re.I):
            found.append(f"{word!r} outside quotes in: {statement[:400]}")
    return found


def test_the_checker_catches_injected_sql() -> None:
    assert problems_in('SELECT "a""b" FROM "s"."t" WHERE "k" < E\'x\\\'y\' AND "c" = \'it\'\'s\'') == []
    assert problems_in("SELECT * FROM s.t'); DELETE FROM victim; /* x */")
    assert problems_in('SELECT "na"me\'; DROP TABLE victim; --" FROM t')
    assert problems_in("SELECT 1 FROM t WHERE k < 'a'; DROP TABLE victim; --'")
    assert problems_in("COPY (SELECT 1) TO STDOUT; TRUNCATE victim")


def test_hostile_names_and_values_reach_sql_only_quoted(tmp_path: Path, running_cluster: Cluster) -> None:
    cluster = running_cluster
    role, password = f"inj_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with cluster.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(SCHEMA), sql.Identifier(role)))
        conn.execute("CREATE TABLE IF NOT EXISTS public.victim (x int)")
        conn.execute("INSERT INTO public.victim VALUES (1)")
        columns = "id bigint primary key, {} text, {} timestamptz not null, {} text not null"
        conn.execute(
            sql.SQL("CREATE TABLE {}.{} (" + columns + ")").format(
                sql.Identifier(SCHEMA), sql.Identifier(TABLE), sql.Identifier(COL_NAME), sql.Identifier(COL_TS),
                sql.Identifier(COL_TEXT),
            )
        )  # fmt: skip
        conn.execute(sql.SQL("ALTER TABLE {}.{} OWNER TO {}").format(
            sql.Identifier(SCHEMA), sql.Identifier(TABLE), sql.Identifier(role)))  # fmt: skip
        insert = sql.SQL("INSERT INTO {}.{} VALUES (%s, %s, now() - interval '1 hour', %s)").format(
            sql.Identifier(SCHEMA), sql.Identifier(TABLE)
        )
        for i, value in enumerate(VALUES[:2]):
            conn.execute(insert, (i, value, value))

    run = RunSettings(safety_lag_seconds=0.0, backoff_base_seconds=0.05, lease_seconds=10)
    settings = Settings(data_dir=tmp_path / "data", run_embedded_executor=False, run=run)
    services = Services(settings)
    services.migrate()
    tenant = make_tenant(services, ORG)
    headers = tenant.headers()
    auth = basic_auth(password, port=cluster.port)
    auth["params"]["username"] = role
    path = path_of(SCHEMA, TABLE)
    mark = cluster.log_size()

    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
        conn_id = client.post(f"{FLOW}/connections", headers=headers, json=connection_body(auth)).json()["id"]
        assert client.get(f"{FLOW}/connections/{conn_id}/test", headers=headers).json() == {"result": True}
        root = client.get(f"{FLOW}/connections/{conn_id}/explore", headers=headers, params={"objectType": "root"})
        assert root.status_code == 200 and TABLE in root.text, root.text
        table = client.get(
            f"{FLOW}/connections/{conn_id}/explore", headers=headers, params={"objectType": "table", "object": path}
        )
        assert table.status_code == 200, table.text
        names = (COL_NAME, COL_TS, COL_TEXT)
        assert all(json.dumps(c, ensure_ascii=False) in table.text for c in names), table.text
        preview = client.get(
            f"{FLOW}/connections/{conn_id}/explore",
            headers=headers,
            params={"objectType": "table", "object": path, "preview": "true"},
        )
        assert preview.status_code == 200 and VALUES[0] in preview.text, preview.text
        for hostile in ('public."x""; DROP TABLE victim; --"', "public.victim; DROP TABLE victim", "a.b'--"):
            r = client.get(
                f"{FLOW}/connections/{conn_id}/explore",
                headers=headers,
                params={"objectType": "table", "object": hostile},
            )
            assert r.status_code in (400, 404), r.text

        scope = Scope(ORG, "prod")
        statuses = []
        for delta in (COL_TS, COL_TEXT):
            chain = make_chain(
                client, headers, path, auth=auth, columns=("id", COL_NAME, COL_TS, COL_TEXT), delta=delta,
                frequency="minute", start_time=1_600_000_000,
            )  # fmt: skip
            statuses.append(run_until_done(services, trigger(services, chain.flow, scope)).status)
            with cluster.admin() as conn:
                for i, value in enumerate(VALUES[2:], start=2):
                    conn.execute(insert, (i + (10 if delta == COL_TEXT else 0), value, value))
            statuses.append(run_until_done(services, trigger(services, chain.flow, scope)).status)

    log = cluster.log_since(mark)
    statements = statements_of(log, role)
    print(f"injection: {len(statements)} statements by {role}, run statuses {[s.value for s in statuses]}")
    assert all(s is RunStatus.SUCCESS for s in statuses), statuses
    assert len(statements) > 10, f"too few statements logged for {role}:\n{log[-3000:]}"

    problems = [p for statement in statements for p in problems_in(statement)]
    assert not problems, "\n".join(problems[:20])

    everything = "\n".join(statements)
    for name in (SCHEMA, TABLE, COL_NAME, COL_TS, COL_TEXT):
        assert '"' + name.replace('"', '""') + '"' in everything, f"{name!r} never reached SQL as an identifier"
    sample = next((s for s in statements if s.startswith("COPY") and "<" in s), "")
    print(f"injection: a logged read: {sample[:600]}")
    reads = [s for s in statements if s.upper().startswith(("COPY", "SELECT")) and '""' in s and "victim" in s]
    assert reads, "no read of the hostile table was logged"
    with cluster.admin() as conn:
        assert conn.execute("SELECT to_regclass('public.victim')").fetchone() != (None,)
