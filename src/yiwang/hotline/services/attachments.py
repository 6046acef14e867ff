"""Photos and documents with a work order, a grid report or a reply: checked before, stored inside, a transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from yiwang.core import uploads
from yiwang.core.audit import record_event
from yiwang.hotline.models import Attachment, WorkOrder
from yiwang.hotline.services.errors import HotlineError

# Photos of the problem and documents (a notice, a receipt) with a work order, a grid report or a reply: checked by
# the case app's upload rules (type by content, PDFs without scripts, sound images, virus scan) and kept in the
# same private "materials" storage. A phone photo is a few MB; five of them tell the story.
MAX_ATTACHMENTS = 5

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

ATTACHMENT_TYPES = frozenset({uploads.JPEG, uploads.PNG, uploads.PDF})

PHOTO_TYPES = frozenset({uploads.JPEG, uploads.PNG})

# The actions that take attachments besides filing: the department's reply (a photo of the repaired street).
ATTACHMENT_ACTIONS = frozenset({"reply"})


@dataclass(frozen=True)
class CheckedAttachment:
    """An uploaded file that passed every check, waiting to be stored with its order."""

    checked: uploads.CheckedUpload
    stream: UploadedFile


def _shown_name(name: str, position: int) -> str:
    """The file's name for a message, or its position when the name itself is what is wrong."""
    try:
        return uploads.safe_display_name(name)
    except uploads.UploadRejected:
        return _("第%(n)s个附件") % {"n": position}


def check_attachments(files: Sequence[UploadedFile], *, actor: Any) -> list[CheckedAttachment]:
    """Check the files of one submission before anything is written; the first refusal refuses them all.

    At most ``MAX_ATTACHMENTS`` files of ``ATTACHMENT_TYPES``, each at most
    ``MAX_ATTACHMENT_BYTES``. The message names the file and says why (the
    case app's wording: what is wrong and what to do). Checking happens
    outside the order's transaction so that no row is locked while a file
    is read and scanned.
    """
    files = [f for f in files if f is not None]
    if len(files) > MAX_ATTACHMENTS:
        raise HotlineError(
            "too_many_attachments",
            _("一次最多上传%(max)s个附件，您选择了%(count)s个。请删去一些后重新提交。")
            % {"max": MAX_ATTACHMENTS, "count": len(files)},
            field="attachments",
        )
    accepted = []
    for position, upload in enumerate(files, start=1):
        # As sent: a dangerous name is refused and the message names the file by its position instead.
        name = uploads.name_as_sent(upload)
        try:
            checked = uploads.check_upload(name, upload, max_bytes=MAX_ATTACHMENT_BYTES, allowed=ATTACHMENT_TYPES)
        except uploads.UploadRejected as refused:
            record_event(
                "hotline.attachment_refused",
                actor=actor,
                target="hotline.WorkOrder",
                detail={"code": refused.code, "position": position, "size": upload.size},
            )
            shown = _shown_name(name, position)
            raise HotlineError(
                refused.code,
                _("附件“%(name)s”未被接收：%(reason)s") % {"name": shown, "reason": refused.message},
                field="attachments",
                file=shown,
            ) from refused
        if checked.content_type in PHOTO_TYPES:
            # The copy that is kept carries no metadata; checked again so its size and checksum are its own.
            upload = uploads.without_metadata(upload, checked.content_type)
            checked = uploads.check_upload(name, upload, max_bytes=MAX_ATTACHMENT_BYTES, allowed=ATTACHMENT_TYPES)
        accepted.append(CheckedAttachment(checked, upload))
    return accepted


def store_attachments(order: WorkOrder, files: Sequence[CheckedAttachment], *, actor: Any) -> list[Attachment]:
    """Store checked files with ``order``, inside the caller's transaction: a rollback deletes them again."""
    uploader = actor if getattr(actor, "is_authenticated", False) else None
    stored = []
    for item in files:
        item.stream.seek(0)
        storage_name = uploads.store_in_transaction(item.checked, item.stream)
        attachment = Attachment.objects.create(
            work_order=order,
            name=item.checked.safe_name,
            content_type=item.checked.content_type,
            size=item.checked.size,
            sha256=item.checked.sha256,
            storage_name=storage_name,
            uploaded_by=uploader,
        )
        record_event(
            "hotline.attachment_added",
            actor=uploader,
            target=f"hotline.WorkOrder:{order.number}",
            detail={
                "attachment": attachment.pk,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
                "scan": item.checked.scan_status,
            },
        )
        stored.append(attachment)
    return stored
