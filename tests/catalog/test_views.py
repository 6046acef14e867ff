"""Portal pages through Django's test client (the browser tests live in tests/e2e/)."""

import pytest
from django.test import Client

from yiwang.catalog.models import ServiceItem

pytestmark = pytest.mark.django_db


def food_licence() -> ServiceItem:
    return ServiceItem.objects.published().get(name="食品经营许可")


def test_home_lists_hot_services_themes_and_bundles(client: Client) -> None:
    page = client.get("/").content.decode()
    assert "开餐馆一件事" in page and "生育收养" in page and 'name="q"' in page


def test_search_page_finds_the_item(client: Client) -> None:
    response = client.get("/search/", {"q": "开饭店要办什么证"})
    assert response.status_code == 200
    assert f"/items/{food_licence().code}/" in response.content.decode()


def test_search_page_refuses_oversized_query(client: Client) -> None:
    response = client.get("/search/", {"q": "证" * 500})
    assert response.status_code == 400
    assert "查询词过长" in response.content.decode()


def test_search_page_ignores_bad_filters(client: Client) -> None:
    response = client.get("/search/", {"q": "护照", "level": "<script>", "kind": "x", "page": "-5"})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_guide_shows_everything_a_citizen_needs(client: Client) -> None:
    item = food_licence()
    page = client.get(f"/items/{item.code}/").content.decode()
    for text in [item.name, item.code, item.department.name, item.materials.first().name, item.steps.first().name]:
        assert text in page
    assert f"v{item.version}" in page or f"版本{item.version}" in page or str(item.effective_date.year) in page


def test_guide_of_unknown_or_unpublished_item_is_404(client: Client) -> None:
    assert client.get("/items/NOPE-1/").status_code == 404
    assert client.get(f"/items/{food_licence().code}/", {"version": "999"}).status_code == 404


def test_department_and_bundle_pages(client: Client) -> None:
    assert "市场监督管理局" in client.get("/departments/").content.decode()
    assert "食品经营许可" in client.get("/departments/market/").content.decode()
    page = client.get("/bundles/open-restaurant/").content.decode()
    assert "食品经营许可" in page and "户外广告设施设置许可" in page
    assert client.get("/departments/nowhere/").status_code == 404
    assert client.get("/bundles/nothing/").status_code == 404
    assert client.get("/themes/birth/").status_code == 200


def test_elderly_mode_persists_in_a_cookie(client: Client) -> None:
    response = client.post("/preferences/elderly/", {"enabled": "1", "next": "/departments/"})
    assert response.status_code == 302 and response["Location"] == "/departments/"
    assert client.cookies["yiwang_elderly"].value == "1"
    assert 'class="elderly' in client.get("/").content.decode() or "elderly" in client.get("/").content.decode()
    client.post("/preferences/elderly/", {"enabled": "0"})
    assert client.cookies["yiwang_elderly"].value == ""


def test_elderly_toggle_refuses_open_redirects(client: Client) -> None:
    response = client.post("/preferences/elderly/", {"enabled": "1", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_elderly_toggle_needs_post_with_csrf() -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/preferences/elderly/", {"enabled": "1"}).status_code == 403
    assert strict.get("/preferences/elderly/").status_code == 405


def test_security_headers(client: Client) -> None:
    response = client.get("/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_english_switch(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert 'lang="en"' in page


def test_admin_is_for_staff_only(client: Client, django_user_model) -> None:
    assert client.get("/admin/catalog/serviceitem/").status_code == 302
    citizen = django_user_model.objects.create_user("citizen-x", password="x-very-long-pass")
    client.force_login(citizen)
    assert client.get("/admin/catalog/serviceitem/").status_code == 302
