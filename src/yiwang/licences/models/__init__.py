"""Tables of 五电; one module per concern, re-exported here for Django and the app's own modules."""

from yiwang.licences.models.archive import ArchiveEntry, ArchiveKind, ArchiveLog, ArchiveLogKey, TreeHead

__all__ = ["ArchiveEntry", "ArchiveKind", "ArchiveLog", "ArchiveLogKey", "TreeHead"]
