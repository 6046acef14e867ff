"""The work-order classifier: training, suggestions, the model file, CSV input and the ``hotline`` command."""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from yiwang.hotline import classifier
from yiwang.hotline.classifier import (
    CATEGORIES,
    Classifier,
    IncompatibleModel,
    ModelMissing,
    Sample,
    TrainingRejected,
)
from yiwang.hotline.classifier_csv import CsvRejected, messages_from_csv, samples_from_csv

PLACES = ["A市", "B2区", "C3县", "D镇"]
TEMPLATES = [
    "{place}{thing}问题严重",
    "关于{place}{thing}的投诉",
    "{place}{thing}什么时候能解决",
    "请求处理{place}{thing}",
]
THINGS = {
    "环境保护": ["工厂排放污水", "垃圾焚烧臭气熏天", "工地噪音扰民", "河道污染鱼虾死亡"],
    "交通运输": ["公交线路停运", "出租车拒载", "高速公路收费站拥堵", "快递网点乱收费"],
    "教育文体": ["学校乱收补课费", "老师体罚学生", "幼儿园入学难", "中学学区划分"],
    "卫生计生": ["医院乱收费", "医生看病态度差", "疫苗接种排队", "二孩生育证明难办"],
    "劳动和社会保障": ["公司拖欠工资", "单位不缴社保", "养老保险转移", "失业补助金申领"],
    "商贸旅游": ["景区门票涨价", "超市销售假货", "商家虚假宣传", "旅行社强制购物"],
    "城乡建设": ["小区物业乱收费", "新房墙体开裂", "违章建筑无人管", "拆迁补偿不到位"],
}


def synthetic_samples() -> list[Sample]:
    """Small made-up messages with obvious words for each category, half of them with a text."""
    samples = []
    for category, things in THINGS.items():
        for number, (place, thing, template) in enumerate(itertools.product(PLACES, things, TEMPLATES)):
            text = f"我们这里{thing}，已经很久了，希望有关部门尽快处理。" if number % 2 else ""
            samples.append(Sample(template.format(place=place, thing=thing), text, category))
    return samples


@pytest.fixture(scope="module")
def model() -> Classifier:
    return classifier.train(synthetic_samples())


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        csv.writer(stream).writerows(rows)
    return path


# --- suggestions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("E市化工厂偷排污水", "", "环境保护"),
        ("F县的公交线路为什么停运了", "每天上班都要走很远", "交通运输"),
        ("孩子的老师体罚学生", "", "教育文体"),
        ("", "我们公司已经拖欠工资半年，社保也没有缴", "劳动和社会保障"),
        ("醫院亂收費", "", "卫生计生"),  # Traditional characters are read as Simplified
    ],
)
def test_obvious_messages_get_their_category(model: Classifier, title: str, text: str, expected: str) -> None:
    best = model.suggest(title, text)[0]
    assert best.category == expected
    assert best.confidence > 0.4


def test_suggestions_are_ranked_probabilities(model: Classifier) -> None:
    every = model.suggest("景区门票又涨价了", "", top=10)
    assert every[0].category == "商贸旅游"
    assert sorted(s.category for s in every) == sorted(CATEGORIES)
    confidences = [s.confidence for s in every]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0, abs=1e-3)
    assert len(model.suggest("景区门票又涨价了", top=1)) == 1
    with pytest.raises(ValueError):
        model.suggest("景区门票又涨价了", top=0)


def test_unusual_input_still_gets_an_answer(model: Classifier) -> None:
    for title, text in [("", ""), ("？？？", "!!!"), ("xyz", "\u200b\x00"), ("污水" * 2000, "垃圾" * 5000)]:
        suggestions = model.suggest(title, text, top=2)
        assert len(suggestions) == 2
        assert all(0.0 <= s.confidence <= 1.0 for s in suggestions)


def test_features_are_tfidf_as_scikit_learn_computes_it() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    documents = [classifier.message_features(s.title, s.text)[1] for s in synthetic_samples()[::3]]
    space = classifier._Space.fit("message", documents, weight=1.0, min_df=2)
    reference = TfidfVectorizer(analyzer=lambda grams: grams, sublinear_tf=False, min_df=2)
    expected = reference.fit_transform(documents)
    assert space.vocabulary == reference.vocabulary_
    for row, grams in enumerate(documents[:20]):
        indices, values = space.vector(grams)
        dense = np.zeros(len(space.vocabulary))
        dense[indices] = values
        np.testing.assert_allclose(dense, expected[row].toarray().ravel(), rtol=1e-5, atol=1e-6)


