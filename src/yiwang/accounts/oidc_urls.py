"""URLs of the OpenID Connect provider, included at the site root by yiwang/urls.py.

The protocol endpoints live under ``/o/``. The discovery document is served
at the root, ``/.well-known/openid-configuration``, because the issuer is the
site's origin: DOT derives the issuer from the URL named
``oidc-connect-discovery-info`` (unless ``OIDC_ISSUER`` is set), so naming the
root document that way keeps the ``issuer`` of both discovery documents and
the ``iss`` of every ID token the same. ``/o/.well-known/openid-configuration``
serves the same document for clients set up with DOT's usual paths.

Only the endpoints departments need are published: DOT's own application
registration pages, device flow, dynamic client registration and
introspection are left out (clients are registered by platform
administrators, see docs/sso.md).
"""

from django.urls import path
from oauth2_provider import views as dot_views

from . import oidc

app_name = "oauth2_provider"  # DOT reverses its endpoints in this namespace

urlpatterns = [
    path(
        ".well-known/openid-configuration",
        oidc.DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path("o/authorize/", oidc.ConsentView.as_view(), name="authorize"),
    path("o/token/", oidc.TokenView.as_view(), name="token"),
    path("o/revoke_token/", dot_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/userinfo/", dot_views.UserInfoView.as_view(), name="user-info"),
    path("o/.well-known/openid-configuration", oidc.DiscoveryView.as_view(), name="oidc-discovery"),
    path("o/.well-known/jwks.json", dot_views.JwksInfoView.as_view(), name="jwks-info"),
]
