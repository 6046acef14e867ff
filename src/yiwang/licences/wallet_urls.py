"""Pages of the licence wallet, 亮证 and the licence desk (included from yiwang.urls, namespace ``wallet``)."""

from django.urls import path

from . import views_documents, views_shares, views_staff, views_types, views_wallet

app_name = "wallet"

urlpatterns = [
    path("licences/", views_wallet.wallet_home, name="home"),
    path("licences/status/", views_wallet.status_page, name="status"),
    path("licences/desk/", views_staff.staff_home, name="staff_home"),
    path("licences/desk/<int:licence_id>/", views_staff.staff_licence, name="staff_licence"),
    path("licences/desk/types/", views_types.type_list, name="types"),
    path("licences/desk/types/new/", views_types.type_create, name="type_create"),
    path("licences/desk/types/<int:type_id>/", views_types.type_edit, name="type_edit"),
    path("licences/<int:licence_id>/", views_wallet.licence_page, name="licence"),
    path("licences/<int:licence_id>/pdf/", views_wallet.licence_pdf, name="pdf"),
    path("licences/<int:licence_id>/share/", views_shares.create_share, name="share"),
    path("licences/shared/<str:token>/", views_shares.open_share, name="share_open"),
    path("licences/decisions/<str:number>/pdf/", views_documents.decision_pdf, name="decision_pdf"),
    path(
        "licences/cases/<str:number>/documents/<slug:kind>/<int:sequence>/pdf/",
        views_documents.case_document_pdf,
        name="case_document_pdf",
    ),
    path("applications/<int:application_id>/from-wallet/", views_wallet.take_material, name="take_material"),
]
