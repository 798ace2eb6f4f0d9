"""Creating a target connection and deleting its dataset at once never leaves the target naming a
deleted dataset: the create holds the dataset in its transaction, the delete checks in its own
(SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert

from headwater.service import Services
from headwater.store.keys import index_keys
from headwater.store.references import write_references
from headwater.store.tables import resources
from tests.support.chain import ok
from tests.support.ids import CATALOG, FLOW, LAKE_SPEC
from tests.support.metadata import BACKENDS, app_on
from tests.support.tenants import Tenant
from tests.support.threads import in_thread


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Services, Tenant]]:
    """An app on a SQLite or on a PostgreSQL metadata database."""
    with app_on(request.param, tmp_path, prefix="hw_tgt_race") as made:
        yield made


def _dataset(client: TestClient, tenant: Tenant) -> str:
    made = ok(
        client.post(f"{CATALOG}/dataSets", headers=tenant.headers(), json={"name": "ds", "schemaRef": {"id": "x"}})
    )
    return str(made[0].split("/")[-1])


def _target_body(dataset_id: str) -> dict[str, Any]:
    return {
        "name": "lake",
        "data": {"schema": {"id": "x", "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
    }


def _targets(client: TestClient, tenant: Tenant) -> list[dict[str, Any]]:
    return list(ok(client.get(f"{FLOW}/targetConnections", headers=tenant.headers()), 200)["items"])


def test_a_target_create_racing_a_dataset_delete_fails_and_stores_nothing(
    api: tuple[TestClient, Services, Tenant],
) -> None:
    client, services, tenant = api
    dataset = _dataset(client, tenant)
    # The delete's transaction has removed the row but not committed: the create's validation still
    # sees the dataset, so only the hold in the create's own transaction can refuse it.
    with services.store.engine.begin() as conn:
        conn.execute(delete(resources).where(resources.c.id == dataset))
        thread, outcome = in_thread(
            lambda: client.post(f"{FLOW}/targetConnections", headers=tenant.headers(), json=_target_body(dataset))
        )
        time.sleep(0.5)
        assert thread.is_alive(), f"the create did not wait for the delete's transaction: {outcome}"
    thread.join(timeout=30)
    assert len(outcome) == 1 and outcome[0].status_code == 400, outcome[0].text
    assert outcome[0].json()["type"].endswith("FLOW-1325-400"), outcome[0].text
    assert _targets(client, tenant) == []


def test_a_dataset_delete_racing_a_target_create_is_refused_and_keeps_the_dataset(
    api: tuple[TestClient, Services, Tenant],
) -> None:
    client, services, tenant = api
    dataset = _dataset(client, tenant)
    target_id = str(uuid.uuid4())
    doc = _target_body(dataset)
    # A create between its insert and its commit, as the store runs it.
    with services.store.engine.begin() as conn:
        row = {"id": target_id, "kind": "targetConnection", "org": tenant.org, "sandbox": "prod", "doc": doc,
               "etag": '"e"', "created_at": 1, "updated_at": 1, **index_keys("targetConnection", doc)}  # fmt: skip
        conn.execute(insert(resources).values(**row))
        write_references(conn, "targetConnection", tenant.org, "prod", target_id, 1, doc, created=True)
        thread, outcome = in_thread(lambda: client.delete(f"{CATALOG}/dataSets/{dataset}", headers=tenant.headers()))
        time.sleep(0.5)
        assert thread.is_alive(), f"the delete did not wait for the create's transaction: {outcome}"
    thread.join(timeout=30)
    assert len(outcome) == 1 and outcome[0].status_code == 400, outcome[0].text
    assert target_id in outcome[0].text
    assert ok(client.get(f"{CATALOG}/dataSets/{dataset}", headers=tenant.headers()), 200)[dataset]["name"] == "ds"
    assert [t["id"] for t in _targets(client, tenant)] == [target_id]


def test_many_racing_pairs_never_leave_a_dangling_target(api: tuple[TestClient, Services, Tenant]) -> None:
    client, _, tenant = api
    for _ in range(12):
        dataset = _dataset(client, tenant)
        barrier = threading.Barrier(2)

        def create(ds: str = dataset, b: threading.Barrier = barrier) -> Any:
            b.wait()
            return client.post(f"{FLOW}/targetConnections", headers=tenant.headers(), json=_target_body(ds))

        def remove(ds: str = dataset, b: threading.Barrier = barrier) -> Any:
            b.wait()
            return client.delete(f"{CATALOG}/dataSets/{ds}", headers=tenant.headers())

        (t1, made), (t2, gone) = in_thread(create), in_thread(remove)
        t1.join(timeout=30)
        t2.join(timeout=30)
        assert made[0].status_code in (201, 400) and gone[0].status_code in (200, 204, 400), (made, gone)
        # Exactly one of the two won, whichever it was.
        assert (made[0].status_code == 201) != (gone[0].status_code in (200, 204)), (made[0].text, gone[0].text)
    datasets = {t["params"]["dataSetId"] for t in _targets(client, tenant)}
    for ds in datasets:
        assert client.get(f"{CATALOG}/dataSets/{ds}", headers=tenant.headers()).status_code == 200, ds
