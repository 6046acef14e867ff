"""The materials storage: accepted files written under random names, verified, undone on rollback."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
import weakref
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from .base import CHUNK_SIZE, KINDS, STORAGE_ALIAS, STORED_NAME, CheckedUpload, StorageIntegrityError

logger = logging.getLogger(__name__)


def materials_storage() -> Storage:
    """The storage of application materials (``STORAGES["materials"]``)."""
    return storages[STORAGE_ALIAS]


def _valid_stored_name(storage_name: str) -> str:
    # Names only ever come from store(); anything else is a caller's bug or an attack.
    if not isinstance(storage_name, str) or not STORED_NAME.match(storage_name):
        raise ValueError(f"not a stored material name: {storage_name!r}")
    return storage_name


class _BoundedReader(io.IOBase):
    """The checked stream as the storage sees it: never more than the checked size, seekable within it.

    Whether the bytes are still the checked ones is verified afterwards, on
    what the storage wrote.
    """

    def __init__(self, stream: IO[bytes], size: int) -> None:
        super().__init__()
        self.stream = stream
        self.size = size
        self.position = 0
        stream.seek(0)

    def read(self, n: int | None = -1) -> bytes:
        left = self.size - self.position
        data = self.stream.read(left if n is None or n < 0 else min(n, left))
        self.position += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = min(max(base + offset, 0), self.size)
        self.stream.seek(self.position)
        return self.position

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


def store(checked: CheckedUpload, stream: IO[bytes] | UploadedFile) -> str:
    """Write a checked file to the materials storage and return its storage name (``YYYY/MM/<uuid>.<ext>``).

    The name never derives from the citizen's file name. The bytes written
    are read back and must match the checked size and SHA-256; otherwise
    the object is deleted and ``StorageIntegrityError`` raised.
    """
    storage = materials_storage()
    now = timezone.now()
    name = f"{now:%Y/%m}/{uuid.uuid4().hex}.{KINDS[checked.content_type].stored_extension}"
    raw: IO[bytes] = stream
    saved = storage.save(name, File(_BoundedReader(raw, checked.size), name=name))  # type: ignore[arg-type]
    if saved != name:
        _delete_quietly(storage, saved)
        raise StorageIntegrityError(f"the storage renamed {name} to {saved}")
    written = hashlib.sha256()
    written_size = 0
    with storage.open(name, "rb") as stored:
        for chunk in stored.chunks(CHUNK_SIZE):
            written.update(chunk)
            written_size += len(chunk)
    if written_size != checked.size or written.hexdigest() != checked.sha256:
        _delete_quietly(storage, name)
        raise StorageIntegrityError(f"{name} was not stored intact")
    return name


def open_stored(storage_name: str) -> IO[bytes]:
    """Open a stored material for reading (binary); the caller closes it."""
    return materials_storage().open(_valid_stored_name(storage_name), "rb")


def delete_stored(storage_name: str) -> None:
    """Delete a stored material; deleting one that is already gone is not an error."""
    materials_storage().delete(_valid_stored_name(storage_name))


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("Could not delete %s from the materials storage", name)


class _Outcome:
    committed = False


class _CommitHook:
    """Registered with on_commit; the only reference to it is Django's list of commit hooks.

    Django drops that list entry without calling it when the savepoint or
    transaction it belongs to rolls back, and this object is then freed at
    once (CPython frees by reference count); its finalizer deletes the file.
    """

    def __init__(self, outcome: _Outcome) -> None:
        self.outcome = outcome

    def __call__(self) -> None:
        self.outcome.committed = True


def _settle(storage_name: str, connection: Any, outcome: _Outcome) -> None:
    if outcome.committed:
        return
    # A hook also goes uncalled after a commit when an earlier on_commit hook
    # raised. A rollback frees ours while the connection is still inside its
    # transaction handling (in an atomic block, or autocommit still off);
    # only then is the file certainly unreferenced. Otherwise keep it: an
    # orphan is better than a committed row that points at nothing.
    if connection.in_atomic_block or not connection.autocommit:
        logger.info("Transaction rolled back; deleting stored material %s", storage_name)
        _delete_quietly(materials_storage(), storage_name)
    else:
        logger.warning("Commit of stored material %s could not be confirmed; the file is kept", storage_name)


def store_in_transaction(checked: CheckedUpload, stream: IO[bytes] | UploadedFile, *, using: str | None = None) -> str:
    """Store a checked file inside the caller's ``transaction.atomic()`` block; undo the write on rollback.

    Call it in the same atomic block that creates the row referring to the
    file. If that block (or the whole transaction) rolls back, the stored
    object is deleted at once; if it commits, the object stays.
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        raise RuntimeError("store_in_transaction() must be called inside transaction.atomic()")
    storage_name = store(checked, stream)
    outcome = _Outcome()
    hook = _CommitHook(outcome)
    finalizer = weakref.finalize(hook, _settle, storage_name, connection, outcome)
    # At interpreter exit the transaction's fate is unknown: leave the file.
    finalizer.atexit = False
    transaction.on_commit(hook, using=using)
    return storage_name
