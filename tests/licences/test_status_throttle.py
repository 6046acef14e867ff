"""The public status check (page and API) locks out an address that guesses identifier/核验码 pairs too often."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen
from tests.licences.helpers import issue_food_licence
from yiwang.licences.services.status_checks import STATUS_FAILURE_LIMIT

pytestmark = pytest.mark.django_db

API = "/api/v1/licences/status"
PAGE = "/licences/status/"


def _wrong_code(code: str) -> str:
    return "ZZZZZZZZ" if code != "ZZZZZZZZ" else "YYYYYYYY"


def test_the_api_refuses_an_address_after_too_many_wrong_codes_even_the_right_one() -> None:
    licence = issue_food_licence(make_citizen())
    guesser = Client(REMOTE_ADDR="203.0.113.7")
    right = {"identifier": licence.identifier, "code": licence.verification_code}
    wrong = {"identifier": licence.identifier, "code": _wrong_code(licence.verification_code)}
    assert guesser.get(API, right).status_code == 200  # a success counts nothing
    for _ in range(STATUS_FAILURE_LIMIT):
        assert guesser.get(API, wrong).status_code == 404
    refused = guesser.get(API, right)
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/problem+json")
    body = refused.json()
    assert body["code"] == "too_many_attempts" and "稍后再试" in body["detail"] + body.get("title", "")
    # Another address is not held back by this one's guesses.
    assert Client(REMOTE_ADDR="198.51.100.9").get(API, right).status_code == 200


def test_a_mistyped_identifier_is_not_counted_as_a_guess() -> None:
    licence = issue_food_licence(make_citizen())
    client = Client(REMOTE_ADDR="203.0.113.8")
    last = licence.identifier[-1]
    mistyped = licence.identifier[:-1] + ("0" if last != "0" else "1")
    for _ in range(STATUS_FAILURE_LIMIT + 2):
        assert client.get(API, {"identifier": mistyped, "code": licence.verification_code}).status_code == 400
    assert client.get(API, {"identifier": licence.identifier, "code": licence.verification_code}).status_code == 200


def test_the_page_shares_the_lockout_with_the_api_and_answers_429() -> None:
    licence = issue_food_licence(make_citizen())
    client = Client(REMOTE_ADDR="203.0.113.9")
    wrong = {"identifier": licence.identifier, "code": _wrong_code(licence.verification_code)}
    for _ in range(STATUS_FAILURE_LIMIT - 1):
        assert client.post(PAGE, wrong).status_code == 400
    assert client.get(API, wrong).status_code == 404  # the limit-th guess, through the API
    refused: Any = client.post(PAGE, {"identifier": licence.identifier, "code": licence.verification_code})
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "核验失败次数过多" in page and licence.holder_name not in page
