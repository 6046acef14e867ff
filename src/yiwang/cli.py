"""The ``yiwang`` console command: Django's management commands plus our own.

``yiwang serve``, ``yiwang migrate``, ``yiwang seed``, ``yiwang import-catalog``
and ``yiwang export-catalog`` are ordinary management commands; dashes are
accepted in their names so the command reads naturally in a shell.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
