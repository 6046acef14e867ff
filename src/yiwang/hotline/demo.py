"""Demo data of the hotline: the demo city's grid and work orders in every state, made through the services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from yiwang.directory import selectors as directory_selectors
from yiwang.hotline import services
from yiwang.hotline.constants import Satisfaction, Source, WorkOrderKind, WorkOrderState
from yiwang.hotline.geometry.geojson import DEMO_GRID_PATH
from yiwang.hotline.models import DispatchRule, GridCell, WorkOrder

# The department that takes grid reports in cells without a grid worker.
GRID_DEPARTMENT = "urban_management"

Step = tuple[str, str, dict[str, Any]]
# title, kind, content, caller, the steps (action, username, params) after registering.
PLANS: list[tuple[str, str, str, list[Step]]] = [
    ("幸福小区门口占道经营", WorkOrderKind.COMPLAINT, "幸福小区南门每天傍晚有摊贩占道经营，行人只能走机动车道。", []),
    (
        "和平路工地夜间施工噪音",
        WorkOrderKind.COMPLAINT,
        "和平路与人民大道交叉口的工地晚上十一点后仍在施工，噪音很大。",
        [("dispatch", "hotline-operator", {"department": "housing", "category": "城乡建设"})],
    ),
    (
        "东湖公园河道有异味",
        WorkOrderKind.REPORT,
        "东湖公园北侧河道近一周有明显异味，疑似有污水直排。",
        [
            ("dispatch", "hotline-operator", {"department": "ecology", "category": "环境保护"}),
            ("acknowledge", "ecology-handler", {}),
        ],
    ),
    (
        "建议延长政务服务中心周末开放时间",
        WorkOrderKind.SUGGESTION,
        "上班族工作日没时间办事，建议政务服务中心周六全天开放。",
        [
            ("dispatch", "hotline-operator", {"department": "housing", "category": "城乡建设"}),
            ("acknowledge", "housing-handler", {}),
            ("reply", "housing-handler", {"reply": "感谢建议。我局已将周末延时服务纳入明年便民措施研究。"}),
        ],
    ),
    (
        "小区电梯长期故障无人维修",
        WorkOrderKind.HELP,
        "幸福小区3栋电梯停运两周，物业一直说在等配件，老人上下楼困难。",
        [
            ("dispatch", "hotline-operator", {"department": "housing", "category": "城乡建设"}),
            ("acknowledge", "housing-handler", {}),
            ("reply", "housing-handler", {"reply": "已约谈物业，电梯已于本周修复并通过检验。"}),
            ("close", "hotline-operator", {}),
        ],
    ),
    (
        "路口垃圾堆放未及时清运",
        WorkOrderKind.COMPLAINT,
        "人民大道88号附近路口垃圾堆放三天未清运。",
        [
            ("dispatch", "hotline-operator", {"department": "ecology", "category": "环境保护"}),
            ("acknowledge", "ecology-handler", {}),
            ("reply", "ecology-handler", {"reply": "已协调环卫部门清运，并增加该点位清运频次。"}),
            ("close", "hotline-operator", {}),
            (
                "record_callback",
                "hotline-operator",
                {"satisfaction": Satisfaction.SATISFIED, "note": "来电人表示垃圾已清运，满意。"},
            ),
        ],
    ),
]


def create_demo_grid() -> int:
    """Load the demo city's grid once; returns how many cells were made."""
    if GridCell.objects.exists():
        return 0
    return services.load_grid(DEMO_GRID_PATH.read_bytes(), department_code=GRID_DEPARTMENT).created


def create_demo_orders() -> list[str]:
    """Work orders in each state of the lifecycle (once; later runs leave them alone)."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=_usernames())}
    if WorkOrder.objects.exists() or len(users) < len(_usernames()):
        return []
    made = []
    for title, kind, content, steps in PLANS:
        order = services.register(
            actor=users["hotline-operator"],
            kind=kind,
            source=Source.PHONE,
            title=title,
            content=content,
            caller=services.CallerDetails(name="李先生", phone="13900000001"),
            auto_dispatch=False,
        )
        for action, username, params in steps:
            order = services.perform(order, action, actor=users[username], **params)
        made.append(f"{order.number} {order.title}：{WorkOrderState(order.state).label}")
    create_demo_grid()
    citizen = users["citizen-demo"]
    report = services.report_grid_problem(
        actor=citizen,
        title="人行道井盖缺失",
        content="幸福街道小学门口人行道井盖缺失，孩子上下学很危险。",
        category="市政设施",
        longitude=113.265,
        latitude=23.125,
    )
    made.append(f"{report.number} {report.title}：{WorkOrderState(report.state).label}")
    return made


def _usernames() -> set[str]:
    return {username for *_rest, steps in PLANS for _action, username, _params in steps} | {
        "hotline-operator",
        "citizen-demo",
        "grid-worker",
    }


# The seven top-level categories of the city's message board and the departments that answer them.
DEFAULT_RULES = {
    "城乡建设": "housing",
    "环境保护": "ecology",
    "交通运输": "transport",
    "教育文体": "education",
    "劳动和社会保障": "hrss",
    "商贸旅游": "commerce",
    "卫生计生": "health",
}


def load_dispatch_rules() -> int:
    """Create the rules that are missing (existing ones, maybe changed by an administrator, stay); returns how many."""
    departments = directory_selectors.departments_by_code(DEFAULT_RULES.values())
    made = 0
    for category, code in DEFAULT_RULES.items():
        department = departments.get(code)
        if department is None:
            continue
        _rule, created = DispatchRule.objects.get_or_create(category=category, defaults={"department": department})
        made += created
    return made
