"""Identity pages: registration, login (password, SMS, authenticator), account,
delegations, organisations, the data tracker and staff administration.

Views parse, authorise and call services; they never write models.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.core.assurance_sources import identity_licences, identity_licences_available
from yiwang.core.desks import desks_for
from yiwang.core.http import client_address, safe_next
from yiwang.directory import selectors as directory_selectors

from . import forms, policy, selectors, services
from .constants import CodePurpose
from .models import SmsMessage, User

PENDING_USER = "yiwang_pending_user"
PENDING_AT = "yiwang_pending_at"
PENDING_NEXT = "yiwang_pending_next"
PENDING_TTL_SECONDS = 300
REGISTER_MOBILE = "yiwang_register_mobile"


def _show_error(form: Any, error: services.IdentityError) -> None:
    every_field = error.extra.get("errors")
    if isinstance(every_field, dict) and every_field:
        for field, message in every_field.items():
            form.add_error(field if field in form.fields else None, message)
        return
    if error.field and error.field in form.fields:
        form.add_error(error.field, error.detail)
    else:
        form.add_error(None, error.detail)


def _landing(user: User) -> str:
    """Where a login without ``next`` ends: staff on their desks, everyone else on 我的账户."""
    return reverse("accounts:desks" if policy.has_staff_home(user) else "accounts:home")


def _finish_login(request: HttpRequest, user: User, method: str) -> HttpResponse:
    target = request.session.pop(PENDING_NEXT, None) or safe_next(request, _landing(user))
    for key in (PENDING_USER, PENDING_AT):
        request.session.pop(key, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    services.record_login(user, ip=client_address(request), method=method)
    return HttpResponseRedirect(target)


def _pending_user(request: HttpRequest) -> User | None:
    user_id = request.session.get(PENDING_USER)
    started = request.session.get(PENDING_AT, 0)
    if not user_id or time.time() - started > PENDING_TTL_SECONDS:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


# --- login and logout -----------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = forms.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.authenticate_password(
                form.cleaned_data["identifier"], form.cleaned_data["password"], ip=client_address(request)
            )
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            if not outcome.needs_second_factor:
                return _finish_login(request, outcome.user, "password")
            request.session.cycle_key()
            request.session[PENDING_USER] = outcome.user.pk
            request.session[PENDING_AT] = time.time()
            request.session[PENDING_NEXT] = safe_next(request, _landing(outcome.user))
            return redirect("accounts:totp_setup" if outcome.needs_enrolment else "accounts:login_verify")
    return render(request, "accounts/login.html", {"form": form, "next": safe_next(request, "")})


@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        messages.error(request, "登录已超时，请重新登录")
        return redirect("accounts:login")
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.verify_second_factor(user, form.cleaned_data["code"], ip=client_address(request))
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            return _finish_login(request, user, "password+totp")
    return render(request, "accounts/login_verify.html", {"form": form})


@require_http_methods(["GET", "POST"])
def totp_setup(request: HttpRequest) -> HttpResponse:
    """Mandatory authenticator enrolment for staff, during their first login."""
    user = _pending_user(request)
    if user is None:
        messages.error(request, "登录已超时，请重新登录")
        return redirect("accounts:login")
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.confirm_totp(user, form.cleaned_data["code"], ip=client_address(request))
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            response = _finish_login(request, user, "password+totp-enrolment")
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": response["Location"]})
    uri = request.session.get("yiwang_totp_uri")
    if request.method == "GET" or not uri:
        try:
            uri = services.start_totp_enrolment(user)
        except services.IdentityError as error:
            messages.error(request, error.detail)
            return redirect("accounts:login_verify")
        request.session["yiwang_totp_uri"] = uri
    secret = uri.split("secret=")[1].split("&")[0]
    qr_svg = segno.make(uri, error="m").svg_data_uri(scale=4)
    return render(request, "accounts/totp_setup.html", {"form": form, "secret": secret, "qr_svg": qr_svg})


@dataclass
class SendStep:
    """The outcome of pressing 发送验证码: the bound mobile form (with any refusal) and the countdown."""

    form: forms.MobileForm
    wait_seconds: int


def _send_code_step(request: HttpRequest, purpose: str) -> SendStep:
    """Send a code for the posted mobile number; refusals land on the bound mobile form, never a 500."""
    mobile_form = forms.MobileForm(request.POST)
    if not mobile_form.is_valid():
        return SendStep(mobile_form, 0)
    mobile = mobile_form.cleaned_data["mobile"]
    try:
        services.send_code(mobile, purpose, ip=client_address(request))
    except services.IdentityError as error:
        _show_error(mobile_form, error)
    else:
        messages.success(request, "验证码已发送，5分钟内有效")
    return SendStep(mobile_form, services.seconds_until_resend(mobile))


def _send_context(step: SendStep | None, form: Any) -> dict[str, Any]:
    """The first step's mobile field and countdown: from the send form after a send, else the page's form."""
    if step is None:
        return {"send_form": None, "mobile_field": form["mobile"], "resend_wait": 0}
    return {"send_form": step.form, "mobile_field": step.form["mobile"], "resend_wait": step.wait_seconds}


@require_http_methods(["GET", "POST"])
def sms_login(request: HttpRequest) -> HttpResponse:
    form = forms.SmsLoginForm(request.POST or None)
    step: SendStep | None = None
    if request.method == "POST" and request.POST.get("action") == "send":
        step = _send_code_step(request, CodePurpose.LOGIN)
        form = forms.SmsLoginForm(initial={"mobile": request.POST.get("mobile", "")})
    elif request.method == "POST" and form.is_valid():
        try:
            user = services.authenticate_sms(
                form.cleaned_data["mobile"], form.cleaned_data["code"], ip=client_address(request)
            )
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            return _finish_login(request, user, "sms")
    context = {"form": form, "next": safe_next(request, ""), **_send_context(step, form)}
    return render(request, "accounts/login_sms.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("catalog:home")


@require_POST
@login_required
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    services.logout_everywhere(request.user, ip=client_address(request))  # type: ignore[arg-type]
    logout(request)
    messages.success(request, "已退出所有设备上的登录")
    return redirect("accounts:login")


# --- registration -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    form = forms.RegisterForm(
        request.POST if request.POST.get("action") == "register" else None,
        initial={"mobile": request.session.get(REGISTER_MOBILE, "")},
    )
    step: SendStep | None = None
    if request.method == "POST" and request.POST.get("action") == "send":
        step = _send_code_step(request, CodePurpose.REGISTER)
        if not step.form.errors:
            request.session[REGISTER_MOBILE] = step.form.cleaned_data["mobile"]
        form = forms.RegisterForm(initial={"mobile": request.POST.get("mobile", "")})
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.register_citizen(
                name=data["name"],
                document_type=data["document_type"],
                document_number=data["document_number"],
                mobile=data["mobile"],
                code=data["code"],
                password=data["password"],
                ip=client_address(request),
            )
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            request.session.pop(REGISTER_MOBILE, None)
            messages.success(
                request,
                _("注册成功，实名认证等级：%(level)s")
                % {"level": user.person.get_assurance_level_display() if user.person else ""},
            )
            return _finish_login(request, user, "registration")
    return render(request, "accounts/register.html", {"form": form, **_send_context(step, form)})


@require_http_methods(["GET"])
def sms_outbox(request: HttpRequest) -> HttpResponse:
    """The demo's stand-in for a phone: the SMS outbox, only outside production."""
    if settings.PRODUCTION:
        raise Http404
    return render(request, "accounts/sms_outbox.html", {"messages_sent": SmsMessage.objects.all()[:20]})


