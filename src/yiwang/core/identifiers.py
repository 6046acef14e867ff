"""Identifiers of the national standards and their check characters.

Facts used here (see also ../shared/STACK-NOTES.md):

* 统一社会信用代码 (GB 32100-2015): 18 characters over a 31-character alphabet
  without I, O, Z, S, V; position weights are 3**i mod 31 and the check
  character is ``alphabet[(31 - sum % 31) % 31]``.  Positions 9-17 hold a
  GB 11714 organisation code with a check of its own.
* 行政区划代码: 6 digits (province, city, county) or 12 digits with township
  and village levels appended.
* Service-item implementation code, as published on provincial platforms:
  ``<base code>-<12-digit division>-000-<implementing body's credit code>-1-00``.
* Personal documents and mobile numbers: see the section further down.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import models
from django.utils.translation import gettext_lazy as _

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_CODE_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def credit_code_check_character(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters."""
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def organisation_code_check_character(first8: str) -> str:
    """Return the GB 11714 check character for an 8-character organisation code."""
    total = sum(_ORG_CODE_ALPHABET.index(c) * w for c, w in zip(first8, _ORG_CODE_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def credit_code_problem(code: str) -> str | None:
    """Explain, in Chinese, what is wrong with a unified social credit code, or return None."""
    if len(code) != 18:
        return "统一社会信用代码应为18位"
    if any(c not in CREDIT_CODE_ALPHABET for c in code):
        return "统一社会信用代码含有不允许的字符（不使用I、O、Z、S、V）"
    if not code[2:8].isdigit():
        return "统一社会信用代码第3至8位应为行政区划代码"
    if credit_code_check_character(code[:17]) != code[17]:
        return "统一社会信用代码校验位错误"
    return None


def make_credit_code(registration_type: str, division6: str, organisation_body: str) -> str:
    """Build a valid credit code from its parts (used for demo and test data)."""
    org8 = organisation_body.upper()
    org9 = org8 + organisation_code_check_character(org8)
    first17 = registration_type + division6 + org9
    return first17 + credit_code_check_character(first17)


DIVISION_CODE_RE = re.compile(r"[0-9]{6}([0-9]{6})?")


def division_code_problem(code: str) -> str | None:
    if not DIVISION_CODE_RE.fullmatch(code):
        return "行政区划代码应为6位或12位数字"
    if code[:2] == "00":
        return "行政区划代码的省级部分无效"
    return None


def full_division_code(code: str) -> str:
    """Widen a 6-digit division code to the 12-digit form."""
    return code if len(code) == 12 else code + "000000"


IMPLEMENTATION_CODE_RE = re.compile(
    r"^(?P<base>[0-9A-Z][0-9A-Z-]{3,40}?)-(?P<division>\d{12})-(?P<segment>\d{3})"
    r"-(?P<credit>[0-9A-Z]{18})-(?P<form>\d)-(?P<serial>\d{2})$",
    re.ASCII,  # \d must not match full-width or other scripts' digits
)


@dataclass(frozen=True)
class ImplementationCode:
    base_code: str
    division_code: str
    credit_code: str

    def __str__(self) -> str:
        return f"{self.base_code}-{self.division_code}-000-{self.credit_code}-1-00"


def parse_implementation_code(code: str) -> ImplementationCode:
    """Split an implementation code into its parts; ValueError with a Chinese reason if malformed."""
    match = IMPLEMENTATION_CODE_RE.match(code)
    if not match:
        raise ValueError("事项编码格式应为：基本编码-12位区划代码-000-实施主体统一社会信用代码-1-00")
    return ImplementationCode(match["base"], match["division"], match["credit"])


# --- Personal identity documents and mobile numbers -------------------------
#
# Facts relied on (the validators check shape and check characters only; they
# say nothing about whether a document exists):
#
# * 公民身份号码 (GB 11643-1999): 6-digit address code, 8-digit birth date
#   YYYYMMDD, 3-digit sequence, check character "10X98765432"[Σ dᵢ·wᵢ mod 11]
#   with weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 (ISO 7064 MOD 11-2).
#   The first two digits are a GB/T 2260 province-level code, or 83: the
#   港澳台居民居住证 issued since 2018 use the same format with address codes
#   810000, 820000 and 830000, and are accepted wherever an ID card is.
#   Province code 99 is NOT real: it is accepted only because the fictional
#   demo region (示范省, division 990000; see catalog/seed/README.md) uses it,
#   so demo and test people have well-formed numbers that belong to nobody.
# * 港澳居民来往内地通行证 (card form, issued since 1999): "H" (Hong Kong) or
#   "M" (Macao), an 8-digit lifelong number, then a 2-digit count of
#   replacements (00 for the first card).  Newer cards print only the first
#   9 characters as the number; systems built for the older card record all
#   11.  Both forms are accepted; a bare number without the letter is not.
# * 台湾居民来往大陆通行证 (card form, since 2015): 8 digits.  The booklet
#   form (10 digits plus a letter) was valid for at most 5 years, so none is
#   still in force; one-journey permits are not identity documents here.
# * 外国人永久居留身份证: since 2023-12-01, 18 characters: "9", a 2-digit
#   province code of the issuing place, a 3-digit numeric nationality code,
#   birth date YYYYMMDD, a 3-digit sequence and the GB 11643 check character
#   (National Immigration Administration, 新版永居证机读信息规则).  The 2017
#   and earlier cards, still valid until they expire, have 15 characters:
#   3 letters (nationality) and 12 digits; only that shape is checked, as no
#   published check character for it could be confirmed.
# * Passports of any country: 5-20 Latin letters and digits (ICAO 9303 allows
#   up to 9 in the machine-readable zone; some countries print longer ones).
# * Mainland mobile numbers: 11 digits starting 13-19.

_RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_RESIDENT_ID_CHECK = "10X98765432"
# GB/T 2260 province-level codes, 83 (Taiwan residents' residence permits),
# and 99 for the fictional demo region only.
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}
    | {"71", "81", "82", "83"}
    | {"99"}
)
DEMO_PROVINCE_CODE = "99"
_CHINA_TZ = ZoneInfo("Asia/Shanghai")
# Longer input is refused before any pattern is tried, so a pasted essay
# costs nothing to reject. Patterns say [0-9], not \d, which in Python also
# matches full-width and other scripts' digits; fullmatch, not ``$``, which
# also matches before a trailing newline.
MAX_DOCUMENT_NUMBER_LENGTH = 32

