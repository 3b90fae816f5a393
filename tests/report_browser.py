"""Open Snakemake's HTML report in a real browser (headless Chromium) and read back what it shows.

The report is a JavaScript app: a string test of report.html sees the embedded data, not whether
the page renders it. Here a copy of the report gets a small script that, once the app has loaded,
clicks each (category, file) through the sidebar and the file's eye icon, as a reader would, and
records for each file whether it was listed and whether an image of that file name was drawn;
Chromium's ``--dump-dom`` returns the page after it ran.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")

_SCRIPT = """<script>
(function () {
  var views = %s, seen = {};
  function link(label) {
    return Array.prototype.slice.call(document.querySelectorAll('a'))
      .find(function (a) { return a.textContent.trim() === label; });
  }
  function row(file) {
    return Array.prototype.slice.call(document.querySelectorAll('tr'))
      .find(function (r) {  // the report lists a file by its path: match the file name
        var shown = r.cells.length ? r.cells[0].textContent.trim() : '';
        return shown === file || shown.slice(-file.length - 1) === '/' + file;
      });
  }
  function drawn(file) {
    return Array.prototype.slice.call(document.querySelectorAll('img'))
      .some(function (img) {
        var name = (img.src.match(/filename=([^;,]*)/) || [])[1] || '';
        return name === file || name.slice(-file.length - 1) === '/' + file;
      });
  }
  function step(k) {
    if (k === views.length) {
      document.body.setAttribute('data-nasstages-seen', JSON.stringify(seen));
      return;
    }
    var file = views[k][1], home = link('Results');
    if (home) { home.click(); }  // back to the menu of categories, wherever the last view left it
    setTimeout(function () {
      var category = link(views[k][0]);
      if (category) { category.click(); }
      setTimeout(function () {
        var r = row(file), eye = r && r.querySelector('a[iconname="eye"]');
        seen[file] = {listed: !!r, drawn: false};
        if (eye) { eye.click(); }
        setTimeout(function () { seen[file].drawn = drawn(file); step(k + 1); }, 400);
      }, 400);
    }, 300);
  }
  window.addEventListener('load', function () { setTimeout(function () { step(0); }, 500); });
})();
</script></body>"""


def browser() -> str | None:
    """A headless-capable Chromium on PATH, if any."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def shown_in_browser(report: Path, views: list[tuple[str, str]], work: Path) -> dict[str, dict[str, bool]]:
    """{file: {"listed": ..., "drawn": ...}} for each (category, file name) of ``views``, as the
    report renders them in headless Chromium."""
    chromium = browser()
    if chromium is None:
        raise FileNotFoundError("no Chromium on PATH (apt-get install chromium)")
    html = report.read_text()
    end = html.rindex("</body>")
    page = work / "report_clicked.html"
    page.write_text(html[:end] + _SCRIPT % json.dumps(views) + html[end + len("</body>"):])
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--virtual-time-budget={2000 + 1500 * len(views)}", "--dump-dom", page.resolve().as_uri()]
    env = {**os.environ, "HOME": str(work)}  # Chromium writes its profile there
    out = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    match = re.search(r'data-nasstages-seen="([^"]*)"', out.stdout)
    if not match:
        raise AssertionError(f"the report did not finish rendering in Chromium (rc {out.returncode}): "
                             f"{out.stderr[-1500:]}")
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
