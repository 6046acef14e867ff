"""Checks of a serving process: ``yiwang serve`` (and ``yiwang check --deploy``) refuse to start on an Error.

They are deployment checks with a tag of their own, so ``migrate`` and
``collectstatic`` (which runs before the files exist) never run them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.checks import CheckMessage, Error, register
from django.core.files.storage import storages

SERVING = "yiwang_serving"
COLLECT_HINT = "Run `yiwang collectstatic --no-input` (STATIC_ROOT must be the directory it writes to)."
# collectstatic's own default ignore patterns.
IGNORED = ["CVS", ".*", "*~"]


def _source_static_names() -> Iterator[str]:
    """The names collectstatic would copy, from every finder (the apps' and STATICFILES_DIRS)."""
    for finder in finders.get_finders():
        for path, storage in finder.list(IGNORED):
            prefix = getattr(storage, "prefix", None)
            yield (os.path.join(prefix, path) if prefix else path).replace(os.sep, "/")


@register(SERVING, deploy=True)
def collected_static_files(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With a manifest storage (production), the collected files must be there and up to date.

    Without them every page that names a static file fails with a 500 (the
    manifest has no entry for it), so the server must not start.
    """
    unreadable = Error(
        f"The static files manifest in {settings.STATIC_ROOT} is unreadable.", hint=COLLECT_HINT, id="yiwang.E001"
    )
    try:
        storage = storages.create_storage(settings.STORAGES["staticfiles"])
    except ValueError:  # a manifest storage refuses a manifest it cannot parse
        return [unreadable]
    if not isinstance(storage, ManifestFilesMixin):
        return []  # served straight from the source folders (development)
    raw = storage.read_manifest()
    if raw is None:
        return [Error(f"No collected static files in {settings.STATIC_ROOT}.", hint=COLLECT_HINT, id="yiwang.E001")]
    try:
        collected = json.loads(raw)["paths"]
    except (ValueError, KeyError, TypeError):
        return [unreadable]
    missing = sorted(set(_source_static_names()) - set(collected))
    if missing:
        return [
            Error(
                f"{len(missing)} static files were not collected (e.g. {missing[0]}): the collection is out of date.",
                hint=COLLECT_HINT,
                id="yiwang.E002",
            )
        ]
    return []
