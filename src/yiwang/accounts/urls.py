from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/login/verify/", views.login_verify, name="login_verify"),
    path("accounts/login/sms/", views.sms_login, name="login_sms"),
    path("accounts/totp/setup/", views.totp_setup, name="totp_setup"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/logout-everywhere/", views.logout_everywhere, name="logout_everywhere"),
    path("accounts/register/", views.register, name="register"),
    path("accounts/sms-outbox/", views.sms_outbox, name="sms_outbox"),
    path("accounts/", views.account_home, name="home"),
    path("accounts/desks/", views.staff_home, name="desks"),
    path("accounts/real-name/", views.assurance, name="assurance"),
    path("accounts/data-access/", views.data_access, name="data_access"),
    path("accounts/delegations/new/", views.delegation_new, name="delegation_new"),
    path("accounts/delegations/<int:delegation_id>/revoke/", views.delegation_revoke, name="delegation_revoke"),
    path("accounts/organisations/new/", views.organisation_new, name="organisation_new"),
    path("accounts/organisations/<int:organisation_id>/", views.organisation_detail, name="organisation"),
    path(
        "accounts/organisations/<int:organisation_id>/agents/<int:agent_id>/revoke/",
        views.organisation_agent_revoke,
        name="organisation_agent_revoke",
    ),
    path("staff/", views.staff_list, name="staff"),
    path("staff/<int:user_id>/", views.staff_detail, name="staff_detail"),
    path("staff/roles/<int:assignment_id>/revoke/", views.staff_role_revoke, name="staff_role_revoke"),
    path("staff/<int:user_id>/account/<slug:operation>/", views.staff_account_action, name="staff_account_action"),
    path("staff/identity-checks/", views.identity_check, name="identity_check"),
    path("staff/service-accounts/", views.service_account_list, name="service_accounts"),
    path("staff/service-accounts/<int:account_id>/", views.service_account_detail, name="service_account"),
    path(
        "staff/service-accounts/<int:account_id>/<slug:operation>/",
        views.service_account_action,
        name="service_account_action",
    ),
]
