"""Identity rules: registration, codes, lockout, second factor, roles, delegations, personal data."""

import datetime as dt
import itertools

import pyotp
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from yiwang.accounts import services
from yiwang.accounts.constants import AssuranceLevel, CodePurpose, Role
from yiwang.accounts.models import DataAccessRecord, OneTimeCode, Person, RoleAssignment, Throttle, User
from yiwang.accounts.services import login
from yiwang.accounts.sms import latest_message
from yiwang.core import crypto
from yiwang.core.audit import AuditEvent
from yiwang.core.identifiers import DocumentType, make_credit_code
from yiwang.directory.models import Department

from .factories import PASSWORD, enrol_totp, full_number, make_citizen, make_person, make_staff, mobile, resident_id

pytestmark = pytest.mark.django_db


def code_sent_to(number: str) -> str:
    body = latest_message(number)
    assert body is not None
    return "".join(ch for ch in body.split("验证码为")[1][:6])


def events(name: str) -> int:
    return AuditEvent.objects.filter(event=name).count()


@pytest.fixture
def immediate_on_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        yield


def register(number: str | None = None, document: str | None = None, **overrides) -> User:
    number = number or mobile()
    with_callbacks = overrides.pop("callbacks")
    with with_callbacks(execute=True):
        services.send_code(number, CodePurpose.REGISTER)
    fields = {
        "name": "赵六",
        "document_type": DocumentType.RESIDENT_ID,
        "document_number": document or resident_id(),
        "mobile": number,
        "code": code_sent_to(number),
        "password": PASSWORD,
    }
    fields.update(overrides)
    return services.register_citizen(**fields)


def test_registration_verifies_the_mobile_and_encrypts_identifiers(django_capture_on_commit_callbacks) -> None:
    number = mobile()
    document = resident_id()
    user = register(number, document, callbacks=django_capture_on_commit_callbacks)
    person = user.person
    assert person.assurance_level == AssuranceLevel.MOBILE_VERIFIED
    assert document not in person.document_number_encrypted and number not in person.mobile_encrypted
    assert person.document_number_masked.startswith(document[:3]) and "*" in person.document_number_masked
    assert full_number(person) == document
    assert services.find_person(DocumentType.RESIDENT_ID, document) == person
    assert events("account.registered") >= 1


def test_a_code_works_once_and_not_after_expiry(django_capture_on_commit_callbacks) -> None:
    number = mobile()
    with django_capture_on_commit_callbacks(execute=True):
        services.send_code(number, CodePurpose.LOGIN)
    code = code_sent_to(number)
    services.verify_code(number, CodePurpose.LOGIN, code)
    with pytest.raises(services.IdentityError, match="没有可用的验证码"):
        services.verify_code(number, CodePurpose.LOGIN, code)  # replay
    OneTimeCode.objects.all().update(created_at=timezone.now() - dt.timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        services.send_code(number, CodePurpose.LOGIN)
    OneTimeCode.objects.filter(consumed_at__isnull=True).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(services.IdentityError, match="已过期"):
        services.verify_code(number, CodePurpose.LOGIN, code_sent_to(number))


def test_wrong_codes_exhaust_the_attempt_budget(django_capture_on_commit_callbacks) -> None:
    number = mobile()
    with django_capture_on_commit_callbacks(execute=True):
        services.send_code(number, CodePurpose.LOGIN)
    right = code_sent_to(number)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(services.IdentityError, match="不正确"):
            services.verify_code(number, CodePurpose.LOGIN, wrong)
    with pytest.raises(services.IdentityError, match="次数过多"):
        services.verify_code(number, CodePurpose.LOGIN, right)
    assert events("auth.code_failed") >= 6


def test_codes_are_rate_limited() -> None:
    number = mobile()
    services.send_code(number, CodePurpose.LOGIN)
    with pytest.raises(services.IdentityError) as excinfo:
        services.send_code(number, CodePurpose.LOGIN)
    assert excinfo.value.code == "code_too_soon"


def test_one_code_a_minute_by_default_measured_on_the_clock() -> None:
    number = mobile()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        services.send_code(number, CodePurpose.LOGIN)
        clock.shift(dt.timedelta(seconds=59))
        with pytest.raises(services.IdentityError, match="请60秒后再试") as excinfo:
            services.send_code(number, CodePurpose.LOGIN)
        assert excinfo.value.code == "code_too_soon"
        clock.shift(dt.timedelta(seconds=2))
        services.send_code(number, CodePurpose.LOGIN)
    assert OneTimeCode.objects.filter(mobile_index=services.mobile_index(number)).count() == 2


def test_the_resend_interval_is_configurable(settings) -> None:
    settings.SMS_CODE_RESEND_SECONDS = 5
    number = mobile()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        services.send_code(number, CodePurpose.LOGIN)
        clock.shift(dt.timedelta(seconds=4))
        with pytest.raises(services.IdentityError, match="请5秒后再试"):
            services.send_code(number, CodePurpose.LOGIN)
        clock.shift(dt.timedelta(seconds=2))
        services.send_code(number, CodePurpose.LOGIN)
    assert OneTimeCode.objects.filter(mobile_index=services.mobile_index(number)).count() == 2


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("document_number", "110101199003077771", "invalid_document"),
        ("document_number", "1" * 500, "invalid_document"),
        ("mobile", "12345", "invalid_mobile"),
        ("name", "<script>", "invalid_name"),
        ("password", "short", "weak_password"),
        ("password", "alllowercaseletters", "weak_password"),
    ],
)
def test_registration_refuses_bad_input(field: str, value: str, code: str, django_capture_on_commit_callbacks) -> None:
    before = Person.objects.count()
    with pytest.raises(services.IdentityError) as excinfo:
        register(callbacks=django_capture_on_commit_callbacks, **{field: value})
    assert excinfo.value.code == code
    assert Person.objects.count() == before


