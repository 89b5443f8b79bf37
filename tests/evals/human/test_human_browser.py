"""A person casts a blind vote in a real browser (Debian chromium through playwright)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ondo.evals import human

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(workspace: Any) -> Iterator[str]:
    import uvicorn

    from ondo.server.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(workspace), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the ondo server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_blind_vote_in_browser(workspace: Any, server: str) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (scripts/system-deps.sh installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    items = [human.NewItem(prompt="Name a primary colour.", response_a="Red is a primary colour.",
                           response_b="Blue.", model_a="gpt-4", model_b="alpaca-13b")]
    human.create_queue(workspace, "colours", items, kind="pairwise")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(f"{server}/human/colours")
            page.fill("#annotator", "alice")
            page.click("button[type=submit]")
            page.wait_for_selector("#vote-left")
            before = page.content()
            assert "gpt-4" not in before and "alpaca-13b" not in before  # names hidden before the vote
            left_text = page.inner_text("#left")
            page.click("#vote-left")
            page.wait_for_selector("#stored")
            left_model = page.inner_text("#reveal-left")
            right_model = page.inner_text("#reveal-right")
            assert {left_model, right_model} == {"gpt-4", "alpaca-13b"}  # revealed after the vote
            assert left_model == ("gpt-4" if left_text.startswith("Red") else "alpaca-13b")
            page.click("#next")
            page.wait_for_selector("#done")
        finally:
            browser.close()
    (item,) = human.export(workspace, "colours")
    (vote,) = item["votes"]
    assert vote["annotator"] == "alice"
    assert vote["choice"] == ("model_a" if left_model == "gpt-4" else "model_b")