# --- the account -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def account_home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    revealed: dict[str, str] = {}
    if request.method == "POST" and user.person is not None:
        reveal_form = forms.RevealForm(request.POST)
        if reveal_form.is_valid():
            revealed = services.reveal_own_data(actor=user, fields=reveal_form.cleaned_data["which"])
    return render(
        request,
        "accounts/home.html",
        {
            "person": user.person,
            "assurance_history": selectors.assurance_history(user.person) if user.person is not None else [],
            "revealed": revealed,
            "roles": selectors.active_roles(user),
            "organisations": selectors.organisations_represented(user),
            "agencies": selectors.agencies(user),
            "delegations_given": selectors.delegations_given(user),
            "delegations_received": selectors.delegations_received(user),
            "reveal_form": forms.RevealForm(),
        },
    )


# --- real-name levels 3 and 4 (ADR 0030) ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def assurance(request: HttpRequest) -> HttpResponse:
    """提升实名等级: the person's level and how it was reached, the household match, the counter routes."""
    user: User = request.user  # type: ignore[assignment]
    person = user.person
    form = forms.HouseholdMatchForm(request.POST or None)
    exchange_id = ""
    if request.method == "POST" and person is not None and form.is_valid():
        try:
            services.verify_by_household_register(
                actor=user, consent=form.cleaned_data["consent"], ip=client_address(request)
            )
        except services.IdentityError as error:
            _show_error(form, error)
            exchange_id = str(error.extra.get("exchange_id") or "")
        else:
            messages.success(request, _("户籍信息比对通过，您的实名等级已提升为三级"))
            return HttpResponseRedirect(safe_next(request, reverse("accounts:assurance")))
    context: dict[str, Any] = {"person": person, "form": form, "exchange_id": exchange_id}
    if person is not None:
        problem = services.household_match_problem(person)
        licences = identity_licences(person.pk)
        context.update(
            {
                "history": selectors.assurance_history(person),
                "match_problem": problem[1] if problem else "",
                "match_problem_code": problem[0] if problem else "",
                "identity_licences": licences,
                "has_valid_licence": any(licence.valid for licence in licences),
                "licences_available": identity_licences_available(),
                "next": safe_next(request, ""),
            }
        )
    return render(request, "accounts/assurance.html", context)


