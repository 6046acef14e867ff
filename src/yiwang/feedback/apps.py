from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "yiwang.feedback"
    label = "feedback"
    verbose_name = _("好差评")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the outbox handlers of ratings (rectification counted when its order closes).
        from yiwang.feedback import tasks  # noqa: F401
