"""Pages of the seals: the published trust list, the public verification page, the seals page of administrators."""

from __future__ import annotations

import base64
import dataclasses

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.core.problems import ServiceError
from yiwang.licences import policy, selectors, selectors_seals
from yiwang.licences.services import case_documents, qr, seals, trust
from yiwang.licences.services.seal_types import Verification

MAX_PAYLOAD_CHARS = 4000


@require_GET
def trust_list_json(request: HttpRequest) -> HttpResponse:
    """This platform's trust list, the exact signed bytes; the signature in the ``Yiwang-Signature`` header."""
    document, signature = trust.build_trust_list()
    response = HttpResponse(document, content_type="application/json; charset=utf-8")
    response[trust.SIGNATURE_HEADER] = base64.b64encode(signature).decode("ascii")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def trust_list_signature(request: HttpRequest) -> HttpResponse:
    """The detached signature (Base64 of DER) of the document served at trust-list.json."""
    _document, signature = trust.build_trust_list()
    response = HttpResponse(base64.b64encode(signature) + b"\n", content_type="text/plain; charset=us-ascii")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """亮证核验: paste or scan a licence's QR text (or open its URL, ``?p=``); anyone may verify."""
    text = (request.POST.get("payload") if request.method == "POST" else request.GET.get("p")) or ""
    result = None
    error = ""
    if len(text) > MAX_PAYLOAD_CHARS:
        error = _("内容过长，不是电子证照二维码。")
    elif text.strip():
        result = trust.verify_payload(qr.payload_text(text))
    document = _document_check(result)
    if document is not None and result is not None and result.ok:
        result = dataclasses.replace(
            result,
            message=_("核验通过：该文书由“%(signer)s”签章（%(platform)s），二维码内容未被修改。")
            % {"signer": result.signer, "platform": result.platform_name},
        )
    return render(
        request,
        "licences/verify/verify.html",
        {
            "payload": text[:MAX_PAYLOAD_CHARS],
            "result": result,
            "document": document,
            "error": error,
            "platform_name": trust.platform_name(),
            "trusted_platforms": selectors_seals.trusted_platforms(),
        },
        status=400 if error else 200,
    )


def _document_check(result: Verification | None) -> dict[str, object] | None:
    """For a sealed case document's payload: whether this platform holds it with the same digest (None for a
    licence). A document of another platform is only checked offline (its signature)."""
    if result is None or result.claims is None or not case_documents.is_document_id(result.claims.licence_id):
        return None
    stored = None
    if result.platform_id == trust.platform_id():
        stored = selectors.document_by_id(result.claims.licence_id)
    return {
        "own": result.platform_id == trust.platform_id(),
        "on_record": stored is not None and stored.digest == result.claims.document_digest.hex(),
    }


@login_required
@require_GET
def seal_desk(request: HttpRequest) -> HttpResponse:
    """The seals of the administrator's departments, with their keys and a rotate button."""
    if not policy.may_manage_seals(request.user):
        raise PermissionDenied
    rows = [
        {"seal": seal, "image": base64.b64encode(bytes(seal.image_png)).decode("ascii")}
        for seal in selectors_seals.seals_for(request.user)
    ]
    return render(request, "licences/seals/desk.html", {"rows": rows})


@login_required
@require_POST
def rotate(request: HttpRequest, seal_id: int) -> HttpResponse:
    """Give a seal a new key (the old one keeps verifying what it signed)."""
    seal = selectors_seals.get_seal_for(request.user, seal_id)
    try:
        key = seals.rotate_key(seal, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已为“%(seal)s”更换签名密钥：%(key)s") % {"seal": seal.name, "key": key.key_id})
    return redirect("seals:desk")
