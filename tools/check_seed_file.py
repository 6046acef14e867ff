"""Check one seed department file's shape (a development aid for writers of seed data).

Usage: python3 tools/check_seed_file.py src/yiwang/catalog/seed/departments/01-police.json
"""

import json
import sys
from pathlib import Path

KINDS = {
    "licensing",
    "penalty",
    "enforcement",
    "levy",
    "payment",
    "inspection",
    "confirmation",
    "reward",
    "adjudication",
    "other_power",
    "public_service",
}
FORMS = {"original", "copy", "original_and_copy", "electronic"}
REQ = {"required", "conditional", "optional"}
SOURCES = {"applicant", "shared_data", "e_licence", "issued"}
CHANNELS = {"online", "mobile", "counter", "kiosk", "mail"}
LEVELS = {"national", "provincial", "city", "county", "township"}
ROOT = Path(__file__).resolve().parent.parent
THEMES = {t["code"] for t in json.loads((ROOT / "src/yiwang/catalog/seed/themes.json").read_text())}


def check(path: Path) -> list[str]:
    errors = []
    data = json.loads(path.read_text(encoding="utf-8"))
    dept = data["department"]
    for key in ("code", "name", "level", "division", "windows"):
        if key not in dept:
            errors.append(f"department: missing {key}")
    if dept.get("level") not in LEVELS:
        errors.append("department: bad level")
    windows = {w["name"] for w in dept.get("windows", [])}
    names = set()
    for i, item in enumerate(data["items"]):
        where = f"item {i} {item.get('name')}"
        if item.get("name") in names:
            errors.append(f"{where}: duplicate name")
        names.add(item.get("name"))
        for key in (
            "name",
            "kind",
            "audience",
            "themes",
            "keywords",
            "legal_basis",
            "conditions",
            "materials",
            "steps",
            "statutory_days",
            "promised_days",
            "fees",
            "online_depth",
            "channels",
            "visits_required",
            "result_name",
            "summary",
        ):
            if key not in item:
                errors.append(f"{where}: missing {key}")
        if item.get("kind") not in KINDS:
            errors.append(f"{where}: bad kind {item.get('kind')}")
        if item.get("audience") not in {"person", "organisation", "both"}:
            errors.append(f"{where}: bad audience")
        if not set(item.get("themes", [])) <= THEMES:
            errors.append(f"{where}: unknown themes {set(item.get('themes', [])) - THEMES}")
        if not item.get("materials"):
            errors.append(f"{where}: no materials")
        for m in item.get("materials", []):
            if (
                m.get("form", "original") not in FORMS
                or m.get("requirement", "required") not in REQ
                or m.get("source", "applicant") not in SOURCES
                or not m.get("name")
            ):
                errors.append(f"{where}: bad material {m}")
            if m.get("requirement") == "conditional" and not m.get("condition"):
                errors.append(f"{where}: conditional material without condition: {m.get('name')}")
        if len(item.get("steps", [])) < 2:
            errors.append(f"{where}: fewer than 2 steps")
        if item.get("online_depth") not in (1, 2, 3, 4):
            errors.append(f"{where}: bad online_depth")
        if not set(item.get("channels", [])) <= CHANNELS:
            errors.append(f"{where}: bad channels")
        sd, pd = item.get("statutory_days"), item.get("promised_days")
        if sd is not None and pd is not None and pd > sd:
            errors.append(f"{where}: promised_days > statutory_days")
        for f in item.get("fees", []):
            try:
                float(f["amount"])
            except (KeyError, ValueError):
                errors.append(f"{where}: bad fee {f}")
        if not set(item.get("windows", [])) <= windows:
            errors.append(f"{where}: unknown windows")
        if item.get("level") and item["level"] not in LEVELS:
            errors.append(f"{where}: bad level")
    return errors


if __name__ == "__main__":
    total = 0
    for arg in sys.argv[1:]:
        errs = check(Path(arg))
        n = len(json.loads(Path(arg).read_text())["items"])
        total += n
        print(f"{arg}: {n} items, {len(errs)} problems")
        for e in errs:
            print("  ", e)
    print("total items", total)
