"""Demo cases in every state, for `make run` (never in production).

Each case is made the way a real one is: a draft filled in and submitted by
the demo citizen, then moved by the demo staff through ``services.perform``,
so the timelines, deadlines and notifications are genuine.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model

from yiwang.accounts.services import act_for_at_counter
from yiwang.cases import definitions, services
from yiwang.cases.constants import CaseState
from yiwang.cases.models import Application, Case
from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog.constants import OnlineDepth
from yiwang.core import crypto

if TYPE_CHECKING:
    from yiwang.catalog.models import ServiceItem


DEMO_KEY_PREFIX = "demo-"
FOOD_LICENCE = ("食品经营许可", "market")
FEE_ITEM = ("居民身份证补领", "police")

# The state wanted, the item, and the actions (with actor usernames and parameters) that lead there.
Plan = list[tuple[str, str, dict[str, Any]]]


def _demo_pdf() -> bytes:
    # A one-page PDF written out by hand (no script, no embedded files), valid for the upload checks.
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _fill_and_submit(user: Any, item: ServiceItem, key: str, clerk: Any) -> Case:
    applicant = user
    if item.online_depth >= OnlineDepth.ONLINE_APPLICATION:
        application = services.start_application(
            actor=user, applicant=services.applicant_for(user), item_code=item.code
        )
    else:
        # Counter-only items: the demo clerk checks the citizen's ID card and applies for them.
        acting = act_for_at_counter(
            actor=clerk,
            document_type=user.person.document_type,
            document_number=crypto.decrypt(user.person.document_number_encrypted),
            identity_checked_by="id_card_reader",
        )
        application = services.start_application(
            actor=clerk, applicant=services.applicant_for(clerk, acting=acting), item_code=item.code, channel="counter"
        )
        user = clerk
    definition = definitions.for_item(item)
    answers = {
        q.key: definitions.NO if definitions.NO in dict(q.options) else q.options[0][0] for q in definition.questions
    }
    applies = definitions.applicable(definition, answers)
    samples = {"phone": "13800000001", "credit_code": "", "date": "2026-12-01", "integer": "1", "decimal": "1"}
    # What a citizen would type, so the licences and documents these cases issue read like real ones.
    name = applicant.person.name
    by_key = {
        "applicant_name": name,
        "legal_representative": name,
        "contact_name": name,
        "address": "示范市人民大道88号",
        "organisation_name": f"示范市{name[0]}记小吃店",
        "description": "在自有门面开办小吃店，经营热食类食品制售",
    }
    data = {
        f.key: by_key.get(f.key) or samples.get(f.type) or (f.choices[0][0] if f.choices else f"{f.label}（演示）")
        for f in applies.fields
    }
    data["applicant_kind"] = "person"
    services.save_draft(application, actor=user, answers=answers, form_data=data)
    pdf = _demo_pdf()
    for spec in applies.materials:
        if spec.required and not spec.from_source:
            services.attach_file(
                application, actor=user, material_key=spec.key, name=f"{spec.name[:40]}.pdf", stream=io.BytesIO(pdf)
            )
    (case,) = services.submit_application(application, actor=user, submission_key=key)
    return case


def _correction_items(case: Case) -> list[dict[str, str]]:
    material = next(m for m in definitions.for_item(case.item).materials if m.required and not m.from_source)
    return [{"kind": "material", "key": material.key, "problem": "平面布局图未标明各功能区，请补充标注"}]


def _plans() -> dict[str, tuple[tuple[str, str], Plan]]:
    accept: tuple[str, str, dict[str, Any]] = ("accept", "counter-clerk", {})
    review = ("complete_task", "market-reviewer", {"reason": "材料齐全，现场核查符合要求"})
    approve = ("approve", "market-approver", {"reason": "符合许可条件，准予许可"})
    issue: tuple[str, str, dict[str, Any]] = ("issue_certificate", "counter-clerk", {})
    return {
        CaseState.SUBMITTED: (FOOD_LICENCE, []),
        CaseState.IN_REVIEW: (FOOD_LICENCE, [accept]),
        CaseState.CORRECTION_REQUESTED: (FOOD_LICENCE, [accept, ("request_correction", "market-reviewer", {})]),
        CaseState.SUSPENDED: (FOOD_LICENCE, [accept, ("suspend", "market-approver", {"reason": "需组织专家论证"})]),
        CaseState.ISSUING: (FOOD_LICENCE, [accept, review, approve]),
        CaseState.READY_FOR_COLLECTION: (FOOD_LICENCE, [accept, review, approve, issue]),
        CaseState.CLOSED: (FOOD_LICENCE, [accept, review, approve, issue, ("close", "counter-clerk", {})]),
        CaseState.REFUSED: (
            FOOD_LICENCE,
            [
                accept,
                review,
                (
                    "refuse",
                    "market-approver",
                    {"reason": "经营场所与污染源距离不符合要求", "legal_basis": "《食品安全法》第三十三条"},
                ),
            ],
        ),
        CaseState.REJECTED: (
            FOOD_LICENCE,
            [
                (
                    "reject",
                    "counter-clerk",
                    {"reason": "申请人已在他处取得同类许可", "legal_basis": "《行政许可法》第三十二条"},
                )
            ],
        ),
        CaseState.WITHDRAWN: (FOOD_LICENCE, [("withdraw", "citizen-demo", {"reason": "经营计划调整"})]),
        CaseState.AWAITING_PAYMENT: (
            FEE_ITEM,
            [
                ("accept", "counter-clerk", {}),
                ("complete_task", "police-reviewer", {"reason": "身份核验一致"}),
                ("approve", "police-approver", {"reason": "准予补领"}),
            ],
        ),
    }


def create_demo_cases() -> list[str]:
    """Make one demo case per state for the demo citizen (once; later runs leave them alone)."""
    plans = _plans()
    wanted = {"citizen-demo", "counter-clerk"} | {
        username for _item, plan in plans.values() for _a, username, _p in plan
    }
    users = {u.username: u for u in get_user_model().objects.filter(username__in=wanted)}
    citizen = users.get("citizen-demo")
    if citizen is None or "counter-clerk" not in users:
        return []
    made = []
    for state, ((item_name, department), plan) in plans.items():
        key = f"{DEMO_KEY_PREFIX}{state}"
        if Application.objects.filter(submission_key=key).exists():
            continue
        if any(username not in users for _action, username, _params in plan):
            continue
        item = catalog_selectors.published_item_named(item_name, department)
        if item is None:
            continue
        case = _fill_and_submit(citizen, item, key, users["counter-clerk"])
        for action, username, params in plan:
            extra = dict(params)
            if action == "request_correction":
                extra["items"] = _correction_items(case)
            case = services.perform(case, action, actor=users[username], **extra)
        made.append(f"{case.number} {case.item_name}：{CaseState(case.state).label}")
    return made
