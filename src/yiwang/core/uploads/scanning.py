"""Virus scanning: the configured scanner (ClamAV's clamd, or the EICAR demo), failing closed."""

from __future__ import annotations

import logging
import socket
import struct
from typing import IO

from django.conf import settings
from django.utils.module_loading import import_string

from .base import CHUNK_SIZE, Scanner, ScannerError, ScanResult, ScanStatus, UploadRejected

logger = logging.getLogger(__name__)


# Split so that no scanner flags this source file itself.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()


def eicar_scan(stream: IO[bytes]) -> ScanResult:
    """Demo and test scanner: finds the EICAR test string anywhere in the file, and nothing else.

    It proves the scanner hook works (``make run`` uses it outside production); it is
    no protection, and production refuses to start with it.
    """
    overlap = b""
    while chunk := stream.read(CHUNK_SIZE):
        window = overlap + chunk
        if EICAR in window:
            return ScanResult(clean=False, signature="Eicar-Test-Signature")
        overlap = window[-(len(EICAR) - 1) :]
    return ScanResult(clean=True)


def _clamd_connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("unix:"):
        address = address.removeprefix("unix:").removeprefix("//")
    if address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock
    host, _colon, port = address.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        raise ScannerError(f"CLAMD_ADDRESS must be host:port or a socket path, not {address!r}")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def clamd_scan(stream: IO[bytes]) -> ScanResult:
    """Scan with a ClamAV daemon at ``CLAMD_ADDRESS`` (host:port or a unix socket path) using INSTREAM."""
    address = str(getattr(settings, "CLAMD_ADDRESS", "") or "")
    if not address:
        raise ScannerError("CLAMD_ADDRESS is not set")
    timeout = float(getattr(settings, "CLAMD_TIMEOUT", 30.0))
    with _clamd_connect(address, timeout) as sock:
        sock.sendall(b"zINSTREAM\0")
        while chunk := stream.read(CHUNK_SIZE):
            sock.sendall(struct.pack("!L", len(chunk)) + chunk)
        sock.sendall(struct.pack("!L", 0))
        reply = b""
        while not reply.endswith(b"\0"):
            data = sock.recv(4096)
            if not data or len(reply) > 4096:
                break
            reply += data
    text = reply.rstrip(b"\0").decode("utf-8", errors="replace").strip()
    # "stream: OK" or "stream: <signature> FOUND"; anything else ("... ERROR") is no verdict.
    verdict = text.partition(": ")[2]
    if verdict == "OK":
        return ScanResult(clean=True)
    if verdict.endswith(" FOUND"):
        return ScanResult(clean=False, signature=verdict.removesuffix(" FOUND"))
    raise ScannerError(f"clamd answered {text!r}")


def configured_scanner() -> Scanner | None:
    """The scanner named by ``YIWANG_VIRUS_SCANNER``, or None when scanning is switched off."""
    path = str(getattr(settings, "YIWANG_VIRUS_SCANNER", "") or "").strip()
    if not path or path.lower() == "none":
        return None
    scanner: Scanner = import_string(path)
    return scanner


def scan(stream: IO[bytes]) -> str:
    scanner = configured_scanner()
    if scanner is None:
        return ScanStatus.NOT_SCANNED.value
    stream.seek(0)
    try:
        result = scanner(stream)
        if not isinstance(result, ScanResult):
            raise ScannerError(f"the scanner returned {result!r}")
    except Exception as error:
        # Fail closed: a file nobody could scan is not accepted as if it had been.
        logger.warning("Virus scanner failed; upload refused: %r", error)
        raise UploadRejected("scanner_unavailable") from error
    if not result.clean:
        logger.warning("Virus scanner found %s in an upload", result.signature)
        raise UploadRejected("virus_found", signature=result.signature or "")
    return ScanStatus.CLEAN.value
