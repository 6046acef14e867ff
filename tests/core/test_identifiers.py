import pytest

from yiwang.core.identifiers import (
    credit_code_check_character,
    credit_code_problem,
    division_code_problem,
    make_credit_code,
    parse_implementation_code,
)

# Real, published credit codes (government bodies in the shared county list).
REAL_CREDIT_CODES = ["115113010833722043", "11511301008778183N", "1151130108778239R".rjust(18, "1")]


def test_real_credit_codes_validate() -> None:
    assert credit_code_problem("115113010833722043") is None
    assert credit_code_problem("11511301008778183N") is None


def test_made_credit_code_has_valid_check_characters() -> None:
    code = make_credit_code("11", "990100", "99000001")
    assert len(code) == 18
    assert credit_code_problem(code) is None
    assert credit_code_check_character(code[:17]) == code[17]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("11511301008778183", "18位"),
        ("11511301008778183M", "校验位"),
        ("11511301008778I83N", "不允许的字符"),
        ("11AB1301008778183N", "行政区划"),
    ],
)
def test_bad_credit_codes_are_explained(code: str, reason: str) -> None:
    problem = credit_code_problem(code)
    assert problem is not None and reason in problem


def test_division_codes() -> None:
    assert division_code_problem("511602") is None
    assert division_code_problem("511602000000") is None
    assert division_code_problem("5116") is not None
    assert division_code_problem("001602") is not None


def test_parse_implementation_code() -> None:
    parsed = parse_implementation_code("511A0138000000-511602000000-000-115113010833722043-1-00")
    assert parsed.base_code == "511A0138000000"
    assert parsed.division_code == "511602000000"
    assert parsed.credit_code == "115113010833722043"
    assert str(parsed) == "511A0138000000-511602000000-000-115113010833722043-1-00"
    with pytest.raises(ValueError, match="事项编码格式"):
        parse_implementation_code("511A0138000000-5116-000-x-1-00")


# --- personal documents and mobile numbers ----------------------------------

import datetime as dt  # noqa: E402

from yiwang.core.identifiers import (  # noqa: E402
    DocumentType,
    document_problem,
    foreign_permanent_residence_problem,
    hk_macau_permit_problem,
    make_resident_id,
    mobile_problem,
    normalise_document_number,
    normalise_mobile,
    passport_problem,
    resident_id_check_character,
    resident_id_problem,
    taiwan_permit_problem,
)

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the worked example of GB 11643-1999 (check character X)
        "440308199901101512",
        "810000199408230021",  # 港澳居民居住证 sample published by Beijing police
        "830000199201300022",  # 台湾居民居住证 sample published by Beijing police
        "990102199003071233",  # fictional demo region 99
    ],
)
def test_valid_resident_ids(number: str) -> None:
    assert resident_id_problem(number, today=TODAY) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "校验位"),  # the standard's example with a wrong check digit
        ("11010519491231002x", "前17位应为数字"),  # not normalised: lower-case x
        ("440524188001010014", "出生日期无效"),  # GB 11643's own 1880 example: before 1900
        ("110105194902301234", "出生日期无效"),  # 30 February
        ("110105194913011234", "出生日期无效"),  # month 13
        ("000105194912310021", "地址码"),
        ("910105194912310021", "地址码"),  # 9x is the foreigners' range, not a province
        ("1101051949123100", "18位"),
        ("1101051949123100211", "18位"),
        ("11010519491231002Ⅹ", "前17位应为数字"),  # Roman numeral ten, not X
        ("１１０１０５１９４９１２３１００２Ｘ", "前17位应为数字"),  # full-width, not normalised
        ("", "18位"),
        ("1" * 10_000, "18位"),
    ],
)
def test_bad_resident_ids_are_explained(number: str, reason: str) -> None:
    problem = resident_id_problem(number, today=TODAY)
    assert problem is not None and reason in problem


def test_future_birth_date_is_refused_but_today_is_fine() -> None:
    born_today = make_resident_id("110105", "20261122", "001")
    born_tomorrow = make_resident_id("110105", "20261123", "001")
    assert resident_id_problem(born_today, today=TODAY) is None
    problem = resident_id_problem(born_tomorrow, today=TODAY)
    assert problem is not None and "晚于今天" in problem


def test_without_a_date_today_is_beijing_today() -> None:
    assert resident_id_problem(make_resident_id("110105", "20991231", "001")) is not None
    assert resident_id_problem(make_resident_id("110105", "19991231", "001")) is None


def test_make_resident_id_builds_valid_numbers() -> None:
    for sequence in range(0, 1000, 37):
        number = make_resident_id("990102", "19850615", f"{sequence:03d}")
        assert resident_id_problem(number, today=TODAY) is None
        assert number[17] == resident_id_check_character(number[:17])
    assert {make_resident_id("990102", "19850615", f"{s:03d}")[17] for s in range(100)} >= {"X", "0"}
    with pytest.raises(ValueError, match="区划代码"):
        make_resident_id("9901", "19850615", "001")


