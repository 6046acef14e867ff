"""The structure check for one content type (what a file, or a member of a ZIP, must pass)."""

from __future__ import annotations

from typing import IO

from .base import JPEG, PDF, PNG
from .images import inspect_image
from .pdf import inspect_pdf


def inspect_content(content_type: str, stream: IO[bytes]) -> None:
    if content_type == PDF:
        inspect_pdf(stream)
    elif content_type in {PNG, JPEG}:
        inspect_image(stream, content_type)