# --- training ----------------------------------------------------------------------------------------------------


def test_training_refuses_what_cannot_make_a_model() -> None:
    with pytest.raises(TrainingRejected):
        classifier.train([])
    with pytest.raises(TrainingRejected):
        classifier.train([Sample("", " ", "城乡建设"), Sample("", "", "交通运输")])
    with pytest.raises(TrainingRejected, match="城建"):
        classifier.train([Sample("路灯不亮", "", "城建"), Sample("公交停运", "", "交通运输")])
    with pytest.raises(TrainingRejected, match="two categories"):
        classifier.train([Sample("路灯不亮", "", "城乡建设"), Sample("房屋漏水", "", "城乡建设")])


def test_two_categories_are_enough() -> None:
    samples = [s for s in synthetic_samples() if s.category in {"环境保护", "交通运输"}]
    model = classifier.train(samples)
    assert model.categories == ("环境保护", "交通运输")
    assert model.suggest("工厂排放污水")[0].category == "环境保护"
    assert model.suggest("出租车拒载")[0].category == "交通运输"


def test_training_records_what_it_learned_from(model: Classifier) -> None:
    assert model.metadata["samples"] == len(synthetic_samples())
    assert model.metadata["samples_per_category"]["城乡建设"] == 64
    assert 0 < model.metadata["full_text_samples"] < model.metadata["samples"]
    assert model.score_scale > 0


# --- the model file ----------------------------------------------------------------------------------------------


