"""The Spanish catalogue: complete, and its committed .mo matches the .po (so a
fresh clone needs no msgfmt)."""

import gettext
import re
from pathlib import Path

from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"
ENTRY = re.compile(
    r'^msgid ((?:".*"\n)+)(?:msgid_plural (?:".*"\n)+)?((?:msgstr(?:\[\d\])? (?:".*"\n)+)+)',
    re.MULTILINE,
)


def _text(quoted):
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', quoted)
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), "".join(parts))


def _entries():
    for match in ENTRY.finditer(PO.read_text(encoding="utf-8")):
        msgid = _text(match.group(1))
        if msgid:
            yield msgid, _first_msgstr(match.group(2))


def _first_msgstr(block):
    # The whole of the first msgstr (or msgstr[0]): gettext tools wrap long
    # strings as 'msgstr ""' followed by continuation lines.
    first = re.match(r'msgstr(?:\[\d\])? ((?:".*"\n)+)', block)
    return _text(first.group(1))


def test_every_message_has_a_spanish_translation():
    missing = [msgid for msgid, translated in _entries() if not translated]
    assert missing == []


def test_the_compiled_catalogue_matches_the_source():
    with open(PO.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        msgid
        for msgid, translated in _entries()
        if compiled._catalog.get(msgid, compiled._catalog.get((msgid, 0))) != translated
    ]
    assert stale == []
