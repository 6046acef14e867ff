"""``yiwang cross-region …``: 跨省通办 between platform nodes (docs/cross-region.md).

yiwang cross-region import-items PEER     # ask the peer for the items it offers; keep them here as handled by it
yiwang cross-region items                 # the peers' items that take applications here
yiwang cross-region offered               # the items this node offers its peers
yiwang cross-region deliveries            # messages not delivered yet, or given up
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core.problems import ServiceError
from yiwang.exchange.crossregion import selectors, services
from yiwang.exchange.crossregion.constants import DeliveryState
from yiwang.exchange.crossregion.models import Delivery


class Command(BaseCommand):
    help = "跨省通办: import a peer node's items, list them, and show undelivered messages (docs/cross-region.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("import-items").add_argument("peer")
        sub.add_parser("items")
        sub.add_parser("offered")
        sub.add_parser("deliveries")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._run(options)
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _run(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "import-items":
            report = services.import_items(options["peer"])
            self.stdout.write(
                f"{report.peer_code} ({report.peer_name}): {report.created} new, {report.updated} updated, "
                f"{report.withdrawn} withdrawn"
            )
        elif action == "items":
            for item in selectors.remote_items():
                self.stdout.write(f"{item.pk}\t{item.peer_code}\t{item.code}\t{item.name}\t{item.department_name}")
        elif action == "offered":
            for offered in services.offered_items():
                self.stdout.write(f"{offered['code']}\t{offered['name']}\t{offered['department']}")
        else:
            rows = Delivery.objects.exclude(state=DeliveryState.DELIVERED).order_by("id")
            for delivery in rows:
                self.stdout.write(
                    f"{delivery.key}\t{delivery.peer_code}\t{delivery.state}\t{delivery.attempts}\t{delivery.last_error}"
                )
