"""docs/configuration.md is what the settings classes generate, and it names every HEADWATER_* variable in the repo."""

from __future__ import annotations

import re
from pathlib import Path

from headwater.configuration_docs import OTHER_VARIABLES, env_names, markdown

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "configuration.md"
# A whole variable name; `HEADWATER_RUN_*`-style prefixes end in `_` and are not names.
VARIABLE = re.compile(r"\bHEADWATER_[A-Z0-9_]*[A-Z0-9]\b")


def test_the_page_is_generated_from_the_settings() -> None:
    assert PAGE.read_text() == markdown(), (
        "docs/configuration.md differs from the settings: run `headwater settings --markdown > docs/configuration.md`"
    )


def test_every_variable_in_the_repository_is_documented() -> None:
    documented = env_names() | {name for name, _ in OTHER_VARIABLES}
    used: dict[str, Path] = {}
    for folder in ("src", "tests", "bench", "scripts"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".sh", ".md", ".toml") and path.is_file():
                for name in VARIABLE.findall(path.read_text(errors="replace")):
                    used.setdefault(name, path.relative_to(REPO))
    assert "HEADWATER_WEB_WORKERS" in used and "HEADWATER_TEST_PG" in used  # the scan sees code and tests
    missing = {name: str(path) for name, path in used.items() if name not in documented}
    assert not missing, f"variables used but neither settings fields nor listed in OTHER_VARIABLES: {missing}"


def test_the_page_documents_every_setting() -> None:
    page = PAGE.read_text()
    for name in env_names() | {"HEADWATER_RUN_LEASE_SECONDS", "HEADWATER_GOOGLE_TOKEN_URI"}:
        assert f"| `{name}` |" in page, name
