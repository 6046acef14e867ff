"""``yiwang oidc-client NAME --redirect-uri URI [--scope SCOPE] [--public]``: register a system for single sign-on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from yiwang.accounts.oidc import DEFAULT_CLIENT_SCOPES, OidcClientError, allowed_scopes, register_client


class Command(BaseCommand):
    help = (
        "Register a system that signs its users in through Yiwang (OpenID Connect, authorization code with PKCE). "
        "Prints the client_id and, for a confidential client, the client_secret: it is shown only this once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the system's name, as citizens will see it on the consent page")
        parser.add_argument(
            "--redirect-uri",
            action="append",
            required=True,
            dest="redirect_uris",
            metavar="URI",
            help="an exact callback address of the system (repeat for several); https in production",
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            metavar="SCOPE",
            help="a scope the system may ask for (repeat for several; openid is always included); "
            "default: openid profile",
        )
        parser.add_argument(
            "--public",
            action="store_true",
            help="a public client (mobile app, single-page app) that cannot keep a secret; PKCE protects it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            application, secret = register_client(
                name=options["name"],
                redirect_uris=options["redirect_uris"],
                public=options["public"],
                scopes=options["scopes"] or DEFAULT_CLIENT_SCOPES,
            )
        except OidcClientError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"已登记接入系统：{application.name}")
        self.stdout.write(f"client_id: {application.client_id}")
        self.stdout.write(f"scopes: {' '.join(sorted(allowed_scopes(application)))}")
        if secret:
            self.stdout.write(f"client_secret: {secret}")
            self.stdout.write("client_secret 只显示这一次，平台只保存其哈希值，请立即通过安全渠道交给接入部门。")
        else:
            self.stdout.write("公开客户端没有 client_secret，必须使用 PKCE（S256）。")
        if settings.OIDC_ISSUER:
            self.stdout.write(f"发现文档：{settings.OIDC_ISSUER}/.well-known/openid-configuration")