@pytest.mark.parametrize("number", ["H12345678", "M87654321", "H1234567800", "M8765432101"])
def test_valid_hk_macau_permits(number: str) -> None:
    assert hk_macau_permit_problem(number) is None


@pytest.mark.parametrize(
    "number", ["K12345678", "12345678", "H1234567", "H123456789", "H12345678001", "HA1234567", "h12345678"]
)
def test_bad_hk_macau_permits(number: str) -> None:
    assert hk_macau_permit_problem(number) is not None


def test_taiwan_permits() -> None:
    assert taiwan_permit_problem("07257456") is None
    for bad in ["1234567", "123456789", "F290299977", "1234567A", "１２３４５６７８", "1234567\n"]:
        assert taiwan_permit_problem(bad) is not None, bad


def test_foreign_permanent_residence_cards() -> None:
    assert foreign_permanent_residence_problem("911840198001010013", today=TODAY) is None  # 2023 form
    assert foreign_permanent_residence_problem("931156200002290025", today=TODAY) is None  # born 29 Feb 2000
    assert foreign_permanent_residence_problem("USA310085040312") is None  # 2017 form
    cases = {
        "911840198001010014": "校验位",
        "811840198001010013": "应以9开头",
        "900840198001010013": "受理地",
        "911840198002300013": "出生日期无效",
        "911840203001010013": "晚于今天",
        "US1310085040312": "3位字母",
        "USA31008504031": "18位",
    }
    for number, reason in cases.items():
        problem = foreign_permanent_residence_problem(number, today=TODAY)
        assert problem is not None and reason in problem, number


def test_passports() -> None:
    for good in ["E12345678", "EA1234567", "G1234567", "C01X00T47", "123456789", "X1234"]:
        assert passport_problem(good) is None, good
    # Last two: Cyrillic Е, and a trailing newline (which a bare "$" in a pattern lets through).
    for bad in ["E123", "E1234567-8", "E 12345678", "ABCDEFGHIJKLMNOPQRSTU", "Е12345678", "E1234567\n"]:
        assert passport_problem(bad) is not None, bad


@pytest.mark.parametrize(
    ("document_type", "number", "valid"),
    [
        (DocumentType.RESIDENT_ID, "11010519491231002X", True),
        (DocumentType.RESIDENT_ID, "110105194912310021", False),
        (DocumentType.HK_MACAU_PERMIT, "H12345678", True),
        (DocumentType.HK_MACAU_PERMIT, "11010519491231002X", False),
        (DocumentType.TAIWAN_PERMIT, "07257456", True),
        (DocumentType.FOREIGN_PERMANENT_RESIDENCE, "911840198001010013", True),
        (DocumentType.PASSPORT, "E12345678", True),
        ("passport", "E12345678", True),  # plain strings from forms work too
        (DocumentType.PASSPORT, "", False),
        (DocumentType.PASSPORT, "E" * 1_000_000, False),
    ],
)
def test_document_problem_dispatches_on_type(document_type: str, number: str, valid: bool) -> None:
    assert (document_problem(document_type, number) is None) is valid


def test_document_problem_messages() -> None:
    assert document_problem("driving_licence", "E12345678") == "不支持的证件类型"
    assert document_problem(DocumentType.PASSPORT, "") == "请填写证件号码"
    assert document_problem(DocumentType.PASSPORT, "E" * 100) == "证件号码过长"


def test_document_type_labels_are_chinese() -> None:
    assert dict(DocumentType.choices)["resident_id"] == "居民身份证"
    assert dict(DocumentType.choices)["foreign_permanent_residence"] == "外国人永久居留身份证"


def test_normalise_document_number() -> None:
    assert normalise_document_number(DocumentType.RESIDENT_ID, " 110105 19491231 002x\n") == "11010519491231002X"
    assert (
        normalise_document_number(DocumentType.RESIDENT_ID, "１１０１０５１９４９１２３１００２ｘ")
        == "11010519491231002X"
    )
    assert normalise_document_number(DocumentType.PASSPORT, "e1234\u30005678") == "E12345678"
    assert normalise_document_number(DocumentType.HK_MACAU_PERMIT, "h12345678") == "H12345678"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+86-13812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
    ],
)
def test_normalise_mobile(raw: str, normalised: str) -> None:
    assert normalise_mobile(raw) == normalised
    assert mobile_problem(normalise_mobile(raw)) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("12812345678", "13至19"),
        ("10012345678", "13至19"),
        ("1381234567", "11位"),
        ("138123456789", "11位"),
        ("1381234567a", "11位"),
        ("１３８１２３４５６７８", "11位"),  # full-width digits are not normalised by the validator
        ("", "11位"),
        ("1" * 100_000, "11位"),
    ],
)
def test_bad_mobiles(number: str, reason: str) -> None:
    problem = mobile_problem(number)
    assert problem is not None and reason in problem
