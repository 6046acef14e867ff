"""Every route and every API operation, requested as every role and as an anonymous visitor.

``RULES`` says, for each URL name (or, for an unnamed pattern, its route) and each Ninja operation, who may
reach it and what everyone else gets: pages send anonymous visitors to log in, the API answers 401; a page
for a role the account does not hold answers 403; an object of someone else answers 404, exactly like a
missing one, so ids cannot be probed. Each row is requested for real, as every actor in ``ACTORS``, with
the path filled with ids of objects built once for the module (``World``); each request runs in a
transaction that is rolled back, so one actor's change never alters the next one's answer.

``test_every_route_and_operation_has_a_rule`` walks Django's resolver (every app, the admin and the OpenID
Connect provider included) and the NinjaAPI in ``yiwang.api`` (routers, path operations, methods): a route
or operation without a row fails it, and so does a row whose route no longer exists. Adding a route means
adding one row here.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from django.utils.http import urlencode

from tests.accounts.factories import full_number, make_citizen, make_staff
from yiwang.accounts.constants import Role

pytestmark = pytest.mark.django_db

# Every role, plus an anonymous visitor. The owner is a citizen who holds every object of the world; the other
# citizen holds nothing. Market staff handle the owner's case; police staff and the housing handler are staff of
# other departments (the owner's 12345 complaint is dispatched to housing).
ACTORS = [
    "anonymous",
    "owner",
    "other_citizen",
    "counter_clerk",
    "reviewer",
    "approver",
    "police_clerk",
    "market_admin",
    "police_admin",
    "hotline_operator",
    "housing_handler",
    "grid_worker",
    "supervisor",
    "platform_admin",
]
SIGNED_IN = frozenset(ACTORS) - {"anonymous"}
CITIZENS = frozenset({"owner", "other_citizen"})
STAFF = SIGNED_IN - CITIZENS
CASE_STAFF = frozenset({"counter_clerk", "reviewer", "approver"})  # market staff handling the owner's case
CLERKS = frozenset({"counter_clerk", "police_clerk"})
# Holders of a case role (any department) may read a person's data for a stated purpose (audited).
CASE_ROLE_HOLDERS = CASE_STAFF | {"police_clerk", "housing_handler"}
# Who may open the owner's market case: its department's staff, counter clerks anywhere (一窗受理), and the
# platform-wide roles.
OPENERS = CASE_STAFF | CLERKS | {"supervisor", "platform_admin"}
ADMINS = frozenset({"market_admin", "platform_admin"})  # who may manage market's staff
DEPT_ADMINS = frozenset({"market_admin", "police_admin"})
# Desks outside case handling that still open the workbench (with an empty case queue).
DESK_HOLDERS = frozenset({"market_admin", "police_admin", "hotline_operator", "grid_worker", "housing_handler"})
HOTLINE_VIEWERS = frozenset({"hotline_operator", "housing_handler", "supervisor"})  # who sees the complaint
# The 12345 desk: operators, supervisors and department staff who may be sent orders (not the counters).
HOTLINE_DESK = HOTLINE_VIEWERS | {"reviewer", "approver", "market_admin", "police_admin", "grid_worker"}

# The knowledge base: who may draft entries (department staff answering for their department, 12345 operators,
# platform administrators), and who sees the market department's entry on the staff pages.
KB_DRAFTERS = frozenset(
    {"reviewer", "approver", "market_admin", "police_admin", "housing_handler", "hotline_operator", "platform_admin"}
)
# Staff who see the owner's licence (issued by market) and who may use the licence desk at all.
LICENCE_STAFF = CASE_STAFF | {"market_admin", "supervisor", "platform_admin"}
LICENCE_DESK = LICENCE_STAFF | {"police_clerk", "police_admin", "housing_handler"}
KB_MARKET = frozenset({"reviewer", "approver", "market_admin", "hotline_operator", "platform_admin"})
# 数据共享交换: the desk is for department staff and supervisors; market's requesting staff ask as market.
EXCHANGE_DESK = CASE_STAFF | {
    "police_clerk",
    "market_admin",
    "police_admin",
    "housing_handler",
    "supervisor",
    "platform_admin",
}
MARKET_REQUESTERS = CASE_STAFF | {"market_admin", "platform_admin"}

LOGIN = -302  # a redirect to the login page (checked by its Location), not any redirect


def expect(
    allowed: frozenset[str] | set[str],
    *,
    ok: int = 200,
    anonymous: int = LOGIN,
    denied: int = 404,
    **special: int,
) -> dict[str, int]:
    """The status every actor gets: ``ok`` for the allowed, ``denied`` for the others, ``special`` overrides."""
    outcome = {a: (anonymous if a == "anonymous" else ok if a in allowed else denied) for a in ACTORS}
    outcome.update(special)
    return outcome


def anyone(status: int = 200) -> dict[str, int]:
    return dict.fromkeys(ACTORS, status)


def api(allowed: frozenset[str] | set[str], *, ok: int = 200, denied: int = 404, **special: int) -> dict[str, int]:
    """An API operation behind a session: 401 problem without one."""
    return expect(allowed, ok=ok, anonymous=401, denied=denied, **special)


@dataclass(frozen=True)
class Rule:
    """One request: a route key (URL name, route for unnamed patterns, fnmatch patterns allowed), the method,
    the path (``{id}`` filled from ``World.ids``), the body, and the status every actor gets."""

    route: str
    method: str
    path: str
    expected: dict[str, int]
    body: dict[str, Any] | None = None


GET, POST, PUT = "GET", "POST", "PUT"
SERVED = 0  # the page is served: any status below 500 but a redirect to the login page
UPLOAD = "<a file>"  # a body value replaced by a small text file, sent as multipart
MULTIPART = "<multipart>"  # a body key saying the body goes as a multipart form
GRID_REPORT = {
    "title": "人行道井盖缺失",
    "content": "幸福小学门口人行道井盖缺失",
    "category": "市政设施",
    "longitude": 113.265,
    "latitude": 23.125,
}  # in 幸福街道第一网格 (SF-01-001)

# fmt: off
RULES: list[Rule] = [
    # --- the catalogue: public ---------------------------------------------------------------------------------
    Rule("catalog:home", GET, "/", anyone()),
    Rule("catalog:search", GET, "/search/?q=护照", anyone()),
    Rule("catalog:item", GET, "/items/{food}/", anyone()),
    Rule("catalog:departments", GET, "/departments/", anyone()),
    Rule("catalog:department", GET, "/departments/market/", anyone()),
    Rule("catalog:theme", GET, "/themes/{theme}/", anyone()),
    Rule("catalog:bundles", GET, "/bundles/", anyone()),
    Rule("catalog:bundle", GET, "/bundles/open-restaurant/", anyone()),
    Rule("catalog:elderly", POST, "/preferences/elderly/", anyone(302), {"enabled": "1"}),
    Rule("set_language", POST, "/i18n/setlang/", anyone(302), {"language": "en"}),
    Rule("favicon.ico", GET, "/favicon.ico", anyone(301)),
    Rule("api-v1:list_departments", GET, "/api/v1/catalog/departments", anyone()),
    Rule("api-v1:get_department", GET, "/api/v1/catalog/departments/market", anyone()),
    Rule("api-v1:list_themes", GET, "/api/v1/catalog/themes", anyone()),
    Rule("api-v1:list_items", GET, "/api/v1/catalog/items", anyone()),
    Rule("api-v1:get_item", GET, "/api/v1/catalog/items/{food}", anyone()),
    Rule("api-v1:item_versions", GET, "/api/v1/catalog/items/{food}/versions", anyone()),
    Rule("api-v1:list_bundles", GET, "/api/v1/catalog/bundles", anyone()),
    Rule("api-v1:get_bundle", GET, "/api/v1/catalog/bundles/open-restaurant", anyone()),
    Rule("api-v1:search", GET, "/api/v1/catalog/search?q=护照", anyone()),
    Rule("api-v1:api-root", GET, "/api/v1/", anyone(404)),
    Rule("api-v1:openapi-json", GET, "/api/v1/openapi.json", anyone()),
    Rule("api-v1:openapi-view", GET, "/api/v1/docs", anyone()),
    # --- signing in: open to everyone (the login flows themselves are tested in tests/accounts) ---------------
    Rule("accounts:login", GET, "/accounts/login/", anyone()),
    Rule("accounts:login_verify", GET, "/accounts/login/verify/", anyone(LOGIN)),
    Rule("accounts:login_sms", GET, "/accounts/login/sms/", anyone()),
    Rule("accounts:totp_setup", GET, "/accounts/totp/setup/", anyone(LOGIN)),
    Rule("accounts:logout", POST, "/accounts/logout/", anyone(302)),
    Rule("accounts:logout_everywhere", POST, "/accounts/logout-everywhere/", anyone(LOGIN)),
    Rule("accounts:register", GET, "/accounts/register/", anyone()),
    Rule("accounts:sms_outbox", GET, "/accounts/sms-outbox/", anyone()),
    # --- one's own identity, delegations and organisations ----------------------------------------------------
    Rule("accounts:home", GET, "/accounts/", expect(SIGNED_IN)),
    # The staff home: every staff role has one (listing its desks); citizens do not.
    Rule("accounts:desks", GET, "/accounts/desks/", expect(STAFF)),
    Rule("accounts:data_access", GET, "/accounts/data-access/", expect(SIGNED_IN)),
    # 提升实名等级 (ADR 0030): every account may open it; staff accounts are told they have no level to raise.
    Rule("accounts:assurance", GET, "/accounts/real-name/", expect(SIGNED_IN)),
    Rule("accounts:delegation_new", GET, "/accounts/delegations/new/", expect(SIGNED_IN)),
    Rule("accounts:delegation_revoke", POST, "/accounts/delegations/{delegation}/revoke/", expect({"owner"}, ok=302)),
    Rule("accounts:organisation_new", GET, "/accounts/organisations/new/", expect(SIGNED_IN)),
    Rule("accounts:organisation", GET, "/accounts/organisations/{organisation}/", expect({"owner"})),
    Rule("accounts:organisation_agent_revoke", POST, "/accounts/organisations/{organisation}/agents/{agent}/revoke/",
         expect({"owner"}, ok=302)),
    Rule("api-v1:me", GET, "/api/v1/accounts/me", api(SIGNED_IN)),
    Rule("api-v1:my_data_access", GET, "/api/v1/accounts/me/data-access", api(SIGNED_IN)),
    Rule("api-v1:my_delegations", GET, "/api/v1/accounts/me/delegations", api(SIGNED_IN)),
    # Everyone signed in may try; the bad agent number is refused as bad input, and staff have no person.
    Rule("api-v1:create_delegation", POST, "/api/v1/accounts/me/delegations", api(set(), denied=400),
         {"agent_document_type": "resident_id", "agent_document_number": "1", "relationship": "child",
          "valid_until": "2030-01-01"}),
    Rule("api-v1:revoke_delegation", POST, "/api/v1/accounts/me/delegations/{delegation}/revoke", api({"owner"})),
    # A person id leads staff nowhere (issue 12 item 1): they read a person's data through a case or order they hold.
    Rule("api-v1:get_person", GET, "/api/v1/accounts/persons/{person}", api({"owner"})),
    Rule("api-v1:reveal_person", POST, "/api/v1/accounts/persons/{person}/reveal", api({"owner"}),
         {"fields": ["mobile"]}),
    # --- staff management ----------------------------------------------------------------------------------
    Rule("accounts:staff", GET, "/staff/", expect(ADMINS | {"police_admin"})),
    Rule("accounts:staff_detail", GET, "/staff/{market_clerk}/", expect(ADMINS)),
    Rule("accounts:staff_role_revoke", POST, "/staff/roles/{market_clerk_role}/revoke/", expect(ADMINS, ok=302)),
    # Issue 12 item 7: account administration (enable is the harmless one of the four operations).
    Rule("accounts:staff_account_action", POST, "/staff/{market_clerk}/account/enable/", expect(ADMINS, ok=302)),
    # 窗口实名核验 (ADR 0030): counter clerks of any department check the person in front of them.
    Rule("accounts:identity_check", GET, "/staff/identity-checks/", expect(CLERKS)),
    # Department systems' service accounts (issue 15 part 5): department administrators of their tree, the platform.
    Rule("accounts:service_accounts", GET, "/staff/service-accounts/", expect(ADMINS | {"police_admin"})),
    Rule("accounts:service_account", GET, "/staff/service-accounts/{service_account}/", expect(ADMINS)),
    Rule("accounts:service_account_action", POST, "/staff/service-accounts/{service_account}/rotate/",
         expect(ADMINS)),
    Rule("api-v1:list_staff", GET, "/api/v1/accounts/staff", api(ADMINS | {"police_admin"})),
    Rule("api-v1:grant_role", POST, "/api/v1/accounts/staff/{market_clerk}/roles", api(ADMINS, ok=201),
         {"role": "reviewer", "department": "market"}),
    Rule("api-v1:revoke_role", POST, "/api/v1/accounts/roles/{market_clerk_role}/revoke", api(ADMINS, ok=204)),
    # --- single sign-on (OpenID Connect provider); its flows are tested in tests/accounts/test_oidc.py -----------
    Rule("oauth2_provider:oidc-connect-discovery-info", GET, "/.well-known/openid-configuration", anyone()),
    Rule("oauth2_provider:oidc-discovery", GET, "/o/.well-known/openid-configuration", anyone()),
    Rule("oauth2_provider:jwks-info", GET, "/o/.well-known/jwks.json", anyone()),
    Rule("oauth2_provider:authorize", GET, "/o/authorize/?client_id=unknown", expect(SIGNED_IN, ok=400)),
    Rule("oauth2_provider:token", POST, "/o/token/", anyone(400)),
    Rule("oauth2_provider:revoke-token", POST, "/o/revoke_token/", anyone(400)),
    Rule("oauth2_provider:user-info", GET, "/o/userinfo/", anyone(401)),
    # --- probes for load balancers: anyone, no session, no database for /healthz ----------------------------------
    Rule("core:healthz", GET, "/healthz", anyone()),
    Rule("core:readyz", GET, "/readyz", anyone()),
    # --- operations metrics: a scraper's bearer token (tests/core/test_metrics.py) or core.view_metrics -----------
    Rule("core:metrics", GET, "/metrics", expect({"platform_admin"}, anonymous=401, denied=403)),
    # --- the message centre: one's own messages ----------------------------------------------------------------
    Rule("core:messages", GET, "/messages/", expect(SIGNED_IN)),
    Rule("core:messages_read_all", POST, "/messages/read-all/", expect(SIGNED_IN, ok=302)),
    Rule("core:message", GET, "/messages/{message}/", expect({"owner"})),
    # --- fees: the gateway's callback is signed, not signed in; the cashier is the payer's -------------------
    Rule("payments:callback", POST, "/payments/callback/sandbox/", anyone(400)),
    Rule("payments:sandbox_cashier", GET, "/payments/sandbox/{payment}/", expect({"owner"})),
    # --- applying and one's own cases -----------------------------------------------------------------------
    Rule("cases:apply_item", GET, "/apply/item/{food}/", expect(CITIZENS, denied=403)),
    Rule("cases:apply_bundle", GET, "/apply/bundle/open-restaurant/", expect(CITIZENS, denied=403)),
    Rule("cases:application", GET, "/applications/{application}/", expect({"owner"})),
    Rule("cases:application_upload", POST, "/applications/{application}/files/", expect({"owner"}, ok=302)),
    Rule("cases:application_remove_file", POST, "/applications/{application}/files/{draft_file}/remove/",
         expect({"owner"}, ok=302)),
    Rule("cases:application_submit", POST, "/applications/{application}/submit/", expect({"owner"}, ok=302)),
    Rule("cases:application_submitted", GET, "/applications/{submitted_application}/submitted/", expect({"owner"})),
    Rule("cases:application_abandon", POST, "/applications/{application}/abandon/", expect({"owner"}, ok=302)),
    Rule("cases:my_cases", GET, "/cases/", expect(SIGNED_IN)),
    # 办件查询 answers everyone alike; its wrong-pair message and throttle are tested in tests/cases/test_views.py.
    Rule("cases:lookup", GET, "/cases/lookup/", anyone()),
    # Staff who may see the case are sent on to the workbench page.
    Rule("cases:bundle", GET, "/cases/bundles/{bundle}/", expect({"owner"})),
    Rule("cases:case", GET, "/cases/{case}/", expect({"owner"}, **dict.fromkeys(OPENERS, 302))),
    Rule("cases:case_resubmit", POST, "/cases/{case}/resubmit/", expect({"owner"}, ok=302)),
    Rule("cases:case_withdraw", POST, "/cases/{case}/withdraw/", expect({"owner"}, ok=400)),
    Rule("cases:case_print", GET, "/cases/{case}/print/receipt/", expect({"owner"} | OPENERS)),
    # 电子档案: a case's entries and proofs for whoever may open the case; the proof check and tree head are public.
    Rule("archive:case", GET, "/archive/cases/{case}/", expect({"owner"} | OPENERS)),
    Rule("archive:case_proofs", GET, "/archive/cases/{case}/proofs.json", expect({"owner"} | OPENERS)),
    Rule("archive:verify", GET, "/archive/verify/", anyone()),
    Rule("archive:tree_head", GET, "/archive/tree-head.json", anyone()),
    Rule("api-v1:start_application", POST, "/api/v1/cases/applications", api(CITIZENS, ok=201, denied=400),
         {"item_code": "{food}"}),
    Rule("api-v1:get_application", GET, "/api/v1/cases/applications/{application}", api({"owner"})),
    Rule("api-v1:save_application", PUT, "/api/v1/cases/applications/{application}", api({"owner"}),
         {"form": {}}),
    # A text file is refused (400) to the owner only; the others never learn the draft exists.
    Rule("api-v1:upload_file", POST, "/api/v1/cases/applications/{application}/files", api({"owner"}, ok=400),
         {"material_key": "{material_key}", "file": UPLOAD}),
    Rule("api-v1:submit_application", POST, "/api/v1/cases/applications/{application}/submit", api({"owner"})),
    Rule("api-v1:my_cases", GET, "/api/v1/cases/", api(SIGNED_IN)),
    Rule("api-v1:lookup", GET, "/api/v1/cases/lookup?number={case}&code=WRONG1", anyone(404)),
    Rule("api-v1:lookup_bundle", GET, "/api/v1/cases/bundles/lookup?number={bundle}&code=WRONG1", anyone(404)),
    Rule("api-v1:get_case", GET, "/api/v1/cases/{case}", api({"owner"} | OPENERS)),
    # With a session as the detail; department systems' tokens are tested in tests/cases/test_department_systems.py.
    Rule("api-v1:case_status", GET, "/api/v1/cases/{case}/status", api({"owner"} | OPENERS)),
    # Counter clerks, and reviewers of the department, accept; the others who may open the case are refused (409).
    Rule("api-v1:act", POST, "/api/v1/cases/{case}/actions/accept",
         api(CLERKS | {"reviewer"}, owner=409, approver=409, supervisor=409, platform_admin=409), {}),
    # Everyone signed in gets their own (possibly empty) queue.
    Rule("api-v1:workbench", GET, "/api/v1/cases/workbench", api(SIGNED_IN)),
    # --- the workbench and the counter ----------------------------------------------------------------------
    Rule("workbench:home", GET, "/workbench/", expect(OPENERS | DESK_HOLDERS, denied=403)),
    Rule("workbench:case", GET, "/workbench/cases/{case}/", expect(OPENERS)),
    # 查看完整信息: only the holder of the case's open task (the market clerk, at acceptance); others see no case.
    Rule("workbench:reveal", POST, "/workbench/cases/{case}/reveal/", expect({"counter_clerk"}),
         {"which": ["mobile"], "purpose": "contact_applicant"}),
    Rule("api-v1:reveal_applicant", POST, "/api/v1/cases/{case}/applicant/reveal", api({"counter_clerk"}),
         {"fields": ["mobile"], "purpose": "contact_applicant"}),
    # An empty form is bad input for those who may open the case; the others never learn it exists.
    Rule("workbench:act", POST, "/workbench/cases/{case}/actions/accept/", expect(OPENERS, ok=400)),
    Rule("workbench:file", GET, "/workbench/cases/{case}/files/{case_file}/", expect({"owner"} | OPENERS)),
    Rule("workbench:counter", GET, "/counter/", expect(CLERKS, denied=403)),
    # An empty registration form is bad input for clerks (the form again); nobody else may register people.
    Rule("workbench:counter_register", POST, "/counter/register/", expect(CLERKS, ok=400, denied=403)),
    Rule("workbench:counter_start", POST, "/counter/start/", expect(CLERKS, ok=302, denied=403)),
    Rule("workbench:counter_finish", POST, "/counter/finish/", expect(CLERKS, ok=302, denied=403)),
    # --- 12345 hotline pages ----------------------------------------------------------------------------
    Rule("hotline:home", GET, "/hotline/", anyone()),
    Rule("hotline:track", GET, "/hotline/track/", anyone()),
    Rule("hotline:grid_map", GET, "/hotline/grid/", anyone()),
    Rule("hotline:file", GET, "/hotline/new/", expect(SIGNED_IN)),
    Rule("hotline:mine", GET, "/hotline/mine/", expect(SIGNED_IN)),
    Rule("hotline:grid_report", GET, "/hotline/grid/report/", expect(SIGNED_IN)),
    # Staff who may see the order are sent on to the desk page.
    Rule("hotline:mine_order", GET, "/hotline/mine/{order}/", expect({"owner"}, **dict.fromkeys(HOTLINE_VIEWERS, 302))),
    # An empty confirmation is bad input for the caller; nobody else learns the order exists.
    Rule("hotline:confirm", POST, "/hotline/mine/{order}/confirm/", expect({"owner"}, ok=400)),
    Rule("hotline:desk", GET, "/hotline/desk/", expect(HOTLINE_DESK, denied=403)),
    Rule("hotline:intake", GET, "/hotline/desk/intake/", expect({"hotline_operator"}, denied=403)),
    Rule("hotline:supervision", GET, "/hotline/supervision/", expect({"supervisor"}, denied=403)),
    Rule("hotline:hot_issues", GET, "/hotline/hot/", expect({"hotline_operator", "supervisor"}, denied=403)),
    # The caller is sent to their own page.
    Rule("hotline:desk_order", GET, "/hotline/desk/{order}/", expect(HOTLINE_VIEWERS, owner=302)),
    # 查看完整号码: those holding the open order (the 12345 desk, housing's live assignment); others see no order.
    Rule("hotline:reveal_caller", POST, "/hotline/desk/{order}/caller/",
         expect({"hotline_operator", "housing_handler"}), {"purpose": "callback"}),
    Rule("api-v1:hotline_reveal_caller", POST, "/api/v1/hotline/orders/{order}/caller/reveal",
         api({"hotline_operator", "housing_handler"}), {"purpose": "contact_caller"}),
    # The world's order has no files: 404 for everyone. Who gets a real file is tested in test_attachments.py.
    Rule("hotline:attachment", GET, "/hotline/orders/{order}/attachments/1/", expect(set())),
    # Only housing's handler may acknowledge; the operator and supervisor see the order but are refused (403).
    Rule("hotline:act", POST, "/hotline/desk/{order}/actions/acknowledge/",
         expect({"housing_handler"}, ok=302, hotline_operator=403, supervisor=403),
         {"acknowledge-expected_version": "{version}"}),
    # --- 12345 hotline API ------------------------------------------------------------------------------
    Rule("api-v1:hotline_file_order", POST, "/api/v1/hotline/orders", api(SIGNED_IN, ok=201),
         {"kind": "complaint", "title": "夜间施工噪音", "content": "工地每天晚上十一点以后还在施工。"}),
    # The multipart twins take forms (their files are tested in tests/hotline/test_attachments.py).
    Rule("api-v1:hotline_file_order_multipart", POST, "/api/v1/hotline/orders/multipart", api(SIGNED_IN, ok=201),
         {"kind": "help", "title": "路灯不亮", "content": "小区门口路灯坏了一周", MULTIPART: ""}),
    Rule("api-v1:hotline_my_orders", GET, "/api/v1/hotline/orders", api(SIGNED_IN)),
    Rule("api-v1:hotline_get_order", GET, "/api/v1/hotline/orders/{order}", api({"owner"} | HOTLINE_VIEWERS)),
    Rule("api-v1:hotline_act", POST, "/api/v1/hotline/orders/{order}/actions/acknowledge",
         api({"housing_handler"}, owner=403, hotline_operator=403, supervisor=403),
         {"expected_version": "{version}"}),
    Rule("api-v1:hotline_track", GET, "/api/v1/hotline/track?number={order}&code={code}", anyone()),
    Rule("api-v1:hotline_report_grid_problem", POST, "/api/v1/hotline/grid/reports", api(SIGNED_IN, ok=201),
         GRID_REPORT),
    Rule("api-v1:hotline_report_grid_problem_multipart", POST, "/api/v1/hotline/grid/reports/multipart",
         api(SIGNED_IN, ok=201), {**GRID_REPORT, MULTIPART: ""}),
    Rule("api-v1:hotline_grid_cells", GET, "/api/v1/hotline/grid/cells", anyone()),
    Rule("api-v1:hotline_suggest", GET, "/api/v1/hotline/suggest?title=噪音", api({"hotline_operator"}, denied=403)),
    # --- 好差评: rating, public results, staff desks -------------------------------------------------------
    Rule("feedback:rate_case", GET, "/ratings/case/{closed_case}/", expect({"owner"})),
    # An empty form is bad input for the applicant; nobody else learns the case exists.
    Rule("feedback:rate_case", POST, "/ratings/case/{closed_case}/", expect({"owner"}, ok=400), {}),
    Rule("feedback:confirm_resolution", POST, "/ratings/case/{rated_case}/resolution/", expect({"owner"}, ok=302),
         {"resolution-resolved": "yes"}),
    Rule("feedback:visit", GET, "/ratings/v/{visit}/", anyone()),
    # Anyone may rate a visit from its QR code, except the clerk who served it.
    Rule("feedback:visit", POST, "/ratings/v/{visit}/", anyone(302) | {"counter_clerk": 403}, {"level": "4"}),
    # Anonymous holders of the link are asked to sign in (200); other accounts see a wrong link (404).
    Rule("feedback:invitation", GET, "/ratings/i/{invitation}/", expect({"owner"}, anonymous=200)),
    Rule("feedback:results", GET, "/ratings/results/", anyone()),
    Rule("feedback:department_results", GET, "/ratings/results/market/", anyone()),
    Rule("feedback:comments", GET, "/ratings/comments/", anyone()),
    Rule("feedback:counter", GET, "/ratings/counter/", expect(CLERKS, denied=403)),
    Rule("feedback:counter", POST, "/ratings/counter/", expect(CLERKS, ok=400, denied=403), {}),
    Rule("feedback:counter_visit", GET, "/ratings/counter/{visit}/", expect({"counter_clerk"}, denied=403,
                                                                            police_clerk=404)),
    Rule("feedback:phone", GET, "/ratings/phone/", expect({"hotline_operator"}, denied=403)),
    Rule("feedback:phone", POST, "/ratings/phone/", expect({"hotline_operator"}, ok=400, denied=403), {}),
    Rule("feedback:supervision", GET, "/ratings/supervision/", expect({"supervisor"}, denied=403)),
    Rule("feedback:review", POST, "/ratings/supervision/ratings/{suspect}/", expect({"supervisor"}, ok=400,
                                                                                     denied=403), {}),
    Rule("feedback:decide_appeal", POST, "/ratings/supervision/appeals/{appeal}/", expect({"supervisor"}, ok=400,
                                                                                           denied=403), {}),
    # The department desk: its administrators and approvers; another department's rating is missing (404).
    Rule("feedback:department", GET, "/ratings/department/", expect(DEPT_ADMINS | {"approver"}, denied=403)),
    Rule("feedback:file_appeal", POST, "/ratings/department/ratings/{bad_rating}/appeal/",
         expect({"market_admin", "approver"}, ok=400, denied=403, police_admin=404), {}),
    # The API: 401 without a session where one is needed, 404 for someone else's case or rating.
    Rule("api-v1:rate_case", POST, "/api/v1/ratings/cases/{closed_case}", api({"owner"}, ok=201), {"level": 5}),
    Rule("api-v1:rate_visit", POST, "/api/v1/ratings/visits/{visit}", anyone(201) | {"counter_clerk": 403},
         {"level": 4}),
    Rule("api-v1:rating_results", GET, "/api/v1/ratings/results", anyone()),
    Rule("api-v1:published_comments", GET, "/api/v1/ratings/comments", anyone()),
    Rule("api-v1:confirm_resolution", POST, "/api/v1/ratings/{rating}/resolution", api({"owner"}),
         {"resolved": True}),
    # --- 智能客服: anyone may ask; a conversation is its owner's (404 for everyone else, anonymous included); ------
    # the live-chat desk is the 12345 operators' (403 for other accounts). The world's chat waits on the desk.
    Rule("assistant:chat", GET, "/assistant/", anyone()),
    Rule("assistant:ask", POST, "/assistant/ask/", anyone(302), {"q": "护照在哪里办"}),
    Rule("assistant:mine", GET, "/assistant/mine/", anyone()),
    Rule("assistant:conversation", GET, "/assistant/c/{chat}/", expect({"owner"}, anonymous=404)),
    # Already handed off: the owner is told so on the page (a redirect), nobody else learns it exists.
    Rule("assistant:hand_off", POST, "/assistant/c/{chat}/handoff/", expect({"owner"}, ok=302, anonymous=404)),
    # A work order needs a signed-in person: anonymous visitors are sent to log in first.
    Rule("assistant:work_order", POST, "/assistant/c/{chat}/work-order/", expect({"owner"}, ok=302)),
    Rule("assistant:consent", POST, "/assistant/c/{chat}/consent/", expect({"owner"}, ok=302, anonymous=404),
         {"keep": "0"}),
    Rule("assistant:delete", POST, "/assistant/c/{chat}/delete/", expect({"owner"}, ok=302, anonymous=404)),
    Rule("assistant:desk", GET, "/assistant/desk/", expect({"hotline_operator"}, denied=403)),
    Rule("assistant:desk_conversation", GET, "/assistant/desk/{chat}/", expect({"hotline_operator"}, denied=403)),
    Rule("assistant:claim", POST, "/assistant/desk/{chat}/claim/", expect({"hotline_operator"}, ok=302, denied=403)),
    # Not yet claimed: the operator's reply is refused on the page (a redirect with the reason).
    Rule("assistant:reply", POST, "/assistant/desk/{chat}/reply/", expect({"hotline_operator"}, ok=302, denied=403),
         {"text": "您好"}),
    Rule("assistant:desk_close", POST, "/assistant/desk/{chat}/close/",
         expect({"hotline_operator"}, ok=302, denied=403)),
    Rule("api-v1:assistant_answer", GET, "/api/v1/assistant/answer?q=护照在哪里办", anyone()),
    Rule("api-v1:assistant_conversation", GET, "/api/v1/assistant/conversations/{chat}",
         expect({"owner"}, anonymous=404)),
    # --- 知识库: published entries are public; the desk is for those who may draft (department staff who answer
    # for their department, 12345 operators); review for department administrators; the world's entry is market's.
    Rule("knowledge:entry", GET, "/knowledge/{kb_entry}/", anyone()),
    Rule("knowledge:desk", GET, "/knowledge/desk/", expect(KB_DRAFTERS, denied=403)),
    Rule("knowledge:new", GET, "/knowledge/desk/new/", expect(KB_DRAFTERS, denied=403)),
    Rule("knowledge:review", GET, "/knowledge/desk/review/", expect(DEPT_ADMINS | {"platform_admin"}, denied=403)),
    Rule("knowledge:unanswered", GET, "/knowledge/desk/unanswered/", expect(KB_DRAFTERS, denied=403)),
    Rule("knowledge:dismiss", POST, "/knowledge/desk/unanswered/{kb_question}/dismiss/",
         expect(DEPT_ADMINS | {"hotline_operator", "platform_admin"}, ok=302, denied=403)),
    Rule("knowledge:detail", GET, "/knowledge/desk/{kb_entry}/", expect(KB_MARKET)),
    Rule("knowledge:edit", GET, "/knowledge/desk/{kb_entry}/edit/", expect(KB_MARKET)),
    Rule("knowledge:act", POST, "/knowledge/desk/{kb_entry}/actions/submit/", expect(KB_MARKET, ok=302)),
    # --- 电子证照: the wallet (the holder's), 亮证 (the verifier needs no login), the licence desk ----------------
    Rule("wallet:home", GET, "/licences/", expect(SIGNED_IN)),
    Rule("wallet:status", GET, "/licences/status/", anyone()),
    Rule("wallet:licence", GET, "/licences/{licence}/", expect({"owner"})),
    Rule("wallet:pdf", GET, "/licences/{licence}/pdf/", expect({"owner"} | LICENCE_STAFF)),
    Rule("wallet:share", POST, "/licences/{licence}/share/", expect({"owner"}), {"fields": ["holder"]}),
    # The owner's case issued no licence in this world: the decision document is missing (404) for all who see it.
    Rule("wallet:decision_pdf", GET, "/licences/decisions/{case}/pdf/", expect(set())),
    # The owner's case is only submitted: nothing is sealed yet (tests/licences/test_case_documents.py has the rest).
    Rule("wallet:case_document_pdf", GET, "/licences/cases/{case}/documents/receipt/1/pdf/", expect(set())),
    Rule("wallet:share_open", GET, "/licences/shared/{share_token}/", anyone()),
    # Without the confirmation ticked the owner is sent back to the application; others never learn it exists.
    Rule("wallet:take_material", POST, "/applications/{application}/from-wallet/", expect({"owner"}, ok=302),
         {"material_key": "{material_key}"}),
    Rule("wallet:staff_home", GET, "/licences/desk/", expect(LICENCE_DESK, denied=403)),
    Rule("wallet:staff_licence", GET, "/licences/desk/{licence}/",
         expect(LICENCE_STAFF, denied=403, police_clerk=404, police_admin=404, housing_handler=404)),
    # 电子证照目录: department administrators (their departments' types) and platform administrators.
    Rule("wallet:types", GET, "/licences/desk/types/", expect(DEPT_ADMINS | {"platform_admin"}, denied=403)),
    Rule("wallet:type_create", GET, "/licences/desk/types/new/", expect(DEPT_ADMINS | {"platform_admin"}, denied=403)),
    Rule("wallet:type_edit", GET, "/licences/desk/types/{licence_type}/",
         expect({"market_admin", "platform_admin"}, denied=403, police_admin=404)),
    # The licences API: the wallet and shares are the holder's (staff have an empty wallet); 亮证 opening and the
    # status check are public.
    Rule("api-v1:licences_wallet", GET, "/api/v1/licences/wallet", api(SIGNED_IN)),
    Rule("api-v1:licences_licence", GET, "/api/v1/licences/wallet/{licence}", api({"owner"})),
    Rule("api-v1:licences_licence_pdf", GET, "/api/v1/licences/wallet/{licence}/pdf", api({"owner"})),
    Rule("api-v1:licences_create_share", POST, "/api/v1/licences/wallet/{licence}/shares", api({"owner"}, ok=201),
         {"fields": ["holder"]}),
    Rule("api-v1:licences_shares", GET, "/api/v1/licences/shares", api(SIGNED_IN)),
    Rule("api-v1:licences_withdraw_share", POST, "/api/v1/licences/shares/{share}/withdraw", api({"owner"})),
    Rule("api-v1:licences_open_share", POST, "/api/v1/licences/shares/open", anyone(), {"token": "{share_token}"}),
    Rule("api-v1:licences_status", GET,
         "/api/v1/licences/status?identifier={licence_identifier}&code={licence_code}", anyone()),
    # --- 数据共享交换: the open catalogue is public; requests are staff's for their department; consents and
    # one's exchanges are the person's own. The world's draft material is uploaded, not shared: 404 for all.
    Rule("exchange:catalogue", GET, "/exchange/resources/", anyone()),
    Rule("exchange:desk", GET, "/exchange/desk/", expect(EXCHANGE_DESK, denied=403)),
    Rule("exchange:batches", GET, "/exchange/desk/batches/", expect(EXCHANGE_DESK, denied=403)),
    Rule("exchange:consents", GET, "/exchange/consents/", expect(SIGNED_IN)),
    Rule("exchange:consent_revoke", POST, "/exchange/consents/{consent}/revoke/", expect({"owner"}, ok=302)),
    Rule("exchange:material", GET, "/exchange/applications/{application}/materials/{material_key}/", expect(set())),
    Rule("api-v1:exchange_resources", GET, "/api/v1/exchange/resources", anyone()),
    Rule("api-v1:exchange_request", POST, "/api/v1/exchange/requests", api(MARKET_REQUESTERS, denied=403),
         {"service": "credit", "consumer": "market", "subject_kind": "organisation", "subject": "{org_code}",
          "fields": ["listed"], "purpose": "核验信用"}),
    Rule("api-v1:exchange_records", GET, "/api/v1/exchange/exchanges", api(SIGNED_IN)),
    Rule("api-v1:exchange_my_exchanges", GET, "/api/v1/exchange/me/exchanges", api(SIGNED_IN)),
    Rule("api-v1:exchange_my_consents", GET, "/api/v1/exchange/me/consents", api(SIGNED_IN)),
    Rule("api-v1:exchange_give_consent", POST, "/api/v1/exchange/me/consents", api(CITIZENS, ok=201, denied=403),
         {"service": "marriage", "days": 30, "purpose": "办理本人事项"}),
    Rule("api-v1:exchange_revoke_consent", POST, "/api/v1/exchange/me/consents/{consent}/revoke", api({"owner"})),
    # --- 电子印章: the trust list and verification are public; department administrators rotate their seals ---
    Rule("seals:trust_list", GET, "/licences/trust-list.json", anyone()),
    Rule("seals:trust_list_signature", GET, "/licences/trust-list.sig", anyone()),
    Rule("seals:verify", GET, "/licences/verify/?p=YW1:ABC", anyone()),
    Rule("seals:desk", GET, "/licences/seals/", expect(DEPT_ADMINS | {"platform_admin"}, denied=403)),
    Rule("seals:rotate", POST, "/licences/seals/{seal}/rotate/", expect({"market_admin", "platform_admin"}, ok=302)),
    Rule("api-v1:licences_trust_list", GET, "/api/v1/licences/trust-list", anyone()),
    Rule("api-v1:licences_verify", GET, "/api/v1/licences/verify?p=YW1:ABC", anyone()),
    Rule("api-v1:licences_verify_post", POST, "/api/v1/licences/verify", anyone(), {"payload": "YW1:ABC"}),
    # --- 节点间交换: other nodes' signed messages; no session counts, an unsigned request is refused (401) ---
    Rule("exchange_nodes:messages", POST, "/exchange/v1/messages", anyone(401), {}),
    # 跨省通办: the peers' items are public; the form needs an account; an application is its applicant's only.
    Rule("crossregion:items", GET, "/cross-region/", anyone()),
    Rule("crossregion:apply", GET, "/cross-region/items/{remote_item}/", expect(SIGNED_IN)),
    Rule("crossregion:my_applications", GET, "/cross-region/applications/", expect(SIGNED_IN)),
    Rule("crossregion:application", GET, "/cross-region/applications/{forwarded}/", expect({"owner"})),
    Rule("crossregion:receipt", GET, "/cross-region/applications/{forwarded}/receipt/", expect({"owner"})),
    # --- the Django admin: only staff accounts (is_staff; the platform administrators in the demo) ---------
    # Every admin view is wrapped by AdminSite.admin_view; the rows are expanded to every admin route below.
    # The superuser's answer may be a 403 or a redirect where a model is read-only or an object is missing.
    Rule("admin:*", GET, "", expect({"platform_admin"}, ok=SERVED, denied=LOGIN)),
    # The admin's own login form is replaced by the platform's login; logging out takes a POST.
    Rule("admin/login/", GET, "/admin/login/", anyone(LOGIN)),
    Rule("admin:login", GET, "/admin/login/", anyone(LOGIN)),
    Rule("admin:logout", POST, "/admin/logout/", expect({"platform_admin"}, anonymous=302, denied=302)),
    # Old-style object links redirect to the change page.
    Rule("admin/*/<path:object_id>/", GET, "", expect({"platform_admin"}, ok=302, denied=LOGIN)),
    Rule("admin/(?P<url>.*)$", GET, "/admin/no-such-page/", expect({"platform_admin"}, ok=404, denied=LOGIN)),
]
# fmt: on


# --- the routes and operations that exist ------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the URL name with its namespaces, or the route of an unnamed pattern
    route: str  # the full route, as Django writes it
    model: Any = None  # for admin routes: the model they show


def url_routes() -> list[Route]:
    """Every URL pattern of the project, walking included resolvers recursively."""
    models = {(m._meta.app_label, m._meta.model_name): m for m in admin.site._registry}

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                parts = route.split("/")
                model = models.get((parts[1], parts[2])) if route.startswith("admin/") and len(parts) > 3 else None
                yield Route(f"{namespace}{entry.name}" if entry.name else route, route, model)

    return list(walk(get_resolver().url_patterns, "", ""))


def api_operations() -> set[tuple[str, str]]:
    """Every (URL name, method) of the NinjaAPI, walking its routers, their path operations and methods."""
    from yiwang.api import api as ninja_api

    found = set()
    namespace = ninja_api.urls_namespace
    # Bound routers: every router mounted on the API, nested ones included, as Ninja builds its URLs.
    for router in ninja_api._get_bound_routers():
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                name = getattr(operation, "url_name", "") or ninja_api.get_operation_url_name(
                    operation, router=router.template
                )
                if router.url_name_prefix:
                    name = f"{router.url_name_prefix}_{name}"
                found |= {(f"{namespace}:{name}", method.upper()) for method in operation.methods}
    return found


ROUTES = url_routes()
ROUTE_KEYS = {route.key for route in ROUTES}


def covers(key: str, route: Route) -> bool:
    return route.key == key or fnmatch.fnmatchcase(route.key, key)


def matching(rule: Rule) -> list[Route]:
    return [route for route in ROUTES if covers(rule.route, route)]


def admin_path(route: Route, ids: dict[str, Any]) -> str:
    """A real path for an admin route: its object is the first one of its model in the world."""
    kwargs: dict[str, Any] = {}
    if "content_type_id" in route.route:
        kwargs.update(ids["view_on_site"])
    elif "<path:object_id>" in route.route:
        kwargs["object_id"] = ids["admin_objects"][route.model._meta.label_lower]
    elif "<id>" in route.route:  # the user admin's password form
        kwargs["id"] = ids["admin_objects"][route.model._meta.label_lower]
    if "<app_label>" in route.route:
        kwargs["app_label"] = "accounts"
    if route.key.startswith("admin:"):
        return reverse(route.key, kwargs=kwargs)
    return "/" + route.route.replace("<path:object_id>", str(kwargs["object_id"]))


def expanded_rules() -> list[tuple[Rule, Route | None]]:
    """The rows to request: wildcard rows once per route they match."""
    rows: list[tuple[Rule, Route | None]] = []
    exact = {rule.route for rule in RULES}
    for rule in RULES:
        if not rule.path:
            rows += [(rule, route) for route in matching(rule) if route.key not in exact]
        else:
            rows.append((rule, None))
    return rows


ROWS = expanded_rules()


# --- the world every request acts on ------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, Any]
    ids: dict[str, Any] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # actor → session key


def build_world() -> World:
    """The actors and one object of every kind the routes take: the owner's, unless said otherwise."""
    from tests.cases import builders
    from tests.cases.conftest import FOOD_LICENCE, ID_CARD_REISSUE, item_code, staff_of
    from tests.feedback.test_services import closed_case
    from tests.feedback.test_views import handle_rectification, market_window
    from yiwang.accounts import services as account_services
    from yiwang.accounts.models import User
    from yiwang.cases import services as case_services
    from yiwang.cases.models import BundleSubmission, PaymentOrder
    from yiwang.catalog.models import Theme
    from yiwang.core import notifications
    from yiwang.core.identifiers import make_credit_code
    from yiwang.core.models import InAppMessage
    from yiwang.feedback import services as feedback_services
    from yiwang.feedback.constants import RatingChannel, RatingStatus
    from yiwang.feedback.models import Rating
    from yiwang.hotline import services as hotline_services
    from yiwang.hotline.constants import Source, WorkOrderKind
    from yiwang.hotline.demo import load_dispatch_rules

    load_dispatch_rules()
    owner = make_citizen("甲业主")
    users: dict[str, Any] = {
        "anonymous": None,
        "owner": owner,
        "other_citizen": make_citizen("乙路人"),
        "counter_clerk": make_staff(Role.COUNTER_CLERK, "market"),
        "reviewer": make_staff(Role.REVIEWER, "market"),
        "approver": make_staff(Role.APPROVER, "market"),
        "police_clerk": make_staff(Role.COUNTER_CLERK, "police"),
        "market_admin": make_staff(Role.DEPARTMENT_ADMIN, "market"),
        "police_admin": make_staff(Role.DEPARTMENT_ADMIN, "police"),
        "hotline_operator": make_staff(Role.HOTLINE_OPERATOR),
        "housing_handler": make_staff(Role.REVIEWER, "housing"),
        "grid_worker": make_staff(Role.GRID_WORKER, "xingfu_street"),
        "supervisor": make_staff(Role.SUPERVISOR),
        "platform_admin": make_staff(Role.PLATFORM_ADMIN),
    }
    assert set(users) == set(ACTORS)
    # Platform administrators also run the Django admin, as in the demo data.
    User.objects.filter(pk=users["platform_admin"].pk).update(is_staff=True, is_superuser=True)
    users["platform_admin"].refresh_from_db()
    ids: dict[str, Any] = {}

    # Identity: a delegation to a helper, an organisation with an agent.
    helper = make_citizen("丙帮手")
    until = timezone.now() + dt.timedelta(days=10)
    ids["delegation"] = account_services.grant_delegation(
        actor=owner,
        agent_document_type="resident_id",
        agent_document_number=full_number(helper.person),
        relationship="child",
        valid_until=until,
    ).pk
    organisation = account_services.register_organisation(
        actor=owner, name="甲业主商贸有限公司", credit_code=make_credit_code("91", "990100", "MA0X1Y2W")
    )
    ids["organisation"] = organisation.pk
    ids["agent"] = account_services.add_organisation_agent(
        actor=owner,
        organisation=organisation,
        agent_document_type="resident_id",
        agent_document_number=full_number(helper.person),
        valid_until=until,
    ).pk
    clerk = users["counter_clerk"]
    ids.update(person=owner.person_id, market_clerk=clerk.pk, market_clerk_role=clerk.role_assignments.get().pk)

    # Cases: a draft with a file, a submitted 食品经营许可 case (market), an ID card case awaiting its fee.
    food = item_code(FOOD_LICENCE, "market")
    (case,) = builders.apply(owner, item_code=food)
    (bundle_case, *_others) = builders.apply(owner, bundle_code="open-restaurant")
    ids["bundle"] = BundleSubmission.objects.get(application_id=bundle_case.application_id).number
    draft = case_services.start_application(actor=owner, applicant=case_services.applicant_for(owner), item_code=food)
    builders.fill(draft, owner)
    police = staff_of("police")
    (fee_case,) = builders.apply_at_counter(police.clerk, owner, item_code=item_code(ID_CARD_REISSUE, "police"))
    case_services.perform(fee_case, "accept", actor=police.clerk)
    case_services.perform(fee_case, "complete_task", actor=police.reviewer, reason="挂失信息与人口信息一致")
    case_services.perform(fee_case, "approve", actor=police.approver, reason="准予补领")
    ids.update(
        food=food,
        theme=Theme.objects.order_by("pk").values_list("code", flat=True).first(),
        application=draft.pk,
        draft_file=draft.files.first().pk,
        material_key=draft.files.first().material_key,
        submitted_application=case.application_id,
        case=case.number,
        case_file=case.application.files.first().pk,
        payment=PaymentOrder.objects.get(case=fee_case).order_number,
    )

    # 电子证照: the owner's 食品经营许可证 and a share of it.
    from tests.licences.helpers import issue_food_licence
    from yiwang.licences import services as licence_services
    from yiwang.licences.constants import SHARE_MINUTES_CHOICES

    licence = issue_food_licence(owner)
    # The longest lifetime a holder may choose: the ids are made once for the module, whose run can be slow.
    share, share_token = licence_services.create_share(
        licence, actor=owner, fields=["holder"], minutes=max(SHARE_MINUTES_CHOICES)
    )
    ids.update(
        licence=licence.pk,
        share=share.pk,
        share_token=share_token,
        licence_type=licence.licence_type_id,
        licence_identifier=licence.identifier,
        licence_code=licence.verification_code,
    )

    # 数据共享交换: the demo catalogue, services and provider rows; the owner's consent to the household service.
    from yiwang.exchange import demo as exchange_demo
    from yiwang.exchange import services as exchange_services

    exchange_demo.create_catalogue()
    exchange_demo.create_demo_records()
    ids["consent"] = exchange_services.give_consent(actor=owner, service_code="household", days=30, purpose="办事").pk

    # 跨省通办: an item of a peer node, and the owner's application forwarded to it.
    from yiwang.exchange.crossregion.models import ForwardedApplication, RemoteItem

    remote = RemoteItem.objects.create(
        peer_code="node-b", peer_name="乙省", code="B-1", name="乙省事项", department_name="乙省市场监管局",
        imported_at=timezone.now(),
    )  # fmt: skip
    ids["remote_item"] = remote.pk
    ids["forwarded"] = ForwardedApplication.objects.create(
        number="KS-20261207-000001", item=remote, peer_code="node-b", item_code="B-1", item_name="乙省事项",
        department_name="乙省市场监管局", applicant_person_id=owner.person_id, created_by=owner,
        submitted_at=timezone.now(),
    ).number  # fmt: skip
    ids["org_code"] = organisation.credit_code

    # The message centre: one message for the owner.
    notification = notifications.queue(
        dedupe_key="access-test",
        channel="in_app",
        template="access",
        subject="办件进度",
        body="您的办件已受理。",
        recipient_user_id=owner.pk,
    )
    ids["message"] = InAppMessage.objects.create(
        notification=notification, user=owner, subject=notification.subject, body=notification.body
    ).pk

    # 12345: the owner's web complaint, dispatched by the operator to housing (待签收); the demo grid loaded.
    order = hotline_services.register(
        actor=owner,
        kind=WorkOrderKind.COMPLAINT,
        source=Source.WEB,
        title="小区旁工地夜间施工噪音扰民",
        content="和平路幸福小区旁的工地每天晚上十一点以后还在施工，噪音很大，影响居民休息。",
        caller=hotline_services.CallerDetails(user=owner),
    )
    order = hotline_services.perform(
        order, "dispatch", actor=users["hotline_operator"], department="housing", category="城乡建设"
    )
    from tests.hotline.test_views import load_grid

    load_grid()
    ids.update(order=order.number, code=order.verification_code, version=order.version)

    # 好差评: closed cases (one unrated, one rated badly and rectified, one appealed), a counter visit, a
    # suspect rating, an SMS invitation.
    unrated = closed_case(owner)
    rated_case = closed_case(owner)
    web = feedback_services.Origin(RatingChannel.WEB, device="world-device", address="10.0.0.9")
    bad = feedback_services.rate_case(
        user=owner, number=rated_case.number, level=1, scores={}, comment="窗口让我跑了三次", origin=web
    )
    handle_rectification(bad)
    appealed = feedback_services.rate_case(
        user=owner, number=closed_case(owner).number, level=2, scores={}, comment="不满意", origin=web
    )
    appeal = feedback_services.file_appeal(staff=users["market_admin"], rating_id=appealed.pk, reason="与本部门无关")
    visit = feedback_services.open_visit(clerk=clerk, window_id=market_window().pk)
    suspect = feedback_services.rate_visit(
        token=feedback_services.open_visit(clerk=clerk, window_id=market_window().pk).token,
        user=None,
        level=5,
        scores={},
        comment="好",
        origin=feedback_services.Origin(RatingChannel.QR, device="suspect-phone"),
    )
    # Flagging takes a burst of ratings; a flagged rating is all the desk needs here.
    Rating.objects.filter(pk=suspect.pk).update(status=RatingStatus.SUSPECT, flags=["praise_burst"])
    ids.update(
        closed_case=unrated.number,
        rated_case=rated_case.number,
        rating=bad.pk,
        bad_rating=appealed.pk,
        appeal=appeal.pk,
        visit=visit.token,
        suspect=suspect.pk,
        invitation=feedback_services.invite_for_case(unrated.pk).token,
    )

    # 知识库: market's entry, published and with a new draft (reviewer's); one unanswered question.
    from yiwang.knowledge import selectors as knowledge_selectors
    from yiwang.knowledge import services as knowledge_services

    kb_draft = knowledge_services.create_entry(
        actor=users["reviewer"],
        department_code="market",
        content=knowledge_services.EntryContent(
            kind="answer", questions=["开饭店要办什么证"], answer="先办营业执照，再办食品经营许可证。"
        ),
    )
    knowledge_services.submit_for_review(kb_draft, actor=users["reviewer"])
    knowledge_services.publish_version(kb_draft, actor=users["market_admin"])
    knowledge_services.start_new_version(kb_draft.entry_id, actor=users["reviewer"])
    knowledge_services.record_unanswered_question("公租房怎么申请", channel="assistant")
    ids.update(kb_entry=kb_draft.entry_id, kb_question=knowledge_selectors.unanswered_groups()[0].question_id)

    # 智能客服: the owner's kept conversation, declined and handed to the live-chat desk.
    from yiwang.assistant import services as assistant_services

    chat = assistant_services.start_conversation(user=owner, keep=True)
    assistant_services.ask(chat, "明天天气怎么样")
    assistant_services.hand_off(chat, actor=owner)
    ids["chat"] = chat.reference

    # 电子印章: the market department's seal.
    from yiwang.licences.services import seals as seal_services

    ids["seal"] = seal_services.create_seal("market").pk

    # 服务账号: market's department system.
    from yiwang.directory.selectors import department_by_code

    ids["service_account"] = account_services.create_service_account(
        actor=users["market_admin"],
        name="示范市市场监管局登记系统",
        department=department_by_code("market"),
        scopes=["cases:read"],
    )[0].pk

    # The admin: the first object of every registered model (a model without any shows a missing id).
    ids["admin_objects"] = {
        model._meta.label_lower: model._default_manager.order_by("pk").values_list("pk", flat=True).first() or 0
        for model in admin.site._registry
    }
    from django.contrib.contenttypes.models import ContentType

    ids["view_on_site"] = {"content_type_id": ContentType.objects.get_for_model(User).pk, "object_id": owner.pk}
    return World(users, ids)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Built once for the module in a transaction rolled back at its end; each test nests in it."""
    from django.conf import settings

    tmp = tmp_path_factory.mktemp("access")
    storages = {
        **settings.STORAGES,
        "materials": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp / "materials")},
        },
    }
    overrides = override_settings(
        STORAGES=storages,
        VAR_DIR=tmp,  # no classifier model: hotline suggestions stay empty
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    with overrides, django_db_blocker.unblock(), transaction.atomic():
        world = build_world()
        for actor, user in world.users.items():
            if user is not None:
                client = Client()
                client.force_login(user)
                world.sessions[actor] = client.cookies[settings.SESSION_COOKIE_NAME].value
        yield world
        transaction.set_rollback(True)


# --- the checks -----------------------------------------------------------------------------------------------


def request(world: World, actor: str, rule: Rule, path: str) -> Any:
    from django.conf import settings
    from django.core.cache import cache
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client()
    if actor in world.sessions:
        # Signed in once for the module; a fresh client each time, so a logout cannot sign the actor out.
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[actor]
    body = {k: v.format(**world.ids) if isinstance(v, str) else v for k, v in (rule.body or {}).items()}
    multipart = body.pop(MULTIPART, None) is not None or UPLOAD in body.values()
    body = {
        k: SimpleUploadedFile("说明.txt", b"not a material", "text/plain") if v == UPLOAD else v
        for k, v in body.items()
    }
    # Each actor acts on a fresh copy of the world: one actor's change must not alter the next one's answer,
    # and throttles (kept in the cache) must not count the other actors' requests.
    with transaction.atomic():
        if rule.method == GET:
            response = client.get(path)
        elif multipart:
            response = client.post(path, body)
        elif path.startswith("/api/"):
            response = client.generic(rule.method, path, json.dumps(body, ensure_ascii=False), content_type=JSON)
        else:
            response = client.generic(rule.method, path, urlencode(body, doseq=True), content_type=FORM)
        transaction.set_rollback(True)
    cache.clear()
    return response


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def outcome(response: Any) -> int:
    if response.status_code == 302 and "/login/" in response.get("Location", ""):
        return LOGIN
    return response.status_code


def agrees(got: int, expected: int) -> bool:
    if expected == SERVED:
        return got != LOGIN and got < 500
    return got == expected


@pytest.mark.parametrize(
    ("rule", "route"), ROWS, ids=[f"{route.key if route else rule.route}-{rule.method}" for rule, route in ROWS]
)
def test_access(world: World, rule: Rule, route: Route | None) -> None:
    path = admin_path(route, world.ids) if route else rule.path.format(**world.ids)
    if route is None:
        # The row's path reaches the route it is listed under (or one sharing its pattern, for API methods).
        reached = resolve(path.split("?")[0]).route
        assert reached in {r.route for r in matching(rule)}, (path, reached)
    outcomes = {actor: outcome(request(world, actor, rule, path)) for actor in ACTORS}
    expected = rule.expected
    wrong = {actor: (got, expected[actor]) for actor, got in outcomes.items() if not agrees(got, expected[actor])}
    assert not wrong, f"{rule.method} {path}: (got, expected) {wrong}; all: {outcomes}"


def test_every_route_and_operation_has_a_rule() -> None:
    keys = {rule.route for rule in RULES}
    rows = {(rule.route, rule.method) for rule in RULES}
    operations = api_operations()  # every API operation, method by method
    assert len(operations) >= 40
    # The API's own pages (root, schema, docs) are URL patterns but not operations.
    own_pages = {"api-v1:api-root", "api-v1:openapi-json", "api-v1:openapi-view"}
    problems = {
        f"routes without an access rule (add a row to RULES in {__name__})": sorted(
            route.key for route in ROUTES if not any(covers(key, route) for key in keys)
        ),
        "rows in RULES for routes that no longer exist": sorted(
            key for key in keys if not any(covers(key, route) for route in ROUTES)
        ),
        "API operations without a row for their method": sorted(operations - rows),
        "API rows for an operation or method that does not exist": sorted(
            (route, method)
            for route, method in rows
            if route.startswith("api-v1:") and (route, method) not in operations and route not in own_pages
        ),
    }
    assert not any(problems.values()), {problem: names for problem, names in problems.items() if names}


def test_the_walk_finds_every_app() -> None:
    namespaces = {key.split(":")[0] for key in ROUTE_KEYS if ":" in key}
    assert {
        "admin",
        "api-v1",
        "accounts",
        "oauth2_provider",
        "catalog",
        "core",
        "payments",
        "cases",
        "workbench",
        "hotline",
        "feedback",
        "knowledge",
    } <= namespaces
    counts = {ns: sum(key.startswith(f"{ns}:") for key in ROUTE_KEYS) for ns in ("hotline", "feedback")}
    assert counts["hotline"] >= 15 and counts["feedback"] >= 15, counts
    feedback_api = {
        name
        for name, _m in api_operations()
        if name.split(":")[1]
        in {"rate_case", "rate_visit", "rating_results", "published_comments", "confirm_resolution"}
    }
    assert len(feedback_api) == 5