def test_password_login_locks_after_repeated_failures() -> None:
    user = make_citizen()
    for _ in range(5):
        with pytest.raises(services.IdentityError) as excinfo:
            services.authenticate_password(user.username, "wrong-password", ip="10.0.0.1")
        assert excinfo.value.code == "invalid_credentials"
    with pytest.raises(services.IdentityError) as excinfo:
        services.authenticate_password(user.username, PASSWORD, ip="10.0.0.1")
    assert excinfo.value.code == "locked" and "锁定" in excinfo.value.detail
    assert events("auth.account_locked") == 1 and events("auth.login_failed") >= 5


def _fail(identifier: str, ip: str, times: int = 1) -> services.IdentityError:
    error = None
    for _ in range(times):
        with pytest.raises(services.IdentityError) as excinfo:
            services.authenticate_password(identifier, "wrong-password", ip=ip)
        error = excinfo.value
    assert error is not None
    return error


def test_an_unknown_account_locks_with_the_same_message_and_status_as_a_real_one() -> None:
    user = make_citizen()
    known = [_fail(user.username, "10.0.0.2") for _ in range(6)]
    unknown = [_fail("nobody-here", "10.0.0.2") for _ in range(6)]
    assert [(e.code, e.status, e.detail) for e in known] == [(e.code, e.status, e.detail) for e in unknown]
    assert known[-1].code == "locked" and known[-1].status == 429


def test_an_attacker_cannot_lock_the_owner_out_from_another_address() -> None:
    owner = make_staff(Role.APPROVER, "market")
    _fail(owner.username, "203.0.113.9", times=8)
    assert _fail(owner.username, "203.0.113.9").code == "locked"
    outcome = services.authenticate_password(owner.username, PASSWORD, ip="10.1.2.3")
    assert outcome.user == owner


def test_lock_delays_grow_with_each_further_failure() -> None:
    user = make_citizen()
    key = f"user:{user.pk}@10.0.0.3"
    waits = []
    for _ in range(4):
        _fail(user.username, "10.0.0.3", times=5 if not waits else 1)
        row = Throttle.objects.get(key=key)
        assert row.locked_until is not None
        waits.append((row.locked_until - timezone.now()).total_seconds())
        # The wait is over: the next attempt is checked again (and fails again).
        Throttle.objects.filter(key=key).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert 50 < waits[0] <= 60
    assert all(later > 1.9 * earlier for earlier, later in itertools.pairwise(waits))


