"""An org with API credentials and a token, made in-process through the services."""

from __future__ import annotations

from dataclasses import dataclass

from headwater.service import Services


@dataclass
class Tenant:
    """An org with API credentials, and the headers a client sends for one sandbox."""

    org: str
    client_id: str
    client_secret: str
    token: str

    def headers(self, sandbox: str = "prod") -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.org,
            "x-sandbox-name": sandbox,
        }


def make_tenant(services: Services, org: str) -> Tenant:
    creds = services.tokens.create_credentials(org)
    return Tenant(
        org, creds.client_id, creds.client_secret, services.tokens.exchange(creds.client_id, creds.client_secret)
    )
