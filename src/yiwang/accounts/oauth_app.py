"""django-oauth-toolkit under a Chinese heading in the admin (issue 12 item 18).

The toolkit's own AppConfig names its admin section "Django OAuth Toolkit" as a
plain string, so no catalogue can translate it; INSTALLED_APPS names this
subclass instead. It lives apart from apps.py so that ``yiwang.accounts`` still
finds exactly one AppConfig there.
"""

from oauth2_provider.apps import DOTConfig


class OAuthToolkitConfig(DOTConfig):
    verbose_name = "第三方应用授权"
