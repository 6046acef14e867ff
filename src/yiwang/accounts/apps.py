from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "yiwang.accounts"
    verbose_name = "统一身份认证"

    def ready(self) -> None:
        from yiwang.core.crypto import register_encrypted_field

        # Columns `yiwang pii-rotate` re-encrypts under the active key.
        register_encrypted_field("accounts.Person", "document_number_encrypted")
        register_encrypted_field("accounts.Person", "mobile_encrypted")
        register_encrypted_field("accounts.TotpDevice", "secret_encrypted")

        # --- notifications ---
        # Core's notification queue reaches users and persons, and sends text
        # messages, through accounts: see yiwang.accounts.notify.
        from . import notify

        notify.register()
        # --- end of notifications ---

        # The staff home lists these beside the other apps' desks (yiwang.core.desks).
        from django.utils.translation import gettext_lazy as _

        from yiwang.core.desks import register_desk

        from . import policy

        register_desk(
            "accounts:identity_check", _("窗口实名核验（三级、四级）"), policy.may_record_identity_check, order=6
        )
        register_desk("accounts:staff", _("工作人员与角色管理"), policy.may_administer_staff, order=80)
        register_desk("accounts:service_accounts", _("接入系统服务账号"), policy.may_manage_service_accounts, order=85)

        # Department systems' bearer tokens, checked for the API's Access (yiwang.core.api_access).
        from yiwang.core.api_access import register_token_resolver

        from .service_tokens import caller_for_token

        register_token_resolver(caller_for_token)
        register_desk("admin:index", _("管理后台"), policy.may_use_admin_site, order=90)
