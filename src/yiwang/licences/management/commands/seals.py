"""``yiwang seals …``: department seals, keys, and trust lists from the command line.

yiwang seals create DEPARTMENT [--name N] [--bottom-text T]
yiwang seals rotate SEAL_CODE
yiwang seals revoke KEY_ID --reason R
yiwang seals root-key                         # this platform's root public key, Base64 DER
yiwang seals export DIR                       # trust-list.json and trust-list.sig into DIR
yiwang seals pin PLATFORM_ID NAME ROOT_KEY [--url URL]
yiwang seals import PLATFORM_ID DOCUMENT SIGNATURE
yiwang seals fetch PLATFORM_ID
yiwang seals verify PAYLOAD
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.core.problems import ServiceError
from yiwang.licences.models import Seal, SigningKey
from yiwang.licences.services import seals, trust


class Command(BaseCommand):
    help = "Manage department seals, signing keys and trust lists (see docs/licences.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("department")
        create.add_argument("--name", default="")
        create.add_argument("--bottom-text", default="")
        sub.add_parser("rotate").add_argument("seal_code")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("key_id")
        revoke.add_argument("--reason", required=True)
        sub.add_parser("root-key")
        sub.add_parser("export").add_argument("directory")
        pin = sub.add_parser("pin")
        pin.add_argument("platform_id")
        pin.add_argument("name")
        pin.add_argument("root_key")
        pin.add_argument("--url", default="")
        imp = sub.add_parser("import")
        imp.add_argument("platform_id")
        imp.add_argument("document")
        imp.add_argument("signature")
        sub.add_parser("fetch").add_argument("platform_id")
        sub.add_parser("verify").add_argument("payload")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._run(options)
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _run(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "create":
            seal = seals.create_seal(options["department"], name=options["name"], bottom_text=options["bottom_text"])
            assert seal.current_key is not None
            self.stdout.write(f"{seal.code} {seal.current_key.key_id}")
        elif action == "rotate":
            found = Seal.objects.filter(code=options["seal_code"]).first()
            if found is None:
                raise CommandError(f"no seal {options['seal_code']}")
            self.stdout.write(seals.rotate_key(found).key_id)
        elif action == "revoke":
            key = SigningKey.objects.filter(key_id=options["key_id"]).first()
            if key is None:
                raise CommandError(f"no key {options['key_id']}")
            seals.revoke_key(key, options["reason"])
            self.stdout.write(f"revoked {key.key_id}")
        elif action == "root-key":
            self.stdout.write(base64.b64encode(bytes(trust.root_key().public_key_der)).decode("ascii"))
        elif action == "export":
            directory = Path(options["directory"])
            directory.mkdir(parents=True, exist_ok=True)
            document, signature = trust.build_trust_list()
            (directory / "trust-list.json").write_bytes(document)
            (directory / "trust-list.sig").write_text(base64.b64encode(signature).decode("ascii") + "\n")
            self.stdout.write(str(directory / "trust-list.json"))
        elif action == "pin":
            platform = trust.pin_platform(
                options["platform_id"], options["name"], options["root_key"], url=options["url"]
            )
            self.stdout.write(f"pinned {platform.platform_id} root {platform.root_key_id}")
        elif action == "import":
            document = Path(options["document"]).read_bytes()
            signature = trust.decode_signature(Path(options["signature"]).read_bytes().strip())
            platform = trust.import_trust_list(options["platform_id"], document, signature)
            self.stdout.write(f"imported {platform.platform_id} issued {platform.trust_list_issued_at}")
        elif action == "fetch":
            platform = trust.fetch_trust_list(options["platform_id"])
            self.stdout.write(f"imported {platform.platform_id} issued {platform.trust_list_issued_at}")
        elif action == "verify":
            result = trust.verify_payload(options["payload"])
            self.stdout.write(json.dumps({"ok": result.ok, "code": str(result.code), "message": result.message},
                                         ensure_ascii=False))  # fmt: skip
