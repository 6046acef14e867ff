from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

from .api import api

admin.site.site_header = "一网通办 管理后台"
admin.site.site_title = "一网通办"


def admin_login(request: HttpRequest) -> HttpResponse:
    # The admin's own login form knows nothing of the authenticator every staff
    # account must use; everyone signs in through the platform's login instead.
    return redirect_to_login(request.GET.get("next") or "/admin/", "/accounts/login/")


urlpatterns = [
    # 节点间交换: signed messages from other platform nodes (POST /exchange/v1/messages; docs/exchange-nodes.md).
    # First, so that a peer's message does not walk every pattern below (nothing else starts with the prefix).
    path("exchange/v1/", include("yiwang.exchange.nodes.urls")),
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("favicon.ico", RedirectView.as_view(url="/static/yiwang/favicon.svg", permanent=True)),
    path("", include("yiwang.accounts.urls")),
    # OpenID Connect provider (single sign-on): /o/… and /.well-known/openid-configuration
    path("", include("yiwang.accounts.oidc_urls")),
    path("", include("yiwang.catalog.urls")),
    # Shared kernel: the message centre (/messages/).
    path("", include("yiwang.core.urls")),
    # Fee payment: providers' callbacks (/payments/callback/<provider>/) and the sandbox cashier.
    path("", include("yiwang.cases.payment_urls")),
    # Case handling pages: applying, my cases, 办件查询, printed documents (/apply/…, /applications/…, /cases/…),
    # and the staff side: the workbench and counter intake (/workbench/…, /counter/).
    path("", include("yiwang.cases.urls")),
    path("", include("yiwang.cases.staff_urls")),
    # 我的证照, 亮证, 证照状态查询 and the licence desk (/licences/…), materials from the wallet.
    path("", include("yiwang.licences.wallet_urls")),
    # 电子档案: a case's archive entries and proofs, the public proof check and tree head (/archive/…).
    path("archive/", include("yiwang.licences.archive_urls")),
    # 数据共享交换: the resource catalogue, the staff desk, consents, 免提交 materials (/exchange/…).
    path("", include("yiwang.exchange.urls")),
    path("hotline/", include("yiwang.hotline.urls")),
    # 知识库: published entries (/knowledge/<id>/) and the staff desk (/knowledge/desk/…).
    path("knowledge/", include("yiwang.knowledge.urls")),
    # 智能客服: the chat, 我的咨询 and the live-chat desk (/assistant/…).
    path("assistant/", include("yiwang.assistant.urls")),
    # 好差评: rating a case or a counter visit, public results, the staff desks (/ratings/…).
    path("", include("yiwang.feedback.urls")),
    # 电子印章: the signed trust list, licence verification (public) and the seals page (/licences/…).
    path("licences/", include("yiwang.licences.urls_seals")),
    # 跨省通办: peers' items, applications forwarded to them, their status (/cross-region/…; docs/cross-region.md).
    path("", include("yiwang.exchange.crossregion.urls")),
]