_RESIDENT_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
_HK_MACAU_PERMIT_RE = re.compile(r"[HM][0-9]{8}([0-9]{2})?")
_TAIWAN_PERMIT_RE = re.compile(r"[0-9]{8}")
_FOREIGN_PR_NEW_RE = re.compile(r"9[0-9]{16}[0-9X]")
_FOREIGN_PR_OLD_RE = re.compile(r"[A-Z]{3}[0-9]{12}")
_PASSPORT_RE = re.compile(r"[A-Z0-9]{5,20}")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")


class DocumentType(models.TextChoices):
    """Identity documents a person can register with (证件类型)."""

    RESIDENT_ID = "resident_id", _("居民身份证")
    HK_MACAU_PERMIT = "hk_macau_permit", _("港澳居民来往内地通行证")
    TAIWAN_PERMIT = "taiwan_permit", _("台湾居民来往大陆通行证")
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence", _("外国人永久居留身份证")
    PASSPORT = "passport", _("护照")


def resident_id_check_character(first17: str) -> str:
    """Return the GB 11643 (ISO 7064 MOD 11-2) check character for 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


def _china_today() -> dt.date:
    # Birth dates are Beijing-time calendar dates; a UTC date would reject a
    # newborn's number for eight hours on the day of birth.
    return dt.datetime.now(_CHINA_TZ).date()


def _birth_date_problem(yyyymmdd: str, label: str, today: dt.date | None) -> str | None:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return f"{label}中的出生日期无效"
    if born.year < 1900:
        return f"{label}中的出生日期无效"
    if born > (today or _china_today()):
        return f"{label}中的出生日期晚于今天"
    return None


def resident_id_problem(number: str, *, today: dt.date | None = None) -> str | None:
    """Explain, in Chinese, what is wrong with a 公民身份号码 (GB 11643), or return None.

    Expects a normalised number (see :func:`normalise_document_number`): the
    check character ``X`` is upper case. ``today`` (Beijing date) is for tests.
    """
    if len(number) != 18:
        return "公民身份号码应为18位"
    if not _RESIDENT_ID_RE.fullmatch(number):
        return "公民身份号码前17位应为数字，最后一位为数字或X"
    if number[:2] not in PROVINCE_CODES:
        return "公民身份号码的地址码无效"
    if problem := _birth_date_problem(number[6:14], "公民身份号码", today):
        return problem
    if resident_id_check_character(number[:17]) != number[17]:
        return "公民身份号码校验位错误，请核对"
    return None


def make_resident_id(division6: str, birth_yyyymmdd: str, sequence3: str) -> str:
    """Build a valid 公民身份号码 from its parts (for demo and test data; use division 99xxxx)."""
    first17 = division6 + birth_yyyymmdd + sequence3
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("需要6位区划代码、8位出生日期和3位顺序码")
    return first17 + resident_id_check_character(first17)


def hk_macau_permit_problem(number: str) -> str | None:
    """Explain what is wrong with a 港澳居民来往内地通行证 number (H/M + 8 or 10 digits), or return None."""
    if len(number) not in (9, 11):
        return "港澳居民来往内地通行证号码应为9位或11位"
    if not _HK_MACAU_PERMIT_RE.fullmatch(number):
        return "港澳居民来往内地通行证号码应以H或M开头，后接8位或10位数字"
    return None


def taiwan_permit_problem(number: str) -> str | None:
    """Explain what is wrong with a 台湾居民来往大陆通行证 number (8 digits), or return None."""
    if not _TAIWAN_PERMIT_RE.fullmatch(number):
        return "台湾居民来往大陆通行证号码应为8位数字"
    return None


def foreign_permanent_residence_problem(number: str, *, today: dt.date | None = None) -> str | None:
    """Explain what is wrong with a 外国人永久居留身份证 number, or return None.

    The 2023 form (18 characters starting with 9) is checked like a 公民身份号码:
    province code, birth date and check character. The older 15-character
    form (3 letters and 12 digits) is checked for its shape only.
    """
    if len(number) == 15:
        if not _FOREIGN_PR_OLD_RE.fullmatch(number):
            return "旧版外国人永久居留身份证号码应为3位字母加12位数字"
        return None
    if len(number) != 18:
        return "外国人永久居留身份证号码应为18位（旧版为15位）"
    if not _FOREIGN_PR_NEW_RE.fullmatch(number):
        return "外国人永久居留身份证号码应以9开头，前17位为数字，最后一位为数字或X"
    if number[1:3] not in PROVINCE_CODES:
        return "外国人永久居留身份证号码的受理地代码无效"
    if problem := _birth_date_problem(number[6:14], "外国人永久居留身份证号码", today):
        return problem
    if resident_id_check_character(number[:17]) != number[17]:
        return "外国人永久居留身份证号码校验位错误，请核对"
    return None


def passport_problem(number: str) -> str | None:
    """Explain what is wrong with a passport number (5-20 letters and digits), or return None."""
    if not 5 <= len(number) <= 20:
        return "护照号码应为5至20位"
    if not _PASSPORT_RE.fullmatch(number):
        return "护照号码只能包含英文字母和数字"
    return None


def document_problem(document_type: str, number: str) -> str | None:
    """Explain, in Chinese, what is wrong with an identity document number of the given type, or return None.

    ``number`` should already be normalised with :func:`normalise_document_number`.
    """
    if not number:
        return "请填写证件号码"
    if len(number) > MAX_DOCUMENT_NUMBER_LENGTH:
        return "证件号码过长"
    match document_type:
        case DocumentType.RESIDENT_ID:
            return resident_id_problem(number)
        case DocumentType.HK_MACAU_PERMIT:
            return hk_macau_permit_problem(number)
        case DocumentType.TAIWAN_PERMIT:
            return taiwan_permit_problem(number)
        case DocumentType.FOREIGN_PERMANENT_RESIDENCE:
            return foreign_permanent_residence_problem(number)
        case DocumentType.PASSPORT:
            return passport_problem(number)
    return "不支持的证件类型"


def normalise_document_number(document_type: str, raw: str) -> str:
    """Return the canonical form of a typed document number: no spaces, upper case, half-width.

    NFKC folds full-width digits and letters (common with Chinese input
    methods) to ASCII, so "１１０…ｘ" and "110…X" compare, hash and index
    alike. Every type is normalised the same way today; ``document_type`` is
    taken so that a type-specific rule can be added without touching callers.
    """
    return "".join(unicodedata.normalize("NFKC", raw).split()).upper()


def mobile_problem(number: str) -> str | None:
    """Explain what is wrong with a mainland mobile number (11 digits, 13-19…), or return None."""
    if len(number) != 11 or not number.isascii() or not number.isdigit():
        return "手机号码应为11位数字"
    if not _MOBILE_RE.fullmatch(number):
        return "手机号码应以13至19开头"
    return None


def normalise_mobile(raw: str) -> str:
    """Return a typed mobile number without spaces, dashes or the +86 / 0086 country prefix."""
    number = "".join(unicodedata.normalize("NFKC", raw).split()).replace("-", "")
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            return number[len(prefix) :]
    # "86" glued to an 11-digit number, as some forms and SIM exports write it.
    if len(number) == 13 and number.startswith("861"):
        return number[2:]
    return number


# --- 电子证照标识 (GB/T 36904) ---------------------------------------------------
#
# Structure relied on (see ../shared/STACK-NOTES.md and docs/adr/0017):
#
#   1.2.156.3005.2.<licence type code>.<issuer credit code>.<serial>.<version>.<check>
#
# * ``1.2.156.3005.2`` is the fixed object-identifier arc of electronic licences;
# * the licence type code has 21 characters: the 18-character credit code of the
#   department that defines the type and a 3-digit type number;
# * the issuer is the issuing department's 18-character credit code;
# * the serial is a run of digits (this platform issues 8, per type and issuer);
# * the version has 3 digits (001 for the first issue; a change issues the next);
# * the check character is ISO 7064 MOD 37,36 (hybrid system over the 36
#   characters 0-9A-Z) computed over every character before it, dots left out.

LICENCE_ID_ARC = "1.2.156.3005.2"
ISO7064_36_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LICENCE_TYPE_CODE_LENGTH = 21
LICENCE_SERIAL_LENGTH = 8
_LICENCE_ID_RE = re.compile(
    re.escape(LICENCE_ID_ARC)
    + r"\.(?P<type>[0-9A-Z]{21})\.(?P<issuer>[0-9A-Z]{18})\.(?P<serial>[0-9]{1,20})\.(?P<version>[0-9]{3})"
    r"\.(?P<check>[0-9A-Z])"
)
MAX_LICENCE_ID_LENGTH = 96


def iso7064_mod37_36_check_character(text: str) -> str:
    """The ISO 7064 MOD 37,36 check character of ``text`` (characters 0-9 and A-Z; other characters ignored)."""
    modulus = 36
    product = modulus
    for char in text:
        value = ISO7064_36_ALPHABET.find(char)
        if value < 0:
            continue
        total = (product + value) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return ISO7064_36_ALPHABET[(modulus + 1 - product) % modulus]


@dataclass(frozen=True)
class LicenceIdentifier:
    """The parts of an electronic licence identifier (电子证照标识, GB/T 36904)."""

    type_code: str
    issuer_code: str
    serial: str
    version: int

    @property
    def body(self) -> str:
        return f"{LICENCE_ID_ARC}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version:03d}"

    def __str__(self) -> str:
        return f"{self.body}.{iso7064_mod37_36_check_character(self.body)}"


def make_licence_identifier(type_code: str, issuer_code: str, serial: int, version: int = 1) -> str:
    """Build a licence identifier with its check character (the serial is zero-padded to 8 digits)."""
    if len(type_code) != LICENCE_TYPE_CODE_LENGTH or not 1 <= version <= 999 or serial < 0:
        raise ValueError("licence type code must have 21 characters, version 1-999, serial ≥ 0")
    return str(LicenceIdentifier(type_code, issuer_code, f"{serial:0{LICENCE_SERIAL_LENGTH}d}", version))


def licence_identifier_problem(identifier: str) -> str | None:
    """Explain, in Chinese, what is wrong with a 电子证照标识, or return None."""
    if len(identifier) > MAX_LICENCE_ID_LENGTH:
        return "电子证照标识过长"
    match = _LICENCE_ID_RE.fullmatch(identifier)
    if match is None:
        return "电子证照标识格式应为：1.2.156.3005.2.证照类型代码.发证机构代码.顺序号.版本号.校验位"
    if iso7064_mod37_36_check_character(identifier[:-2]) != match["check"]:
        return "电子证照标识校验位错误，请核对"
    return None


def parse_licence_identifier(identifier: str) -> LicenceIdentifier:
    """Split a licence identifier into its parts; ValueError with a Chinese reason if malformed or mis-checked."""
    normalised = "".join(unicodedata.normalize("NFKC", identifier).split()).upper()
    if problem := licence_identifier_problem(normalised):
        raise ValueError(problem)
    match = _LICENCE_ID_RE.fullmatch(normalised)
    assert match is not None
    return LicenceIdentifier(match["type"], match["issuer"], match["serial"], int(match["version"]))
