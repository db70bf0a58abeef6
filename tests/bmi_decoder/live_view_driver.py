"""Open the live view in headless Debian chromium, wait until its traces advance, screenshot it.

Run inside the same loopback-only network namespace as ``bmi-decoder stream --view``:
``python live_view_driver.py URL SCREENSHOT READY_FILE [SECONDS]``. READY_FILE is created once
the page has loaded (the rig can start then); SECONDS of stream time must be drawn before the
screenshot (default 2). Prints one JSON line: the bins and stream times seen.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from playwright.sync_api import Error, sync_playwright

# Playwright's own browser download cannot be reached here; Debian's chromium is driven instead.
CHROMIUM = "/usr/bin/chromium"


def main(url: str, screenshot: str, ready: str, seconds: float = 2.0) -> int:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1060, "height": 470})
        for _ in range(600):  # the server starts with the stream command
            try:
                page.goto(url)
                break
            except Error:
                time.sleep(0.2)
        title = page.title()
        Path(ready).touch()
        page.wait_for_function("Number(document.body.dataset.bins || 0) > 0", timeout=120_000, polling=20)
        first_t = float(page.evaluate("document.body.dataset.lastT"))
        page.wait_for_function(f"Number(document.body.dataset.lastT) > {first_t + seconds}", timeout=120_000, polling=20)
        page.wait_for_timeout(300)  # one more stats message and frame
        page.screenshot(path=screenshot)
        state = page.evaluate("({bins: Number(document.body.dataset.bins), t: Number(document.body.dataset.lastT)})")
        stats = page.inner_text("#stats")
        browser.close()
    print(json.dumps({"title": title, "first_t": first_t, **state, "stats": stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4], *(float(x) for x in sys.argv[4:5])))
