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
