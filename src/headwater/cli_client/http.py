"""The HTTP side of the user commands: who the caller is, and one request at a time with clear errors.

Credentials come from the flags, else the environment (the flags' HEADWATER_* variables), else the
saved profile. A client id and secret are exchanged for a token at /ims/token/v3; a profile caches
that token and takes a new one when it expires or is refused. The API key and org default to the
token's own client id and org, so a token alone is enough.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from headwater.cli_client import profile as profiles
from headwater.cli_client.failure import CliError

DEFAULT_URL = "http://127.0.0.1:8080"
FLOW = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
TOKEN_PATH = "/ims/token/v3"
_EARLY_REFRESH_SECONDS = 60
_NO_CREDENTIALS_HINT = (
    "pass --client-id and --client-secret (or --token), set HEADWATER_CLIENT_ID and HEADWATER_CLIENT_SECRET, "
    "or save them once with `headwater login`"
)


@dataclass
class CommonOptions:
    """The connection flags every user command takes."""

    url: str | None = None
    org: str | None = None
    sandbox: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token: str | None = None
    profile: str = "default"
    as_json: bool = False


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without checking the signature (only to learn its client id and org)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def describe_response(response: httpx.Response) -> CliError:
    """Adobe's error code and message from any of the three error shapes the server answers with."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message = None, None
    if isinstance(body, dict):
        if isinstance(body.get("type"), str) and "/errors/" in body["type"]:  # Flow Service / Catalog
            code = body["type"].rsplit("/", 1)[-1]
            message = body.get("errorMessage") or body.get("title")
        elif "error_code" in body:  # the gateway
            code, message = str(body["error_code"]), body.get("message")
        elif "error" in body:  # IMS
            code, message = str(body["error"]), body.get("error_description")
        else:
            message = body.get("message") or body.get("title")
    if message is None:
        message = " ".join(response.text.split())[:300] or response.reason_phrase
    label = f"{code} (HTTP {status})" if code else f"HTTP {status}"
    hint = None
    if status == 401:
        hint = "the credentials were refused: check the client id and secret, or sign in again with `headwater login`"
    elif status >= 500:
        rid = response.headers.get("x-request-id")
        hint = f"the server failed; its log has the details{f' (request id {rid})' if rid else ''}"
    return CliError(f"{label}: {message}", hint=hint)


class Api:
    """A signed-in client of one Headwater server, sandbox and org."""

    def __init__(self, options: CommonOptions, *, timeout: float = 30.0) -> None:
        self.options = options
        self.as_json = options.as_json
        self.saved = profiles.load(options.profile)
        saved = self.saved or profiles.Profile()
        self.url = (options.url or saved.url or DEFAULT_URL).rstrip("/")
        self.sandbox = options.sandbox or saved.sandbox or "prod"
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._token: str | None = None
        self._from_profile = False

    def close(self) -> None:
        self._http.close()

    # -- signing in -----------------------------------------------------------------------------
    def exchange(self, client_id: str, client_secret: str) -> tuple[str, int]:
        """A token and its expiry (epoch seconds) for a client id and secret."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        response = self._send("POST", TOKEN_PATH, data=form)
        if response.status_code != 200:
            raise describe_response(response)
        body = response.json()
        token = str(body["access_token"])
        expires = int(token_claims(token).get("exp") or time.time() + int(body.get("expires_in", 0)))
        return token, expires

    def _current_token(self, *, renew: bool = False) -> str:
        opts, saved = self.options, self.saved
        if opts.token:
            return opts.token
        if opts.client_id and opts.client_secret:
            if self._token is None or renew:
                self._token = self.exchange(opts.client_id, opts.client_secret)[0]
            return self._token
        if opts.client_id or opts.client_secret:
            raise CliError("--client-id and --client-secret go together", hint=_NO_CREDENTIALS_HINT, exit_code=2)
        if saved is None:
            raise CliError(f"no credentials (and no profile {opts.profile!r})", hint=_NO_CREDENTIALS_HINT, exit_code=2)
        self._from_profile = True
        fresh = saved.token_expires_at is not None and saved.token_expires_at - _EARLY_REFRESH_SECONDS > time.time()
        if saved.access_token and fresh and not renew:
            return saved.access_token
        if saved.client_id and saved.client_secret:
            saved.access_token, saved.token_expires_at = self.exchange(saved.client_id, saved.client_secret)
            profiles.save(opts.profile, saved)
            return saved.access_token
        if saved.access_token and saved.token_expires_at is None and not renew:
            return saved.access_token  # its expiry is unknown: let the server decide
        raise CliError(
            f"the token saved in profile {opts.profile!r} has expired", hint=_NO_CREDENTIALS_HINT, exit_code=2
        )

    def _headers(self, token: str) -> dict[str, str]:
        claims = token_claims(token)
        saved = self.saved or profiles.Profile()
        api_key = self.options.client_id or claims.get("sub") or saved.client_id
        org = self.options.org or saved.org or claims.get("org")
        if not api_key or not org:
            raise CliError(
                "the token does not name its client id and org", hint="pass --client-id and --org", exit_code=2
            )
        return {
            "Authorization": f"Bearer {token}",
            "x-api-key": str(api_key),
            "x-gw-ims-org-id": str(org),
            "x-sandbox-name": self.sandbox,
        }

    # -- requests -------------------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else " ".join(str(exc).split())[:200]
            raise CliError(
                f"cannot connect to {self.url}: {reason}",
                hint="is `headwater serve` running there? Set the address with --url or HEADWATER_URL",
            ) from None
        except httpx.TimeoutException:
            raise CliError(f"{self.url} did not answer in time", hint="check the server and the network") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise CliError(f"the URL {self.url!r} is not valid: {exc}", exit_code=2) from None

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 202, 204), **kwargs: Any) -> Any:
        """Send one signed request; the JSON answer (None when empty), or a CliError with Adobe's code."""
        response = self._send(method, path, headers=self._headers(self._current_token()), **kwargs)
        renewable = self._from_profile or bool(self.options.client_secret)
        if response.status_code == 401 and renewable:  # a cached token revoked or signed by an older key
            response = self._send(method, path, headers=self._headers(self._current_token(renew=True)), **kwargs)
        if response.status_code not in ok:
            raise describe_response(response)
        if not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, json=body, params={k: v for k, v in params.items() if v is not None})

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)
