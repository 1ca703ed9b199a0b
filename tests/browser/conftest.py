"""The one Chromium per test module that every browser test shares (Debian's chromium via Playwright)."""

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def playwright_browser(browser):
    """The browser, for the tests that also write notebooks (nbformat) for a Jupyter server."""
    pytest.importorskip("nbformat")
    return browser
