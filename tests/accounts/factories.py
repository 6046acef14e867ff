"""People, citizens and staff for identity tests."""

from __future__ import annotations

import itertools

from yiwang.accounts import services
from yiwang.accounts.constants import AssuranceLevel, AssuranceMethod
from yiwang.accounts.models import Person, RoleAssignment, TotpDevice, User
from yiwang.core import crypto
from yiwang.core.identifiers import DocumentType, make_resident_id
from yiwang.directory.models import Department

PASSWORD = "Correct-Horse-42"
_serial = itertools.count(100)


def resident_id() -> str:
    n = next(_serial)
    return make_resident_id("990102", f"1985{(n % 12) + 1:02d}{(n % 27) + 1:02d}", f"{n % 1000:03d}")


def mobile() -> str:
    return f"139{next(_serial):08d}"


def make_person(
    *, name: str = "王小明", with_mobile: bool = True, level: int = AssuranceLevel.MOBILE_VERIFIED
) -> Person:
    return services.create_person(
        name=name,
        document_type=DocumentType.RESIDENT_ID,
        document_number=resident_id(),
        mobile=mobile() if with_mobile else "",
        assurance_level=level,
        assurance_method=AssuranceMethod.SMS if level >= 2 else AssuranceMethod.SELF_DECLARED,
    )


def make_citizen(name: str = "王小明") -> User:
    person = make_person(name=name)
    user = User(username=f"c{next(_serial)}", display_name=name, person=person)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_staff(role: str, department: str | None = None, *, username: str | None = None) -> User:
    user = User(username=username or f"s{next(_serial)}", display_name=f"{role}-{department}")
    user.set_password(PASSWORD)
    user.save()
    RoleAssignment.objects.create(
        user=user, role=role, department=Department.objects.get(code=department) if department else None
    )
    return user


def enrol_totp(user: User) -> str:
    """Give a staff user a confirmed authenticator; returns its secret."""
    import pyotp

    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(
        user=user, defaults={"secret_encrypted": crypto.encrypt(secret), "confirmed_at": "2026-01-01T00:00:00Z"}
    )
    return secret


def full_number(person: Person) -> str:
    return crypto.decrypt(person.document_number_encrypted)