def _identity_checker_or_404(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not policy.may_record_identity_check(user):
        services.record_event_denied(user, "assurance_counter_check", client_address(request))
        raise Http404
    return user


def _licence_choices(person_id: int) -> list[tuple[int, str]]:
    return [
        (licence.licence_id, f"{licence.type_name} {licence.identifier}（{licence.status_label}）")
        for licence in identity_licences(person_id)
    ]


@login_required
@require_http_methods(["GET", "POST"])
def identity_check(request: HttpRequest) -> HttpResponse:
    """窗口实名核验: a counter clerk finds the person by their document, checks the original, records it."""
    actor = _identity_checker_or_404(request)
    ip = client_address(request)
    action = request.POST.get("action", "")
    lookup = forms.CounterLookupForm(request.POST if action == "lookup" else None)
    person = None
    check_form = None
    if request.method == "POST" and action == "lookup" and lookup.is_valid():
        data = lookup.cleaned_data
        try:
            person = services.find_person_at_counter(
                actor=actor, document_type=data["document_type"], document_number=data["document_number"], ip=ip
            )
        except services.IdentityError as error:
            _show_error(lookup, error)
        else:
            check_form = forms.CounterCheckForm(
                initial={"document_type": data["document_type"], "document_number": data["document_number"]},
                licences=_licence_choices(person.pk),
            )
    elif request.method == "POST" and action == "record":
        probe = forms.CounterLookupForm(request.POST)
        if probe.is_valid():
            try:
                number = services.clean_document(
                    probe.cleaned_data["document_type"], probe.cleaned_data["document_number"]
                )
            except services.IdentityError:
                number = ""
            person = services.find_person(probe.cleaned_data["document_type"], number) if number else None
        check_form = forms.CounterCheckForm(request.POST, licences=_licence_choices(person.pk) if person else [])
        if check_form.is_valid():
            data = check_form.cleaned_data
            try:
                record = services.record_counter_check(
                    actor=actor,
                    document_type=data["document_type"],
                    document_number=data["document_number"],
                    original_checked=data["original_checked"],
                    licence_id=data["licence"],
                    ip=ip,
                )
            except services.IdentityError as error:
                _show_error(check_form, error)
            else:
                messages.success(
                    request,
                    _("已记录当面核验：%(name)s，%(level)s")
                    % {"name": record.person.name, "level": record.get_level_display()},
                )
                return redirect("accounts:identity_check")
    return render(
        request,
        "accounts/identity_check.html",
        {"lookup": lookup, "person": person, "check_form": check_form},
    )


@login_required
@require_GET
def staff_home(request: HttpRequest) -> HttpResponse:
    """The staff home: every desk the user's roles open (workbench, counter, hotline, 好差评, administration)."""
    user: User = request.user  # type: ignore[assignment]
    if not policy.has_staff_home(user):
        services.record_event_denied(user, "staff_home", client_address(request))
        raise Http404
    return render(
        request,
        "accounts/staff_home.html",
        {"desks": desks_for(user), "roles": selectors.active_roles(user)},
    )


@login_required
def data_access(request: HttpRequest) -> HttpResponse:
    """“谁用了我的数据”: every read of the person's full data, with who, when, what and why."""
    records = selectors.data_access_records(request.user)  # type: ignore[arg-type]
    page = Paginator(records, 30).get_page(request.GET.get("page"))
    return render(request, "accounts/data_access.html", {"page": page})


def _end_of_day(date: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(date, dt.time(23, 59, 59)))


@login_required
@require_http_methods(["GET", "POST"])
def delegation_new(request: HttpRequest) -> HttpResponse:
    form = forms.DelegationForm(request.POST or None, items=services.delegable_items())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.grant_delegation(
                actor=request.user,  # type: ignore[arg-type]
                agent_document_type=data["agent_document_type"],
                agent_document_number=data["agent_document_number"],
                relationship=data["relationship"],
                valid_until=_end_of_day(data["valid_until"]),
                scope=list(data["scope"]),
            )
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            messages.success(request, "授权已生效")
            return redirect("accounts:home")
    return render(request, "accounts/delegation_new.html", {"form": form})


@login_required
@require_POST
def delegation_revoke(request: HttpRequest, delegation_id: int) -> HttpResponse:
    delegation = selectors.get_own_delegation(request.user, delegation_id)  # type: ignore[arg-type]
    try:
        services.revoke_delegation(actor=request.user, delegation=delegation)  # type: ignore[arg-type]
    except services.IdentityError as error:
        raise Http404(error.detail) from error
    messages.success(request, "授权已撤销")
    return redirect("accounts:home")


@login_required
@require_http_methods(["GET", "POST"])
def organisation_new(request: HttpRequest) -> HttpResponse:
    form = forms.OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation = services.register_organisation(
                actor=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
                credit_code=form.cleaned_data["credit_code"],
            )
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            return redirect("accounts:organisation", organisation_id=organisation.pk)
    return render(request, "accounts/organisation_new.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def organisation_detail(request: HttpRequest, organisation_id: int) -> HttpResponse:
    organisation = selectors.get_represented_organisation(request.user, organisation_id)  # type: ignore[arg-type]
    form = forms.AgentForm(request.POST or None, items=services.delegable_items("organisation"))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.add_organisation_agent(
                actor=request.user,  # type: ignore[arg-type]
                organisation=organisation,
                agent_document_type=data["agent_document_type"],
                agent_document_number=data["agent_document_number"],
                valid_until=_end_of_day(data["valid_until"]),
                scope=data["scope"],
            )
        except services.IdentityError as error:
            _show_error(form, error)
        else:
            messages.success(request, "经办人授权已生效")
            return redirect("accounts:organisation", organisation_id=organisation.pk)
    return render(
        request,
        "accounts/organisation_detail.html",
        {"organisation": organisation, "agents": selectors.organisation_agents(organisation), "form": form},
    )


@login_required
@require_POST
def organisation_agent_revoke(request: HttpRequest, organisation_id: int, agent_id: int) -> HttpResponse:
    organisation = selectors.get_represented_organisation(request.user, organisation_id)  # type: ignore[arg-type]
    agent = selectors.organisation_agents(organisation).filter(pk=agent_id).first()
    if agent is None:
        raise Http404("经办人授权不存在")
    services.revoke_organisation_agent(actor=request.user, agent=agent)  # type: ignore[arg-type]
    messages.success(request, "经办人授权已撤销")
    return redirect("accounts:organisation", organisation_id=organisation.pk)


# --- staff administration ------------------------------------------------------------


def _staff_admin_or_404(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not policy.may_administer_staff(user):
        services.record_event_denied(user, "staff_admin", client_address(request))
        raise Http404
    return user


def _offer_grantable_roles(form: Any, actor: User) -> None:
    # Offer only what the actor may grant: a department administrator never sees 12345话务员 or 监督人员.
    allowed = set(policy.grantable_roles(actor))
    field = form.fields["role"]
    field.choices = [(value, label) for value, label in field.choices if value in allowed]


@login_required
@require_http_methods(["GET", "POST"])
def staff_list(request: HttpRequest) -> HttpResponse:
    actor = _staff_admin_or_404(request)
    form = forms.StaffForm(request.POST or None)
    _offer_grantable_roles(form, actor)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        department = directory_selectors.department_by_code(data["department"])
        if department is None:
            form.add_error("department", "部门不存在")
        else:
            try:
                created = services.create_staff(
                    actor=actor,
                    username=data["username"],
                    display_name=data["display_name"],
                    department=department,
                    roles=[data["role"]],
                    password=data["password"],
                )
            except services.IdentityError as error:
                _show_error(form, error)
            else:
                messages.success(request, f"已创建工作人员账户 {created.username}，首次登录须绑定动态口令")
                return redirect("accounts:staff")
    return render(request, "accounts/staff_list.html", {"staff": selectors.staff_list(actor), "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def staff_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = _staff_admin_or_404(request)
    member = selectors.get_managed_user(actor, user_id)
    form = forms.GrantRoleForm(request.POST or None)
    _offer_grantable_roles(form, actor)
    if request.method == "POST" and form.is_valid():
        department = directory_selectors.department_by_code(form.cleaned_data["department"])
        if department is None:
            form.add_error("department", "部门不存在")
        else:
            try:
                services.grant_role(actor=actor, user=member, role=form.cleaned_data["role"], department=department)
            except services.IdentityError as error:
                _show_error(form, error)
            else:
                messages.success(request, "角色已授予")
                return redirect("accounts:staff_detail", user_id=member.pk)
    return render(
        request,
        "accounts/staff_detail.html",
        {
            "member": member,
            "roles": selectors.active_roles(member),
            "form": form,
            "may_administer": policy.can_administer_account(actor, member),
        },
    )


@login_required
@require_POST
def staff_role_revoke(request: HttpRequest, assignment_id: int) -> HttpResponse:
    actor = _staff_admin_or_404(request)
    assignment = selectors.get_managed_assignment(actor, assignment_id)
    try:
        services.revoke_role(actor=actor, assignment=assignment)
    except services.IdentityError as error:
        messages.error(request, error.detail)
        return redirect("accounts:staff_detail", user_id=assignment.user_id)
    if not selectors.staff_list(actor).filter(pk=assignment.user_id).exists():
        # The last role is gone, so the account is no longer staff and its page is no longer the actor's to see.
        messages.success(request, f"已撤销 {assignment.user.username} 的最后一个角色，该账户已不在工作人员名单中")
        return redirect("accounts:staff")
    messages.success(request, "角色已撤销")
    return redirect("accounts:staff_detail", user_id=assignment.user_id)


ACCOUNT_OPERATIONS = ("reset_second_factor", "reset_password", "disable", "enable")


@login_required
@require_POST
def staff_account_action(request: HttpRequest, user_id: int, operation: str) -> HttpResponse:
    """Reset a staff member's authenticator or password, or disable/enable the account (the buttons of the
    staff detail page); the new password is shown on the page once, never put in a message or a redirect."""
    actor = _staff_admin_or_404(request)
    member = selectors.get_managed_user(actor, user_id)
    if operation not in ACCOUNT_OPERATIONS:
        raise Http404
    ip = client_address(request)
    try:
        if operation == "reset_password":
            password = services.reset_password(actor=actor, user=member, ip=ip)
            return render(
                request,
                "accounts/staff_detail.html",
                {
                    "member": member,
                    "roles": selectors.active_roles(member),
                    "form": forms.GrantRoleForm(),
                    "may_administer": True,
                    "temporary_password": password,
                },
            )
        if operation == "reset_second_factor":
            services.reset_second_factor(actor=actor, user=member, ip=ip)
            messages.success(request, "已重置动态口令，该工作人员下次登录时须重新绑定")
        else:
            services.set_account_active(actor=actor, user=member, active=operation == "enable", ip=ip)
            messages.success(request, "账户已启用" if operation == "enable" else "账户已停用，其所有登录已退出")
    except services.IdentityError as error:
        messages.error(request, error.detail)
    return redirect("accounts:staff_detail", user_id=member.pk)


# --- department systems' service accounts (服务账号) ------------------------------------------------------------


def _service_account_admin_or_404(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not policy.may_manage_service_accounts(user):
        services.record_event_denied(user, "service_accounts", client_address(request))
        raise Http404
    return user


def _service_account_page(request: HttpRequest, account: Any, **context: Any) -> HttpResponse:
    return render(request, "accounts/service_account_detail.html", {"account": account, **context})


@login_required
@require_http_methods(["GET", "POST"])
def service_account_list(request: HttpRequest) -> HttpResponse:
    """The service accounts of the actor's departments, and the form that registers a new one."""
    actor = _service_account_admin_or_404(request)
    form = forms.ServiceAccountForm(request.POST or None, departments=selectors.service_account_departments(actor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        department = directory_selectors.department_by_code(data["department"])
        if department is None:  # removed since the page was shown
            form.add_error("department", _("部门不存在"))
        else:
            try:
                account, secret = services.create_service_account(
                    actor=actor,
                    name=data["name"],
                    department=department,
                    scopes=data["scopes"],
                    description=data["description"],
                    ip=client_address(request),
                )
            except services.IdentityError as error:
                _show_error(form, error)
            else:
                # The secret is shown on this page once, never put in a message or a redirect.
                return _service_account_page(request, account, secret=secret)
    return render(
        request,
        "accounts/service_account_list.html",
        {"accounts": selectors.service_accounts(actor), "form": form},
    )


@login_required
@require_GET
def service_account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    actor = _service_account_admin_or_404(request)
    return _service_account_page(request, selectors.get_service_account(actor, account_id))


SERVICE_ACCOUNT_OPERATIONS = ("rotate", "rotate_at_once", "revoke")


@login_required
@require_POST
def service_account_action(request: HttpRequest, account_id: int, operation: str) -> HttpResponse:
    """Rotate the secret (planned, or at once for a leaked one) or revoke the account; audited."""
    actor = _service_account_admin_or_404(request)
    account = selectors.get_service_account(actor, account_id)
    if operation not in SERVICE_ACCOUNT_OPERATIONS:
        raise Http404
    ip = client_address(request)
    try:
        if operation == "revoke":
            services.revoke_service_account(actor=actor, account=account, ip=ip)
            messages.success(request, "服务账号已吊销，其访问令牌立即失效")
        else:
            secret = services.rotate_service_account_secret(
                actor=actor, account=account, at_once=operation == "rotate_at_once", ip=ip
            )
            account.refresh_from_db()
            return _service_account_page(request, account, secret=secret, rotated=True)
    except services.IdentityError as error:
        messages.error(request, error.detail)
    return redirect("accounts:service_account", account_id=account.pk)
