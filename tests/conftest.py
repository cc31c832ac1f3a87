"""Shared fixtures: the seed policy and helpers to write variants of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kenolib import config
from kenolib.policy import ParsedPolicy, parse_policy

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "data" / "raw" / "kenotronix_support_policy.txt"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed() -> ParsedPolicy:
    return parse_policy(config.DEFAULT_POLICY)


@pytest.fixture(scope="session")
def clauses(seed):
    return seed.clauses
