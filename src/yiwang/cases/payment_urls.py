"""Addresses of fee payment: the providers' callback endpoint and the sandbox gateway's cashier."""

from django.urls import path

from . import payment_views

app_name = "payments"

urlpatterns = [
    path("payments/callback/<str:provider>/", payment_views.payment_callback, name="callback"),
    path("payments/sandbox/<str:order_number>/", payment_views.sandbox_cashier, name="sandbox_cashier"),
]
