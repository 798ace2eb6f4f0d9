"""Adobe's published ids and the API paths the tests call."""

from __future__ import annotations

ORG = "5C1328435BF324E90A49402A@AdobeOrg"

PG_SPEC = "74a1c565-4e59-48d7-9d67-7c03b8a13137"  # connectionSpec "postgre-sql"
BQ_SPEC = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"  # connectionSpec "google-big-query"
LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"  # connectionSpec of the data lake target
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"  # flowSpec "CRMToAEP"
MISSING_ID = "00000000-0000-0000-0000-000000000000"

FLOW = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
TOKEN_PATH = "/ims/token/v3"
