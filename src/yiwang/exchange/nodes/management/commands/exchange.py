"""``yiwang exchange …``: this node's identity, its peers, and the message log (docs/exchange-nodes.md).

yiwang exchange identity                     # code, key id and Base64 public key, for peers to register
yiwang exchange add-peer CODE BASE_URL PUBLIC_KEY [--name N]
yiwang exchange remove-peer CODE             # deactivate: its messages are refused from now on
yiwang exchange peers
yiwang exchange ping CODE                    # a signed round trip
yiwang exchange checkpoint                   # sign the log's head now
yiwang exchange verify-log                   # check the chain and checkpoints; name the first bad entry
yiwang exchange load-batches [--front-dir D] [--schedule]  # 前置库: load the batches dropped (docs/exchange.md)
yiwang exchange add-remote-service PEER SERVICE [--code C] [--department D]
                                             # register a data service PEER holds (docs/exchange.md)
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core.problems import ServiceError
from yiwang.exchange import batches, remote
from yiwang.exchange.nodes import services


class Command(BaseCommand):
    help = "Node-to-node exchange: identity, peers, ping, and the signed message log (docs/exchange-nodes.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("identity")
        add = sub.add_parser("add-peer")
        add.add_argument("code")
        add.add_argument("base_url")
        add.add_argument("public_key")
        add.add_argument("--name", default="")
        sub.add_parser("remove-peer").add_argument("code")
        sub.add_parser("peers")
        sub.add_parser("ping").add_argument("code")
        sub.add_parser("checkpoint")
        sub.add_parser("verify-log")
        batches = sub.add_parser("load-batches")
        batches.add_argument("--front-dir", default=None, help="default: YIWANG_EXCHANGE_FRONT_DIR")
        batches.add_argument("--schedule", action="store_true", help="also (re)start the worker's scheduled scan")
        remote_service = sub.add_parser("add-remote-service")
        remote_service.add_argument("peer")
        remote_service.add_argument("service", help="the service's code on the peer")
        remote_service.add_argument("--code", default="", help="its code here (default: the same)")
        remote_service.add_argument("--department", default="", help="the local department standing for the provider")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._run(options)
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _run(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "identity":
            me = services.identity()
            self.stdout.write(f"code {me.code}\nkey_id {me.key_id}\npublic_key {me.public_key}")
        elif action == "add-peer":
            peer = services.add_peer(options["code"], options["base_url"], options["public_key"], name=options["name"])
            self.stdout.write(f"peer {peer.code} {peer.base_url} {peer.fingerprint}")
        elif action == "remove-peer":
            if not services.deactivate_peer(options["code"]):
                raise CommandError(f"no active peer {options['code']}")
            self.stdout.write(f"removed {options['code']}")
        elif action == "peers":
            for peer in services.peers():
                self.stdout.write(f"{peer.code}\t{peer.base_url}\t{peer.fingerprint}\t{peer.name}")
        elif action == "ping":
            answer = services.send(options["code"], "ping", {"echo": "ping"})
            self.stdout.write(json.dumps(answer, ensure_ascii=False, sort_keys=True))
        elif action == "checkpoint":
            sequence = services.checkpoint_log()
            self.stdout.write("nothing new to sign" if sequence is None else f"checkpoint at {sequence}")
        elif action == "verify-log":
            self._verify_log()
        elif action == "load-batches":
            self._load_batches(options["front_dir"], schedule=options["schedule"])
        elif action == "add-remote-service":
            service = remote.register_remote_service(
                options["peer"], options["service"], code=options["code"], department_code=options["department"]
            )
            fields = ",".join(f"{f.key}:{f.share_type}" for f in service.resource.fields.all())
            self.stdout.write(f"service {service.code} {service.transport} {service.remote_code} {fields}")

    def _load_batches(self, directory: str | None, *, schedule: bool) -> None:
        front = batches.front_dir(directory)
        if front is None:
            raise CommandError("no front directory: set YIWANG_EXCHANGE_FRONT_DIR or pass --front-dir")
        done = batches.run(front)
        for line in batches.batch_lines(done):
            self.stdout.write(line)
        self.stdout.write(f"{len(done)} batch(es) looked at in {front}")
        if schedule and batches.ensure_scheduled() is None:
            raise CommandError("the scheduled scan needs YIWANG_EXCHANGE_FRONT_DIR")

    def _verify_log(self) -> None:
        result = services.verify_log()
        if result.ok:
            self.stdout.write(f"ok: {result.checked} entries, {result.checkpoints} signed checkpoints")
            return
        raise CommandError(
            f"log broken at entry {result.first_bad_sequence}: {result.reason} "
            f"({result.checked} entries verified before it)"
        )