def test_many_failures_from_everywhere_only_slow_the_account_down() -> None:
    user = make_citizen()
    for n in range(login.ACCOUNT_FAILURES_BEFORE_SLOWDOWN + 10):
        Throttle.objects.filter(key=f"user:{user.pk}").update(locked_until=None)
        _fail(user.username, f"198.51.100.{n % 250}")
    row = Throttle.objects.get(key=f"user:{user.pk}")
    assert row.locked_until is not None
    assert (row.locked_until - timezone.now()) <= login.ACCOUNT_SLOWDOWN_CAP
    slowed = _fail(user.username, "10.9.9.9")
    assert slowed.code == "throttled" and "秒" in slowed.detail


def test_unknown_accounts_run_the_password_hasher_too(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = login.make_password
    monkeypatch.setattr(login, "make_password", lambda password: calls.append(password) or real(password))
    _fail("no-such-user", "10.0.0.4")
    assert calls == ["wrong-password"]
    inactive = make_citizen()
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    checked: list[str] = []
    monkeypatch.setattr(User, "check_password", lambda self, raw: checked.append(raw) or False)
    _fail(inactive.username, "10.0.0.4")
    assert checked == ["wrong-password"]


def test_unknown_account_and_wrong_password_look_the_same() -> None:
    user = make_citizen()
    with pytest.raises(services.IdentityError) as unknown:
        services.authenticate_password("nobody-here", PASSWORD)
    with pytest.raises(services.IdentityError) as wrong:
        services.authenticate_password(user.username, "nope-nope-nope")
    assert unknown.value.detail == wrong.value.detail


def test_citizens_log_in_with_mobile_or_id_number() -> None:
    user = make_citizen()
    number = crypto.decrypt(user.person.mobile_encrypted)
    assert services.authenticate_password(number, PASSWORD).user == user
    assert services.authenticate_password(full_number(user.person), PASSWORD).user == user


def test_staff_need_the_second_factor_and_codes_cannot_be_replayed() -> None:
    staff = make_staff(Role.REVIEWER, "market")
    outcome = services.authenticate_password(staff.username, PASSWORD)
    assert outcome.needs_second_factor and outcome.needs_enrolment
    secret = enrol_totp(staff)
    outcome = services.authenticate_password(staff.username, PASSWORD)
    assert outcome.needs_second_factor and not outcome.needs_enrolment
    code = pyotp.TOTP(secret).now()
    services.verify_second_factor(staff, code)
    with pytest.raises(services.IdentityError):
        services.verify_second_factor(staff, code)


def test_enrolment_gives_recovery_codes_that_work_once() -> None:
    staff = make_staff(Role.COUNTER_CLERK, "market")
    uri = services.start_totp_enrolment(staff)
    secret = pyotp.parse_uri(uri).secret
    with pytest.raises(services.IdentityError):
        services.confirm_totp(staff, "123")
    codes = services.confirm_totp(staff, pyotp.TOTP(secret).now())
    assert len(codes) == 10 and len(set(codes)) == 10
    services.verify_second_factor(staff, codes[0])
    with pytest.raises(services.IdentityError):
        services.verify_second_factor(staff, codes[0])
    with pytest.raises(services.IdentityError, match="已绑定"):
        services.start_totp_enrolment(staff)


def test_logout_everywhere_ends_other_sessions() -> None:
    user = make_citizen()
    phone, laptop = Client(), Client()
    phone.force_login(user)
    laptop.force_login(user)
    assert laptop.get("/accounts/").status_code == 200
    services.logout_everywhere(user)
    assert laptop.get("/accounts/").status_code == 302
    assert phone.get("/accounts/").status_code == 302


def test_department_admin_grants_only_working_roles_inside_their_department() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    clerk = make_staff(Role.COUNTER_CLERK, "police")
    traffic = Department.objects.get(code="traffic_police")
    market = Department.objects.get(code="market")
    services.grant_role(actor=admin, user=clerk, role=Role.REVIEWER, department=traffic)  # below police: allowed
    for role, department in [(Role.REVIEWER, market), (Role.PLATFORM_ADMIN, traffic), (Role.SUPERVISOR, traffic)]:
        with pytest.raises(services.IdentityError):
            services.grant_role(actor=admin, user=clerk, role=role, department=department)
    with pytest.raises(services.IdentityError):
        services.grant_role(actor=admin, user=admin, role=Role.REVIEWER, department=traffic)  # not to oneself
    citizen = make_citizen()
    with pytest.raises(services.IdentityError):
        services.grant_role(actor=admin, user=citizen, role=Role.REVIEWER, department=traffic)
    assert events("permission.denied") >= 5
    assert set(RoleAssignment.objects.active().filter(user=clerk).values_list("role", flat=True)) == {
        Role.COUNTER_CLERK,
        Role.REVIEWER,
    }


def test_department_admin_cannot_manage_other_departments_staff() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "police")
    market_clerk = make_staff(Role.COUNTER_CLERK, "market")
    assignment = market_clerk.role_assignments.get()
    with pytest.raises(services.IdentityError):
        services.revoke_role(actor=admin, assignment=assignment)
    assert RoleAssignment.objects.active().filter(pk=assignment.pk).exists()


