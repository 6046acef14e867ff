from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "yiwang.feedback"
    label = "feedback"
    verbose_name = _("好差评")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the outbox handlers of ratings (rectification counted when its order closes).
        from yiwang.core.desks import register_desk
        from yiwang.feedback import policy, tasks  # noqa: F401

        register_desk("feedback:counter", _("窗口服务评价（一次一评）"), policy.is_counter_clerk, order=30)
        register_desk("feedback:phone", _("12345电话代评"), policy.is_hotline_operator, order=40)
        register_desk("feedback:department", _("本部门差评与整改"), policy.may_appeal, order=50)
        register_desk("feedback:supervision", _("好差评监督：疑似刷评与差评申诉"), policy.is_supervisor, order=60)
