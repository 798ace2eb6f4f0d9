"""The suite's one random seed: HEADWATER_TEST_SEED, or a fixed default; printed in pytest's header."""

from __future__ import annotations

import os
import random

DEFAULT_SEED = 12
SEED = int(os.environ.get("HEADWATER_TEST_SEED", DEFAULT_SEED))


def rng(name: str) -> random.Random:
    """A generator for one test's choices: the same sequence for the same seed and name."""
    return random.Random(f"{SEED}:{name}")
