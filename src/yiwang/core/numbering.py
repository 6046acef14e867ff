"""Numbers every app hands out: counters for serials, verification codes, random digits.

Each app keeps its own counter table and its own number format (cases:
``<DEPT>-<YYYYMMDD>-<serial>``, hotline: ``12345-<YYYYMMDD>-<serial>``); what
they share is how a counter row is advanced and how codes are drawn.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, connection, models, transaction

# No 0/O or 1/I: a code is read aloud at a counter or over the phone without confusion.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 6


def verification_code(length: int = CODE_LENGTH) -> str:
    """A random 查询码 from :data:`CODE_ALPHABET` (about 30 bits at the default length)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def random_digits(count: int) -> str:
    """``count`` random decimal digits, leading zeros kept."""
    return f"{secrets.randbelow(10**count):0{count}d}"


def _concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model._meta.label}.{name} is not a column")
    return field


def _increment(model: type[models.Model], key: Mapping[str, Any], counter: str) -> int | None:
    # One statement that increments and reads (UPDATE … RETURNING, SQLite ≥ 3.35 and PostgreSQL): the
    # row lock it takes is held to the end of the caller's transaction, so a value is never given twice.
    quote = connection.ops.quote_name
    meta = model._meta
    conditions: list[str] = []
    params: list[Any] = []
    for name, value in key.items():
        field = _concrete_field(model, name)
        if isinstance(value, models.Model):
            value = value.pk
        conditions.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    column = quote(_concrete_field(model, counter).column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {column} = {column} + 1 "  # noqa: S608 - names only, values bound
            f"WHERE {' AND '.join(conditions)} RETURNING {column}",
            params,
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def next_value(model: type[models.Model], key: Mapping[str, Any], *, counter: str = "last") -> int:
    """Advance the counter row of ``model`` picked out by ``key`` and return its new value.

    ``key`` maps field names to values and must match a unique constraint of
    ``model``; the first call for a key creates its row at 1. Call it inside the
    transaction that uses the value: the row stays locked until that transaction
    ends, so concurrent callers wait and never see the same value.
    """
    for _attempt in range(2):
        value = _increment(model, key, counter)
        if value is not None:
            return value
        try:
            with transaction.atomic():
                model._default_manager.create(**key, **{counter: 1})
            return 1
        except IntegrityError:
            continue  # a concurrent first caller made the row; count on from it
    raise RuntimeError(f"counter row of {model._meta.label} vanished")  # pragma: no cover
