"""Every catalog the repository ships, the kit's and the demo's: complete, in step with the
sources, compiled, and in use.

Adding a string end to end: mark it, ``make messages``, translate it in every catalog
(drop any ``fuzzy`` flag), ``make messages`` again, commit the .po and .mo files (the
Makefile's ``messages`` target says more). Until then these tests name what is missing.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.html import escape

from tests.processes import ROOT, run_demo

#: The two sets of catalogs, and the source tree each is made from (``make messages``).
SETS = {"kit": ROOT / "liveops_htmx", "demo": ROOT / "demo"}
#: Plural rule of each language: the number of forms, and the form some counts take.
#: A new language needs its line here (and its Plural-Forms header checked).
PLURAL_RULES: dict[str, tuple[int, dict[int, int]]] = {
    "de": (2, {0: 1, 1: 0, 2: 1, 5: 1, 21: 1}),
    "es": (2, {0: 1, 1: 0, 2: 1, 5: 1, 21: 1}),
    "fr": (2, {0: 0, 1: 0, 2: 1, 5: 1, 21: 1}),
    "it": (2, {0: 1, 1: 0, 2: 1, 5: 1, 21: 1}),
    "ja": (1, {0: 0, 1: 0, 2: 0, 5: 0, 21: 0}),
    "nl": (2, {0: 1, 1: 0, 2: 1, 5: 1, 21: 1}),
    # one: 1; few: 2-4, 22-24, 102-104 but not 12-14; many: the rest (0, 5-21, 25-31...).
    "pl": (3, {0: 2, 1: 0, 2: 1, 4: 1, 5: 2, 11: 2, 12: 2, 14: 2, 21: 2, 22: 1, 25: 2, 104: 1}),
    "pt_BR": (2, {0: 0, 1: 0, 2: 1, 5: 1, 21: 1}),
}
MIN_LANGUAGES = 8


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: list[str] = field(default_factory=list)  # one, or one per plural form
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header first (obsolete ``#~`` entries are left out)."""
    entries: list[Entry] = []
    flags: set[str] = set()
    context: str | None = None
    current: Entry | None = None
    target: tuple[str, int] | None = None  # which string continuation lines extend

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if current is None and target == ("msgctxt", 0):
                context = (context or "") + ast.literal_eval(line)
                continue
            assert current is not None and target is not None, f"{path}:{number}: {raw}"
            name, index = target
            text = ast.literal_eval(line)
            if name == "msgid":
                current.msgid += text
            elif name == "msgid_plural":
                current.msgid_plural = (current.msgid_plural or "") + text
            else:
                current.msgstr[index] += text
            continue
        keyword, _, value = line.partition(" ")
        text = ast.literal_eval(value)
        if keyword == "msgctxt":
            context, current, target = text, None, ("msgctxt", 0)
        elif keyword == "msgid":
            current = Entry(msgid=text, msgctxt=context, flags=flags, line=number)
            entries.append(current)
            flags, context, target = set(), None, ("msgid", 0)
        elif keyword == "msgid_plural":
            assert current is not None, f"{path}:{number}: {raw}"
            current.msgid_plural, target = text, ("msgid_plural", 0)
        elif keyword == "msgstr" or re.fullmatch(r"msgstr\[\d+\]", keyword):
            assert current is not None, f"{path}:{number}: {raw}"
            index = int(keyword[7:-1]) if "[" in keyword else 0
            assert index == len(current.msgstr), f"{path}:{number}: forms out of order"
            current.msgstr.append(text)
            target = ("msgstr", index)
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    return entries


def header(entries: list[Entry]) -> dict[str, str]:
    first = entries[0]
    assert first.msgid == "" and first.msgctxt is None, "a catalog starts with its header"
    pairs = (line.partition(":") for line in first.msgstr[0].splitlines() if line)
    return {name.strip(): value.strip() for name, _, value in pairs}


def locales(base: Path) -> list[str]:
    return sorted(p.name for p in (base / "locale").glob("*") if (p / "LC_MESSAGES").is_dir())


def po_path(set_name: str, locale: str) -> Path:
    return SETS[set_name] / "locale" / locale / "LC_MESSAGES" / "django.po"


CATALOGS = [(name, loc) for name, base in SETS.items() for loc in locales(base)]
CATALOG_IDS = [f"{name}-{loc}" for name, loc in CATALOGS]