def test_save_and_load_give_the_same_answers(model: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "classifier.npz"
    model.save(path)
    loaded = classifier.load(path)
    assert loaded.categories == model.categories
    assert loaded.metadata == model.metadata
    for title, text in [("工厂排放污水", ""), ("孩子的老师体罚学生", "学校不管"), ("", "")]:
        np.testing.assert_allclose(loaded.probabilities(title, text), model.probabilities(title, text), rtol=1e-6)
    assert [p.name for p in path.parent.iterdir()] == ["classifier.npz"]  # no temporary file left behind
    assert path.stat().st_size < 1_000_000


def test_the_file_holds_no_pickled_objects(model: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "classifier.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
        header = json.loads(archive["header"].tobytes().decode("utf-8"))
    assert header["format_version"] == classifier.FORMAT_VERSION
    assert set(header["libraries"]) >= {"jieba", "numpy", "scikit-learn"}


def rewrite_header(path: Path, change: dict[str, Any]) -> None:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays["header"].tobytes().decode("utf-8"))
    for key, value in change.items():
        if isinstance(value, dict):
            header[key].update(value)
        else:
            header[key] = value
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with path.open("wb") as stream:
        np.savez(stream, **arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": classifier.FORMAT_VERSION + 1}, "format version"),
        ({"format": "something.else"}, "format version"),
        ({"libraries": {"jieba": "0.39"}}, "jieba 0.39"),
    ],
)
def test_files_of_other_versions_are_refused(
    model: Classifier, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = tmp_path / "classifier.npz"
    model.save(path)
    rewrite_header(path, change)
    with pytest.raises(IncompatibleModel, match=message) as refused:
        classifier.load(path)
    assert "请重新训练" in str(refused.value) and "Train again" in str(refused.value)


def test_damaged_files_are_refused(model: Classifier, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(IncompatibleModel, match="damaged"):
        classifier.load(garbage)
    truncated = tmp_path / "truncated.npz"
    model.save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    with pytest.raises(IncompatibleModel):
        classifier.load(truncated)
    # Refusal is a kind of "no model": the work-order service then hands the order to an operator.
    assert issubclass(IncompatibleModel, ModelMissing)


def test_current_without_a_model_says_so(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    assert classifier.default_model_path() == tmp_path / "hotline" / "classifier.npz"
    with pytest.raises(ModelMissing, match="yiwang hotline train") as missing:
        classifier.current()
    assert "尚未训练" in str(missing.value)


def test_current_reloads_after_a_retrain(model: Classifier, settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    path = classifier.default_model_path()
    model.save(path)
    first = classifier.current()
    assert classifier.current() is first  # cached while the file is unchanged
    assert first.metadata["samples"] == model.metadata["samples"]

    retrained = classifier.train(synthetic_samples()[::2])
    retrained.save(path)
    later = path.stat().st_mtime_ns + 2_000_000_000  # file systems with coarse timestamps
    os.utime(path, ns=(later, later))
    second = classifier.current()
    assert second is not first
    assert second.metadata["samples"] == retrained.metadata["samples"]

    path.unlink()
    with pytest.raises(ModelMissing):
        classifier.current()


# --- CSV files ---------------------------------------------------------------------------------------------------


def test_csv_with_byte_order_mark_and_other_encodings(tmp_path: Path) -> None:
    rows = [
        ["留言主题", "留言详情", "一级标签"],
        ["小区路灯不亮", "晚上很黑", "城乡建设"],
        ["公交停运", "", "交通运输"],
    ]
    for encoding in ["utf-8", "utf-8-sig", "gb18030", "utf-16"]:
        path = write_csv(tmp_path / f"{encoding}.csv", rows, encoding)
        samples, skipped = samples_from_csv(path)
        assert samples == [Sample("小区路灯不亮", "晚上很黑", "城乡建设"), Sample("公交停运", "", "交通运输")]
        assert skipped == 0


def test_csv_of_unknown_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xff\x00\x81\xfe binary")
    with pytest.raises(CsvRejected, match="encoding"):
        samples_from_csv(path)


def test_csv_without_title_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "no-title.csv", [["标题", "一级标签"], ["路灯不亮", "城乡建设"]])
    with pytest.raises(CsvRejected, match="留言主题") as refused:
        samples_from_csv(path)
    assert "lacks the column" in str(refused.value)
    with pytest.raises(CsvRejected, match="留言主题"):
        messages_from_csv(path)
    no_label = write_csv(tmp_path / "no-label.csv", [["留言主题"], ["路灯不亮"]])
    with pytest.raises(CsvRejected, match="一级标签"):
        samples_from_csv(no_label)


def test_csv_rows_without_label_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = [
        ["留言主题", "一级标签"],
        ["路灯不亮", "城乡建设"],
        ["公交停运", ""],
        ["", "交通运输"],
        ["", ""],
        ["噪音", " 环境保护 "],
    ]
    samples, skipped = samples_from_csv(write_csv(tmp_path / "gaps.csv", rows))
    assert samples == [Sample("路灯不亮", "", "城乡建设"), Sample("噪音", "", "环境保护")]
    assert skipped == 2  # the empty label and the row with no title; the blank line is not a row


def test_csv_with_unknown_label_is_refused(tmp_path: Path) -> None:
    rows = [["留言主题", "一级标签"], ["路灯不亮", "城乡建设"], ["公交停运", "交通"]]
    with pytest.raises(CsvRejected, match="第3行“交通”") as refused:
        samples_from_csv(write_csv(tmp_path / "typo.csv", rows))
    assert "not a known category" in str(refused.value)


def test_csv_with_no_usable_row_is_refused(tmp_path: Path) -> None:
    for rows in ([["留言主题", "一级标签"]], [["留言主题", "一级标签"], ["路灯不亮", ""]]):
        with pytest.raises(CsvRejected, match="no usable rows"):
            samples_from_csv(write_csv(tmp_path / "empty-labels.csv", rows))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CsvRejected, match="empty"):
        samples_from_csv(empty)


def test_messages_to_classify_keep_their_numbers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [["留言编号", "留言主题"], ["17", "路灯不亮"], ["18", ""]])
    messages, numbered = messages_from_csv(path)
    assert numbered
    assert [(m.number, m.title, m.text) for m in messages] == [("17", "路灯不亮", ""), ("18", "", "")]


# --- the command -------------------------------------------------------------------------------------------------


def training_file(directory: Path) -> Path:
    rows = [["留言主题", "留言详情", "一级标签"]] + [[s.title, s.text, s.category] for s in synthetic_samples()]
    rows.append(["没有标签的一行", "", ""])
    return write_csv(directory / "train.csv", rows, "utf-8-sig")


def test_command_trains_classifies_and_evaluates(settings: Any, tmp_path: Path, capsys: Any) -> None:
    settings.VAR_DIR = tmp_path / "var"
    call_command("hotline", "train", "--csv", str(training_file(tmp_path)))
    output = capsys.readouterr().out
    assert "跳过 1 行" in output and "城乡建设\t64" in output
    assert (tmp_path / "var" / "hotline" / "classifier.npz").is_file()

    source = write_csv(
        tmp_path / "new.csv",
        [
            ["留言编号", "留言主题", "留言时间", "留言详情"],
            ["9001", "工厂排放污水", "2020/1/1 8:00:00", "河里的鱼都死了"],
            ["9002", "出租车拒载", "", ""],
        ],
    )
    out = tmp_path / "out" / "suggested.csv"
    call_command("hotline", "classify", "--csv", str(source), "--out", str(out))
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["留言编号", "category", "confidence", "second_category", "second_confidence"]
    assert [row[:2] for row in rows[1:]] == [["9001", "环境保护"], ["9002", "交通运输"]]
    assert all(float(row[2]) >= float(row[4]) and row[3] in CATEGORIES for row in rows[1:])

    unnumbered = write_csv(tmp_path / "unnumbered.csv", [["留言主题"], ["学校乱收补课费"]])
    call_command("hotline", "classify", "--csv", str(unnumbered), "--out", str(out))
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0][:2] == ["category", "confidence"] and rows[1][0] == "教育文体"

    labelled = write_csv(tmp_path / "labelled.csv", [["留言主题", "一级标签"], ["医院乱收费", "卫生计生"]])
    capsys.readouterr()
    call_command("hotline", "evaluate", "--csv", str(labelled))
    report = capsys.readouterr().out
    assert "macro_f1\t1.0000" in report and "top2_accuracy\t1.0000" in report and "卫生计生\t1.0000" in report


