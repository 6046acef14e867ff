"""Reads of 五电; one module per concern, the public face re-exported here.

- ``archive``: archive entries as their case's viewers may see them, proofs, tree heads, checking a proof.
"""

from yiwang.licences.selectors.archive import (
    ProofCheck,
    case_archive,
    check_proof_bundle,
    entry_proof_bundle,
    latest_tree_head,
    public_log_keys,
)

__all__ = [
    "ProofCheck",
    "case_archive",
    "check_proof_bundle",
    "entry_proof_bundle",
    "latest_tree_head",
    "public_log_keys",
]
