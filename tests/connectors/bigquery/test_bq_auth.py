"""check(): OAuth refresh tokens and service-account keys against a local token endpoint."""

from __future__ import annotations

import pytest

from headwater.connectors._bq_auth import BqOAuth, BqServiceAccount
from headwater.connectors.bigquery import BigQueryConnector
from headwater.errors import ConfigError, TransientError
from headwater.settings import Settings
from tests.support.net import free_port

from .emulator import CLIENT_ID, PROJECT, TIMEOUTS, TokenServer, service_account_key


def test_oauth_refresh_token_passes_check(
    connector: BigQueryConnector, oauth: BqOAuth, token_server: TokenServer
) -> None:
    connector.check(oauth)
    assert "refresh_token:ok" in token_server.grants


def test_bad_refresh_token_is_a_config_error_without_secrets(connector: BigQueryConnector) -> None:
    bad = BqOAuth.model_validate(
        {
            "project": PROJECT,
            "clientId": CLIENT_ID,
            "clientSecret": "wrong-secret-xyz",
            "refreshToken": "stale-token-abc",
        }
    )
    with pytest.raises(ConfigError) as info:
        connector.check(bad)
    message = str(info.value)
    assert "invalid_grant" in message
    assert "refresh token" in message
    assert "stale-token-abc" not in message and "wrong-secret-xyz" not in message
    assert "stale-token-abc" not in repr(bad) and "wrong-secret-xyz" not in repr(bad)


def test_service_account_key_passes_check(
    connector: BigQueryConnector, service_account: BqServiceAccount, token_server: TokenServer
) -> None:
    connector.check(service_account)
    assert "urn:ietf:params:oauth:grant-type:jwt-bearer:ok" in token_server.grants


def test_service_account_key_signed_by_another_key_is_rejected(
    connector: BigQueryConnector, other_private_pem: str
) -> None:
    forged = BqServiceAccount.model_validate(
        {"projectId": PROJECT, "keyFileContent": service_account_key(other_private_pem)}
    )
    with pytest.raises(ConfigError, match="invalid_grant") as info:
        connector.check(forged)
    assert "PRIVATE KEY" not in str(info.value)


def test_service_account_dataset_restriction_must_exist(
    connector: BigQueryConnector, token_server: TokenServer, dataset: str
) -> None:
    key = service_account_key(token_server.private_pem)
    connector.check(
        BqServiceAccount.model_validate({"projectId": PROJECT, "keyFileContent": key, "datasetId": dataset})
    )
    missing = BqServiceAccount.model_validate({"projectId": PROJECT, "keyFileContent": key, "datasetId": "nope_ds"})
    with pytest.raises(ConfigError, match="not found"):
        connector.check(missing)


def test_unreachable_token_endpoint_is_transient(bq_settings: Settings, oauth: BqOAuth) -> None:

    settings = bq_settings.model_copy(update={"google_token_uri": f"http://127.0.0.1:{free_port()}/token"})
    with pytest.raises(TransientError, match="token endpoint"):
        BigQueryConnector(settings, timeouts=TIMEOUTS).check(oauth)
