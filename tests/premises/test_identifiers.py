import pytest

from premises.identifiers import (
    InvalidIdentifier,
    normalize_certificate_number,
    normalize_esi_id,
    normalize_meter_number,
    tdu_for_esi_id,
)
from premises.models import Tdu

ONCOR = Tdu(code="ONCOR", name="Oncor", esi_id_prefixes="1044372 1017699", esi_id_length=17)
CENTERPOINT = Tdu(
    code="CENTERPOINT", name="CenterPoint", esi_id_prefixes="1008901", esi_id_length=22
)
TDUS = [ONCOR, CENTERPOINT]


@pytest.mark.parametrize(
    "raw",
    [
        "10443720001234567",
        "1044372 000 1234 567",
        "10443-72000-1234567",
        "'10443720001234567",
        "  '1044 3720-0012 34567  ",
        "10443720001234567\t",
    ],
)
def test_spaces_dashes_and_a_leading_apostrophe_are_removed_from_an_esi_id(raw):
    assert normalize_esi_id(raw) == "10443720001234567"


def test_a_22_digit_centerpoint_esi_id_is_kept_whole():
    assert normalize_esi_id("1008901 0238 0123 4567 100") == "1008901023801234567100"


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("1044372000123456A", "only digits"),
        ("10443720001234567.0", "only digits"),
        ("１0443720001234567", "only digits"),
        ("104437200012345", "17 or 22"),
        ("104437200012345678", "17 or 22"),
        ("20443720001234567", "begin with 10"),
        ("", "empty"),
        ("' - ", "empty"),
        ("''10443720001234567", "only digits"),
    ],
)
def test_an_esi_id_with_letters_or_the_wrong_length_or_prefix_is_rejected(raw, reason):
    with pytest.raises(InvalidIdentifier, match=reason):
        normalize_esi_id(raw)


def test_an_esi_id_is_matched_to_the_tdu_of_its_prefix():
    assert tdu_for_esi_id("10176990001234567", TDUS) is ONCOR
    assert tdu_for_esi_id("1008901023801234567100", TDUS) is CENTERPOINT


def test_a_centerpoint_esi_id_cut_to_17_digits_is_not_taken_for_another_premise():
    with pytest.raises(InvalidIdentifier, match="must have 22 digits, not 17"):
        tdu_for_esi_id("10089010238012345", TDUS)


def test_an_esi_id_of_no_known_tdu_is_rejected():
    with pytest.raises(InvalidIdentifier, match="known TDU prefix"):
        tdu_for_esi_id("10999990001234567", TDUS)


@pytest.mark.parametrize("raw", ["10166X", "10166x", " 10166X "])
def test_a_certificate_number_with_a_letter_is_accepted(raw):
    assert normalize_certificate_number(raw) == "10166X"


@pytest.mark.parametrize("raw", ["", "ACME", "10-004", "10166XY", "123"])
def test_a_malformed_certificate_number_is_rejected(raw):
    with pytest.raises(InvalidIdentifier):
        normalize_certificate_number(raw)


def test_a_meter_number_loses_spaces_and_dashes_and_is_upper_cased():
    assert normalize_meter_number(" 123-456 78a ") == "12345678A"


def test_a_meter_number_with_punctuation_is_rejected():
    with pytest.raises(InvalidIdentifier):
        normalize_meter_number("123/456")


@pytest.mark.parametrize(
    "raw", ["12345678ß", "ﬀ1234567", "1234567ı", "１２３４５６７８９", "١٢٣٤٥"]
)
def test_a_meter_number_with_letters_or_digits_outside_ascii_is_rejected_not_upper_cased(raw):
    # "ß".upper() is "SS": upper-casing first would turn these into valid numbers.
    with pytest.raises(InvalidIdentifier):
        normalize_meter_number(raw)


@pytest.mark.parametrize("raw", ["10004ı", "10166ﬀ", "١٠٠٠٤", "１０００４"])
def test_a_certificate_number_with_characters_outside_ascii_is_rejected(raw):
    with pytest.raises(InvalidIdentifier):
        normalize_certificate_number(raw)
