"""Headless chromium for the viewer's tests: load a page with a driver script that writes its
results into the DOM, and read them back from the dumped DOM."""

import json
import re
import shutil
import subprocess

import pytest

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no chromium installed (CI: apt-get install chromium)")
RESULT = """
var pre = document.createElement("pre"); pre.id = "result";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
"""


def run_driver(page, driver: str, timeout: int = 120) -> tuple[dict, str]:
    """(the driver's `out` object, chromium's stderr) after loading `page` with `driver`
    (JavaScript that fills a variable `out`) run after the viewer's own script."""
    page.write_text(page.read_text().replace(
        "</body>", "<script>var out = {};" + driver + RESULT + "</script></body>"))
    done = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--window-size=1400,900", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=timeout)
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the driver wrote no result; chromium said: {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">")), done.stderr
