"""Every state change of 五电; one module per concern, the public face re-exported here.

- ``archive``: the e-archive (电子档案): packages of finished cases and e-receipts sealed into the Merkle log.
"""

from yiwang.licences.services.archive import (
    ArchiveError,
    archive_case,
    archive_finished_cases,
    archive_receipts,
    rotate_log_key,
)

__all__ = ["ArchiveError", "archive_case", "archive_finished_cases", "archive_receipts", "rotate_log_key"]
