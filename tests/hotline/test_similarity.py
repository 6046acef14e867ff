"""Duplicate 12345 messages and hot issues: place extraction, duplicate rules, clustering and ranking."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from yiwang.hotline.similarity import (
    DuplicateFinder,
    HotIssueTracker,
    Message,
    PlaceRelation,
    hot_issues,
    places,
)

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def message(key: str, title: str, text: str = "", *, days_ago: float = 1.0, likes: int = 0, place: str = "") -> Message:
    return Message(key=key, title=title, text=text, created_at=NOW - timedelta(days=days_ago), likes=likes, place=place)


# Unrelated open orders: they give the document frequencies something to go by, as real ones would.
BACKGROUND = [
    message(
        "bg-1", "A3区枫林三路凌晨渣土车扰民", "枫林三路每天凌晨一点渣土车往返，几十辆车吵个不停，请交警部门管一管。"
    ),
    message(
        "bg-2", "咨询异地办理出国签证的问题", "我是外地人，落户A市，申请短期出国旅游签证是否需要回户籍所在地办理？"
    ),
    message(
        "bg-3", "A7县春华镇金鼎村自来水何时到户", "春华镇金鼎村七里组至今没有通自来水，冬季用水紧张，希望尽快安装到户。"
    ),
    message("bg-4", "A市普通话考试报名难", "普通话测试每月只有一天报名，五分钟名额就没了，网站根本刷不进去。"),
    message(
        "bg-5", "A1区古汉国际广场楼顶有人种菜", "古汉国际广场楼顶被个别业主围起来种菜，浇粪水臭气熏天，侵占公共空间。"
    ),
    message("bg-6", "A4区凯乐国际城太平路路灯失修", "凯乐国际城一期与二期之间的太平路路灯大半年没修好，晚上一片漆黑。"),
    message("bg-7", "建议增开A市泉塘到市区的公交线路", "泉塘上下班通勤困难，公交车太少，等车半小时，建议增开线路。"),
    message("bg-8", "A2区红磨坊歌厅长期无证经营", "红磨坊歌厅深夜唱歌噪音大，且无证非法经营，多次拨打热线没有结果。"),
    message("bg-9", "A市医保报销比例如何计算", "母亲住院花费五万元，想咨询医保报销比例和异地就医备案的办理流程。"),
    message(
        "bg-10", "A6区月亮岛路高压线杆架设投诉", "月亮岛路沿线架设110kv高压线杆离居民楼太近，担心辐射，请重新规划。"
    ),
]

NOISE_AT_LIFA = message(
    "open-noise",
    "A2区丽发新城小区附近搅拌站噪音扰民",
    "丽发新城小区旁边新建了一个搅拌站，机器日夜轰鸣，噪音很大，扬尘严重，居民晚上无法睡觉，请环保部门尽快处理。",
)
CRACKS_AT_LIFA = message(
    "open-cracks",
    "A2区丽发新城小区房屋楼板开裂",
    "丽发新城小区交房一年多，楼板和墙面多处开裂，开发商只做表面修补，业主担心房屋质量和安全，请住建部门检测。",
)


@pytest.fixture
def finder() -> DuplicateFinder:
    return DuplicateFinder([*BACKGROUND, NOISE_AT_LIFA, CRACKS_AT_LIFA])


# --- places ---


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("A市A5区魅力之城小区油烟扰民", "", ["A市A5区魅力之城小区"]),
        ("A3区郝家坪小学什么时候能改扩建?", "", ["A3区郝家坪小学"]),
        ("反映A7县春华镇金鼎村水泥路到户的问题", "", ["A7县春华镇", "金鼎村"]),
        ("A2区黄兴路步行街大古道巷住户粪便外排", "", ["A2区黄兴路步行街", "大古道巷"]),
        ("A7县东六路海德公园附近晚上太吵了", "", ["A7县东六路", "海德公园"]),
        ("西地省司法警官职业学院新生体能训练过度", "", ["西地省司法警官职业学院"]),
        ("A6区道路命名规划初步成果公示", "", ["A6区"]),
        # Place words in ordinary words are not places: 道路, 路灯, 村民, 城管, 市场监管, 小学生.
        ("我们小区的路灯坏了", "村民和城管都说道路归市场监管管，小学生晚上不敢出门。", []),
        ("咨询异地办理出国签证的问题", "", []),
        ("", "", []),
    ],
)
def test_places_finds_named_sites_with_their_district(title: str, text: str, expected: list[str]) -> None:
    assert places(title, text) == expected


def test_places_leaves_out_the_verbs_in_front_of_a_name() -> None:
    found = places("坚决反对在A7县诺亚山林小区门口设置医院", "我们是诺亚山林小区的业主，买了万科魅力之城的房子。")
    assert found[0] == "A7县诺亚山林小区"
    assert "万科魅力之城" in found
    assert not any(name.startswith(("设置", "买", "在", "是")) for name in found)


def test_places_names_a_place_once_in_its_most_precise_form() -> None:
    found = places("A市吉龙湾小区物业管理问题", "我曾反映过A5区吉龙湾小区的问题，吉龙湾小区至今没有解决。")
    assert found == ["A5区吉龙湾小区"]


def test_places_reads_full_width_and_traditional_characters() -> None:
    assert places("Ａ２區麗發新城小區附近攪拌站噪音擾民") == ["A2区丽发新城小区"]


def test_places_takes_no_generic_facility_for_a_place() -> None:
    # 实验学校, 斑马线, 人行天桥 name kinds of places, not places.
    assert places("学校门口没有斑马线", "建议在实验学校门口修人行天桥。") == []


# --- duplicates ---


def test_reworded_report_of_the_same_problem_at_the_same_estate_is_a_duplicate(finder: DuplicateFinder) -> None:
    new = message(
        "new-noise",
        "投诉丽发新城附近搅拌站噪音扰民",
        "我是A2区丽发新城小区的业主，小区旁边的搅拌站每天机器轰鸣，噪音和扬尘严重影响休息，请相关部门处理。",
    )
    matches = finder.find(new)
    assert [m.key for m in matches] == ["open-noise"]
    match = matches[0]
    assert match.relation is PlaceRelation.SAME
    assert any("丽发新城" in name for name in match.shared_places)
    assert match.score == match.similarity
    assert 0 < match.score <= 1
    assert "同一地点" in match.reason and "丽发新城" in match.reason


def test_a_different_problem_at_the_same_estate_is_not_a_duplicate(finder: DuplicateFinder) -> None:
    new = message(
        "new-parking",
        "A2区丽发新城小区物业强行收取停车费",
        "丽发新城小区物业公司未经业主大会同意，擅自上调地下车库停车费，不交费就不让车辆进出。",
    )
    assert finder.find(new) == []


def test_the_same_complaint_about_another_estate_is_not_a_duplicate(finder: DuplicateFinder) -> None:
    # Word for word the open noise complaint, about another estate: each estate needs its own answer.
    new = message(
        "new-elsewhere",
        NOISE_AT_LIFA.title.replace("丽发新城", "福满新城"),
        NOISE_AT_LIFA.text.replace("丽发新城", "福满新城"),
    )
    assert finder.find(new) == []


def test_without_a_place_only_a_near_copy_matches_and_counts_less(finder: DuplicateFinder) -> None:
    finder.add(
        message(
            "open-fraud",
            "58车贷案件立案半年没有进展",
            "58车贷恶性退出立案近半年，经侦没有发过一次案情通报，受害人血汗钱追不回。",
        )
    )
    copy = message(
        "new-copy",
        "58车贷案件立案半年没有进展",
        "58车贷恶性退出立案近半年，经侦没有发过一次案情通报，受害人的血汗钱追不回来。",
    )
    matches = finder.find(copy)
    assert [m.key for m in matches] == ["open-fraud"]
    assert matches[0].relation is PlaceRelation.UNKNOWN
    assert matches[0].shared_places == ()
    assert matches[0].score < matches[0].similarity
    assert "未能确认是同一地点" in matches[0].reason

    loosely_related = message("new-loose", "关于58车贷案件的建议", "建议公开58车贷案件的资产追缴情况。")
    assert finder.find(loosely_related) == []


def test_finder_forgets_closed_orders_and_replaces_by_key(finder: DuplicateFinder) -> None:
    assert len(finder) == len(BACKGROUND) + 2
    assert "open-noise" in finder and "nope" not in finder
    finder.discard("open-noise")
    finder.discard("never-added")  # unknown keys are ignored
    assert "open-noise" not in finder
    assert finder.find(NOISE_AT_LIFA) == []

    finder.add(NOISE_AT_LIFA)
    finder.add(NOISE_AT_LIFA)  # the same key again replaces it
    assert len(finder) == len(BACKGROUND) + 2
    again = message("new-noise", NOISE_AT_LIFA.title, NOISE_AT_LIFA.text)
    assert [m.key for m in finder.find(again)] == ["open-noise"]


def test_a_message_is_not_its_own_duplicate(finder: DuplicateFinder) -> None:
    assert finder.find(NOISE_AT_LIFA) == []


def test_empty_finder_and_limits() -> None:
    empty = DuplicateFinder()
    assert len(empty) == 0
    assert empty.find(NOISE_AT_LIFA) == []
    finder = DuplicateFinder([*BACKGROUND, NOISE_AT_LIFA])
    assert finder.find(message("x", NOISE_AT_LIFA.title, NOISE_AT_LIFA.text), limit=0) == []


def test_matches_are_ordered_by_score() -> None:
    finder = DuplicateFinder(
        [
            *BACKGROUND,
            NOISE_AT_LIFA,
            message(
                "open-dust",
                "丽发新城小区旁搅拌站灰尘大",
                "丽发新城小区旁边的搅拌站扬尘严重，家里窗户都不敢开，孩子咳嗽。",
            ),
        ]
    )
    matches = finder.find(message("new", NOISE_AT_LIFA.title, NOISE_AT_LIFA.text + "请尽快处理！"))
    assert matches[0].key == "open-noise"
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_messages_without_text_are_compared_without_error() -> None:
    finder = DuplicateFinder([message("blank", "", ""), *BACKGROUND])
    assert finder.find(message("also-blank", "", "")) == []


# --- hot issues ---


def noise_reports(prefix: str, estate: str, count: int, *, days_ago: float, likes: int = 0) -> list[Message]:
    wordings = [
        ("{e}附近搅拌站噪音扰民", "{e}旁边的搅拌站机器日夜轰鸣，噪音太大，晚上无法睡觉。"),
        ("投诉{e}搅拌站噪音大", "我是{e}的业主，小区附近搅拌站整夜运转，噪音扰民严重。"),
        ("{e}搅拌站扬尘噪音污染", "{e}旁搅拌站扬尘漫天，噪音刺耳，严重影响居民休息。"),
        ("{e}附近的搅拌站太吵了", "{e}附近新建的搅拌站噪音吵得老人小孩睡不着觉。"),
    ]
    return [
        message(
            f"{prefix}-{i}",
            wordings[i % len(wordings)][0].format(e=estate),
            wordings[i % len(wordings)][1].format(e=estate),
            days_ago=days_ago + i * 0.1,
            likes=likes,
        )
        for i in range(count)
    ]


def test_bigger_and_recent_issues_rank_first_and_old_ones_decay() -> None:
    recent_big = noise_reports("big", "A2区丽发新城小区", 5, days_ago=1)
    recent_small = noise_reports("small", "A5区魅力之城小区", 3, days_ago=1)
    old_bigger = noise_reports("old", "A3区中海国际社区", 8, days_ago=60)
    messages = [*BACKGROUND, *recent_small, *old_bigger, *recent_big]

    issues = hot_issues(messages, now=NOW, window_days=365, half_life_days=7)
    keys = [set(issue.keys) for issue in issues]
    assert keys[:3] == [
        {m.key for m in recent_big},
        {m.key for m in recent_small},
        {m.key for m in old_bigger},
    ]
    assert [issue.size for issue in issues[:3]] == [5, 3, 8]
    # Eight messages two months old (about 8.6 half-lives) weigh less than one new message.
    assert issues[2].score < 1
    assert issues[0].score == pytest.approx(sum(0.5 ** ((1 + i * 0.1) / 7) for i in range(5)), rel=1e-3)


def test_issue_describes_its_members() -> None:
    reports = noise_reports("lifa", "A2区丽发新城小区", 4, days_ago=2, likes=3)
    (issue,) = hot_issues([*BACKGROUND, *reports], now=NOW)
    assert issue.size == 4
    assert issue.keys == ("lifa-0", "lifa-1", "lifa-2", "lifa-3")  # newest first
    assert issue.first_at == reports[-1].created_at and issue.last_at == reports[0].created_at
    assert issue.label in {r.title for r in reports}
    assert issue.places[0] == "A2区丽发新城小区"
    assert "搅拌站" in issue.keywords
    assert issue.likes == 12


def test_likes_lift_an_issue_of_the_same_size_and_age() -> None:
    liked = noise_reports("liked", "A2区丽发新城小区", 3, days_ago=3, likes=50)
    plain = noise_reports("plain", "A5区魅力之城小区", 3, days_ago=3)
    issues = hot_issues([*plain, *liked], now=NOW)
    assert issues[0].keys[0].startswith("liked")
    assert issues[0].score > issues[1].score


def test_the_window_and_minimum_size_leave_messages_out() -> None:
    old = noise_reports("old", "A3区中海国际社区", 4, days_ago=45)
    future = noise_reports("future", "A2区丽发新城小区", 3, days_ago=-2)
    single = [message("single", "A6区月亮岛路路灯不亮", "月亮岛路的路灯坏了一个月。")]
    assert hot_issues([*old, *future, *single], now=NOW, window_days=30) == []
    (issue,) = hot_issues([*old, *single], now=NOW, window_days=60)
    assert issue.size == 4
    assert len(hot_issues([*old, *single], now=NOW, window_days=60, min_size=1)) == 2


def test_different_problems_at_one_estate_are_separate_issues() -> None:
    noise = noise_reports("noise", "A2区丽发新城小区", 4, days_ago=1)
    cracks = [
        message("crack-1", "A2区丽发新城小区楼板开裂", "丽发新城小区交房一年，楼板和墙面多处开裂，开发商不管。"),
        message(
            "crack-2", "丽发新城小区房屋质量问题严重", "丽发新城小区多户墙面开裂、楼板裂缝，请住建部门检测房屋质量。"
        ),
        message(
            "crack-3", "投诉A2区丽发新城房屋开裂", "丽发新城交房后墙体开裂渗水，开发商敷衍修补，请求彻查房屋质量。"
        ),
    ]
    issues = hot_issues([*BACKGROUND, *noise, *cracks], now=NOW)
    assert sorted(sorted(issue.keys) for issue in issues) == [
        ["crack-1", "crack-2", "crack-3"],
        sorted(m.key for m in noise),
    ]


def test_empty_and_degenerate_requests() -> None:
    assert hot_issues([], now=NOW) == []
    reports = noise_reports("lifa", "A2区丽发新城小区", 3, days_ago=1)
    assert hot_issues(reports, now=NOW, top=0) == []
    with pytest.raises(ValueError, match="half_life_days"):
        hot_issues(reports, now=NOW, half_life_days=0)


def test_tracker_adds_one_by_one_as_in_one_batch() -> None:
    messages = [
        *BACKGROUND,
        *noise_reports("lifa", "A2区丽发新城小区", 4, days_ago=1),
        *noise_reports("meili", "A5区魅力之城小区", 3, days_ago=2),
    ]
    batch = HotIssueTracker(messages).hot_issues(now=NOW)
    tracker = HotIssueTracker()
    for m in messages:
        tracker.add(m)
    tracker.add(messages[0])  # a key already added is ignored
    assert len(tracker) == len(messages)
    assert [set(i.keys) for i in tracker.hot_issues(now=NOW)] == [set(i.keys) for i in batch]


# --- on the shared data set ---


def read_hot_messages(path: Path) -> list[Message]:
    def parse(value: str) -> datetime:
        for pattern in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(value.strip(), pattern).replace(tzinfo=SHANGHAI)
            except ValueError:
                continue
        raise ValueError(value)

    with path.open(encoding="utf-8") as handle:
        return [
            Message(
                key=row["留言编号"],
                title=row["留言主题"],
                text=row["留言详情"],
                created_at=parse(row["留言时间"]),
                likes=int(row["点赞数"] or 0),
            )
            for row in csv.DictReader(handle)
        ]


def test_shared_data_the_mixing_plant_complaints_form_one_issue(shared_dir: Path) -> None:
    """From November 2019 dozens of people complained of one concrete mixing plant (搅拌站) by 丽发新城."""
    messages = read_hot_messages(shared_dir / "data" / "hotline" / "hot_messages.csv")
    now = max(m.created_at for m in messages)
    issues = hot_issues(messages, now=now, window_days=800, half_life_days=90, top=3)

    plant = {m.key for m in messages if "丽发" in m.title + m.text and "搅拌" in m.title + m.text}
    assert len(plant) >= 50
    top = issues[0]
    # Nearly all of them are the top issue, and it holds little else (one more, 234327, is about
    # the same plant as "a new factory" without the word 搅拌).
    assert len(plant & set(top.keys)) >= 0.9 * len(plant)
    assert len(set(top.keys) - plant) <= 2
    assert any("丽发新城" in name for name in top.places)
    assert "搅拌站" in top.keywords
    assert top.first_at >= datetime(2019, 11, 1, tzinfo=SHANGHAI)

    # Other problems at the same estate earlier that year stay out of it: unpaved roads, a garbage
    # station, water cut off, a street market, building in the green belt.
    others = {"191943", "193091", "219174", "254710", "264806", "265342", "284576"}
    assert {m.key for m in messages} >= others
    assert not others & set(top.keys)


def test_shared_data_duplicates_are_found_at_the_right_estate_only(shared_dir: Path) -> None:
    """万科魅力之城 had cracked floors, and cooking fumes from shops: separate problems of one estate."""
    messages = read_hot_messages(shared_dir / "data" / "hotline" / "hot_messages.csv")
    meili = [m for m in messages if "魅力之城" in m.title]
    cracks = [m for m in meili if "开裂" in m.title]
    smoke = [m for m in meili if "油烟" in m.title]
    assert len(cracks) >= 3 and len(smoke) >= 5
    new, *open_cracks = cracks

    finder = DuplicateFinder([*messages[:1500], *meili])
    finder.discard(new.key)
    matches = finder.find(new)
    assert matches, "a report of cracked floors should find the other crack reports"
    assert {m.key for m in matches} <= {m.key for m in open_cracks}
    assert all(m.relation is PlaceRelation.SAME for m in matches)
    assert not {m.key for m in matches} & {m.key for m in smoke}