def test_delegation_lets_the_agent_act_and_is_recorded() -> None:
    elder = make_citizen("孙大妈")
    son = make_citizen("孙小强")
    until = timezone.now() + dt.timedelta(days=30)
    delegation = services.grant_delegation(
        actor=elder,
        agent_document_type=DocumentType.RESIDENT_ID,
        agent_document_number=full_number(son.person),
        relationship="child",
        valid_until=until,
    )
    acting = services.act_for_by_delegation(actor=son, delegation=delegation)
    assert acting.person_id == elder.person_id
    event = AuditEvent.objects.filter(event="assist.started").latest("sequence")
    assert event.actor_id == son.pk and event.on_behalf_of_person_id == elder.person_id
    stranger = make_citizen("路人甲")
    with pytest.raises(services.IdentityError):
        services.act_for_by_delegation(actor=stranger, delegation=delegation)
    services.revoke_delegation(actor=elder, delegation=delegation)
    with pytest.raises(services.IdentityError):
        services.act_for_by_delegation(actor=son, delegation=delegation)


def test_delegation_refuses_bad_input() -> None:
    elder = make_citizen()
    soon = timezone.now() + dt.timedelta(days=1)
    cases = [
        ({"agent_document_number": full_number(elder.person)}, "self_delegation"),
        ({"agent_document_number": resident_id()}, "agent_unknown"),
        ({"agent_document_number": "12345"}, "invalid_document"),
        ({"relationship": "boss"}, "invalid_relationship"),
        ({"valid_until": timezone.now() - dt.timedelta(days=1)}, "invalid_expiry"),
        ({"valid_until": timezone.now() + dt.timedelta(days=5000)}, "invalid_expiry"),
    ]
    other = make_person()
    for overrides, code in cases:
        arguments = {
            "actor": elder,
            "agent_document_type": DocumentType.RESIDENT_ID,
            "agent_document_number": full_number(other),
            "relationship": "child",
            "valid_until": soon,
            **overrides,
        }
        with pytest.raises(services.IdentityError) as excinfo:
            services.grant_delegation(**arguments)
        assert excinfo.value.code == code


def test_counter_clerk_acts_for_a_person_present() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    person = make_person()
    with pytest.raises(services.IdentityError, match="核验"):
        services.act_for_at_counter(
            actor=clerk, document_type="resident_id", document_number=full_number(person), identity_checked_by=""
        )
    acting = services.act_for_at_counter(
        actor=clerk,
        document_type="resident_id",
        document_number=full_number(person),
        identity_checked_by="id_card_reader",
    )
    assert acting.person_id == person.pk and acting.basis == "counter:id_card_reader"
    reviewer = make_staff(Role.REVIEWER, "market")
    with pytest.raises(services.IdentityError):
        services.act_for_at_counter(
            actor=reviewer,
            document_type="resident_id",
            document_number=full_number(person),
            identity_checked_by="id_card_reader",
        )


