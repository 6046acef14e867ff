"""Code lists of 跨省通办: message kinds, the states of a forwarded application, delivery states."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Message kinds on the node exchange (docs/exchange-nodes.md): A asks B for its items; A forwards an application
# to B; B reports a case's status back to A.
CATALOG_ITEMS = "catalog_items"
APPLICATION = "cross_region_application"
CASE_STATUS = "case_status"

# Outbox topic of one delivery attempt (its payload: the delivery's id).
DELIVER_TOPIC = "crossregion.deliver"

# The materials of one application travel inline, Base64 in the message; their raw bytes together at most this
# (the receiver reads at most DATA_UPLOAD_MAX_MEMORY_SIZE, 2 MiB, of body; Base64 adds a third).
MAX_MATERIAL_BYTES = 1_400_000
MAX_ITEMS_PER_IMPORT = 2000

# Number of an application forwarded from this node: KS-<YYYYMMDD>-<6-digit serial> (跨省).
NUMBER_PREFIX = "KS"


class ForwardState(models.TextChoices):
    """Where an application made here for a peer's item stands, on this node's side."""

    FORWARDING = "forwarding", _("正在转送")
    FORWARDED = "forwarded", _("已转送办理地")
    FAILED = "failed", _("转送未成功")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("待送达")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("未能送达")


# Delivery attempts before a message is given up (the outbox's backoff between them: 1 min, 2, 4 … up to 1 h).
MAX_DELIVERY_ATTEMPTS = 20
# Answers of the peer that retrying cannot change: the message is refused for good.
RETRYABLE_REASONS = frozenset({"handler_failed", "message_too_old", "message_from_future", "replayed"})
