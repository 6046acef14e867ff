"""亮证 pages: the holder creates a share (a dynamic QR code), the verifier opens it without logging in.

Opening a share is a POST from the page the QR code leads to: a link
previewer or a browser's prefetch that only GETs it does not use up the
single look a share allows.
"""

from __future__ import annotations

from typing import Any

import segno
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from yiwang.core.http import client_address

from . import selectors, services
from .constants import SHARE_MINUTES_DEFAULT


@login_required
@require_POST
def create_share(request: HttpRequest, licence_id: int) -> HttpResponse:
    """The holder picks fields and a time; the answer shows the QR code once (the token is not kept)."""
    try:
        licence = selectors.get_own_licence(request.user, licence_id)
        raw_minutes = request.POST.get("minutes", str(SHARE_MINUTES_DEFAULT))
        minutes = int(raw_minutes) if raw_minutes.isdigit() else 0
        share, token = services.create_share(
            licence,
            actor=request.user,
            fields=request.POST.getlist("fields"),
            minutes=minutes,
            purpose=request.POST.get("purpose", ""),
        )
    except services.LicenceError as error:
        if error.code == "not_found":
            raise Http404(error.message) from error
        return render(
            request,
            "licences/wallet/share_refused.html",
            {"message": error.message, "licence_id": licence_id},
            status=400,
        )
    url = request.build_absolute_uri(reverse("wallet:share_open", args=[token]))
    qr_svg = segno.make(url, error="m").svg_inline(scale=4, omitsize=True, svgclass="qr", title=_("亮证二维码"))
    labels = dict(services.shareable_fields(licence))
    return render(
        request,
        "licences/wallet/share_created.html",
        {
            "licence": licence,
            "share": share,
            "url": url,
            "qr_svg": qr_svg,
            "labels": [labels[key] for key in share.fields],
        },
    )


@require_http_methods(["GET", "POST"])
def open_share(request: HttpRequest, token: str) -> HttpResponse:
    """The verifier's page: GET asks to confirm, POST shows the chosen fields and the signed attestation once."""
    context: dict[str, Any] = {"token": token, "view": None, "error": ""}
    if request.method == "GET":
        return render(request, "licences/wallet/share_open.html", context)
    try:
        context["view"] = services.open_share(token, client_address=client_address(request))
    except services.LicenceError as error:
        context["error"] = error.message
        return render(request, "licences/wallet/share_open.html", context, status=error.status)
    context["attestation_json"] = _pretty(context["view"].attestation)
    return render(request, "licences/wallet/share_open.html", context)


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
