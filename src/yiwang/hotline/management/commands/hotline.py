"""``yiwang hotline train|classify|evaluate``: the work-order classifier from the console.

- ``train --csv FILE [--csv FILE …]``: learn from labelled messages (留言主题, 一级标签, optional 留言详情)
  and save the model where the server reads it (``VAR_DIR/hotline/classifier.npz``).
- ``classify --csv FILE --out OUT.csv``: one suggestion per message: 留言编号 (when the input has it),
  category, then confidence, second_category and second_confidence.
- ``evaluate --csv FILE``: macro-F1, top-2 accuracy and per-category figures on labelled messages.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from yiwang.hotline import classifier
from yiwang.hotline.classifier_csv import NUMBER_COLUMN, messages_from_csv, samples_from_csv
from yiwang.hotline.selectors import training_examples


class Command(BaseCommand):
    help = "12345 工单分类模型：train 训练、classify 批量分类、evaluate 评估 (work-order classifier)"

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{train,classify,evaluate}")
        train = actions.add_parser("train", help="train and save the model from labelled CSV files")
        train.add_argument("--csv", action="append", default=[], type=Path, metavar="FILE", help="repeatable")
        train.add_argument(
            "--orders",
            action="store_true",
            help="also learn from this platform's finished work orders (operators' dispatch corrections included)",
        )
        classify = actions.add_parser("classify", help="suggest a category for every message of a CSV file")
        classify.add_argument("--csv", required=True, type=Path, metavar="FILE")
        classify.add_argument("--out", required=True, type=Path, metavar="OUT.csv")
        evaluate = actions.add_parser("evaluate", help="score the saved model on a labelled CSV file")
        evaluate.add_argument("--csv", required=True, type=Path, metavar="FILE")
        for sub in (train, classify, evaluate):
            sub.add_argument("--model", type=Path, help="model file (default: VAR_DIR/hotline/classifier.npz)")

    def handle(self, *args: Any, **options: Any) -> None:
        model_path: Path = options.get("model") or classifier.default_model_path()
        try:
            if options["action"] == "train":
                if not options["csv"] and not options["orders"]:
                    raise CommandError(_("请用 --csv 指定训练数据，或用 --orders 从已办结工单学习"))
                self._train(options["csv"], model_path, from_orders=options["orders"])
            elif options["action"] == "classify":
                self._classify(options["csv"], options["out"], model_path)
            else:
                self._evaluate(options["csv"], model_path)
        except classifier.ClassifierError as exc:
            raise CommandError(str(exc)) from exc

    def _train(self, files: list[Path], model_path: Path, *, from_orders: bool = False) -> None:
        samples: list[classifier.Sample] = []
        if from_orders:
            own = [
                classifier.Sample(title, text, category)
                for title, text, category in training_examples(classifier.CATEGORIES)
            ]
            samples.extend(own)
            self.stdout.write(_("已办结工单：{rows} 条可用").format(rows=len(own)))
        for path in files:
            found, skipped = samples_from_csv(path)
            samples.extend(found)
            full_text = sum(1 for s in found if s.text)
            self.stdout.write(
                _("{path}：{rows} 行可用（{full} 行含留言详情），跳过 {skipped} 行（一级标签为空或无内容）").format(
                    path=path, rows=len(found), full=full_text, skipped=skipped
                )
            )
        model = classifier.train(samples)
        model.save(model_path)
        per_category = Counter(s.category for s in samples)
        self.stdout.write(_("各分类样本数："))
        for category in classifier.CATEGORIES:
            self.stdout.write(f"  {category}\t{per_category[category]}")
        size_kib = model_path.stat().st_size / 1024
        self.stdout.write(
            _("已训练 {count} 条样本（{seconds} 秒），模型已保存：{path}（{size:.0f} KiB）").format(
                count=len(samples), seconds=model.metadata["training_seconds"], path=model_path, size=size_kib
            )
        )

    def _classify(self, source: Path, target: Path, model_path: Path) -> None:
        model = classifier.current(model_path)
        messages, numbered = messages_from_csv(source)
        columns = [NUMBER_COLUMN] if numbered else []
        columns += ["category", "confidence", "second_category", "second_confidence"]
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(columns)
            for message in messages:
                best = model.suggest(message.title, message.text, top=2)
                second = best[1] if len(best) > 1 else None
                row = [message.number] if numbered else []
                row += [
                    best[0].category,
                    f"{best[0].confidence:.4f}",
                    second.category if second else "",
                    f"{second.confidence:.4f}" if second else "",
                ]
                writer.writerow(row)
        self.stdout.write(_("已分类 {count} 条留言，结果写入 {path}").format(count=len(messages), path=target))

    def _evaluate(self, source: Path, model_path: Path) -> None:
        model = classifier.current(model_path)
        samples, skipped = samples_from_csv(source)
        result = classifier.evaluate(model, samples)
        self.stdout.write(_("评估 {count} 条留言（跳过 {skipped} 行）").format(count=result.count, skipped=skipped))
        self.stdout.write(f"macro_f1\t{result.macro_f1:.4f}")
        self.stdout.write(f"top2_accuracy\t{result.top2_accuracy:.4f}")
        self.stdout.write(f"accuracy\t{result.accuracy:.4f}")
        self.stdout.write("category\tprecision\trecall\tf1\tsupport")
        for category, score in result.per_category.items():
            self.stdout.write(f"{category}\t{score.precision:.4f}\t{score.recall:.4f}\t{score.f1:.4f}\t{score.support}")
