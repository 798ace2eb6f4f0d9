"""The web console's routes in the isolation table: which are pages of the signed-in tenant's own
scope (items take the owner's ids and must answer 404), which list the tenant's own resources, and
which are global (sign-in, static redirects, /metrics)."""

from __future__ import annotations

from typing import Literal

from tests.support.ids import FLOW

ConsoleKind = Literal["page-item", "page-list", "page-global"]

C = "/console"
CONSOLE_CASES: dict[tuple[str, str], tuple[ConsoleKind, dict[str, str]]] = {
    ("GET", "/"): ("page-global", {}),
    ("GET", C): ("page-global", {}),
    ("GET", C + "/"): ("page-global", {}),
    ("GET", C + "/signin"): ("page-global", {}),
    ("POST", C + "/signin"): ("page-global", {}),
    ("POST", C + "/signout"): ("page-global", {}),
    ("POST", C + "/sandbox"): ("page-global", {}),
    ("GET", "/metrics"): ("page-global", {}),
    ("GET", C + "/sources"): ("page-list", {}),
    ("GET", C + "/sources/new"): ("page-list", {}),
    ("POST", C + "/sources/new"): ("page-list", {}),
    ("GET", C + "/flows"): ("page-list", {}),
    ("GET", C + "/datasets"): ("page-list", {}),
    ("GET", C + "/connections/{connection_id}"): ("page-item", {}),
    ("GET", C + "/connections/{connection_id}/explore"): ("page-item", {}),
    ("GET", C + "/connections/{connection_id}/flow"): ("page-item", {"table": "public.x"}),
    ("POST", C + "/connections/{connection_id}/test"): ("page-item", {}),
    ("POST", C + "/connections/{connection_id}/flow/review"): ("page-item", {"table": "public.x"}),
    ("POST", C + "/connections/{connection_id}/flow/edit"): ("page-item", {"table": "public.x"}),
    ("POST", C + "/connections/{connection_id}/flow/create"): ("page-item", {"table": "public.x"}),
    ("GET", C + "/datasets/{dataset_id}"): ("page-item", {}),
    ("GET", C + "/flows/{flow_id}"): ("page-item", {}),
    ("GET", C + "/flows/{flow_id}/runs"): ("page-item", {}),
    ("POST", C + "/flows/{flow_id}/action"): ("page-item", {"op": "disable"}),
}
# The console's segments before an id → the Chain attribute holding the owner's id there.
CONSOLE_OWNER_ID = {"datasets": "dataset"}
FLOW_ITEM = f"{FLOW}/flows/{{}}"
