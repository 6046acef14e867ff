"""Keep the file name the browser sent, so that a dangerous one is refused rather than quietly cleaned.

Django's multipart parser cuts the path off a file name and drops characters
it cannot print before anyone sees it: ``../../etc/passwd.pdf`` arrives as
``passwd.pdf``, ``invoice<U+202E>fdp.pdf`` as ``invoicefdp.pdf``, and ``..``
drops the file altogether. docs/uploads.md promises that such names are
refused (``unsafe_name``), which needs the name as sent. The parser here
keeps Django's cleaned name for ``UploadedFile.name`` (temporary files and
anything else that uses it stay safe) and records the name as sent as
``client_name`` on the file; ``check_upload`` checks that one.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import ImmutableList, MultiValueDict

CLIENT_NAME_ATTRIBUTE = "client_name"
# The name given to a file whose name Django would have emptied ("..", "a/"): kept, so that it can be refused.
_PLACEHOLDER_NAME = "upload"


class ClientNameParser(MultiPartParser):
    """Django's parser, recording each file's name as sent on the file as ``client_name``."""

    _client_name: str | None = None
    _files: MultiValueDict[str, UploadedFile]  # set by MultiPartParser.parse

    def sanitize_file_name(self, file_name: str) -> str | None:
        # Django unescapes HTML entities first ("&#47;" is a "/"); so does the name we keep.
        self._client_name = html.unescape(file_name)
        cleaned = super().sanitize_file_name(file_name)
        if cleaned is None and self._client_name.strip():
            return _PLACEHOLDER_NAME
        return cleaned

    def handle_file_complete(self, old_field_name: str, counters: list[int]) -> None:
        files = self._files.getlist(old_field_name)
        before = len(files)
        super().handle_file_complete(old_field_name, counters)
        files = self._files.getlist(old_field_name)
        if len(files) > before and self._client_name is not None:
            setattr(files[-1], CLIENT_NAME_ATTRIBUTE, self._client_name)
        self._client_name = None


def name_as_sent(upload: object) -> str:
    """The file name the browser sent, when the upload came through :class:`ClientNameParser`; else its name."""
    sent = getattr(upload, CLIENT_NAME_ATTRIBUTE, None)
    return sent if isinstance(sent, str) else str(getattr(upload, "name", "") or "")


def _parse_file_upload(
    request: HttpRequest, meta: Any, post_data: Any
) -> tuple[QueryDict, MultiValueDict[str, UploadedFile]]:
    # What HttpRequest.parse_file_upload does, with the parser above.
    request.upload_handlers = ImmutableList(
        request.upload_handlers,
        warning="You cannot alter upload handlers after the upload has been processed.",
    )
    parser = ClientNameParser(meta, post_data, request.upload_handlers, request.encoding)
    return parser.parse()


class ClientFileNameMiddleware:
    """Parse multipart bodies with :class:`ClientNameParser`; must come before anything reads ``request.POST``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.parse_file_upload = partial(_parse_file_upload, request)  # type: ignore[method-assign]
        return self.get_response(request)
