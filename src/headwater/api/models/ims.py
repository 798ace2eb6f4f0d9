"""The OAuth server-to-server token endpoint (`/ims/token/v3`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TokenRequest(BaseModel):
    """Form-encoded (as Adobe's) or JSON. Credentials in the query string are refused."""

    grant_type: str = Field(default="client_credentials", description="Only client_credentials.")
    client_id: str = Field(description="The API client id (also the x-api-key header).")
    client_secret: str = Field(description="The client secret, shown once when the credentials were created.")
    scope: str | None = Field(default=None, description="Accepted for compatibility; every token has one scope.")


class TokenResponse(BaseModel):
    """A bearer token for the Authorization header of every other call."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