def demo_languages() -> list[str]:
    """The codes of ``LANGUAGES`` in demo/settings.py (read, not imported: importing the
    settings makes the demo's run folder and key)."""
    tree = ast.parse((ROOT / "demo" / "settings.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "LANGUAGES" for t in node.targets
        ):
            assert isinstance(node.value, ast.List)
            codes = []
            for item in node.value.elts:
                assert isinstance(item, ast.Tuple) and isinstance(item.elts[0], ast.Constant)
                codes.append(item.elts[0].value)
            return codes
    raise AssertionError("demo/settings.py has no LANGUAGES list")


def makefile_locales() -> list[str]:
    found = re.search(r"^LOCALES\s*:?=(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert found, "the Makefile has no LOCALES line"
    return sorted(found.group(1).split())


# Placeholders: %(name)d, %s, %%-free; {name}, {0}, {} (doubled braces are text).
PERCENT = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([a-zA-Z%])")
BRACES = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def placeholders(text: str) -> tuple[Counter[str], list[str], Counter[str]]:
    """Named %-placeholders (any order), positional ones (in order), brace fields."""
    named: Counter[str] = Counter()
    positional: list[str] = []
    for match in PERCENT.finditer(text):
        name, conversion = match.groups()
        if conversion == "%":
            continue
        if name is None:
            positional.append(match.group(0))
        else:
            named[match.group(0)] += 1
    fields = Counter(m.group(1) for m in BRACES.finditer(text) if m.group(1) is not None)
    return named, positional, fields


# -- what ships -----------------------------------------------------------------------


def test_at_least_eight_languages_ship_for_the_kit_and_the_demo_alike():
    kit, demo = locales(SETS["kit"]), locales(SETS["demo"])
    assert len(kit) >= MIN_LANGUAGES, kit
    assert kit == demo, "the kit and the demo ship the same languages"
    for base in SETS.values():
        for loc in locales(base):
            assert (base / "locale" / loc / "LC_MESSAGES" / "django.po").is_file()


def test_every_shipped_language_is_offered_by_the_demo_and_regenerated_by_make():
    codes = demo_languages()
    assert codes[0] == "en" and len(set(codes)) == len(codes), codes
    shipped = sorted(set(locales(SETS["kit"])) | set(locales(SETS["demo"])))
    # pt_BR's catalog is the language pt-br: what LocaleMiddleware matches pt-BR against.
    assert sorted(translation.to_language(loc) for loc in shipped) == sorted(codes[1:])
    assert makefile_locales() == shipped, "LOCALES in the Makefile lists every catalog"


# -- each catalog ---------------------------------------------------------------------


@pytest.mark.parametrize(("set_name", "locale"), CATALOGS, ids=CATALOG_IDS)
def test_every_message_is_translated_and_none_is_fuzzy(set_name, locale):
    path = po_path(set_name, locale)
    entries = parse_po(path)
    head = header(entries)
    assert locale in PLURAL_RULES, f"{locale}: add its plural rule to PLURAL_RULES"
    forms = PLURAL_RULES[locale][0]
    problems = []
    if "fuzzy" in entries[0].flags:
        problems.append("the header is fuzzy: check it (Plural-Forms) and drop the flag")
    if head.get("Language") != locale:
        problems.append(f"the header says Language: {head.get('Language')!r}")
    if f"nplurals={forms};" not in head.get("Plural-Forms", "").replace(" ", ""):
        problems.append(f"Plural-Forms is not {forms} forms: {head.get('Plural-Forms')!r}")
    for entry in entries[1:]:
        where = f"line {entry.line} {entry.msgid!r}"
        if "fuzzy" in entry.flags:
            problems.append(f"{where}: fuzzy (check the guess, then drop the flag)")
        if entry.msgid_plural is not None and len(entry.msgstr) != forms:
            problems.append(f"{where}: {len(entry.msgstr)} plural forms, not {forms}")
        if not entry.msgstr or not all(s.strip() for s in entry.msgstr):
            problems.append(f"{where}: not translated")
    assert len(entries) > 1, f"{path} has no messages"
    assert not problems, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(("set_name", "locale"), CATALOGS, ids=CATALOG_IDS)
def test_the_plural_rule_picks_the_right_form(set_name, locale):
    forms, samples = PLURAL_RULES[locale]
    rule = header(parse_po(po_path(set_name, locale)))["Plural-Forms"]
    expression = re.search(r"plural=(.*?);?\s*$", rule)
    assert expression, rule
    pick = gettext.c2py(expression.group(1))
    assert {n: pick(n) for n in samples} == samples, rule
    assert all(0 <= pick(n) < forms for n in range(1000)), rule


@pytest.mark.parametrize(("set_name", "locale"), CATALOGS, ids=CATALOG_IDS)
def test_placeholders_are_kept_in_every_form(set_name, locale):
    problems = []
    for entry in parse_po(po_path(set_name, locale))[1:]:
        expected = placeholders(entry.msgid)
        if entry.msgid_plural is not None and placeholders(entry.msgid_plural) != expected:
            problems.append(f"{entry.msgid!r}: the English forms differ")
        for index, text in enumerate(entry.msgstr):
            if text and placeholders(text) != expected:
                problems.append(f"{entry.msgid!r} [{index}]: {text!r}")
    assert not problems, "placeholders differ:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(("set_name", "locale"), CATALOGS, ids=CATALOG_IDS)
def test_the_compiled_catalog_is_the_po_file(set_name, locale):
    po = po_path(set_name, locale)
    mo = po.with_suffix(".mo")
    assert mo.is_file(), f"{mo.relative_to(ROOT)} is missing: run `make messages`"
    with mo.open("rb") as stream:
        compiled = dict(gettext.GNUTranslations(stream)._catalog)
    compiled.pop("", None)
    expected: dict[object, str] = {}
    for entry in parse_po(po)[1:]:
        if "fuzzy" in entry.flags:
            continue
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            if entry.msgstr[0]:
                expected[msgid] = entry.msgstr[0]
        elif all(entry.msgstr):
            expected.update({(msgid, i): text for i, text in enumerate(entry.msgstr)})
    assert compiled == expected, f"{mo.relative_to(ROOT)} is stale: run `make messages`"


# -- in step with the sources ----------------------------------------------------------


def extract(set_name: str, where: Path) -> set[tuple[str | None, str, str | None]]:
    """The messages ``make messages`` would put in a catalog of ``set_name`` now: the same
    extraction, run on a copy of the sources (the repository is left alone)."""
    copy = where / set_name
    shutil.copytree(
        SETS[set_name],
        copy,
        ignore=shutil.ignore_patterns("locale", "static", ".run", "__pycache__"),
    )  # symlinks followed: the kit's templates are copied in
    (copy / "locale").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "en", "--keep-pot"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {e.key for e in parse_po(copy / "locale" / "django.pot")[1:]}


@pytest.mark.parametrize("set_name", list(SETS))
def test_every_catalog_has_exactly_the_messages_of_the_sources(set_name, tmp_path):
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        if os.environ.get("CI"):
            pytest.fail("GNU gettext (xgettext, msgmerge) is needed to compare with the sources")
        pytest.skip("GNU gettext (xgettext, msgmerge) is not installed")
    wanted = extract(set_name, tmp_path)
    assert wanted, "no messages found in the sources"
    problems = []
    for loc in locales(SETS[set_name]):
        have = {e.key for e in parse_po(po_path(set_name, loc))[1:]}
        missing = sorted(m[1] for m in wanted - have)
        if missing:
            problems.append(f"{loc}: missing {missing}")
        gone = sorted(m[1] for m in have - wanted)
        if gone:
            problems.append(f"{loc}: no longer in the sources {gone}")
    assert not problems, "run `make messages`, then translate:\n  " + "\n  ".join(problems)


# -- in use ------------------------------------------------------------------------------


def translated(set_name: str, locale: str, msgid: str, n: int | None = None) -> str:
    for entry in parse_po(po_path(set_name, locale))[1:]:
        if entry.msgid == msgid and entry.msgctxt is None:
            if n is None:
                return entry.msgstr[0]
            rule = header(parse_po(po_path(set_name, locale)))["Plural-Forms"]
            pick = gettext.c2py(re.search(r"plural=(.*?);?\s*$", rule).group(1))
            return entry.msgstr[pick(n)]
    raise AssertionError(f"{msgid!r} is not in the {set_name} catalog for {locale}")


@pytest.mark.parametrize("locale", locales(SETS["kit"]))
def test_the_kit_speaks_each_language(report, locale):
    from liveops_htmx.rendering import fragments

    code = translation.to_language(locale)
    report.state = "running"
    report.progress = {"done": 3, "total": 40, "eta": 180}  # 3 minutes: the "few" form in Polish
    with translation.override(code):
        assert translation.get_language() == code
        cancel = translation.gettext("Cancel")
        status = fragments.render_part(report, "status")
        progress = fragments.render_part(report, "progress")
    assert cancel == translated("kit", locale, "Cancel") != "Cancel"
    running = translated("kit", locale, "Running")
    assert escape(running) in status and "Running" not in status
    eta = translated("kit", locale, "about %(n)d minute left", 3) % {"n": 3}
    assert escape(eta) in progress, progress
    assert escape(translated("kit", locale, "Progress")) in progress


DEMO_PAGES = """
import json
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client

pages = {}
for code, _name in settings.LANGUAGES:
    # What a browser sends: pt-BR, not pt-br.
    header = "-".join(p.upper() if i else p for i, p in enumerate(code.split("-")))
    page = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE=f"{header},en;q=0.5").get("/")
    pages[code] = {"status": page.status_code, "html": page.content.decode()}
print(json.dumps(pages))
"""


def test_the_demo_serves_each_language_to_a_browser_that_asks_for_it(tmp_path):
    pages = run_demo(DEMO_PAGES, tmp_path)
    assert list(pages) == demo_languages()
    for code, page in pages.items():
        assert page["status"] == 200, code
        html = page["html"]
        assert f'<html lang="{code}">' in html, code
        assert html.count("<option ") == len(pages), code  # the switch lists them all
        if code == "en":
            continue
        locale = translation.to_locale(code)
        heading = translated("demo", locale, "Start an operation")
        assert f"<h1>{escape(heading)}</h1>" in html, code
        assert escape(translated("demo", locale, "Switch")) in html, code
        assert escape(translated("demo", locale, "English")) in html, code
