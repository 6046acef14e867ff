"""One client address for every throttle and audit record, honouring YIWANG_TRUSTED_PROXIES."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory, override_settings

from tests.accounts.factories import make_citizen
from tests.core.test_settings import run_settings
from yiwang.core.audit import AuditEvent
from yiwang.core.http import address_from_meta, client_address, safe_next
from yiwang.hotline import page_data

factory = RequestFactory()


def _address(forwarded: str | None, *, remote: str = "10.0.0.9") -> str | None:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(factory.get("/", **extra))


@override_settings(YIWANG_TRUSTED_PROXIES=0)
def test_without_trusted_proxies_a_spoofed_forwarded_header_is_ignored() -> None:
    assert _address("203.0.113.7") == "10.0.0.9"
    assert _address("203.0.113.7, 198.51.100.2") == "10.0.0.9"
    assert _address(None) == "10.0.0.9"


@override_settings(YIWANG_TRUSTED_PROXIES=1)
def test_with_one_proxy_the_right_most_entry_is_the_client() -> None:
    # The left entry is what the client itself sent; only the proxy's own entry counts.
    assert _address("1.2.3.4, 203.0.113.7") == "203.0.113.7"
    assert _address("203.0.113.7") == "203.0.113.7"
    assert _address(" 2001:db8::1 ") == "2001:db8::1"


@override_settings(YIWANG_TRUSTED_PROXIES=2)
def test_with_two_proxies_the_second_entry_from_the_right_is_the_client() -> None:
    assert _address("1.2.3.4, 203.0.113.7, 10.0.0.2") == "203.0.113.7"
    assert _address("203.0.113.7, 10.0.0.2") == "203.0.113.7"


@override_settings(YIWANG_TRUSTED_PROXIES=2)
def test_too_few_forwarded_entries_fall_back_to_the_connection() -> None:
    assert _address("203.0.113.7") == "10.0.0.9"
    assert _address(None) == "10.0.0.9"
    assert _address("") == "10.0.0.9"


@pytest.mark.parametrize("forwarded", ["not-an-ip, 10.0.0.2", ", 10.0.0.2", "203.0.113.7:443, 10.0.0.2", "unknown,x"])
@override_settings(YIWANG_TRUSTED_PROXIES=2)
def test_a_malformed_forwarded_entry_falls_back_to_the_connection(forwarded: str) -> None:
    assert _address(forwarded) == "10.0.0.9"


@override_settings(YIWANG_TRUSTED_PROXIES=1)
def test_no_address_at_all_is_none() -> None:
    request = factory.get("/")
    del request.META["REMOTE_ADDR"]
    assert client_address(request) is None
    assert address_from_meta({}) is None


def test_safe_next_keeps_only_targets_on_this_site() -> None:
    assert safe_next(factory.get("/", {"next": "/cases/mine/"}), "/home/") == "/cases/mine/"
    assert safe_next(factory.get("/", {"next": "https://evil.example/"}), "/home/") == "/home/"
    assert safe_next(factory.get("/", {"next": "//evil.example/"}), "/home/") == "/home/"
    assert safe_next(factory.post("/", {"next": "/a/"}), "/home/") == "/a/"
    assert safe_next(factory.get("/"), "/home/") == "/home/"


def _track(client: Client, forwarded: str) -> int:
    response = client.get(
        "/api/v1/hotline/track", {"number": "GD000000000000", "code": "WRONG1"}, HTTP_X_FORWARDED_FOR=forwarded
    )
    return response.status_code


@pytest.mark.django_db
@override_settings(YIWANG_TRUSTED_PROXIES=1)
def test_the_tracking_throttle_counts_the_forwarded_address_behind_a_proxy() -> None:
    client = Client(REMOTE_ADDR="10.0.0.2")  # the load balancer
    for _attempt in range(page_data.TRACK_FAILURE_LIMIT):
        assert _track(client, "203.0.113.7") == 404
    assert _track(client, "203.0.113.7") == 429
    # Another client behind the same balancer is not locked out with the first.
    assert _track(client, "198.51.100.2") == 404
    # Nor can the locked client escape by prepending an address of its choosing.
    assert _track(client, "198.51.100.2, 203.0.113.7") == 429


@pytest.mark.django_db
@override_settings(YIWANG_TRUSTED_PROXIES=0)
def test_without_proxies_changing_the_forwarded_header_does_not_escape_the_throttle() -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    for attempt in range(page_data.TRACK_FAILURE_LIMIT):
        assert _track(client, f"198.51.100.{attempt}") == 404
    assert _track(client, "198.51.100.200") == 429


@pytest.mark.django_db
@override_settings(YIWANG_TRUSTED_PROXIES=1)
def test_an_audit_record_keeps_the_forwarded_address() -> None:
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    client.force_login(make_citizen("钱访客"))
    assert client.get("/hotline/desk/").status_code == 403
    denied = AuditEvent.objects.get(event="permission.denied", detail__page="hotline.desk")
    assert denied.ip == "203.0.113.7"


@pytest.mark.parametrize("raw", ["-1", "one", "1.5", "99"])
def test_a_bad_number_of_trusted_proxies_refuses_to_start(raw: str, tmp_path) -> None:
    result = run_settings({"YIWANG_TRUSTED_PROXIES": raw, "YIWANG_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "YIWANG_TRUSTED_PROXIES" in result.stderr