def test_command_fails_clearly(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path / "var"
    messages = write_csv(tmp_path / "in.csv", [["留言主题"], ["路灯不亮"]])
    with pytest.raises(CommandError, match="尚未训练") as missing:
        call_command("hotline", "classify", "--csv", str(messages), "--out", str(tmp_path / "out.csv"))
    assert "No work-order classifier has been trained" in str(missing.value)
    assert not (tmp_path / "out.csv").exists()

    untitled = write_csv(tmp_path / "untitled.csv", [["标题", "一级标签"], ["路灯不亮", "城乡建设"]])
    with pytest.raises(CommandError, match="留言主题"):
        call_command("hotline", "train", "--csv", str(untitled))
    unlabelled = write_csv(tmp_path / "unlabelled.csv", [["留言主题", "一级标签"], ["路灯不亮", ""]])
    with pytest.raises(CommandError, match="no usable rows"):
        call_command("hotline", "train", "--csv", str(unlabelled))
    with pytest.raises(CommandError, match=r"无法读取|Cannot read"):
        call_command("hotline", "train", "--csv", str(tmp_path / "nowhere.csv"))
    assert not (tmp_path / "var" / "hotline" / "classifier.npz").exists()


def test_console_exits_non_zero_without_a_model(tmp_path: Path) -> None:
    messages = write_csv(tmp_path / "in.csv", [["留言主题"], ["路灯不亮"]])
    result = subprocess.run(
        [sys.executable, "-m", "yiwang.cli", "hotline", "classify", "--csv", str(messages), "--out", "out.csv"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "YIWANG_VAR_DIR": str(tmp_path / "var")},
    )
    assert result.returncode != 0
    assert "尚未训练" in result.stderr and "has been trained" in result.stderr


# --- on the shared data ------------------------------------------------------------------------------------------


def test_shared_messages_are_dispatched_sensibly(shared_dir: Path) -> None:
    data = shared_dir / "data" / "hotline"
    titles, _ = samples_from_csv(data / "titles_train.csv")
    messages, _ = samples_from_csv(data / "messages_dev.csv")
    evaluation = messages[::8][:150]
    # The titles file holds the titles of the development messages: leave out those being evaluated.
    unseen = {"".join(s.title.split()) for s in evaluation}
    training = [s for s in titles[:3000] if "".join(s.title.split()) not in unseen] + messages[1::8]
    model = classifier.train(training)
    result = classifier.evaluate(model, evaluation)
    assert result.accuracy > 0.8
    assert result.macro_f1 > 0.75
    assert result.top2_accuracy > 0.9
    assert model.suggest("小区楼下烧烤店油烟噪音扰民", "每天晚上排放油烟，噪音很大")[0].category == "环境保护"
    assert model.suggest("孩子上学难", "我家孩子今年上小学，学区划分不合理")[0].category == "教育文体"