def test_organisation_and_its_agents() -> None:
    boss = make_citizen("钱老板")
    code = make_credit_code("91", "990100", "MA01B2C3")
    organisation = services.register_organisation(actor=boss, name="示范市钱记餐饮有限公司", credit_code=code)
    with pytest.raises(services.IdentityError, match="校验位"):
        services.register_organisation(actor=boss, name="错码公司", credit_code=code[:-1] + "0")
    clerk = make_person(name="经办人小周")
    agent = services.add_organisation_agent(
        actor=boss,
        organisation=organisation,
        agent_document_type="resident_id",
        agent_document_number=full_number(clerk),
        valid_until=timezone.now() + dt.timedelta(days=90),
        scope=["ITEM-1"],
    )
    outsider = make_citizen("外人")
    with pytest.raises(services.IdentityError):
        services.revoke_organisation_agent(actor=outsider, agent=agent)
    services.revoke_organisation_agent(actor=boss, agent=agent)
    agent.refresh_from_db()
    assert agent.revoked_at is not None


def test_reading_full_personal_data_is_recorded_with_purpose() -> None:
    citizen = make_citizen("周八")
    reviewer = make_staff(Role.REVIEWER, "market")
    justification = services.RevealJustification(
        person_id=citizen.person_id, reference="SQ-2026-0001", department_name="", purpose="verify_identity"
    )
    with pytest.raises(services.IdentityError, match="用途"):
        services.reveal_person_data(
            actor=reviewer,
            justification=services.RevealJustification(
                person_id=citizen.person_id, reference="SQ-2026-0001", department_name="", purpose="好奇"
            ),
            fields=["mobile"],
        )
    values = services.reveal_person_data(
        actor=reviewer, justification=justification, fields=["document_number", "mobile"]
    )
    assert values["document_number"] == full_number(citizen.person)
    record = DataAccessRecord.objects.get(person=citizen.person)
    assert record.accessor == reviewer and record.department_name == "示范市市场监督管理局"
    assert record.fields == ["document_number", "mobile"] and record.case_reference == "SQ-2026-0001"
    assert record.purpose == "核对申请人身份"
    # A citizen never reads another person's data, whatever justification is put in front of the service.
    other = make_citizen("吴九")
    with pytest.raises(services.IdentityError):
        services.reveal_person_data(actor=other, justification=justification, fields=["mobile"])
    assert DataAccessRecord.objects.filter(person=citizen.person).count() == 1
    assert events("pii.read") >= 1


def test_reading_ones_own_data_is_recorded_as_self() -> None:
    citizen = make_citizen("郑十")
    values = services.reveal_own_data(actor=citizen, fields=["mobile"])
    assert values == {"mobile": crypto.decrypt(citizen.person.mobile_encrypted)}
    record = DataAccessRecord.objects.get(person=citizen.person)
    assert record.accessor_label == "本人" and record.purpose == "本人查看"


def test_passwords_are_hashed_with_argon2(settings) -> None:
    import yiwang.settings as configured

    # The suite swaps in a fast hasher; the project's own setting is what production uses.
    assert configured.PASSWORD_HASHERS[0] == "yiwang.accounts.passwords.Argon2idHasher"
    settings.PASSWORD_HASHERS = configured.PASSWORD_HASHERS
    user = make_citizen()
    assert user.password.startswith("argon2$argon2id$")


