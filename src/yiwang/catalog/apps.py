from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "yiwang.catalog"
    verbose_name = "事项管理"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the search-index hooks)
