"""Code lists of the knowledge base (知识库)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EntryKind(models.TextChoices):
    """What an entry is: a plain answer, an explanation of a policy, or a department's official reply."""

    ANSWER = "answer", _("问答")
    POLICY = "policy", _("政策解读")
    OFFICIAL_REPLY = "official_reply", _("官方答复")
    GUIDE_TIP = "guide_tip", _("办事提示")


class VersionStatus(models.TextChoices):
    """Draft → in review → published; publishing supersedes the version before; withdrawn leaves the public."""

    DRAFT = "draft", _("草稿")
    IN_REVIEW = "in_review", _("待审核")
    PUBLISHED = "published", _("已发布")
    SUPERSEDED = "superseded", _("已被新版本取代")
    WITHDRAWN = "withdrawn", _("已停用")


OPEN_STATUSES = frozenset({VersionStatus.DRAFT, VersionStatus.IN_REVIEW})
# What once was public: the history page and the version diff show these.
PUBLIC_HISTORY_STATUSES = frozenset({VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED, VersionStatus.WITHDRAWN})


class QuestionStatus(models.TextChoices):
    """An unanswered question waits, becomes a draft entry, or is dismissed (not worth an entry)."""

    OPEN = "open", _("待处理")
    DRAFTED = "drafted", _("已转为知识条目")
    DISMISSED = "dismissed", _("已忽略")


# Channels an unanswered question may come from; unknown channel names are kept as given.
CHANNEL_LABELS = {
    "web": _("网站"),
    "mobile": _("移动端"),
    "kiosk": _("自助终端"),
    "assistant": _("智能帮办"),
    "hotline": _("12345热线"),
    "counter": _("窗口"),
    "search": _("站内搜索"),
}

# Limits of what one entry holds: enough for a policy explanation, short enough to read on a phone.
MAX_QUESTIONS = 10
QUESTION_MAX_LENGTH = 200
ANSWER_MAX_LENGTH = 8000
SOURCE_MAX_LENGTH = 300
MAX_ITEM_CODES = 10

# search_entries: hits scoring below this are noise and never returned. Callers wanting only answers they can
# give outright use RELIABLE_SCORE: with the shared e5 model, on the demo entries, the same question in other
# words scored 0.60-1.0 (a long, loose paraphrase 0.50) and neighbouring topics (社保卡 lost for 身份证 lost,
# 公积金 loans for 公积金 withdrawal) 0.29-0.53; other topics nothing.
MIN_SCORE = 0.25
RELIABLE_SCORE = 0.6
