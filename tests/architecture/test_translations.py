"""The English catalogue is complete: every string marked in src/ is in it, translated, with its placeholders, compiled.

Pure Python on purpose: `make test` installs no GNU gettext, so neither msgfmt nor xgettext (which
`makemessages` drives) can be counted on. The catalogue is read by a small PO parser; the strings of
the source are found the way `makemessages` asks xgettext to find them: calls of the gettext family in
Python files (ast), and in templates the same calls in the code Django's own ``templatize`` turns a
template into. The committed ``.mo`` is compared with the ``.po``, so a forgotten `compilemessages`
fails too.

To fix a failure: ``cd src/yiwang && yiwang makemessages -l en --no-location --no-obsolete``, translate
what is new or fuzzy, then ``yiwang compilemessages -l en``.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils.translation.template import templatize

import yiwang

SOURCE_ROOT = Path(yiwang.__file__).parent  # where `makemessages` runs
CATALOGUE = SOURCE_ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")

# name -> (index of msgctxt, index of msgid, index of msgid_plural), as makemessages' --keyword options
# and xgettext's defaults for Python say.
KEYWORDS: dict[str, tuple[int | None, int, int | None]] = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}
TEMPLATE_SUFFIXES = {".html", ".txt"}  # makemessages' default extensions for the django domain, besides .py

Key = tuple[str | None, str]  # (msgctxt, msgid)


@dataclass
class Entry:
    line: int
    msgid: str = ""
    context: str | None = None
    plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> Key:
        return (self.context, self.msgid)

    def label(self) -> str:
        context = f"[{self.context}] " if self.context else ""
        return f"line {self.line}: {context}{self.msgid!r}"


# ---- the catalogue ----------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_KEYWORD_LINE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def _unquote(text: str, line: int) -> str:
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"line {line}: not a quoted string: {text}")

    def escape(match: re.Match[str]) -> str:
        if match.group(1) not in _ESCAPES:
            raise ValueError(f"line {line}: unknown escape \\{match.group(1)}")
        return _ESCAPES[match.group(1)]

    body = text[1:-1]
    if re.search(r'(?<!\\)(?:\\\\)*"', body):
        raise ValueError(f"line {line}: unescaped quote in {text}")
    return re.sub(r"\\(.)", escape, body)


def _set_field(entry: Entry, name: str, index: str | None, value: str) -> None:
    if name == "msgctxt":
        entry.context = value
    elif name == "msgid":
        entry.msgid = value
    elif name == "msgid_plural":
        entry.plural = value
    else:
        entry.msgstr[int(index or 0)] = value


def _append_field(entry: Entry, name: str, index: str | None, value: str) -> None:
    if name == "msgctxt":
        entry.context = (entry.context or "") + value
    elif name == "msgid":
        entry.msgid += value
    elif name == "msgid_plural":
        entry.plural = (entry.plural or "") + value
    else:
        entry.msgstr[int(index or 0)] += value


def parse_po(text: str) -> list[Entry]:
    """The live entries of a PO file (the header included, obsolete ``#~`` ones left out)."""
    entries: list[Entry] = []
    entry: Entry | None = None
    current: tuple[str, str | None] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            entry, current = None, None
            continue
        if entry is None:
            entry = Entry(line=number)
            entries.append(entry)
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD_LINE.match(line):
            current = (match.group(1).split("[")[0], match.group(2))
            _set_field(entry, *current, _unquote(match.group(3), number))
        elif line.startswith('"') and current is not None:
            _append_field(entry, *current, _unquote(line, number))
        else:
            raise ValueError(f"line {number}: cannot read {raw!r}")
    return entries


def _catalogue() -> tuple[dict[str, str], list[Entry]]:
    entries = parse_po(CATALOGUE.read_text(encoding="utf-8"))
    header = [entry for entry in entries if entry.msgid == "" and entry.context is None]
    assert len(header) == 1, "the catalogue needs exactly one header entry"
    meta = dict(line.split(":", 1) for line in header[0].msgstr[0].splitlines() if ":" in line)
    return {name.strip(): value.strip() for name, value in meta.items()}, [e for e in entries if e not in header]


def _plural_count(meta: dict[str, str]) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", meta.get("Plural-Forms", ""))
    assert match, "the header has no Plural-Forms"
    return int(match.group(1))


# ---- placeholders -----------------------------------------------------------------------------------

_PERCENT = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<conversion>[a-zA-Z%])")
_BRACE = re.compile(r"(?<!\{)\{(\w*)(?:[!:][^{}]*)?\}(?!\})")


