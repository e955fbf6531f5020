"""Browser tests: Debian's Chromium driven by Playwright against a real `jiaoyun serve`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.web.site import Site, start_site

CHROMIUM = Path(os.environ.get("JIAOYUN_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking switches Chromium keeps calling home, which a closed network
# answers with nothing but timeouts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        # Never a skip: the README's test command installs it (scripts/test-servers.sh).
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: apt-get install chromium (scripts/test does it)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package", params=["embedded", "servers"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    running = start_site(request.param, tmp_path_factory.mktemp(f"site-{request.param}"))
    try:
        yield running
    finally:
        running.stop()
