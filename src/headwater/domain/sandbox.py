"""What a sandbox name may be, for the API's gateway header and the console's session alike."""

from __future__ import annotations

import re

# Lower-case letters, digits and hyphens, starting with a letter or digit, at most 63 characters.
_SANDBOX_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def is_sandbox_name(name: str) -> bool:
    return _SANDBOX_NAME.match(name) is not None