@dataclass(frozen=True)
class Placeholders:
    named: frozenset[str]  # "%(name)s" and "{name}", kept with their conversion
    positional: tuple[str, ...]  # "%s", "%d" in order

    def __le__(self, other: Placeholders) -> bool:
        return self.named <= other.named and set(self.positional) <= set(other.positional)


def placeholders(text: str, python_format: bool) -> Placeholders:
    named = {f"{{{name}}}" for name in _BRACE.findall(text)}
    positional: list[str] = []
    if python_format:
        for match in _PERCENT.finditer(text):
            if match.group("conversion") == "%":
                continue
            if match.group("name") is None:
                positional.append("%" + match.group("conversion"))
            else:
                named.add(f"%({match.group('name')}){match.group('conversion')}")
    return Placeholders(frozenset(named), tuple(positional))


def _placeholder_problem(entry: Entry, plurals: int) -> str | None:
    python_format = "python-format" in entry.flags or _PERCENT.search(entry.msgid.replace("%%", "")) is not None
    source = placeholders(entry.msgid, python_format)
    if entry.plural is None:
        found = placeholders(entry.msgstr.get(0, ""), python_format)
        return None if found == source else f"{entry.label()} has {set(found.named)}, needs {set(source.named)}"
    plural = placeholders(entry.plural, python_format)
    allowed = Placeholders(source.named | plural.named, source.positional + plural.positional)
    forms = [placeholders(entry.msgstr.get(index, ""), python_format) for index in range(plurals)]
    # A singular form may leave the number out ("One case"); the last form must keep every placeholder.
    if all(form <= allowed for form in forms) and forms[-1] == plural:
        return None
    return f"{entry.label()}: plural forms {[set(form.named) for form in forms]}, need {set(plural.named)}"


# ---- the strings of the source ----------------------------------------------------------------------


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _keys_from_arguments(name: str, arguments: list[str | None]) -> Iterator[Key]:
    context_at, msgid_at, _plural_at = KEYWORDS[name]
    needed = [index for index in (context_at, msgid_at) if index is not None]
    if len(arguments) <= max(needed) or any(arguments[index] is None for index in needed):
        return  # xgettext skips a call whose message is not a literal, and so do we
    context = arguments[context_at] if context_at is not None else None
    yield (context, arguments[msgid_at] or "")


def python_keys(source: str) -> Iterator[Key]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _call_name(node) in KEYWORDS:
            arguments = [
                argument.value if isinstance(argument, ast.Constant) and isinstance(argument.value, str) else None
                for argument in node.args
            ]
            yield from _keys_from_arguments(_call_name(node) or "", arguments)


def _calls_in_line(line: str) -> Iterator[tuple[str, list[str | None]]]:
    """gettext-family calls in one line of templatize() output: blanked text around literal calls."""
    tokens = [token for token in tokenize.generate_tokens(io.StringIO(line).readline) if token.string.strip()]
    for position, token in enumerate(tokens[:-1]):
        if token.type != tokenize.NAME or token.string not in KEYWORDS or tokens[position + 1].string != "(":
            continue
        arguments: list[str | None] = []
        pending: list[str] = []
        for argument in tokens[position + 2 :]:
            if argument.type == tokenize.STRING:
                pending.append(ast.literal_eval(argument.string))
                continue
            arguments.append("".join(pending) if pending else None)
            pending = []
            if argument.string != ",":
                break
        yield token.string, arguments


def template_keys(source: str, origin: str) -> Iterator[Key]:
    for line in templatize(source, origin=origin).splitlines():
        if "(" in line:
            for name, arguments in _calls_in_line(line.strip()):
                yield from _keys_from_arguments(name, arguments)


def _source_files() -> Iterator[Path]:
    for path in sorted(SOURCE_ROOT.rglob("*")):
        relative = path.relative_to(SOURCE_ROOT)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts) or not path.is_file():
            continue
        if path.suffix == ".py" or path.suffix in TEMPLATE_SUFFIXES:
            yield path


def source_keys() -> dict[Key, str]:
    """Every (msgctxt, msgid) marked for translation under src/yiwang, with the first file that marks it."""
    found: dict[Key, str] = {}
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(SOURCE_ROOT))
        keys = python_keys(text) if path.suffix == ".py" else template_keys(text, where)
        for key in keys:
            found.setdefault(key, where)
    return found


# ---- the tests --------------------------------------------------------------------------------------


def test_every_entry_is_translated_and_none_is_fuzzy() -> None:
    meta, entries = _catalogue()
    plurals = _plural_count(meta)
    assert meta.get("Language") == "en"
    assert "charset=UTF-8" in meta.get("Content-Type", "")
    fuzzy = [entry.label() for entry in entries if "fuzzy" in entry.flags]
    untranslated = [
        entry.label()
        for entry in entries
        if any(not entry.msgstr.get(index) for index in (range(plurals) if entry.plural is not None else [0]))
    ]
    assert fuzzy == []
    assert untranslated == []


