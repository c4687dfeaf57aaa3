"""Normalisation and validation of the identifiers customers and CSPs type.

The glossary's rules, in one place: ESI IDs are all digits, begin with ``10``
and a TDU's code, and are never padded or truncated; customers paste them with
spaces, dashes or a spreadsheet's leading apostrophe, which are removed.
Anything else is rejected with a reason.
"""

import re

ESI_ID_LENGTHS = (17, 22)
_ESI_ID_SEPARATORS = re.compile(r"[\s\-]+")
_METER_NUMBER = re.compile(r"^[A-Z0-9]{1,32}$")
_CERTIFICATE_NUMBER = re.compile(r"^[0-9]{4,6}[A-Z]?$")


# The normalised forms, as published in the API's OpenAPI document: patterns an
# ECMA-262 engine (and schemathesis's generator) reads as Python does — ASCII
# classes, anchors, no lookbehind. What normalisation removes first (spaces,
# dashes, an ESI ID's leading apostrophe; lower-case letters are upper-cased)
# is accepted too. tests/csp_registry/test_api_docs.py holds them to the rules above.
ESI_ID_PATTERN = r"^10[0-9]{15}(?:[0-9]{5})?$"
METER_NUMBER_PATTERN = r"^[A-Za-z0-9]{1,32}$"
CERTIFICATE_NUMBER_PATTERN = r"^[0-9]{4,6}[A-Za-z]?$"


class InvalidIdentifier(ValueError):
    """An identifier that cannot be normalised; ``str()`` says why."""


def normalize_esi_id(raw):
    if not isinstance(raw, str):
        raise InvalidIdentifier("ESI ID must be text")
    value = raw.strip()
    if value.startswith("'"):
        value = value[1:]
    value = _ESI_ID_SEPARATORS.sub("", value)
    if not value:
        raise InvalidIdentifier("ESI ID is empty")
    if not value.isascii() or not value.isdigit():
        raise InvalidIdentifier("ESI ID must contain only digits")
    if not value.startswith("10"):
        raise InvalidIdentifier("ESI ID must begin with 10")
    if len(value) not in ESI_ID_LENGTHS:
        raise InvalidIdentifier("ESI ID must have 17 or 22 digits")
    return value


def normalize_meter_number(raw):
    if not isinstance(raw, str):
        raise InvalidIdentifier("meter number must be text")
    value = _ESI_ID_SEPARATORS.sub("", raw.strip())
    if not value:
        raise InvalidIdentifier("meter number is empty")
    # ASCII before upper(): "ß".upper() is "SS", "ı".upper() is "I".
    value = value.upper() if value.isascii() else value
    if not _METER_NUMBER.match(value):
        raise InvalidIdentifier("meter number must be letters and digits (at most 32)")
    return value


def normalize_certificate_number(raw):
    if not isinstance(raw, str):
        raise InvalidIdentifier("certificate number must be text")
    value = raw.strip()
    value = value.upper() if value.isascii() else value  # as for meter numbers
    if not _CERTIFICATE_NUMBER.match(value):
        raise InvalidIdentifier(
            "certificate number must be 4 to 6 digits, optionally followed by one letter"
        )
    return value


def tdu_for_esi_id(esi_id, tdus):
    """The TDU among ``tdus`` whose prefix and length fit a normalised ESI ID.

    ``tdus`` is any iterable of objects with ``prefixes`` and ``esi_id_length``
    (``Tdu`` rows, loaded once by the caller so a feed of a million rows makes
    no query per row). The length is checked against the TDU the prefix names,
    so a CenterPoint ID cut to 17 digits is rejected rather than taken for
    another premise.
    """
    for tdu in tdus:
        if any(esi_id.startswith(prefix) for prefix in tdu.prefixes):
            if len(esi_id) != tdu.esi_id_length:
                raise InvalidIdentifier(
                    f"a {tdu.name} ESI ID must have {tdu.esi_id_length} digits, not {len(esi_id)}"
                )
            return tdu
    raise InvalidIdentifier("ESI ID does not begin with a known TDU prefix")
