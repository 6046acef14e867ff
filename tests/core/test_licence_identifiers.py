"""电子证照标识 (GB/T 36904): structure, the ISO 7064 MOD 37,36 check character, refusal of a wrong one."""

from __future__ import annotations

import pytest

from yiwang.core.identifiers import (
    iso7064_mod37_36_check_character,
    licence_identifier_problem,
    make_credit_code,
    make_licence_identifier,
    parse_licence_identifier,
)

ISSUER = make_credit_code("11", "990100", "MB0001X1")
TYPE_CODE = ISSUER + "001"


def test_a_made_identifier_has_the_structure_and_a_check_character_that_validates() -> None:
    identifier = make_licence_identifier(TYPE_CODE, ISSUER, 42, version=3)
    arc, type_code, issuer, serial, version, check = identifier.rsplit(".", 5)
    assert arc == "1.2.156.3005.2" and type_code == TYPE_CODE and issuer == ISSUER
    assert serial == "00000042" and version == "003" and len(check) == 1
    assert licence_identifier_problem(identifier) is None
    body = identifier[:-2].replace(".", "")
    assert iso7064_mod37_36_check_character(body) == check


def test_the_check_character_catches_every_single_character_change_and_most_adjacent_swaps() -> None:
    """ISO 7064 hybrid systems detect every substitution and most (not all) transpositions."""
    identifier = make_licence_identifier(TYPE_CODE, ISSUER, 7)
    body = identifier[:-2].replace(".", "")
    check = iso7064_mod37_36_check_character(body)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for position, original in enumerate(body):
        for replacement in alphabet:
            if replacement != original:
                changed = body[:position] + replacement + body[position + 1 :]
                assert iso7064_mod37_36_check_character(changed) != check
    swaps = caught = 0
    for position in range(len(body) - 1):
        a, b = body[position], body[position + 1]
        if a != b:
            swaps += 1
            swapped = body[:position] + b + a + body[position + 2 :]
            caught += iso7064_mod37_36_check_character(swapped) != check
    assert caught / swaps >= 0.9


def test_the_hybrid_algorithm_matches_a_published_mod_11_10_value() -> None:
    # The same algorithm with modulus 10 is ISO 7064 MOD 11,10 (Croatian OIB 69435151530 ends in its check 0);
    # checked here to show the generic steps are the standard's, which MOD 37,36 applies with modulus 36.
    modulus, product = 10, 10
    for digit in "6943515153":
        product = (((product + int(digit)) % modulus or modulus) * 2) % (modulus + 1)
    assert (modulus + 1 - product) % modulus == 0


@pytest.mark.parametrize(
    ("identifier", "reason"),
    [
        ("1.2.156.3005.2.ABC", "格式"),
        ("2.2.156.3005.2." + TYPE_CODE + "." + ISSUER + ".00000001.001.0", "格式"),
        ("1.2.156.3005.2." + TYPE_CODE + "." + ISSUER + ".00000001.1.0", "格式"),
        ("x" * 200, "过长"),
    ],
)
def test_malformed_identifiers_are_explained(identifier: str, reason: str) -> None:
    problem = licence_identifier_problem(identifier)
    assert problem is not None and reason in problem


def test_a_wrong_check_character_is_refused_on_input() -> None:
    identifier = make_licence_identifier(TYPE_CODE, ISSUER, 1)
    wrong = identifier[:-1] + ("A" if identifier[-1] != "A" else "B")
    assert licence_identifier_problem(wrong) == "电子证照标识校验位错误，请核对"
    with pytest.raises(ValueError, match="校验位"):
        parse_licence_identifier(wrong)
    # Input is normalised: full-width characters, lower case and spaces are accepted.
    typed = " " + identifier.lower().replace("1", "１") + " "
    assert str(parse_licence_identifier(typed)) == identifier
