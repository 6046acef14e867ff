"""Names fixed by the wire format (docs/exchange-nodes.md): paths, headers, covered components, refusal codes."""

from __future__ import annotations

from typing import Final

MESSAGES_PATH: Final = "/exchange/v1/messages"
CONTENT_TYPE: Final = "application/json"

# Header fields of the profile, by their lower-case names (HTTP field names are case-insensitive).
FROM_HEADER: Final = "exchange-from"
TO_HEADER: Final = "exchange-to"
KIND_HEADER: Final = "exchange-kind"
MESSAGE_ID_HEADER: Final = "exchange-message-id"
IN_REPLY_TO_HEADER: Final = "exchange-in-reply-to"

REQUEST_TAG: Final = "yiwang-exchange-request"
RESPONSE_TAG: Final = "yiwang-exchange-response"

# Covered components, in the order they are signed. A receiver requires at least these (in any order).
REQUEST_COMPONENTS: Final = (
    "@method",
    "@target-uri",
    "content-digest",
    "content-type",
    FROM_HEADER,
    TO_HEADER,
    KIND_HEADER,
    MESSAGE_ID_HEADER,
)
RESPONSE_COMPONENTS: Final = (
    "@status",
    "content-digest",
    "content-type",
    FROM_HEADER,
    TO_HEADER,
    KIND_HEADER,
    MESSAGE_ID_HEADER,
    IN_REPLY_TO_HEADER,
)

# Node codes and kinds: short ASCII names that travel in headers and key ids.
CODE_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
KIND_PATTERN: Final = r"[a-z][a-z0-9_.-]{0,63}"
NONCE_PATTERN: Final = r"[A-Za-z0-9_-]{16,64}"

PING: Final = "ping"

# Why a receiver refused a message: the code in the signed refusal, and its HTTP status.
REFUSALS: Final = {
    "signature_missing": 401,
    "signature_malformed": 400,
    "unknown_key": 401,
    "message_too_old": 401,
    "message_from_future": 401,
    "digest_mismatch": 400,
    "bad_signature": 401,
    "wrong_recipient": 421,
    "replayed": 409,
    "bad_body": 400,
    "unknown_kind": 404,
    "handler_failed": 500,
}
# A handler's own refusal (a ServiceError) answers with this status and the handler's code.
HANDLER_REFUSAL_STATUS: Final = 422
OK: Final = "ok"
