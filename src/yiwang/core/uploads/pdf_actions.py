"""PDF actions that reach outside the document: script links, form submission, addresses opened by themselves.

A reviewer clicking an ordinary web link in a material is their choice; a
link that runs script, a form that sends its fields to an outside address,
or an address the viewer opens on its own when the file is opened or a page
shown, is not. ``check_actions`` is called on every dictionary of the file.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .base import UploadRejected

# Schemes a link may use; anything else with a scheme (javascript:, vbscript:, data:, file:...) is refused.
_LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
# Triggers that run an action without anyone clicking: opening the file, a page, a field, printing...
_AUTOMATIC_TRIGGERS = ("/OpenAction", "/AA")
# Actions that leave the document; run automatically, they send a request nobody asked for.
_OUTSIDE_ACTIONS = frozenset({"/URI", "/SubmitForm", "/GoToR", "/GoToE", "/Launch", "/ImportData"})
# A /Next chain longer than this is no ordinary document.
_MAX_CHAIN = 64


def check_actions(item: Any) -> None:
    """Refuse a dictionary that submits a form, links to a script scheme, or opens an outside action by itself."""
    action = _name(item.get("/S"))
    if action == "/SubmitForm":
        raise UploadRejected("pdf_outside_action")
    # /URI in a URI action; /Base in the catalogue's URI dictionary, which relative links resolve against.
    for key in ("/URI", "/Base"):
        if key in item:
            _check_uri(item[key])
    for trigger in _AUTOMATIC_TRIGGERS:
        if trigger in item:
            _check_automatic(item[trigger], trigger)


def _check_uri(value: Any) -> None:
    from pypdf.generic import ByteStringObject, TextStringObject

    value = _resolved(value)
    if isinstance(value, ByteStringObject):
        text = bytes(value).decode("latin-1")
    elif isinstance(value, TextStringObject):
        text = str(value)
    else:
        return  # a dictionary (the catalogue's /URI) is checked as a dictionary of its own
    # Browsers ignore spaces, tabs, line breaks and other invisible characters in "java\tscript:".
    folded = "".join(
        ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace() and unicodedata.category(ch)[0] != "C"
    ).lower()
    scheme = _SCHEME.match(folded)
    if scheme is not None and scheme.group(1) not in _LINK_SCHEMES:
        raise UploadRejected("pdf_outside_action")


def _check_automatic(value: Any, trigger: str) -> None:
    """The actions a trigger runs by itself, following each /Next chain, must all stay inside the document."""
    from pypdf.generic import ArrayObject, DictionaryObject

    value = _resolved(value)
    if trigger == "/AA" and isinstance(value, DictionaryObject):
        pending = [_resolved(action) for action in value.values()]
    else:
        pending = [value]  # /OpenAction: an action, or a destination array (which goes nowhere outside)
    steps = 0
    while pending:
        steps += 1
        if steps > _MAX_CHAIN:
            raise UploadRejected("pdf_outside_action")
        action = pending.pop()
        if not isinstance(action, DictionaryObject):
            continue
        if _name(action.get("/S")) in _OUTSIDE_ACTIONS:
            raise UploadRejected("pdf_outside_action")
        following = _resolved(action.get("/Next"))
        if isinstance(following, ArrayObject):
            pending.extend(_resolved(entry) for entry in following)
        elif following is not None:
            pending.append(following)


def _resolved(value: Any) -> Any:
    from pypdf.generic import IndirectObject

    return value.get_object() if isinstance(value, IndirectObject) else value


def _name(value: Any) -> str | None:
    from pypdf.generic import NameObject

    value = _resolved(value)
    return str(value) if isinstance(value, NameObject) else None
