"""Every state change of the licences app, one module per concern; other apps use this public face.

- ``seals``: department seals and staff keys, ``seal_document`` / ``verify_document``;
- ``qr``: the QR payload codec (``encode_qr_payload`` / ``verify_qr_payload``), offline;
- ``trust``: this platform's signed trust list and the imported lists of other platforms;
- ``seal_types``: the published types (``SealedSignature``, ``Verification``, ``QrClaims``…).
"""
