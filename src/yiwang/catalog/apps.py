from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "yiwang.catalog"
    verbose_name = "事项管理"

    def ready(self) -> None:
        # Grantors pick the services a delegation covers from the published catalogue.
        from yiwang.accounts.services import register_delegable_items

        from . import (
            selectors,
            signals,  # noqa: F401  (connects the search-index hooks)
        )

        register_delegable_items(selectors.delegable_items)
