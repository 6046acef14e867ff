from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "yiwang.core"
    verbose_name = "核心"

    def ready(self) -> None:
        # --- working-day calendar ---
        # Every process caches the calendar per year; a change made here must
        # reach this process's cache at once (others expire theirs, see calendar.py).
        from django.db.models.signals import post_delete, post_save

        from . import calendar
        from .models import CalendarDay, CalendarYear

        for model in (CalendarDay, CalendarYear):
            post_save.connect(calendar.calendar_changed, sender=model, dispatch_uid=f"calendar-{model.__name__}-save")
            post_delete.connect(
                calendar.calendar_changed, sender=model, dispatch_uid=f"calendar-{model.__name__}-delete"
            )
        # --- end of working-day calendar ---

        # --- event outbox and notifications ---
        # Importing notifications registers the built-in channels (in_app, email)
        # before other apps' ready() add theirs and their outbox handlers;
        # importing checks registers what `yiwang serve` checks before it starts.
        from . import checks, notifications  # noqa: F401
        # --- end of event outbox and notifications ---
