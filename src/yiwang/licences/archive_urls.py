"""Routes of the e-archive, under /archive/."""

from django.urls import path

from yiwang.licences import archive_views

app_name = "archive"

urlpatterns = [
    path("cases/<str:number>/", archive_views.case_archive, name="case"),
    path("cases/<str:number>/proofs.json", archive_views.case_archive_proofs, name="case_proofs"),
    path("verify/", archive_views.verify_proof, name="verify"),
    path("tree-head.json", archive_views.tree_head, name="tree_head"),
]
