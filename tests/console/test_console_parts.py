"""The console's pure parts, without a browser: the session cookie, the authSpec form, the wizard's bodies."""

from __future__ import annotations

import pytest

from headwater.connectors.base import ConnectorRegistry
from headwater.console._access import FormError, safe_next
from headwater.console._authform import fields_of, params_from_form
from headwater.console._flows import next_run_ms, schedule_text
from headwater.console._render import cell
from headwater.console._session import SessionCodec, new_session
from headwater.console._wizard_body import flow_body, mapping_body, pql_filter, read_answers
from headwater.settings import Settings


def test_session_cookie_is_sealed_and_refuses_tampering() -> None:
    codec = SessionCodec(b"k" * 32, max_age_seconds=60)
    session = new_session("the.jwt.token").with_sandbox("dev")
    sealed = codec.seal(session)
    assert "the.jwt.token" not in sealed and "jwt" not in repr(session)
    opened = codec.open(sealed)
    assert opened == session and opened.recent == ("dev", "prod")
    assert codec.open(sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]) is None
    assert SessionCodec(b"x" * 32, max_age_seconds=60).open(sealed) is None  # another server's key
    assert codec.open("garbage") is None and codec.open(None) is None and codec.open("é") is None
    assert session.csrf_ok(session.csrf) and not session.csrf_ok("") and not session.csrf_ok(None)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/data/x", "/console\\x", None])
def test_redirects_stay_inside_the_console(target: str | None) -> None:
    assert safe_next(target) == "/console/flows"
    assert safe_next("/console/datasets?start=20") == "/console/datasets?start=20"


def test_every_connectors_authspec_gives_a_form(tmp_path: object) -> None:
    """No connector is named in the console: each auth method's JSON Schema gives its form."""
    registry = ConnectorRegistry.load(Settings(data_dir=tmp_path))  # type: ignore[arg-type]
    for spec in registry.specs():
        for method in spec.auth_methods:
            fields = fields_of(method.json_schema())
            assert fields, (spec.name, method.name)
            assert all(f.kind in ("password", "textarea") for f in fields if f.secret), (spec.name, method.name)
    basic = next(m for s in registry.specs() for m in s.auth_methods if m.name == "Basic Authentication" and
                 s.name == "postgre-sql")  # fmt: skip
    fields = fields_of(basic.json_schema())
    form = {"p.server": [" db "], "p.port": ["5432"], "p.database": ["d"], "p.username": ["u"], "p.password": [" pw "],
            "p.sslMode": [""]}  # fmt: skip
    assert params_from_form(fields, form) == {"server": "db", "port": "5432", "database": "d", "username": "u",
                                              "password": " pw "}  # fmt: skip
    with pytest.raises(FormError, match="Server is required"):
        params_from_form(fields, {**form, "p.server": [""]})


def test_wizard_answers_become_the_api_bodies() -> None:
    form = {
        "table": ["public.people"], "column": ["id", "name", "updated_at"], "filter_column": ["name"],
        "filter_op": ["null"], "mapping": ["full = upper(name)\n\nid = id"], "delta": ["updated_at"],
        "frequency": ["hour"], "interval": ["2"], "start": ["2030-01-01T00:00"], "write_mode": ["append"],
        "flow_name": ["f"], "dataset_name": ["d"],
    }  # fmt: skip
    answers = read_answers(form, known_columns=["id", "name", "updated_at", "score"])
    assert pql_filter(answers) == {
        "type": "PQL",
        "format": "pql/json",
        "value": {"nodeType": "fnApply", "fnName": "=", "params": [
            {"nodeType": "fieldLookup", "fieldName": "name"}, {"nodeType": "literal", "value": None}]},
    }  # fmt: skip
    assert mapping_body(answers)["mappings"] == [
        {"sourceType": "EXPRESSION", "source": "upper(name)", "destination": "full"},
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "id"},
    ]
    body = flow_body(answers, source_id="s", target_id="t", mapping_id="m")
    schedule = {"startTime": "1893456000", "frequency": "hour", "interval": "2", "backfill": "true"}
    assert body["scheduleParams"] == schedule
    assert body["transformations"][0] == {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}
    assert "options" not in body
    for bad, message in [
        ({"column": []}, "at least one column"),
        ({"column": ["nope"]}, "no column 'nope'"),
        ({"delta": ["score"]}, "delta column must be one of the columns copied"),
        ({"start": ["tomorrow"]}, "start time"),
        ({"frequency": ["yearly"]}, "frequency must be one of"),
        ({"flow_name": [" "]}, "dataflow name is required"),
    ]:
        with pytest.raises(FormError, match=message):
            read_answers({**form, **bad}, known_columns=["id", "name", "updated_at", "score"])


def test_schedule_and_next_run() -> None:
    hourly = {"state": "enabled", "scheduleParams": {"startTime": "3600", "frequency": "hour", "interval": "2"}}
    assert schedule_text(hourly) == "every 2 hours from 1970-01-01 01:00:00 UTC"
    assert next_run_ms(hourly, now_s=3600 + 7200 * 3 + 5) == (3600 + 7200 * 4) * 1000
    assert next_run_ms({**hourly, "state": "disabled"}, now_s=0) is None
    once = {"state": "enabled", "scheduleParams": {"startTime": "100", "frequency": "once"}}
    assert next_run_ms(once, now_s=50) == 100_000 and next_run_ms(once, now_s=150) is None
    assert schedule_text({"scheduleParams": {}}) == "no schedule"


def test_preview_cells_tell_null_nan_and_text_apart() -> None:
    assert "v-null" in cell(None, "string")
    assert "v-special" in cell("NaN", "double") and "v-special" in cell("-Infinity", "number")
    assert "v-special" not in cell("NaN", "string")  # a text column holding the word
    assert cell("<b>", "string") == "&lt;b&gt;"
    assert "v-empty" in cell("", "string")
