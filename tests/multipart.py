"""Multipart bodies written by hand: Django's test client cuts the path off a file name before sending it,
and a hostile browser does not."""

from __future__ import annotations

from typing import Any

from django.test import Client

BOUNDARY = "----yiwang-test-boundary-7MA4YWxkTrZu0gW"


def multipart_body(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> bytes:
    """``files`` are (field, file name exactly as sent, content)."""
    parts = []
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for field, file_name, content in files:
        header = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(header.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post_multipart(
    client: Client, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes]], **extra: Any
) -> Any:
    return client.generic(
        "POST",
        path,
        multipart_body(fields, files),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **extra,
    )
