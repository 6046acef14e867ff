"""Conversations with the assistant and their turns.

Every change goes through :mod:`yiwang.assistant.services`. What a person
types is stored masked (ID numbers, mobiles, e-mail addresses); a
conversation without the person's consent to keep it expires with the visit
(``expires_at``) and is purged, one with consent stays until its owner
deletes it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.assistant.constants import Aspect, Channel, ConversationStatus, Sender


class Conversation(models.Model):
    # Public, unguessable id: the API's ``conversation`` parameter and the pages' address.
    reference = models.CharField(_("会话编号"), max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="assistant_conversations",
        verbose_name=_("用户"),
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices, default=Channel.WEB)
    kept = models.BooleanField(_("同意保存记录"), default=False)
    status = models.CharField(
        _("状态"), max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.ASSISTANT
    )
    # The dialogue state: the item or bundle talked about, the last aspect, a pending clarification.
    context = models.JSONField(_("对话上下文"), default=dict, blank=True)
    title = models.CharField(_("标题"), max_length=100, blank=True)
    handed_off_at = models.DateTimeField(_("转人工时间"), null=True, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("接待人员"),
    )
    work_order_number = models.CharField(_("12345工单编号"), max_length=32, blank=True)
    # None: kept until the owner deletes it.
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("智能客服会话")
        verbose_name_plural = _("智能客服会话")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["status", "handed_off_at"], name="assistant_waiting_idx")]

    def __str__(self) -> str:
        return self.reference


class Turn(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="turns", verbose_name=_("会话")
    )
    sender = models.CharField(_("发言方"), max_length=16, choices=Sender.choices)
    text = models.TextField(_("内容"))
    answered = models.BooleanField(_("已解答"), null=True, blank=True)
    aspect = models.CharField(_("咨询要点"), max_length=16, choices=Aspect.choices, blank=True)
    # [{"type", "name", "url", "code"}]: where the answer comes from, the item or bundle first.
    sources = models.JSONField(_("答案来源"), default=list, blank=True)
    # [{"code", "name", "type"}]: the items offered when the question fitted several.
    choices = models.JSONField(_("可选事项"), default=list, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("会话记录")
        verbose_name_plural = _("会话记录")
        ordering = ["conversation", "id"]

    def __str__(self) -> str:
        return f"{self.conversation_id}:{self.sender}"
