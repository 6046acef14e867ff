"""亮证: a share shows only the chosen fields, once, within its time; replays and late openings are refused and
every opening is in the holder's history."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import make_citizen, make_staff
from tests.licences.helpers import issue_food_licence
from yiwang.accounts.constants import Role
from yiwang.licences import selectors, services
from yiwang.licences.constants import LicenceEventKind
from yiwang.licences.models import LicenceShare, ShareVerification

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_share_shows_only_the_chosen_fields_once() -> None:
    holder = make_citizen("陈八")
    licence = issue_food_licence(holder, premises="示范市秘密路9号", business_type="餐饮服务经营者")
    share, token = services.create_share(licence, actor=holder, fields=["holder", "business_type"], minutes=5)
    assert share.token_hash != token and token not in share.token_hash

    shown = services.open_share(token, client_address="203.0.113.9")
    assert dict(shown.fields) == {"持证主体": "陈八", "主体业态": "餐饮服务经营者"}
    assert "示范市秘密路9号" not in str(shown.attestation)
    assert shown.attestation["licence"] == licence.identifier and shown.attestation["status"] == "valid"
    assert shown.attestation_digest

    with pytest.raises(services.LicenceError) as replay:
        services.open_share(token, client_address="198.51.100.7")
    assert replay.value.code == "share_used" and "已被使用" in replay.value.message and replay.value.status == 410

    outcomes = list(ShareVerification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["shown", "share_used"]
    kinds = [event.kind for event in selectors.history(licence)]
    assert LicenceEventKind.VERIFIED in kinds and LicenceEventKind.REFUSED in kinds


def test_an_expired_share_is_refused_with_a_clear_message() -> None:
    holder = make_citizen()
    licence = issue_food_licence(holder)
    share, token = services.create_share(licence, actor=holder, fields=["holder"], minutes=1)
    LicenceShare.objects.filter(pk=share.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(services.LicenceError) as refused:
        services.open_share(token)
    assert refused.value.code == "share_expired" and "已过期" in refused.value.message
    assert ShareVerification.objects.get().outcome == "share_expired"


def test_an_unknown_or_withdrawn_share_is_refused() -> None:
    holder = make_citizen()
    licence = issue_food_licence(holder)
    with pytest.raises(services.LicenceError) as refused:
        services.open_share("x" * 200)
    assert refused.value.code == "not_found"
    with pytest.raises(services.LicenceError):
        services.open_share("no-such-token")
    share, token = services.create_share(licence, actor=holder, fields=["holder"])
    services.withdraw_share(share, actor=holder)
    with pytest.raises(services.LicenceError) as refused:
        services.open_share(token)
    assert refused.value.code == "share_withdrawn"


def test_only_the_holder_shares_and_only_a_valid_licence() -> None:
    holder, other = make_citizen(), make_citizen()
    licence = issue_food_licence(holder)
    for actor in (other, make_staff(Role.APPROVER, "market")):
        with pytest.raises(services.LicenceError) as refused:
            services.create_share(licence, actor=actor, fields=["holder"])
        assert refused.value.code == "not_found"
    with pytest.raises(services.LicenceError) as refused:
        services.create_share(licence, actor=holder, fields=["nothing_known"])
    assert refused.value.code == "fields_required"
    with pytest.raises(services.LicenceError) as refused:
        services.create_share(licence, actor=holder, fields=["holder"], minutes=600)
    assert refused.value.code == "bad_minutes"
    services.revoke_licence(licence, actor=make_staff(Role.APPROVER, "market"), reason="注销")
    licence.refresh_from_db()
    with pytest.raises(services.LicenceError) as refused:
        services.create_share(licence, actor=holder, fields=["holder"])
    assert refused.value.code == "licence_not_valid"
    # Another citizen posting to the share page gets a 404, as for a missing licence.
    assert _client(other).post(f"/licences/{licence.pk}/share/", {"fields": ["holder"]}).status_code == 404


def test_the_verifier_page_needs_no_login_and_a_get_does_not_use_the_share() -> None:
    holder = make_citizen("褚九")
    licence = issue_food_licence(holder)
    page = _client(holder).post(f"/licences/{licence.pk}/share/", {"fields": ["holder", "valid_until"], "minutes": "5"})
    assert page.status_code == 200
    url = re.search(r'id="share-url" href="([^"]+)"', page.content.decode())
    assert url is not None
    path = url.group(1).replace("http://testserver", "")
    verifier = Client(enforce_csrf_checks=False)
    assert verifier.get(path).status_code == 200  # a link preview: nothing used
    shown = verifier.post(path)
    body = shown.content.decode()
    assert shown.status_code == 200 and "褚九" in body and "核验证明" in body
    replay = verifier.post(path)
    assert replay.status_code == 410 and "不能重复核验" in replay.content.decode()
    history = _client(holder).get(f"/licences/{licence.pk}/").content.decode()
    assert "亮证核验" in history and "亮证核验被拒绝" in history
