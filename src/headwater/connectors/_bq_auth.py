"""BigQuery credentials: OAuth user credentials (refresh token) and a service-account key.

Both produce `google.auth` credentials; the token URI comes from settings so tests and air-gapped
sites can serve their own token endpoint.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from headwater.connectors.base import AuthMethod
from headwater.errors import ConfigError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


class BqOAuth(BaseModel):
    """OAuth 2.0 user credentials: project, clientId, clientSecret, refreshToken."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(min_length=1, description="The project ID of the default BigQuery project to query against")
    clientId: str = Field(min_length=1, description="ID of the application used to generate the refresh token.")
    clientSecret: SecretStr = Field(description="Secret of the application used to generate the refresh token.")
    refreshToken: SecretStr = Field(
        description="The refresh token obtained from Google used to authorize access to BigQuery."
    )
    largeResultsDataSetId: str | None = Field(
        default=None, description="A pre-created dataset for large result sets (bare dataset id)"
    )

    @property
    def project_id(self) -> str:
        return self.project


class BqServiceAccount(BaseModel):
    """Service-account key: projectId and the Base64-encoded key file JSON."""

    model_config = ConfigDict(extra="forbid")

    projectId: str = Field(min_length=1, description="The project ID to query against")
    keyFileContent: SecretStr = Field(description="The service-account key JSON, Base64-encoded")
    largeResultsDataSetId: str | None = Field(default=None, description="A pre-created dataset for large results")
    datasetId: str | None = Field(default=None, description="Restrict explore to this dataset")

    @field_validator("keyFileContent")
    @classmethod
    def _decodes(cls, value: SecretStr) -> SecretStr:
        decode_key_file(value)
        return value

    @property
    def project_id(self) -> str:
        return self.projectId

    def key_info(self) -> dict[str, Any]:
        return decode_key_file(self.keyFileContent)


def decode_key_file(value: SecretStr) -> dict[str, Any]:
    """Decode the Base64 key JSON; accept raw JSON too. Errors never include the content."""
    raw = value.get_secret_value().strip()
    try:
        text = raw if raw.startswith("{") else base64.b64decode(raw, validate=True).decode("utf-8")
        info = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("keyFileContent must be a Base64-encoded service-account key JSON") from None
    if not isinstance(info, dict) or not {"client_email", "private_key"} <= info.keys():
        raise ValueError("keyFileContent must be a service-account key with client_email and private_key")
    return info


OAUTH = AuthMethod(
    name="Basic Authentication",
    type="OAuth2.0",
    model=BqOAuth,
    description="defines auth params",
)
SERVICE_ACCOUNT = AuthMethod(
    name="Service Authentication",
    type="ServiceAccount",
    model=BqServiceAccount,
    description="defines auth params for a Google service account",
)


BIGQUERY_SCOPES = (
    "https://www.googleapis.com/auth/bigquery",
    "https://www.googleapis.com/auth/cloud-platform",
)


def google_credentials(auth: BaseModel, *, token_uri: str) -> Credentials:
    """Build `google.auth` credentials for either auth method; tokens are fetched from `token_uri`.

    The service-account key file names its own `token_uri`; the configured one wins so that a site
    (or a test) that serves its own token endpoint is never bypassed by the key's default.
    """
    if isinstance(auth, BqOAuth):
        oauth: Credentials = user_credentials.Credentials(  # type: ignore[no-untyped-call]
            token=None,
            refresh_token=auth.refreshToken.get_secret_value(),
            client_id=auth.clientId,
            client_secret=auth.clientSecret.get_secret_value(),
            token_uri=token_uri,
            scopes=list(BIGQUERY_SCOPES),
        )
        return oauth
    if isinstance(auth, BqServiceAccount):
        info = {**auth.key_info(), "token_uri": token_uri}
        try:
            key: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=list(BIGQUERY_SCOPES)
            )
            return key
        except (ValueError, TypeError):
            # The library's message can quote parts of the key: say only what is wrong.
            raise ConfigError(
                "keyFileContent is not a usable service-account key (the private key could not be read)."
            ) from None
    raise TypeError(f"not a BigQuery auth model: {type(auth).__name__}")
