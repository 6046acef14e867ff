"""What the browser tests look for on the portal's pages, kept in one place."""

from __future__ import annotations

import re
from urllib.parse import quote

from playwright.sync_api import Page, expect

ELDERLY_ON_BUTTON = "长者模式（大字体）"
ELDERLY_OFF_BUTTON = "退出长者模式"
ELDERLY_BODY = re.compile(r"(^|\s)elderly(\s|$)")
SEARCH_LABEL = "您想办什么事？"
RESTAURANT_QUERY = "开饭店要办什么证"
FOOD_LICENCE = "食品经营许可"


def item_guide_path(page: Page, portal_url: str, name: str) -> str:
    """The guide's path for an item name, found the way a citizen finds it: by searching."""
    page.goto(f"{portal_url}/search/?q={quote(name)}&type=item")
    link = page.locator(".result-list").get_by_role("link", name=name, exact=True).first
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href and href.startswith("/items/"), href
    # The result link also tells the search which item was chosen (?from_search=…); the guide is the path.
    return href.partition("?")[0]
