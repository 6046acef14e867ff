"""Reads for the seals pages (kept apart from the licences' selectors module)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from yiwang.accounts import policy as accounts_policy
from yiwang.licences.models import ForeignPlatform, Seal, SigningKey
from yiwang.licences.policy import SEAL_ROLES


def seals_for(user: Any) -> QuerySet[Seal]:
    """The seals the user may manage, with their keys (newest first)."""
    if accounts_policy.is_platform_admin(user):
        queryset = Seal.objects.all()
    else:
        queryset = accounts_policy.scope_by_department(Seal.objects.all(), user, roles=SEAL_ROLES)
    return queryset.select_related("department", "current_key").prefetch_related(
        Prefetch("keys", queryset=SigningKey.objects.order_by("-valid_from", "-pk"))
    )


def get_seal_for(user: Any, seal_id: int) -> Seal:
    """A seal the user may manage; 404 for a missing one and for someone else's alike."""
    seal = seals_for(user).filter(pk=seal_id).first()
    if seal is None:
        raise Http404
    return seal


def trusted_platforms() -> QuerySet[ForeignPlatform]:
    """The other platforms whose licences are verified here (pinned, trusted, with a list imported)."""
    return ForeignPlatform.objects.filter(trusted=True, trust_list_json__isnull=False).order_by("name")
