"""The HTML viewer (lead_audit.viewer) against a real cluster: its pages
through FastAPI's test client, and in a real browser, headless Chromium from
Debian's packages driven by Selenium with Debian's chromedriver, against the
router served by uvicorn.

In the browser: a record's history with its diff, a request link followed, a
verification run, a row tampered with by a superuser flagged, a logged XSS
payload shown as text and never run, and the pages at a phone's width.
Screenshots go to $LEAD_AUDIT_ARTIFACTS (default
/tmp/lead_audit_viewer_artifacts) for a person to look at.

The tests use a database of their own (they tamper with its log).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine

from conftest import conninfo, url
from lead_audit.trail import Change
from lead_audit.viewer import diff, shown
from lead_audit.web import audit_router

DB = "lead_audit_viewer"
XSS = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="alert(2)">'
ARTIFACTS = Path(os.environ.get("LEAD_AUDIT_ARTIFACTS", "/tmp/lead_audit_viewer_artifacts"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def database() -> str:
    """A database with two leads' histories: a request that changes both, a
    soft delete and restore, a redacted column, a failed attempt and an XSS
    payload in a logged value."""
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    with psycopg.connect(conninfo(DB), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION lead_audit")
        conn.execute("CREATE TABLE leads (id bigint PRIMARY KEY, email text NOT NULL, status text,"
                     " phone text, deleted_at timestamptz)")
        conn.execute("SELECT audit_enable('leads', soft_delete_column => 'deleted_at', redact => array['phone'])")
        with conn.transaction():
            conn.execute("SET LOCAL lead_audit.actor_id = 'alice@example.com'")
            conn.execute("SET LOCAL lead_audit.request_id = 'req-create'")
            conn.execute("INSERT INTO leads (id, email, status, phone) VALUES"
                         " (1, 'one@example.com', 'new', '+1 555 0100'), (2, 'two@example.com', 'new', NULL)")
        with conn.transaction():
            conn.execute("SET LOCAL lead_audit.actor_id = 'bob@example.com'")
            conn.execute("SET LOCAL lead_audit.request_id = 'req-qualify'")
            conn.execute("UPDATE leads SET status = 'qualified' WHERE id IN (1, 2)")
        with conn.transaction():
            conn.execute("SET LOCAL lead_audit.actor_id = 'mallory'")
            conn.execute("UPDATE leads SET status = %s, email = %s WHERE id = 2", (XSS, XSS_IMG))
        conn.execute("UPDATE leads SET deleted_at = now() WHERE id = 1")
        conn.execute("UPDATE leads SET deleted_at = NULL WHERE id = 1")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO leads (id, email) VALUES (1, 'dup@example.com')")
        # The failed attempt's row comes a moment later, from a background worker.
        deadline = time.monotonic() + 30
        while conn.execute("SELECT 1 FROM audit_log WHERE outcome = 'failed'").fetchone() is None:
            assert time.monotonic() < deadline, "the failed attempt was not recorded"
            time.sleep(0.1)
        conn.execute("SELECT audit_seal()")
    return DB


def app_for(database: str) -> FastAPI:
    engine = create_engine(url("psycopg", database))
    app = FastAPI()
    app.include_router(audit_router(engine, authorize=lambda r: True), prefix="/audit")
    return app


@pytest.fixture(scope="module")
def client(database: str) -> Iterator[TestClient]:
    with TestClient(app_for(database)) as c:
        yield c


def test_values_are_shown_by_kind() -> None:
    assert shown(None) == {"kind": "null", "text": "null"}
    assert shown("hmac-sha256:" + "ab" * 32)["kind"] == "redacted"
    assert shown("<b>") == {"kind": "text", "text": "<b>"}
    assert shown({"a": [1, "é"]}) == {"kind": "json", "text": '{"a": [1, "é"]}'}


def test_a_diff_marks_what_changed() -> None:
    c = Change.model_validate({
        "audit_id": 1, "tx_id": 1, "logged_at": "2026-12-07T00:00:00Z", "table_name": "leads",
        "action": "UPDATE", "outcome": "committed", "soft_delete": None, "record_pk": {"id": 1},
        "changed_columns": ["status"], "old_values": {"status": "new", "id": 1},
        "new_values": {"status": "won", "id": 1}, "actor_id": None, "client_ip": None, "user_agent": None,
        "request_id": None, "context": None, "db_user": None, "application_name": None, "error": None})
    assert [(r["column"], r["changed"]) for r in diff(c)] == [("id", False), ("status", True)]
    inserted = c.model_copy(update={"action": "INSERT", "old_values": None, "changed_columns": None})
    assert [(r["column"], r["old"], r["changed"]) for r in diff(inserted)] == [("id", None, False),
                                                                                ("status", None, False)]


def test_pages_are_refused_without_authorize(database: str) -> None:
    engine = create_engine(url("psycopg", database))
    app = FastAPI()
    app.include_router(audit_router(engine), prefix="/audit")
    with TestClient(app) as c:
        for path in ("/audit/ui", "/audit/ui/ledger", "/audit/ui/changes", "/audit/ui/static/viewer.css"):
            assert c.get(path).status_code == 403, path
    engine.dispose()


def test_logged_markup_is_escaped_in_the_html(client: TestClient) -> None:
    page = client.get("/audit/ui/record", params={"table": "leads", "key": '{"id": 2}'})
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert XSS not in page.text and "<img src=x" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_bad_input_is_a_page_not_a_trace(client: TestClient) -> None:
    r = client.get("/audit/ui/record", params={"table": "leads", "key": "[1]"})
    assert r.status_code == 400 and "JSON object" in r.text
    r = client.get("/audit/ui/changes/999999999")
    assert r.status_code == 404 and "999999999" in r.text
    r = client.get("/audit/ui/record", params={"table": "no_such_table", "key": '{"id": 1}'})
    assert r.status_code == 404 and "Traceback" not in r.text
    assert client.get("/audit/ui/static/../web.py").status_code == 404
    assert client.get("/audit/ui/static/nothing.css").status_code == 404


def test_changes_pages_follow_on(client: TestClient) -> None:
    first = client.get("/audit/ui/changes", params={"table": "leads"})
    assert first.status_code == 200 and first.text.count('class="change') >= 7
    one = client.get("/audit/ui/changes", params={"actor_id": "bob@example.com"})
    assert one.text.count('data-audit-id="') == 2


def test_the_ledger_page_expects_a_run_to_take_as_long_as_the_last(client: TestClient, database: str) -> None:
    with psycopg.connect(conninfo(database)) as conn:
        row = conn.execute("SELECT count(*) FROM audit_log").fetchone()
        assert row is not None
        rows = int(row[0])
    before = client.get("/audit/ui/ledger").text
    assert f"reads the log's {rows} rows." in before and "data-expected-seconds" not in before
    assert client.post("/audit/verification", headers={"x-lead-audit": "verify"}).status_code == 200
    after = client.get("/audit/ui/ledger").text
    assert "at the last run's pace" in after and 'data-expected-seconds="' in after


# --- in a browser -----------------------------------------------------------


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app_for(database), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/audit/ui"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver: WebDriver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def no_alert(driver: WebDriver) -> bool:
    try:
        driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_a_record_history_shows_its_diff(server: str, browser: WebDriver) -> None:
    browser.get(server)
    browser.find_element(By.NAME, "key").send_keys('{"id": 1}')
    browser.find_element(By.CSS_SELECTOR, "form.search button").click()
    WebDriverWait(browser, 10).until(lambda d: "leads" in d.title)
    cards = browser.find_elements(By.CSS_SELECTOR, ".timeline .change")
    actions = [c.find_element(By.CSS_SELECTOR, ".action").text for c in cards]
    assert actions[:4] == ["INSERT", "UPDATE", "UPDATE", "UPDATE"], actions
    update = cards[1]
    changed = update.find_elements(By.CSS_SELECTOR, "table.diff tr.changed")
    assert [(r.find_element(By.TAG_NAME, "th").text.strip("● "),
             r.find_element(By.CSS_SELECTOR, "td.old").text,
             r.find_element(By.CSS_SELECTOR, "td.new").text) for r in changed] == [("status", "new", "qualified")]
    assert "bob@example.com" in update.text
    assert cards[2].find_element(By.CSS_SELECTOR, ".badge.soft").text == "soft delete"
    assert cards[3].find_element(By.CSS_SELECTOR, ".badge.restore").text == "restored"
    phone = cards[0].find_element(By.CSS_SELECTOR, ".redacted")
    assert phone.text == "redacted" and (phone.get_attribute("title") or "").startswith("hmac-sha256:")
    assert "+1 555 0100" not in browser.page_source
    shot(browser, "record-history")


def test_a_request_link_leads_to_the_request(server: str, browser: WebDriver) -> None:
    browser.get(server + '/record?table=leads&key={"id": 1}')
    browser.find_element(By.LINK_TEXT, "req-qualify").click()
    WebDriverWait(browser, 10).until(lambda d: "req-qualify" in d.find_element(By.TAG_NAME, "h1").text)
    keys = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".change a.record")]
    assert keys == ['{"id": 1}', '{"id": 2}']
    shot(browser, "request")


def test_failed_attempts_show_their_error(server: str, browser: WebDriver) -> None:
    browser.get(server + "/changes?failed=true")
    card = browser.find_elements(By.CSS_SELECTOR, ".change.failed")[0]
    assert "23505" in card.find_element(By.CSS_SELECTOR, ".error").text
    assert card.find_element(By.CSS_SELECTOR, ".badge.fail").text == "failed attempt"


def test_a_logged_xss_payload_renders_inert(server: str, browser: WebDriver) -> None:
    browser.get(server + '/record?table=leads&key={"id": 2}')
    assert no_alert(browser)
    cells = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "table.diff td.new")]
    assert XSS in cells and XSS_IMG in cells
    assert browser.find_elements(By.CSS_SELECTOR, "main script, main img") == []
    shot(browser, "xss-inert")


def test_verification_runs_and_flags_a_tampered_row(server: str, browser: WebDriver, database: str) -> None:
    browser.get(server + "/ledger")
    browser.find_element(By.ID, "verify").click()
    result = WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "result"))[0]
    assert "every row and block is as sealed" in result.text
    # The next run is timed against this one's pace.
    assert float(browser.find_element(By.ID, "verify").get_attribute("data-expected-seconds") or "-1") >= 0
    shot(browser, "ledger-ok")

    with psycopg.connect(conninfo(database), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        victim = conn.execute("SELECT min(id) FROM audit_log WHERE table_oid = 'leads'::regclass"
                              " AND action = 'UPDATE'").fetchone()
        assert victim is not None and victim[0] is not None
        conn.execute("UPDATE audit_log SET actor_id = 'someone else' WHERE id = %s", (victim[0],))

    browser.find_element(By.ID, "verify").click()
    # The page reloads when the run ends: an element read during the reload is stale.
    WebDriverWait(browser, 60, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: "finding" in d.find_element(By.ID, "result").text)
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".findings a")]
    assert f"#{victim[0]}" in links
    shot(browser, "ledger-tampered")
    browser.find_element(By.LINK_TEXT, f"#{victim[0]}").click()
    flagged = WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".change.flagged"))
    assert flagged[0].get_attribute("data-audit-id") == str(victim[0])
    assert "someone else" in flagged[0].text


def test_pages_fit_a_phone(server: str, browser: WebDriver) -> None:
    browser.set_window_size(390, 844)
    try:
        for path in ("", '/record?table=leads&key={"id": 1}', "/ledger", "/changes"):
            browser.get(server + path)
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (path, overflow)
        browser.get(server + '/record?table=leads&key={"id": 1}')
        shot(browser, "record-phone")
    finally:
        browser.set_window_size(1280, 900)
