"""People (自然人): cleaning identity values, finding a person by blind index, creating one."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts.constants import (
    AssuranceLevel,
    AssuranceMethod,
)
from yiwang.accounts.models import (
    Person,
    User,
)
from yiwang.accounts.services.errors import IdentityError
from yiwang.core import crypto
from yiwang.core.identifiers import (
    DocumentType,
    document_problem,
    mobile_problem,
    normalise_document_number,
    normalise_mobile,
)


def _document_index(document_type: str, number: str) -> str:
    return crypto.blind_index(f"{document_type}:{number}", "document_number")


def mobile_index(mobile: str) -> str:
    return crypto.blind_index(mobile, "mobile")


def clean_mobile(raw: str) -> str:
    mobile = normalise_mobile(raw or "")
    problem = mobile_problem(mobile)
    if problem:
        raise IdentityError("invalid_mobile", problem, field="mobile")
    return mobile


def clean_document(document_type: str, raw: str) -> str:
    if document_type not in DocumentType.values:
        raise IdentityError("invalid_document_type", _("证件类型无效"), field="document_type")
    number = normalise_document_number(document_type, raw or "")
    problem = document_problem(document_type, number)
    if problem:
        raise IdentityError("invalid_document", problem, field="document_number")
    return number


def clean_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= 64 or any(ch.isdigit() or ch in "<>\"'&;/\\" for ch in name):
        raise IdentityError("invalid_name", _("姓名应为1至64个字符，不含数字和特殊符号"), field="name")
    return name


def find_person(document_type: str, number: str) -> Person | None:
    return Person.objects.filter(
        document_type=document_type, document_number_index=_document_index(document_type, number)
    ).first()


def find_person_by_mobile(mobile: str) -> Person | None:
    return Person.objects.filter(mobile_index=mobile_index(mobile), mobile_verified_at__isnull=False).first()


def create_person(
    *,
    name: str,
    document_type: str,
    document_number: str,
    mobile: str = "",
    assurance_level: int = AssuranceLevel.SELF_DECLARED,
    assurance_method: str = AssuranceMethod.SELF_DECLARED,
    mobile_verified: bool | None = None,
) -> Person:
    """Create a person from validated values; the identity and mobile numbers are stored encrypted.

    The mobile counts as verified when the assurance level says it was (level 2 and up) unless
    ``mobile_verified`` says otherwise: a number typed in by a counter clerk is not proven.
    """
    name = clean_name(name)
    number = clean_document(document_type, document_number)
    if find_person(document_type, number):
        raise IdentityError("person_exists", _("该证件号码已登记"), field="document_number")
    person = Person(
        name=name,
        document_type=document_type,
        document_number_encrypted=crypto.encrypt(number),
        document_number_index=_document_index(document_type, number),
        document_number_masked=crypto.mask_document(document_type, number),
        assurance_level=assurance_level,
        assurance_method=assurance_method,
    )
    if mobile:
        verified = assurance_level >= AssuranceLevel.MOBILE_VERIFIED if mobile_verified is None else mobile_verified
        set_mobile(person, clean_mobile(mobile), verified=verified)
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError as exc:
        raise IdentityError("person_exists", _("该证件号码已登记"), field="document_number") from exc
    return person


def set_mobile(person: Person, mobile: str, *, verified: bool) -> None:
    person.mobile_encrypted = crypto.encrypt(mobile)
    person.mobile_index = mobile_index(mobile)
    person.mobile_masked = crypto.mask_mobile(mobile)
    person.mobile_verified_at = timezone.now() if verified else None


def require_person(user: User) -> Person:
    if user.person is None:
        raise IdentityError("not_a_person", _("只有个人账户可以进行此操作"))
    return user.person
