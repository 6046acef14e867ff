"""Issue 12 item 18: the admin shows a model's and a field's verbose name as its heading.

Django derives a missing verbose name from the Python name, so an unnamed field
shows as English ("received at") among Chinese headings. Every model and field
of our apps must carry a Chinese verbose name of its own.
"""

from __future__ import annotations

import re

from django.apps import apps
from django.db import models


def _our_models() -> list[type[models.Model]]:
    return [
        model for config in apps.get_app_configs() if config.name.startswith("yiwang.") for model in config.get_models()
    ]


def test_every_field_of_our_models_has_a_verbose_name() -> None:
    unnamed = [
        f"{model._meta.label}.{field.name}"
        for model in _our_models()
        for field in model._meta.get_fields()
        if not field.auto_created
        and isinstance(field, models.Field)
        and str(field.verbose_name) == field.name.replace("_", " ")
    ]
    assert unnamed == []


def test_every_model_of_ours_has_a_verbose_name() -> None:
    unnamed = []
    for model in _our_models():
        default = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", model.__name__).lower()
        options = model._meta
        if str(options.verbose_name) == default or str(options.verbose_name_plural) == f"{default}s":
            unnamed.append(options.label)
    assert unnamed == []


def test_the_oauth_toolkit_admin_section_reads_in_chinese() -> None:
    """django-oauth-toolkit ships no Chinese: its heading comes from our AppConfig, its fields from our catalogue."""
    from django.utils import translation

    toolkit = apps.get_app_config("oauth2_provider")
    assert toolkit.verbose_name == "第三方应用授权"
    with translation.override("zh-hans"):
        application = apps.get_model("oauth2_provider", "Application")
        assert str(application._meta.get_field("client_type").verbose_name) == "客户端类型"
        assert str(application._meta.get_field("redirect_uris").verbose_name) == "回调地址"
        # Every model of the toolkit is named in Chinese too, not "access token" derived from its class.
        for model in toolkit.get_models():
            assert not str(model._meta.verbose_name).isascii(), model._meta.label
            assert not str(model._meta.verbose_name_plural).isascii(), model._meta.label
