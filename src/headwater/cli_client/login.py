"""`headwater login` and `headwater logout`: save or forget a server and its credentials (0600 file)."""

from __future__ import annotations

from typing import Annotated

import typer

from headwater.cli_client import output
from headwater.cli_client import profile as profiles
from headwater.cli_client.failure import CliError
from headwater.cli_client.http import DEFAULT_URL, Api, CommonOptions, token_claims

Name = Annotated[str, typer.Option("--profile", envvar="HEADWATER_PROFILE", help="Profile name")]


def login(
    url: Annotated[str, typer.Option(envvar="HEADWATER_URL", help="Server URL")] = DEFAULT_URL,
    client_id: Annotated[str | None, typer.Option(envvar="HEADWATER_CLIENT_ID", help="API client id")] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(envvar="HEADWATER_CLIENT_SECRET", help="API client secret [default: asked, not echoed]"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="HEADWATER_ACCESS_TOKEN", help="Save a token instead of id and secret")
    ] = None,
    org: Annotated[str | None, typer.Option(envvar="HEADWATER_ORG", help="IMS org id [default: the token's]")] = None,
    sandbox: Annotated[str, typer.Option(envvar="HEADWATER_SANDBOX", help="Sandbox name")] = "prod",
    name: Name = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Check credentials against a server and save them in a profile file readable only by you.

    With a client id and secret, the profile keeps both and takes a new token whenever the one it
    caches expires; the secret is never printed.
    """
    api = Api(CommonOptions(url=url, profile=name))
    expires: int | None = None
    try:
        if token is None:
            if not client_id:
                raise CliError("--client-id is required (or --token)", exit_code=2)
            if not client_secret:
                client_secret = typer.prompt("client secret", hide_input=True)
            token, expires = api.exchange(client_id, client_secret)
        else:
            exp = token_claims(token).get("exp")
            expires = int(exp) if isinstance(exp, int | float) else None
        claims = token_claims(token)
        # A signed request proves the whole chain (token, API key, org, sandbox) before anything is saved.
        check = Api(
            CommonOptions(url=api.url, token=token, client_id=client_id, org=org, sandbox=sandbox, profile=name)
        )
        try:
            check.get("/data/foundation/flowservice/connections", limit=1)
        finally:
            check.close()
        saved = profiles.Profile(
            url=api.url,
            client_id=client_id or claims.get("sub"),
            client_secret=client_secret,
            org=org,
            sandbox=sandbox,
            access_token=token,
            token_expires_at=expires,
        )
        profiles.save(name, saved)
    finally:
        api.close()
    summary = {
        "profile": name,
        "path": str(profiles.profile_path()),
        "url": saved.url,
        "clientId": saved.client_id,
        "org": org or claims.get("org"),
        "sandbox": sandbox,
    }
    if as_json:
        output.emit_json(summary)
    else:
        typer.echo(
            f"signed in to {saved.url} as {saved.client_id} (org {summary['org']}, sandbox {sandbox}); "
            f"profile {name!r} saved in {summary['path']} (mode 0600)"
        )


def logout(name: Name = "default", as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Forget a saved profile (its secret and token)."""
    if not profiles.remove(name):
        raise CliError(f"no profile {name!r} in {profiles.profile_path()}")
    if as_json:
        output.emit_json({"profile": name, "removed": True})
    else:
        typer.echo(f"removed profile {name!r}")
