"""Pages of the e-archive: a case's archive entries with their proofs, the public proof check, the tree head.

Thin: parse, authorise (through :mod:`yiwang.cases.selectors`, 404 for a
case the user may not see, as for a missing one), call the selectors.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from yiwang.licences import selectors
from yiwang.licences.selectors.archive import tree_head_document

# A proof bundle is about a kilobyte; this leaves room for pretty-printing and refuses anything else.
MAX_BUNDLE_CHARS = 20_000


class ProofForm(forms.Form):
    bundle = forms.CharField(
        label=gettext_lazy("档案证明（JSON）"),
        max_length=MAX_BUNDLE_CHARS,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text=gettext_lazy("粘贴办件档案页面提供的证明文件内容。"),
    )


@login_required
@require_GET
def case_archive(request: HttpRequest, number: str) -> HttpResponse:
    """The case's archive entries (its package and any e-receipts), each with its inclusion proof, checked."""
    case, entries = selectors.case_archive(request.user, number)
    head = selectors.latest_tree_head()
    rows = []
    for entry in entries:
        bundle = selectors.entry_proof_bundle(entry, head)
        check = selectors.check_proof_bundle(bundle) if bundle else None
        rows.append({"entry": entry, "bundle": bundle, "check": check})
    return render(
        request,
        "licences/archive/case.html",
        {"case": case, "rows": rows, "head": head},
    )


@login_required
@require_GET
def case_archive_proofs(request: HttpRequest, number: str) -> JsonResponse:
    """The proof bundles of the case's archive entries, to keep and check elsewhere."""
    case, entries = selectors.case_archive(request.user, number)
    head = selectors.latest_tree_head()
    bundles = [b for b in (selectors.entry_proof_bundle(e, head) for e in entries) if b is not None]
    response = JsonResponse({"case": case.number, "proofs": bundles}, json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="archive-proof-{case.number}.json"'
    return response


@require_http_methods(["GET", "POST"])
def verify_proof(request: HttpRequest) -> HttpResponse:
    """Anyone may check an archive proof against the platform's signed tree head and log keys."""
    form = ProofForm(request.POST or None)
    check = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                bundle = json.loads(form.cleaned_data["bundle"])
            except ValueError:
                form.add_error("bundle", _("内容不是有效的 JSON"))
                status = 400
            else:
                if isinstance(bundle, dict) and isinstance(bundle.get("proofs"), list) and bundle["proofs"]:
                    bundle = bundle["proofs"][0]  # the file the case page offers holds a list
                check = selectors.check_proof_bundle(bundle)
        else:
            status = 400
    return render(request, "licences/archive/verify.html", {"form": form, "check": check}, status=status)


@require_GET
def tree_head(request: HttpRequest) -> JsonResponse:
    """The latest signed tree head and every log key, for anyone who keeps or checks proofs."""
    head = selectors.latest_tree_head()
    return JsonResponse(
        {"tree_head": tree_head_document(head) if head else None, "log_keys": selectors.public_log_keys()},
        json_dumps_params={"ensure_ascii": False},
    )
