"""A custom import-linter contract: apps reach each other only through their public face.

import-linter's built-in contracts check layers and forbidden modules; this
one checks, for every import from one app into another, that the imported
module is one the other app publishes (its package, ``services``,
``selectors``, ``constants`` …) — so a new private module is private from the
day it is written, without anyone listing it.
"""

from __future__ import annotations

from typing import Any

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class PublicFaceContract(Contract):
    """Configuration:

    - ``apps``: the app packages (``yiwang.cases`` …);
    - ``public``: the submodule names an app publishes to the others;
    - ``open_apps`` (optional): apps whose modules are public but for ``open_private`` (the shared kernel);
    - ``open_private`` (optional): the submodules an open app still keeps to itself (models, views …).
    """

    type_name = "public_face"

    apps = fields.ListField(subfield=fields.StringField())
    public = fields.ListField(subfield=fields.StringField())
    open_apps = fields.ListField(subfield=fields.StringField(), required=False)
    open_private = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        apps: list[str] = list(self.apps)  # type: ignore[call-overload]
        for app in apps:
            if app not in graph.modules:
                raise ValueError(f"public_face contract: app {app} is not in the import graph")
        violations: list[dict[str, Any]] = []
        for importer in sorted(graph.modules):
            importer_app = self._app_of(importer, apps)
            if importer_app is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                imported_app = self._app_of(imported, apps)
                if imported_app is None or imported_app == importer_app or self._is_public(imported, imported_app):
                    continue
                details = graph.get_import_details(importer=importer, imported=imported)
                lines = [detail["line_number"] for detail in details]
                violations.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    @staticmethod
    def _app_of(module: str, apps: list[str]) -> str | None:
        for app in apps:
            if module == app or module.startswith(app + "."):
                return app
        return None

    def _is_public(self, module: str, app: str) -> bool:
        if module == app:
            return True
        relative = module[len(app) + 1 :]
        if app in set(self.open_apps or []):  # type: ignore[call-overload]
            return relative.split(".")[0] not in set(self.open_private or [])  # type: ignore[call-overload]
        return relative in set(self.public)  # type: ignore[call-overload]

    def render_broken_contract(self, check: ContractCheck) -> None:
        public = ", ".join(sorted(self.public))  # type: ignore[call-overload]
        output.print_error(f"An app may import another app's package or its public modules only ({public}):")
        output.new_line()
        for violation in check.metadata["violations"]:
            where = ", ".join(f"l.{line}" for line in violation["lines"])
            output.print_error(f"- {violation['importer']} imports {violation['imported']} ({where})", bold=False)
        output.new_line()
