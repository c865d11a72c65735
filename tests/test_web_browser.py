"""The web page in a real browser: Debian's headless Chromium driven by Selenium, against the app on 127.0.0.1.

Each test also saves screenshots of the pages it passes through, at phone (390x844) and desktop
(1280x800) width, into docs/screenshots/ (the README links to them).
"""

from __future__ import annotations

import shutil
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from icalendar import Calendar
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from bot.storage import lifecycle
from tests.conftest import ALICE, BOB, ShiftedClock
from tests.web_support import ADMIN_TOKEN, LiveServer, text_for_link, transport_ready, web_config

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"  # Debian's chromium, chromium-driver
WIDTHS = {"phone": (390, 844, True), "desktop": (1280, 800, False)}
LONGEST_SCREENSHOT = 2400  # pixels: a long page is cut there


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), \
        "install Debian's chromium and chromium-driver (scripts/setup.sh dev does)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,800", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def server(app_factory, clock, browser) -> Iterator[LiveServer]:
    live = LiveServer(lambda url: transport_ready(app_factory(clock=clock, **web_config(url))))
    browser.delete_all_cookies()
    yield live
    live.stop()


def shoot(driver: webdriver.Chrome, name: str) -> None:
    """Save the page as docs/screenshots/<name>-phone.png and -desktop.png (whole page, up to a limit)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height, mobile) in WIDTHS.items():
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        full = driver.execute_script("return document.documentElement.scrollHeight")
        metrics["height"] = max(height, min(int(full), LONGEST_SCREENSHOT))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        (SCREENSHOTS / f"{name}-{label}.png").write_bytes(driver.get_screenshot_as_png())
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def wait_for(driver: webdriver.Chrome, css: str, text: str = "") -> str:
    """Wait for elements matching ``css`` whose text holds ``text``; return their text.

    The text is read inside the wait: a click that submits a form replaces the page, and an element
    found on the old page goes stale while it is read (the wait then looks again on the new one).
    """
    def joined_text(d: webdriver.Chrome) -> str | bool:
        try:
            found = " ".join(element.text for element in d.find_elements(By.CSS_SELECTOR, css))
        except WebDriverException as error:
            # The same staleness, as chromedriver sometimes reports it mid-navigation (a CI run, 2026-11-30).
            if "does not belong to the document" not in (error.msg or ""):
                raise
            return False
        return found if found and text in found else False

    return WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(joined_text)


def arrived(driver: webdriver.Chrome, element_id: str) -> WebElement:
    """Wait for the page a click led to: until it holds the element with this id, and return it."""
    def present(d: webdriver.Chrome) -> WebElement | bool:
        found = d.find_elements(By.ID, element_id)
        return found[0] if found else False

    return WebDriverWait(driver, 10).until(present)


def flashes(driver: webdriver.Chrome) -> str:
    return " ".join(element.text for element in driver.find_elements(By.CSS_SELECTOR, ".flash"))


def _schedule(app, owner: str, text: str, hours: float, recipient: str | None = None,
              recurrence: str | None = None) -> str:
    bot = app.extensions["bot"]
    now = bot.clock()
    with bot.session_factory() as session, session.begin():
        return lifecycle.schedule(session, owner=owner, recipient=recipient or owner, text=text,
                                  send_at=now + timedelta(hours=hours), now=now, zone="America/New_York",
                                  recurrence=recurrence).id


def _sign_in_by_text(driver, server, signer, fake_telnyx, number: str = ALICE, n: int = 1) -> str:
    link, _ = text_for_link(server.app.test_client(), signer, fake_telnyx, number, n)
    assert link.startswith(server.url + "/w/")
    driver.get(link)
    return link


def test_sign_in_add_with_preview_edit_move_snooze_delete_and_the_calendar(server, browser, signer, fake_telnyx):
    _schedule(server.app, ALICE, "water the plants", 3)
    _schedule(server.app, ALICE, "standup", 20, recurrence="FREQ=WEEKLY;BYDAY=MO,WE,FR")
    _schedule(server.app, ALICE, "pick up the cake", 30, recipient=BOB)
    _schedule(server.app, BOB, "Bob's own reminder", 2)
    link = _sign_in_by_text(browser, server, signer, fake_telnyx)
    assert len(browser.find_elements(By.CSS_SELECTOR, "button")) == 1
    shoot(browser, "sign-in")
    browser.find_element(By.ID, "sign-in").click()
    wait_for(browser, "#upcoming", "water the plants")
    assert browser.current_url == server.url + "/me"
    assert "Bob's own reminder" not in browser.page_source

    # Add, with a preview of how the time was read before anything is saved.
    browser.find_element(By.ID, "when").send_keys("every tuesday at 7pm")
    browser.find_element(By.ID, "text").send_keys("take the bins out")
    browser.find_element(By.ID, "preview-button").click()
    assert "every Tue" in wait_for(browser, "#preview", "I read this as")
    shoot(browser, "add-preview")
    browser.find_element(By.ID, "save").click()
    assert "Got it" in wait_for(browser, ".flash", "Got it")
    assert "take the bins out" in browser.find_element(By.ID, "upcoming").text
    shoot(browser, "reminders")

    # Edit the text, then move it, on the reminder's own page.
    browser.find_element(By.PARTIAL_LINK_TEXT, "water the plants").click()
    wait_for(browser, "#reminder-text", "water the plants")
    shoot(browser, "reminder")
    field = browser.find_element(By.ID, "new-text")
    field.clear()
    field.send_keys("water the tomatoes")
    browser.find_element(By.ID, "save-text").click()
    wait_for(browser, "#reminder-text", "water the tomatoes")
    browser.find_element(By.ID, "new-time").send_keys("in 2 days at 6pm")
    browser.find_element(By.ID, "preview-time").click()
    assert "6:00 PM" in wait_for(browser, "#time-preview", "I read this as")
    browser.find_element(By.ID, "save-time").click()
    assert "Moved" in wait_for(browser, ".flash", "Moved")

    # Snooze it an hour, then delete it (the script asks first; the form works without it too).
    Select(browser.find_element(By.ID, "snooze-choice")).select_by_value("1h")
    browser.find_element(By.ID, "snooze").click()
    assert "Snoozed" in wait_for(browser, ".flash", "Snoozed")
    browser.find_element(By.PARTIAL_LINK_TEXT, "water the tomatoes").click()
    arrived(browser, "delete").click()
    WebDriverWait(browser, 5).until(lambda d: d.switch_to.alert).accept()
    assert "Deleted" in wait_for(browser, ".flash", "Deleted")
    assert "water the tomatoes" not in browser.find_element(By.ID, "upcoming").text

    # The calendar link: shown once, fetched as a calendar service would, parsed.
    browser.find_element(By.ID, "calendar-link").click()
    feed_url = arrived(browser, "calendar-url").get_attribute("value")
    shoot(browser, "calendar")
    with urllib.request.urlopen(feed_url, timeout=10) as answer:
        assert answer.headers.get_content_type() == "text/calendar"
        calendar = Calendar.from_ical(answer.read())
    summaries = sorted(str(event["SUMMARY"]) for event in calendar.walk("VEVENT"))
    assert summaries == ["pick up the cake (to +1 646-555-0199)", "standup", "take the bins out"]
    assert all("RRULE" in event for event in calendar.walk("VEVENT") if str(event["SUMMARY"]) != summaries[0])

    # The link texted earlier is used up: opening it again says so.
    browser.get(link)
    assert "can't be used" in wait_for(browser, "#message", "works once")
    shoot(browser, "link-used")


def test_refusals_expired_link_missing_csrf_token_someone_elses_reminder(server, browser, signer, fake_telnyx,
                                                                          clock):
    bobs = _schedule(server.app, BOB, "Bob's secret", 2)
    mine = _schedule(server.app, ALICE, "call mom", 2)
    link, _ = text_for_link(server.app.test_client(), signer, fake_telnyx, ALICE)
    clock.advance(timedelta(minutes=16))
    browser.get(link)
    assert "works once, for 15 minutes" in wait_for(browser, "#message", "15 minutes")
    assert not browser.find_elements(By.ID, "sign-in")
    shoot(browser, "link-expired")

    _sign_in_by_text(browser, server, signer, fake_telnyx, n=2)
    browser.find_element(By.ID, "sign-in").click()
    wait_for(browser, "#upcoming", "call mom")
    browser.get(f"{server.url}/me/r/{bobs}")  # someone else's reminder, by its id
    assert "Not Found" in wait_for(browser, "h1", "Not Found")
    assert "Bob's secret" not in browser.page_source
    shoot(browser, "not-yours")

    browser.get(f"{server.url}/me/r/{mine}")
    browser.execute_script("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    browser.find_element(By.ID, "delete").click()
    WebDriverWait(browser, 5).until(lambda d: d.switch_to.alert).accept()
    assert "CSRF" in wait_for(browser, "#message", "CSRF")
    shoot(browser, "csrf-refused")
    browser.get(f"{server.url}/me")
    assert "call mom" in wait_for(browser, "#upcoming", "call mom")  # still there


def test_the_operator_console(server, browser):
    failed = _schedule(server.app, ALICE, "the one that failed", -1, recipient=BOB)
    for hours in (2, 3, 4):
        _schedule(server.app, ALICE, "pending", hours)
    bot = server.app.extensions["bot"]
    from bot.storage.models import Reminder, Status

    with bot.session_factory() as session, session.begin():
        session.execute(Reminder.__table__.update().where(Reminder.id == failed)
                        .values(status=Status.FAILED, error="delivery delivery_failed", due_at=bot.clock()))
    browser.get(f"{server.url}/admin")
    shoot(browser, "admin-sign-in")
    browser.find_element(By.ID, "admin-token").send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "admin-sign-in").click()
    assert wait_for(browser, "#pending", "3") == "3"
    assert "carrier reported delivery failed" in browser.find_element(By.ID, "failures").text
    assert "+*******0147" in browser.find_element(By.ID, "top-senders").text
    shoot(browser, "admin")
    browser.find_element(By.ID, "search-number").send_keys(BOB)
    browser.find_element(By.ID, "search").click()
    wait_for(browser, "#found", failed)
    shoot(browser, "admin-search")
    browser.find_element(By.ID, f"retry-{failed}").click()
    assert "sent again now" in wait_for(browser, ".flash", "sent again")
    assert ADMIN_TOKEN not in browser.current_url
