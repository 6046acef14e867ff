"""Loading the demo city: the one place that knows the order in which the apps' demo data is built.

It sits above every app, so it may call each of them; each app builds its
own data with its own services (``<app>/demo.py``). Loading is idempotent:
running it twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from yiwang.accounts import demo as accounts_demo
from yiwang.cases import demo as cases_demo
from yiwang.catalog import demo as catalog_demo
from yiwang.core import outbox
from yiwang.exchange import demo as exchange_demo
from yiwang.hotline import demo as hotline_demo
from yiwang.knowledge import demo as knowledge_demo
from yiwang.licences import demo as licences_demo
from yiwang.licences import selectors as licences_selectors
from yiwang.licences import services as licences_services

Say = Callable[[str], None]
SEED_WORKER = "demo-seed"


def load_demo(*, accounts: bool = True, say: Say = lambda line: None) -> None:
    """Load the demo catalogue, dispatch rules and knowledge base; with ``accounts``, also demo people, cases and
    work orders.

    Demo accounts are never created in production mode, whatever ``accounts``
    says: their password is public. ``say`` receives one line per thing done.
    Raises ``ValueError`` when the seed files are invalid.
    """
    report = catalog_demo.load_seed()
    say(
        f"目录：{report.departments} 个部门，新增事项 {report.items_created}，更新 {report.items_updated}，"
        f"未变 {report.items_unchanged}，一件事 {report.bundles}"
    )
    say(f"12345 派单规则：新增 {hotline_demo.load_dispatch_rules()} 条")
    say(f"知识库：新增 {len(knowledge_demo.create_demo_entries())} 条")
    say(f"电子证照目录：{len(licences_demo.create_licence_types())} 种证照")
    for line in exchange_demo.create_catalogue():
        say(f"信息资源目录：{line}")
    if not accounts:
        return
    if settings.PRODUCTION:
        say("生产模式下不创建演示账户。")
        return
    for line in catalog_demo.load_demo_items():
        say(f"演示事项：{line}")
    for account in accounts_demo.create_demo_accounts():
        say(f"演示账户：{account}")
    for case in cases_demo.create_demo_cases():
        say(f"演示办件：{case}")
    for line in licences_demo.create_demo_licences():
        say(f"演示证照：{line}")
    for line in exchange_demo.create_demo_records():
        say(f"共享数据源：{line}")
    # The worker would seal the demo cases' documents, issue their licences and archive the finished
    # ones from the cases' events; those events run now, so that the archive packages hold the sealed
    # documents and `yiwang archive verify` has a whole archive to check straight after `yiwang seed`.
    archived_before = licences_selectors.archive_size()
    while outbox.process_batch(SEED_WORKER):
        pass
    licences_services.archive_finished_cases()  # any finished case whose events did not reach the archive
    for entry in licences_selectors.archive_entries_from(archived_before):
        say(f"电子档案：#{entry.leaf_index} {entry.ref}")
    for order in hotline_demo.create_demo_orders():
        say(f"演示工单：{order}")
