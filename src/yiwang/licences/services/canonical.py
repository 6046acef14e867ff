"""The canonical JSON every signed document of the seals uses (docs/licences.md, "Canonical JSON").

UTF-8; object keys sorted by code point; no whitespace; separators ``,`` and
``:``; characters outside ASCII written as themselves (only ``"``, ``\\``
and control characters are escaped, as JSON requires); no floating-point
numbers; times as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of ``value`` (dicts, lists, strings, integers, booleans, None)."""
    _check(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _check(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("canonical JSON has no floating-point numbers")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("canonical JSON object keys are strings")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)


def utc_text(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: Any) -> dt.datetime:
    """The aware UTC datetime of a ``YYYY-MM-DDTHH:MM:SSZ`` string; ValueError for anything else."""
    if not isinstance(text, str) or len(text) != 20 or not text.endswith("Z"):
        raise ValueError(f"not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ: {text!r}")
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
