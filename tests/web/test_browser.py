"""A real browser on the set-password page: Debian's headless Chromium,
driven by selenium through Debian's chromedriver (nothing downloaded).

The browser opens the link from a real invitation ``.eml``, served by uvicorn
on 127.0.0.1, types a password twice, submits, sees the success page, and
opening the same link again shows the used-link page. Screenshots of the
pages are kept in ``tests/artifacts/`` (gitignored) to be looked at.

Chromium is installed by ``.ci/install-chromium`` (run by ``make test``);
the test skips only when it truly is not there.

Run it alone: ``.venv/bin/pytest tests/web/test_browser.py -v``
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.schema import ACCOUNTS

from .conftest import GOOD_PASSWORD, Served, Site

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="no /usr/bin/chromium or /usr/bin/chromedriver: run .ci/install-chromium "
    "(apt-get install chromium chromium-driver)",
)


def _driver(profile: str, width: int, height: int):  # type: ignore[no-untyped-def]
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER))
    return webdriver.Chrome(service=service, options=options)


@pytest.fixture
def browser() -> Iterator:  # type: ignore[type-arg]
    profile = tempfile.mkdtemp(prefix="hub-chromium-")
    driver = _driver(profile, 1000, 1000)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str, *, mobile: bool = False) -> Path:  # type: ignore[no-untyped-def]
    """A full-page PNG in tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": max(height, 200), "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.save_screenshot(str(path))
    if not mobile:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def wait_for_title(driver, title: str) -> None:  # type: ignore[no-untyped-def]
    """After a click, the next page: chromedriver may return before it loads."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(expected_conditions.title_is(f"{title} – School Support Hub"))


def problems_in_console(driver) -> list[str]:  # type: ignore[no-untyped-def]
    """CSP violations, failed loads, anything the browser complained about,
    except the page's own 4xx status (the refused and used-link pages)."""
    page_status = re.compile(
        r"/set-password(\?token=[\w-]+)? - Failed to load resource: .* status of 4\d\d"
    )
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] in ("SEVERE", "WARNING") and not page_status.search(entry["message"])
    ]


def test_a_teacher_sets_a_password_in_a_real_browser(site: Site, web: Served, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    link = site.invite()  # the URL exactly as written in the .eml
    assert link.url.startswith(f"http://127.0.0.1:{web.server.port}/set-password?token=")

    browser.get(link.url)
    assert browser.title == "Set your password – School Support Hub"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Set your password"
    details = browser.find_element(By.CSS_SELECTOR, "dl.who").text
    assert "Tess Teacher" in details and "Riverside School" in details
    # The stylesheet applied (allowed by the CSP): the button is the hub's blue.
    button = browser.find_element(By.CSS_SELECTOR, "button[type=submit]")
    assert button.value_of_css_property("background-color") == "rgba(11, 83, 148, 1)"
    # Labels are tied to their fields.
    password = browser.find_element(By.ID, "password")
    confirm = browser.find_element(By.ID, "confirm")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=password]").is_displayed()
    assert password.get_attribute("type") == confirm.get_attribute("type") == "password"
    screenshot(browser, "set-password-form.png")

    password.send_keys(GOOD_PASSWORD)
    confirm.send_keys(GOOD_PASSWORD)
    button.click()
    wait_for_title(browser, "Your password is set")

    assert browser.find_element(By.TAG_NAME, "h1").text == "Your password is set"
    assert "tess@riverside.school" in browser.find_element(By.TAG_NAME, "main").text
    assert browser.current_url == f"{web.server.url}/set-password"  # no token left in the URL
    screenshot(browser, "set-password-done.png")
    account = site.account("tess@riverside.school")
    assert not account.invitation_pending
    doc = site.app.store.get(ACCOUNTS, account.account_id)
    assert doc is not None and doc["password_hash"].startswith("$argon2id$")

    browser.get(link.url)  # the same link again
    wait_for_title(browser, "This link can't be used")
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link can't be used"
    assert "coordinator" in browser.find_element(By.TAG_NAME, "main").text
    assert not browser.find_elements(By.TAG_NAME, "form")
    screenshot(browser, "set-password-used-link.png")

    assert problems_in_console(browser) == []


def test_the_form_fits_a_phone_and_shows_problems(site: Site, web: Served) -> None:
    """A phone-sized window: nothing scrolls sideways; a refused password
    shows its reasons above the form."""
    from selenium.webdriver.common.by import By

    link = site.invite()
    profile = tempfile.mkdtemp(prefix="hub-chromium-")
    driver = _driver(profile, 500, 900)
    try:
        phone = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
        driver.get(link.url)
        assert driver.execute_script("return window.innerWidth") == 390
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
        driver.find_element(By.ID, "password").send_keys("tess teacher 2026")
        driver.find_element(By.ID, "confirm").send_keys("tess teacher 2026")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for_title(driver, "Error: Set your password")
        alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
        assert "Don't use your name or email address" in alert.text
        assert driver.find_element(By.ID, "password").get_attribute("value") == ""
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
        screenshot(driver, "set-password-phone-refused.png", mobile=True)
        assert problems_in_console(driver) == []
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert site.account("tess@riverside.school").invitation_pending
