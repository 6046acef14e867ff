"""Fixtures of the licences tests (the e-archive's live in archive_fixtures.py)."""

from tests.licences.archive_fixtures import archive_env, citizen, market, police

__all__ = ["archive_env", "citizen", "market", "police"]
