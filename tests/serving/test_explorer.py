"""The interest explorer in a real browser: Debian's Chromium, headless, driven by Selenium
through Debian's chromedriver, against ``interestgraph serve`` and the real local Neo4j.

Screenshots go to ``$INTERESTGRAPH_SCREENSHOTS`` (default ``build/screenshots``, not
committed) so a person can look at what the tests saw.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from graphdb.connection import Neo4jTarget
from tests.serving.server import free_port, serve_process

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS = Path(os.environ.get("INTERESTGRAPH_SCREENSHOTS", "build/screenshots"))
#: what a closed network needs (no background connections, no component updates)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WAIT = 30


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: `make test` installs chromium-driver")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_window_size(1400, 1100)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def explorer(served_graph: dict, target: Neo4jTarget) -> Iterator[str]:
    with serve_process(served_graph["home"], target) as base:
        yield base


def _open(browser: WebDriver, base: str, key: str, fragment: str = "") -> None:
    """Load the page, save the key in it as a person would, and load ``fragment`` afresh."""
    browser.get(f"{base}/")
    WebDriverWait(browser, WAIT).until(lambda d: "Loading" not in d.find_element(By.ID, "run").text)
    browser.find_element(By.CSS_SELECTOR, "#key-box summary").click()
    field = browser.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key)
    browser.find_element(By.ID, "save-key").click()
    browser.get_log("browser")  # drop the first load's 401, made before the key was saved
    browser.get(f"{base}/{fragment}")
    browser.refresh()  # a fragment alone does not reload the page


def _errors(browser: WebDriver) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def _wait_for(browser: WebDriver, css: str) -> list:
    return WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, css) or False
    )


def _user_with_known_interests(driver: Driver) -> str:
    record = driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) "
        "MATCH (u:User)-[p:PREDICTED_ITEM]->() WHERE p.run = r.id "
        "AND EXISTS { (u)-[:INTERESTED_IN]->() } AND EXISTS { (u)-[:PREDICTED_INTEREST]->() } "
        "RETURN u.id AS id ORDER BY id LIMIT 1"
    ).records
    assert record, "the served graph has no user with known and expanded interests"
    return record[0]["id"]


def _drawn_nodes(browser: WebDriver) -> list[dict]:
    return browser.execute_script(
        "const cy = window.explorer.cy;"
        "return cy ? cy.nodes().map(n => ({label: n.data('label'), id: n.data('nodeId')})) : [];"
    )


def _exists(driver: Driver, label: str, node_id: str) -> bool:
    assert label in {"User", "Item", "Interest"}
    records = driver.execute_query(
        f"MATCH (n:{label} {{id: $id}}) RETURN count(n) AS n", id=node_id
    ).records
    return records[0]["n"] == 1


def test_page_loads_without_console_errors_and_names_the_run(
    browser: WebDriver, explorer: str, api_key: str, session_driver: Driver
) -> None:
    _open(browser, explorer, api_key)
    run = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) RETURN r.id AS id"
    ).records[0]["id"]
    WebDriverWait(browser, WAIT).until(lambda d: run in d.find_element(By.ID, "run").text)
    footer = browser.find_element(By.ID, "run").text
    assert "test Recall@20" in footer and "split user-random" in footer, footer
    assert browser.find_elements(By.CSS_SELECTOR, "#suggestions a")
    browser.save_screenshot(str(SCREENSHOTS / "explorer-start.png"))
    assert _errors(browser) == []


def test_lookup_shows_interests_and_items_and_a_click_draws_real_paths(
    browser: WebDriver, explorer: str, api_key: str, session_driver: Driver
) -> None:
    user = _user_with_known_interests(session_driver)
    _open(browser, explorer, api_key, f"#user={user}")
    items = _wait_for(browser, "#items li.clickable")
    assert len(items) == 10
    assert browser.find_elements(By.CSS_SELECTOR, "#expanded li.clickable")
    assert browser.find_elements(By.CSS_SELECTOR, "#known li:not(.empty)")
    items[0].click()
    WebDriverWait(browser, WAIT).until(lambda d: len(_drawn_nodes(d)) >= 2)
    nodes = _drawn_nodes(browser)
    assert {"label": "User", "id": user} in nodes
    assert all(_exists(session_driver, n["label"], n["id"]) for n in nodes), nodes
    sentences = browser.find_elements(By.CSS_SELECTOR, "#sentences li:not(.empty)")
    assert sentences and all(s.text for s in sentences)
    browser.save_screenshot(str(SCREENSHOTS / "explorer-user.png"))
    browser.find_elements(By.CSS_SELECTOR, "#expanded li.clickable")[0].click()
    WebDriverWait(browser, WAIT).until(
        lambda d: (
            "Why" in d.find_element(By.ID, "explanation-title").text
            and d.find_element(By.ID, "status").text == ""
        )
    )
    assert _errors(browser) == []


def test_new_user_panel_recommends_with_explanations(
    browser: WebDriver, explorer: str, api_key: str, session_driver: Driver
) -> None:
    interests = [
        r["id"]
        for r in session_driver.execute_query(
            "MATCH (:User)-[:INTERESTED_IN]->(i:Interest) "
            "RETURN i.id AS id, count(*) AS n ORDER BY n DESC, id LIMIT 2"
        ).records
    ]
    _open(browser, explorer, api_key)
    browser.find_element(By.ID, "new-interests").send_keys(", ".join(interests))
    browser.find_element(By.ID, "new-text").send_keys("I like clever crime films")
    browser.find_element(By.CSS_SELECTOR, "#new-user-form button").click()
    results = _wait_for(browser, "#new-results li.clickable")
    assert len(results) == 10
    results[0].click()
    WebDriverWait(browser, WAIT).until(lambda d: len(_drawn_nodes(d)) >= 2)
    drawn = _drawn_nodes(browser)
    assert any(n["label"] == "Interest" and n["id"] in interests for n in drawn), drawn
    assert {"label": "User", "id": None} in drawn  # the new user, drawn but not in the graph
    browser.save_screenshot(str(SCREENSHOTS / "explorer-new-user.png"))
    assert _errors(browser) == []


def test_unknown_user_is_said_plainly(browser: WebDriver, explorer: str, api_key: str) -> None:
    _open(browser, explorer, api_key, "#user=no-such-user")
    status = _wait_for(browser, "#status.error")[0]
    assert "no-such-user is not in the graph" in status.text
    assert browser.find_element(By.ID, "user-view").get_attribute("hidden") is not None


def test_neo4j_down_shows_the_error_state(
    browser: WebDriver, served_graph: dict, api_key: str, target: Neo4jTarget
) -> None:
    """The same service pointed at a port where no Neo4j listens: what a stopped Neo4j looks
    like to it (the resilience tests stop the real one under load)."""
    down = Neo4jTarget(f"bolt://127.0.0.1:{free_port()}", target.user, target.password)
    with serve_process(served_graph["home"], down, ready="/livez") as base:
        _open(browser, base, api_key, "#user=1")
        status = _wait_for(browser, "#status.error")[0]
        assert "unavailable" in status.text.lower(), status.text
        footer = browser.find_element(By.ID, "run")
        WebDriverWait(browser, WAIT).until(lambda d: "unavailable" in footer.text.lower())
        browser.save_screenshot(str(SCREENSHOTS / "explorer-neo4j-down.png"))