def test_the_admin_login_goes_through_the_platform_login(client) -> None:
    response = client.get("/admin/login/", {"next": "/admin/catalog/"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/admin/catalog/")


def test_a_tampered_session_cookie_is_not_a_login(client) -> None:
    user = make_citizen()
    client.force_login(user)
    assert client.get("/accounts/").status_code == 200
    session_key = client.cookies["sessionid"].value
    client.cookies["sessionid"] = session_key[:-4] + ("abcd" if not session_key.endswith("abcd") else "wxyz")
    assert client.get("/accounts/").status_code == 302


# --- counter walk-ins (issue 12 item 9) -----------------------------------------------------------------------------


def walk_in(clerk: User, *, name: str = "钱老伯", number: str = "", document: str = "") -> Person:
    acting = services.register_at_counter(
        actor=clerk,
        name=name,
        document_type=DocumentType.RESIDENT_ID,
        document_number=document or resident_id(),
        identity_checked_by="id_card_reader",
        mobile=number,
    )
    return Person.objects.get(pk=acting.person_id)


def test_a_clerk_registers_a_walk_in_in_person_without_an_account() -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    number, document = mobile(), resident_id()
    person = walk_in(clerk, number=number, document=document)
    # The clerk saw the original document: level 3, with the check as its evidence (level 4 also needs an
    # identity e-licence, ADR 0030).
    assert (person.assurance_level, person.assurance_method) == (AssuranceLevel.IDENTITY_VERIFIED, "counter")
    record = person.assurance_records.get()
    assert (record.checked_by_id, record.method, record.raised) == (clerk.pk, "counter", True)
    assert not hasattr(person, "user") or person.user is None
    # The clerk typed the mobile in: it is kept, but not proven (no SMS login with it yet).
    assert person.mobile_index == services.mobile_index(number) and person.mobile_verified_at is None
    assert services.find_person_by_mobile(number) is None
    event = AuditEvent.objects.get(event="person.registered_at_counter")
    assert (event.actor_id, event.target) == (clerk.pk, f"accounts.Person:{person.pk}")
    # Next time the typed identity finds the same person.
    acting = services.act_for_at_counter(
        actor=clerk,
        document_type=DocumentType.RESIDENT_ID,
        document_number=document,
        identity_checked_by="document_inspected",
    )
    assert acting.person_id == person.pk and Person.objects.count() == 1
    with pytest.raises(services.IdentityError) as twice:
        walk_in(clerk, document=document)
    assert twice.value.code == "person_exists"


def test_only_a_counter_clerk_after_a_document_check_registers_walk_ins() -> None:
    with pytest.raises(services.IdentityError) as refused:
        walk_in(make_staff(Role.REVIEWER, "market"))
    assert refused.value.code == "forbidden"
    with pytest.raises(services.IdentityError) as unchecked:
        services.register_at_counter(
            actor=make_staff(Role.COUNTER_CLERK, "market"),
            name="钱老伯",
            document_type=DocumentType.RESIDENT_ID,
            document_number=resident_id(),
            identity_checked_by="",
        )
    assert unchecked.value.code == "identity_check_required"
    with pytest.raises(services.IdentityError) as bad_number:
        walk_in(make_staff(Role.COUNTER_CLERK, "market"), document="123")
    assert bad_number.value.code == "invalid_document"
    assert not Person.objects.exists()


def test_the_walk_in_claims_an_online_account_with_the_mobile_left_at_the_counter(
    django_capture_on_commit_callbacks,
) -> None:
    number, document = mobile(), resident_id()
    person = walk_in(make_staff(Role.COUNTER_CLERK, "market"), number=number, document=document)
    user = register(number, document, name="钱老伯", callbacks=django_capture_on_commit_callbacks)
    assert user.person_id == person.pk and Person.objects.count() == 1
    user.person.refresh_from_db()
    # Claiming keeps the level the counter check reached and proves the mobile.
    assert user.person.assurance_level == AssuranceLevel.IDENTITY_VERIFIED
    assert services.find_person_by_mobile(number) == person
    assert AuditEvent.objects.get(event="account.registered").detail["claimed_existing_person"] is True


def test_someone_else_with_the_document_number_cannot_claim_the_walk_in(django_capture_on_commit_callbacks) -> None:
    clerk = make_staff(Role.COUNTER_CLERK, "market")
    document = resident_id()
    walk_in(clerk, number=mobile(), document=document)
    with pytest.raises(services.IdentityError, match="到窗口") as other_mobile:
        register(mobile(), document, name="钱老伯", callbacks=django_capture_on_commit_callbacks)
    assert other_mobile.value.code == "claim_needs_counter"
    # Without a mobile recorded nobody can prove it online: the counter opens the account.
    silent = resident_id()
    walk_in(clerk, document=silent)
    with pytest.raises(services.IdentityError) as no_mobile:
        register(mobile(), silent, name="钱老伯", callbacks=django_capture_on_commit_callbacks)
    assert no_mobile.value.code == "claim_needs_counter"
    assert not User.objects.filter(person__isnull=False).exists()


def test_a_claim_with_the_right_mobile_must_also_name_the_person(django_capture_on_commit_callbacks) -> None:
    number, document = mobile(), resident_id()
    walk_in(make_staff(Role.COUNTER_CLERK, "market"), number=number, document=document)
    with pytest.raises(services.IdentityError) as wrong_name:
        register(number, document, name="孙大圣", callbacks=django_capture_on_commit_callbacks)
    assert wrong_name.value.code == "claim_name_mismatch"