def test_translations_keep_the_placeholders_of_their_source() -> None:
    meta, entries = _catalogue()
    plurals = _plural_count(meta)
    problems = [problem for entry in entries if (problem := _placeholder_problem(entry, plurals))]
    assert problems == []


def test_each_message_appears_once() -> None:
    _meta, entries = _catalogue()
    keys = [entry.key for entry in entries]
    assert sorted({key for key in keys if keys.count(key) > 1}, key=str) == []


def test_the_compiled_catalogue_is_the_catalogue() -> None:
    """The committed .mo holds exactly the translated entries of the .po: `compilemessages` was run."""
    _meta, entries = _catalogue()
    expected: dict[object, str] = {}
    for entry in entries:
        if "fuzzy" in entry.flags or not all(entry.msgstr.values()):
            continue
        msgid = entry.msgid if entry.context is None else f"{entry.context}\x04{entry.msgid}"
        if entry.plural is None:
            expected[msgid] = entry.msgstr[0]
        else:
            expected.update({(msgid, index): text for index, text in entry.msgstr.items()})
    with COMPILED.open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
    assert {key: value for key, value in catalog.items() if key != ""} == expected


def test_every_string_marked_in_the_source_is_in_the_catalogue() -> None:
    _meta, entries = _catalogue()
    catalogued = {entry.key for entry in entries}
    marked = source_keys()
    assert len(marked) > 100, "the extraction found almost nothing: is it still looking in the right place?"
    missing = sorted(
        f"{where}: {key[1]!r}" + (f" [{key[0]}]" if key[0] else "")
        for key, where in marked.items()
        if key not in catalogued
    )
    assert missing == []


# ---- the checks check -------------------------------------------------------------------------------


def test_the_extraction_finds_what_makemessages_finds() -> None:
    python = (
        'x = _("甲")\ny = pgettext_lazy("action", "乙")\nz = translation.ngettext("%(n)s个", "%(n)s个", n)\n_(name)'
    )
    assert list(python_keys(python)) == [(None, "甲"), ("action", "乙"), (None, "%(n)s个")]
    template = (
        '{% load i18n %}<h1>{% translate "丙" %}</h1>{% translate "丁" context "menu" as t %}'
        "{% blocktranslate with n=x %}共{{ n }}件，100%{% endblocktranslate %}{{ _('戊') }}"
    )
    assert list(template_keys(template, "t.html")) == [
        (None, "丙"),
        ("menu", "丁"),
        (None, "共%(n)s件，100%%"),
        (None, "戊"),
    ]


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        (Entry(line=1, msgid="共%(n)s件", msgstr={0: "%(n)s cases"}, flags={"python-format"}), True),
        (Entry(line=1, msgid="共%(n)s件", msgstr={0: "%(count)s cases"}, flags={"python-format"}), False),
        (Entry(line=1, msgid="“{item}”已提交", msgstr={0: "“{itme}” submitted"}), False),
        (Entry(line=1, msgid="共%(n)s件", plural="共%(n)s件", msgstr={0: "One case", 1: "%(n)s cases"}), True),
        (Entry(line=1, msgid="共%(n)s件", plural="共%(n)s件", msgstr={0: "%(n)s case", 1: "Cases"}), False),
    ],
)
def test_a_changed_placeholder_is_caught(entry: Entry, ok: bool) -> None:
    assert (_placeholder_problem(entry, 2) is None) is ok


def test_the_parser_reads_flags_context_plurals_and_continuations() -> None:
    text = (
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#, fuzzy, python-format\n#| msgid "旧"\nmsgctxt "action"\n'
        'msgid ""\n"甲%(n)s"\n"乙"\nmsgstr "A \\"%(n)s\\""\n\n'
        'msgid "丙"\nmsgid_plural "丙们"\nmsgstr[0] "C"\nmsgstr[1] ""\n\n#~ msgid "废"\n#~ msgstr "Old"\n'
    )
    header, first, second = parse_po(text)
    assert header.msgstr == {0: "Language: en\n"}
    assert (first.context, first.msgid, first.msgstr, first.flags) == (
        "action",
        "甲%(n)s乙",
        {0: 'A "%(n)s"'},
        {"fuzzy", "python-format"},
    )
    assert (second.plural, second.msgstr) == ("丙们", {0: "C", 1: ""})
    with pytest.raises(ValueError, match="line 1"):
        parse_po('msgid "a"b"\nmsgstr ""\n')
