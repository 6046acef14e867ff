"""Browser tests: a real ``yiwang serve`` on a seeded temporary database, driven by Chromium.

The server runs in its own process with its own ``YIWANG_VAR_DIR``, so these
tests see exactly what a citizen sees: the WSGI server, static files,
middleware (CSP, elderly mode, language) and the seed catalogue.

``yiwang migrate`` and ``yiwang seed`` run once per session, as ``make run``
does (``seeded_snapshot``); every server then starts from a copy of that state
instead of migrating and seeding again. The migration from empty is the
suite's single one per database engine (tests/db_template.py), shared with
the unit tests' template.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.db_template import migrated_postgresql_database, migrated_sqlite_var_dir

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = f"Chromium is not installed at {CHROMIUM}; run `make test`, which installs it"
# The yiwang console script installed beside the interpreter running the tests.
YIWANG = Path(sys.executable).with_name("yiwang")
E2E_DIR = Path(__file__).resolve().parent
# Pages are Chinese first; Chromium would otherwise send Accept-Language: en-US.
LOCALE = "zh-CN"
SERVER_START_TIMEOUT = 60.0
# The servers allow a new SMS code to the same number after this many seconds, not the default
# minute (YIWANG_SMS_RESEND_SECONDS, docs/configuration.md): a test sending two waits this long.
SMS_RESEND_SECONDS = 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the browser tests, before any server is started, when Chromium is missing."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=MISSING_CHROMIUM)
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run([str(YIWANG), *args], env=env, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        pytest.fail(f"`yiwang {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"`yiwang serve` exited with {server.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (http://127.0.0.1 only)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"`yiwang serve` did not answer {url} within {SERVER_START_TIMEOUT:.0f}s:\n{log_path.read_text()}")


@dataclass(frozen=True)
class Snapshot:
    """A migrated and seeded server state to start servers from."""

    var_dir: Path  # keys, static files, materials and, on SQLite, the database file
    database: str | None  # on PostgreSQL, the template database; None on SQLite


@contextmanager
def _server_database(template: str | None = None, *, migrated: bool = False) -> Iterator[dict[str, str]]:
    """Environment for the server's database: its own SQLite file, or its own PostgreSQL database.

    When the suite runs on PostgreSQL (DATABASE_URL set), the server gets a
    database beside the tests' one -- empty, a copy of ``template``, or with
    ``migrated`` a copy of the suite's migrated one -- and it is dropped afterwards.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield {}
        return
    import psycopg

    # Several servers can be up at once in one test process (the session
    # portal and a module's own portal), so each needs a name of its own.
    name = f"yiwang_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    if migrated:
        migrated_postgresql_database(url, name)
    else:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield {"DATABASE_URL": url.rsplit("/", 1)[0] + "/" + name}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def seeded_snapshot() -> Iterator[Snapshot]:
    """``yiwang migrate`` and ``yiwang seed`` -- the path ``make run`` takes -- once per session.

    Servers start from copies of the result, so a failing migration or seed
    still fails the browser tests, but only the first server pays for them.
    """
    if not YIWANG.exists():
        pytest.fail(f"the yiwang console script is not installed next to {sys.executable}")
    var_dir = Path(tempfile.mkdtemp(prefix="yiwang-e2e-snapshot-"))
    try:
        with _server_database(migrated=True) as database_env:
            if not database_env:
                shutil.copytree(migrated_sqlite_var_dir(), var_dir, dirs_exist_ok=True)
            # A copy of the suite's one ``yiwang migrate`` from empty (tests/db_template.py): the ``migrate``
            # below finds it current.
            env = {**os.environ, "YIWANG_VAR_DIR": str(var_dir), **database_env}
            _run(["migrate", "--noinput"], env)
            _run(["seed"], env)
            database = database_env["DATABASE_URL"].rsplit("/", 1)[1] if database_env else None
            yield Snapshot(var_dir=var_dir, database=database)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def seeded_server_state(snapshot: Snapshot, prefix: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A var dir and database environment of a server's own, copied from ``snapshot``."""
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        shutil.copytree(snapshot.var_dir, var_dir, dirs_exist_ok=True)
        with _server_database(snapshot.database) as database_env:
            yield var_dir, database_env
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def portal_url(seeded_snapshot: Snapshot) -> Iterator[str]:
    """Base URL (no trailing slash) of a freshly migrated and seeded portal."""
    with seeded_server_state(seeded_snapshot, "yiwang-e2e-") as (var_dir, database_env):
        yield from _serve(var_dir, database_env)


def _serve(var_dir: Path, database_env: dict[str, str], setup: tuple[list[str], ...] = ()) -> Iterator[str]:
    """Run the ``setup`` commands (``yiwang`` arguments) on a seeded state, then serve until the caller is done."""
    env = {
        **os.environ,
        "YIWANG_VAR_DIR": str(var_dir),
        "YIWANG_SMS_RESEND_SECONDS": str(SMS_RESEND_SECONDS),
        **database_env,
    }
    try:
        for command in setup:
            _run(command, env)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = var_dir / "serve.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [str(YIWANG), "serve", "--port", str(port), "--workers", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_up(base_url + "/", server, log_path)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(MISSING_CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failed browser test, add what each open page showed to the report.

    A timeout names only the locator it waited for; the page's address, title and visible
    text say whether the server answered with an error, a problem list or just slowly.
    """
    report = yield
    contexts: list[BrowserContext] = getattr(item, "browser_contexts", [])
    if report.failed and call.when == "call":
        for number, context in enumerate(contexts, start=1):
            for page in context.pages:
                try:
                    text = page.locator("body").inner_text(timeout=2_000)
                    shown = f"{page.url}\n{page.title()}\n{text[:3_000]}"
                except Exception as error:  # a report must not hide the test's own failure
                    shown = f"{page.url}\n(the page could not be read: {error})"
                report.sections.append((f"browser context {number}: page", shown))
    return report


@pytest.fixture
def new_context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Make browser contexts (Chinese locale by default) that are closed after the test."""
    contexts: list[BrowserContext] = []
    request.node.browser_contexts = contexts

    def make(**options: Any) -> BrowserContext:
        options.setdefault("locale", LOCALE)
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        # The browser tests share two cores with the unit tests (docs/adr/0033-test-suite-time.md): an action
        # waits up to 30 s for a busy server before it fails the run.
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Any) -> Page:
    page: Page = new_context().new_page()
    return page
