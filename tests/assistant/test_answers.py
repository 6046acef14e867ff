"""Answers quote the guide; their own wording and punctuation follow the reader's language."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from yiwang.assistant import answers
from yiwang.assistant.constants import Aspect

pytestmark = pytest.mark.django_db

# Punctuation the answers themselves add (not the catalogue's own text, which stays Chinese).
CHINESE_JOINERS = re.compile(r"\d+份|个工作日|）$|：\d")


def test_materials_in_chinese_count_copies_and_number_lines(first_id_card: str) -> None:
    text, source = answers.item_answer(first_id_card, Aspect.MATERIALS)
    assert text is not None and source.type == "item" and source.code == first_id_card
    lines = text.splitlines()
    assert lines[0].startswith("办理“居民身份证首次申领”需要准备以下材料")
    assert re.fullmatch(r"1\. .+（.+\d+份.*）", lines[1])


def test_english_answers_use_english_joiners_and_plurals(first_id_card: str) -> None:
    with translation.override("en"):
        materials, _ = answers.item_answer(first_id_card, Aspect.MATERIALS)
        time, _ = answers.item_answer(first_id_card, Aspect.TIME)
        place, _ = answers.item_answer(first_id_card, Aspect.PLACE)
    assert materials is not None and time is not None and place is not None
    for line in materials.splitlines()[1:]:
        assert re.fullmatch(r"\d+\. .+ \(.+, \d+ cop(y|ies).*\)", line), line
        assert not CHINESE_JOINERS.search(line), line
    # The first line is ours; a time-limit note after it is the catalogue's own text.
    assert re.search(r"within 15 working days, statutory limit: \d+ working days\.$", time.splitlines()[0])
    window_lines = [line for line in place.splitlines() if line.startswith("· ")]
    assert window_lines and all(": " in line and "：" not in line.split(": ", 1)[0] for line in window_lines)
