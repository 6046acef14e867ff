"""Reads of 五电; one module per concern, the public face re-exported here.

- ``licences``: the wallet, a licence and its history and shares, public status, staff lists, 六减 records;
- ``documents``: sealed case documents (受理回执, 补正告知书 …) and what the case pages show of them;
- ``archive``: archive entries as their case's viewers may see them, proofs, tree heads, checking a proof.
"""

from yiwang.licences.selectors.archive import (
    ProofCheck,
    case_archive,
    check_proof_bundle,
    entry_proof_bundle,
    is_archived,
    latest_tree_head,
    public_log_keys,
)
from yiwang.licences.selectors.documents import (
    case_document,
    case_documents,
    case_records,
    decision_of,
    document_by_id,
)
from yiwang.licences.selectors.licences import (
    PublicStatus,
    WalletEntry,
    get_licence,
    get_managed_type,
    get_own_licence,
    get_own_share,
    history,
    holder_shares,
    licences_for_staff,
    materials_saved,
    materials_saved_count,
    public_status,
    shares_of,
    type_departments,
    types_for_material,
    types_for_staff,
    types_managed,
    wallet,
    wallet_entries,
    wallet_entry,
    wallet_materials,
)

__all__ = [
    "ProofCheck",
    "PublicStatus",
    "WalletEntry",
    "case_archive",
    "case_document",
    "case_documents",
    "case_records",
    "check_proof_bundle",
    "decision_of",
    "document_by_id",
    "entry_proof_bundle",
    "get_licence",
    "get_managed_type",
    "get_own_licence",
    "get_own_share",
    "history",
    "holder_shares",
    "is_archived",
    "latest_tree_head",
    "licences_for_staff",
    "materials_saved",
    "materials_saved_count",
    "public_log_keys",
    "public_status",
    "shares_of",
    "type_departments",
    "types_for_material",
    "types_for_staff",
    "types_managed",
    "wallet",
    "wallet_entries",
    "wallet_entry",
    "wallet_materials",
]
