"""django-oauth-toolkit under Chinese headings in the admin (issue 12 item 18).

The toolkit's own AppConfig names its admin section "Django OAuth Toolkit" as a
plain string, and its models carry no verbose names (Django derives "access
token" from the class name), so no catalogue can translate them; INSTALLED_APPS
names this subclass instead, which gives both Chinese names. It lives apart
from apps.py so that ``yiwang.accounts`` still finds exactly one AppConfig there.
"""

from django.utils.translation import gettext_lazy as _
from oauth2_provider.apps import DOTConfig

# The toolkit's models by name: (singular, plural) as the admin shows them.
MODEL_NAMES = {
    "application": (_("接入应用"), _("接入应用")),
    "grant": (_("授权码"), _("授权码")),
    "accesstoken": (_("访问令牌"), _("访问令牌")),
    "refreshtoken": (_("刷新令牌"), _("刷新令牌")),
    "idtoken": (_("身份令牌"), _("身份令牌")),
    "devicegrant": (_("设备授权"), _("设备授权")),
}


class OAuthToolkitConfig(DOTConfig):
    verbose_name = "第三方应用授权"

    def ready(self) -> None:
        super().ready()
        for model in self.get_models():
            names = MODEL_NAMES.get(model._meta.model_name or "")
            if names is not None:
                model._meta.verbose_name, model._meta.verbose_name_plural = names
