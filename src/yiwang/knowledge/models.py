"""Tables of the knowledge base: entries, their versions (copy-on-write, like the catalogue), the stored
vectors of published versions, and the questions nobody could answer yet."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .constants import EntryKind, QuestionStatus, VersionStatus


class Entry(models.Model):
    """One question the platform can answer, owned by a department; what it says lives in its versions."""

    department = models.ForeignKey(
        "directory.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("所属部门")
    )
    # A stable key of an imported entry ("replies:<留言编号>"), so that importing the same file again updates
    # nothing twice; empty for entries written on the staff pages.
    external_key = models.CharField(_("外部编号"), max_length=100, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("知识条目")
        verbose_name_plural = _("知识条目")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_key"], condition=~Q(external_key=""), name="knowledge_entry_external_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"知识条目{self.pk}"


class EntryVersion(models.Model):
    """One version of an entry. A published version is never edited: a change is a new draft version."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="versions", verbose_name=_("知识条目"))
    version = models.PositiveIntegerField(_("版本号"), default=1)
    status = models.CharField(_("状态"), max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    kind = models.CharField(_("类型"), max_length=20, choices=EntryKind.choices, default=EntryKind.ANSWER)
    # Several phrasings of the same question; the first is the title shown everywhere.
    questions = models.JSONField(_("问法"), default=list)
    answer = models.TextField(_("答复"))
    source_text = models.CharField(_("依据"), max_length=300, blank=True, default="")
    source_url = models.URLField(_("依据链接"), max_length=500, blank=True, default="")
    # Codes of published catalogue items the answer is about (事项编码), checked when saved.
    item_codes = models.JSONField(_("关联事项编码"), default=list, blank=True)
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_until = models.DateField(_("失效日期"), null=True, blank=True)
    change_note = models.CharField(_("修改说明"), max_length=200, blank=True, default="")
    return_reason = models.CharField(_("退回理由"), max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("起草人"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("最后修改人"),
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("提交审核人"),
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("发布人"),
    )
    submitted_at = models.DateTimeField(_("提交审核时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("知识条目版本")
        verbose_name_plural = _("知识条目版本")
        ordering = ["entry", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "version"], name="knowledge_version_unique"),
            models.UniqueConstraint(
                fields=["entry"],
                condition=Q(status=VersionStatus.PUBLISHED),
                name="knowledge_one_published_version",
            ),
            models.UniqueConstraint(
                fields=["entry"],
                condition=Q(status__in=[VersionStatus.DRAFT, VersionStatus.IN_REVIEW]),
                name="knowledge_one_open_version",
            ),
        ]
        indexes = [models.Index(fields=["status", "valid_until"], name="knowledge_version_status_idx")]

    def __str__(self) -> str:
        return f"{self.title}（v{self.version}）"

    @property
    def title(self) -> str:
        return self.questions[0] if self.questions else ""

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT


class VersionVector(models.Model):
    """The sentence vectors of one version (its question forms, then its answer), computed once and kept, so
    that no process start embeds the whole knowledge base again."""

    version = models.OneToOneField(
        EntryVersion, on_delete=models.CASCADE, primary_key=True, related_name="vector", verbose_name=_("版本")
    )
    model_name = models.CharField(_("模型"), max_length=100)
    rows = models.PositiveSmallIntegerField(_("向量个数"))
    # float32, row after row (rows × core.embeddings.DIMENSIONS).
    data = models.BinaryField(_("向量数据"))
    created_at = models.DateTimeField(_("计算时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("知识条目向量")
        verbose_name_plural = _("知识条目向量")

    def __str__(self) -> str:
        return f"{self.version_id}:{self.model_name}"


class UnansweredQuestion(models.Model):
    """A question the assistant (or another channel) could not answer, with personal numbers masked."""

    text = models.CharField(_("问题"), max_length=500)
    # Normalised text, the key by which repeats of one question are grouped.
    normalised = models.CharField(_("归一化文本"), max_length=500, db_index=True)
    channel = models.CharField(_("渠道"), max_length=20)
    conversation_reference = models.CharField(_("会话编号"), max_length=100, blank=True, default="")
    status = models.CharField(
        _("处理状态"), max_length=16, choices=QuestionStatus.choices, default=QuestionStatus.OPEN, db_index=True
    )
    entry = models.ForeignKey(
        Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("转成的知识条目")
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("处理人"),
    )
    handled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    asked_at = models.DateTimeField(_("提问时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("未解答问题")
        verbose_name_plural = _("未解答问题")
        ordering = ["-asked_at"]

    def __str__(self) -> str:
        return self.text[:40]
