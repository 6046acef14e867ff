"""Which aspect of an item a question asks about: a small lexicon, backed by embedding prototypes.

The lexicon is tried first: a handful of cue words per aspect, matched in
an order that settles the usual collisions (网上 + 在哪 is about doing it
online; 多久 + 多少钱 reads as fees only when no time word is there…). Where
no cue matches, the question's vector is compared with prototype phrasings
of each aspect (``PROTOTYPES``, e5 query vectors) and the nearest one is
taken when it is close enough (``PROTOTYPE_THRESHOLD``, calibrated on the
dev questions: see docs/adr/0014-assistant.md).
"""

from __future__ import annotations

import functools
import re

import numpy as np

from yiwang.assistant.constants import Aspect
from yiwang.core import embeddings

# Order matters: the first aspect whose pattern matches wins. Strong cues name one aspect; the weak ones
# (免费, 能不能, 证明…) also appear inside questions about another aspect or in item names, so they are tried
# after all strong ones and never stripped from the question.
CUES: list[tuple[str, re.Pattern[str]]] = [
    (
        Aspect.ONLINE,
        re.compile(
            r"网上|线上|网办|手机上|手机里|用手机|在手机|小程序|APP|app|App|公众号|不用跑|不出门|零跑|跑几趟|跑几次|在线办|网站|网页|掌上|刷脸|微信|支付宝|电脑上|自助机"
        ),
    ),
    (
        Aspect.CONDITIONS,
        re.compile(r"条件|资格|符合|满足|谁可以|谁能|哪些人|什么人|够不够格|够格|能申请吗|可以申请吗|限制"),
    ),
    (
        Aspect.FEES,
        re.compile(r"多少钱|收费|费用|要钱|收钱|交钱|付钱|给钱|工本费|价格|几块钱|块钱|登记费|交多少|贵不贵|贵吗"),
    ),
    # Office hours belong to the place (its windows), before the time words.
    (Aspect.PLACE, re.compile(r"办公时间|上班时间|工作时间|营业时间|几点")),
    (
        Aspect.TIME,
        re.compile(
            r"多久|多长时间|几天|多少天|时限|多快|什么时候能|啥时候能|当天|马上能|立等|几个工作日|到账|批下来|能拿到|办下来|要等|什么时候|啥时候|时间|周期|加急|几个月"
        ),
    ),
    (
        Aspect.MATERIALS,
        re.compile(
            r"材料|带啥|带什么|带哪些|拿什么|拿啥|准备什么|准备啥|准备哪些|资料|需要什么|要什么|需要啥|要啥|提交什么"
            r"|哪些东西|什么东西|复印件|照片|要带|带上|带哪|需要提供|提供什么|提供哪些|交什么|交哪些|清单|原件"
        ),
    ),
    (
        Aspect.PLACE,
        re.compile(
            r"在哪里|去哪里|在哪儿|去哪儿|在哪|去哪|哪里|哪儿|地址|窗口|地点|哪个部门|什么地方|哪个派出所|电话|上班时间|几点"
        ),
    ),
]
WEAK_CUES: list[tuple[str, re.Pattern[str]]] = [
    (Aspect.FEES, re.compile(r"免费|花钱|收不收")),
    (Aspect.CONDITIONS, re.compile(r"能不能|可不可以|可以办吗|能办吗|要求")),
    (Aspect.MATERIALS, re.compile(r"手续|证件|证明")),
]

# Prototype phrasings per aspect for the embedding fallback (queries without any cue word).
PROTOTYPES: dict[str, list[str]] = {
    Aspect.MATERIALS: ["办这个要带哪些材料", "需要准备什么证件", "申请要交什么资料"],
    Aspect.FEES: ["办这个要花多少钱", "收费标准是多少", "要交费吗"],
    Aspect.TIME: ["办下来要多长时间", "几个工作日能办好", "多久可以拿到"],
    Aspect.PLACE: ["到哪里去办理", "办理地址在什么地方", "哪个窗口受理"],
    Aspect.CONDITIONS: ["需要满足什么条件才能办", "什么人可以申请", "申请有什么要求"],
    Aspect.ONLINE: ["可以在网上办理吗", "能用手机办吗", "不用跑腿可以办吗"],
}
# Nearest prototype must be at least this similar (cosine); below it the question names no aspect.
PROTOTYPE_THRESHOLD = 0.92


def by_cues(question: str) -> str | None:
    """The aspect named by a cue word, or None."""
    for aspect, pattern in (*CUES, *WEAK_CUES):
        if pattern.search(question):
            return str(aspect)
    return None


def strip_cues(question: str) -> str:
    """The question without its strong aspect cue words (the weak ones can be part of an item's name)."""
    for _aspect, pattern in CUES:
        question = pattern.sub(" ", question)
    return question


@functools.cache
def _prototype_vectors() -> tuple[list[str], np.ndarray]:
    labels, texts = [], []
    for aspect, phrasings in PROTOTYPES.items():
        for text in phrasings:
            labels.append(str(aspect))
            texts.append(text)
    return labels, embeddings.embed_queries(texts)


def by_prototypes(vector: np.ndarray) -> tuple[str | None, float]:
    """The aspect whose prototypes are nearest ``vector`` (a query vector), with the similarity."""
    labels, vectors = _prototype_vectors()
    similarities = vectors @ vector
    best = int(np.argmax(similarities))
    score = float(similarities[best])
    return (labels[best] if score >= PROTOTYPE_THRESHOLD else None), score


def recognise(question: str, vector: np.ndarray | None = None) -> str | None:
    """The aspect ``question`` asks about: cue words first, then the nearest prototype (when a vector is given)."""
    found = by_cues(question)
    if found is not None or vector is None:
        return found
    return by_prototypes(vector)[0]
