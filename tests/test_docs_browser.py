"""The generated docs site in Debian's headless chromium, loaded from disk (file://, no network).

Each state is a hash route rendered with --dump-dom (the DOM after scripts ran) and --screenshot.
The canvas graph reports what it drew in data-* attributes (data-drawn, data-labels), which we check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkmodels.app.cli import cli

EVIL = {
    "models/sources.yml": """
        version: 2
        sources:
          - name: raw
            tables:
              - name: events
                description: "Raw events <script>alert('src')</script>"
                external: {location: data/events.parquet, format: parquet}
        models:
          - name: events_view
            description: |
              Events **cleaned**. <script>alert("x")</script> <img src=x onerror="document.body.setAttribute('data-pwned','1')">
              [docs](javascript:alert(2)) and [site](https://example.com)
            columns:
              - name: event_id
                description: "the <b>id</b>"
    """,
    "models/events_view.sql": "select id as event_id from {{ source('raw', 'events') }}",
}

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def find_browser() -> str | None:
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


@pytest.fixture(scope="module")
def browser():
    path = find_browser()
    if path is None:
        pytest.skip("no headless chromium on PATH (.ci/run installs Debian's `chromium` package)")
    return path


class Page:
    """Runs chromium on one file:// URL: the rendered DOM and, optionally, a screenshot."""

    def __init__(self, browser: str, profile: Path):
        self.browser, self.profile = browser, profile

    def run(self, url: str, *args: str) -> str:
        cmd = [self.browser, *FLAGS, f"--user-data-dir={self.profile}", "--window-size=1400,900",
               "--virtual-time-budget=5000", *args, url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    def dom(self, url: str) -> str:
        return self.run(url, "--dump-dom")

    def shot(self, url: str, png: Path) -> Path:
        self.run(url, f"--screenshot={png}")
        assert png.is_file() and png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
        return png


def _attr(html: str, element_id: str, attr: str) -> str:
    m = re.search(rf'<canvas[^>]*id="{element_id}"[^>]*>', html)
    assert m, f"no canvas #{element_id}"
    m2 = re.search(rf'{attr}="([^"]*)"', m.group(0))
    return m2.group(1) if m2 else ""


def test_site_search_node_graph_and_column_lineage(browser, example_project, tmp_path):
    res = CliRunner().invoke(cli, ["docs", "generate", "--no-catalog", "--project-dir", str(example_project)])
    assert res.exit_code == 0, res.output
    index = (example_project / "target" / "docs" / "index.html").resolve().as_uri()
    page = Page(browser, tmp_path / "profile")
    # Screenshots go to tmp_path, or to $SPARKMODELS_DOCS_SCREENSHOTS to look at them.
    shots = Path(os.environ.get("SPARKMODELS_DOCS_SCREENSHOTS") or tmp_path / "screens")
    shots.mkdir(parents=True, exist_ok=True)

    # search finds the model
    dom = page.dom(index + "#!/search?q=monthly_zone")
    results = dom[dom.index('id="results"'):]
    assert 'href="#!/node/model.nyc_taxi.dim_monthly_zone_revenue"' in results
    assert "revenue_monthly_fare" not in results.split("</ul>")[0] or "column" in results
    page.shot(index + "#!/search?q=fare_amount", shots / "search.png")

    # its page: description, columns with tests and column lineage, code, mini graph
    url = index + "#!/node/model.nyc_taxi.dim_monthly_zone_revenue"
    dom = page.dom(url)
    assert '<h1 id="title">dim_monthly_zone_revenue</h1>' in dom
    assert "Revenue per pickup zone, month and service type." in dom
    row = re.search(r'<tr id="col-revenue_monthly_fare">.*?</tr>', dom, re.S).group(0)
    assert "trips_data.fare_amount" in row and "aggregated" in row
    assert '<span class="k">select</span>' in dom  # highlighted SQL
    assert int(_attr(dom, "minigraph", "data-drawn")) >= 2
    assert "trips_data" in _attr(dom, "minigraph", "data-labels").split(",")
    page.shot(url, shots / "node.png")

    # the focused graph with adjustable depth
    url = index + "#!/graph/model.nyc_taxi.trips_data?up=2&down=1"
    dom = page.dom(url)
    labels = set(_attr(dom, "graph", "data-labels").split(","))
    assert {"trips_data", "stg_green_tripdata", "raw.green_tripdata", "dim_monthly_zone_revenue"} <= labels
    assert "taxi_zone_lookup" in labels and "stg_fhvhv_tripdata" not in labels
    dom1 = page.dom(index + "#!/graph/model.nyc_taxi.trips_data?up=1&down=0")
    assert "raw.green_tripdata" not in _attr(dom1, "graph", "data-labels").split(",")
    page.shot(url, shots / "graph.png")

    # the whole project
    dom = page.dom(index + "#!/graph")
    assert int(_attr(dom, "graph", "data-total")) == int(_attr(dom, "graph", "data-drawn")) >= 12

    # column-level lineage as a graph
    url = index + "#!/column/model.nyc_taxi.dim_monthly_zone_revenue/revenue_monthly_fare?up=4&down=1"
    dom = page.dom(url)
    labels = set(_attr(dom, "graph", "data-labels").split(","))
    assert {"dim_monthly_zone_revenue.revenue_monthly_fare", "trips_data.fare_amount",
            "stg_green_tripdata.fare_amount", "stg_yellow_tripdata.fare_amount",
            "raw.green_tripdata.fare_amount", "raw.yellow_tripdata.fare_amount"} <= labels
    page.shot(url, shots / "column_lineage.png")


def test_descriptions_cannot_inject_markup(browser, make_project, tmp_path):
    root = make_project(EVIL)
    assert CliRunner().invoke(cli, ["docs", "generate", "--no-catalog", "--project-dir", str(root)]).exit_code == 0
    index = (root / "target" / "docs" / "index.html").resolve().as_uri()
    page = Page(browser, tmp_path / "profile")
    dom = page.dom(index + "#!/node/model.demo.events_view")
    desc = re.search(r'<div class="desc" id="desc">(.*?)</div>', dom, re.S).group(1)
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;" in desc  # shown as text
    assert "<script" not in desc and "<img" not in desc
    assert "<b>cleaned</b>" in desc  # the Markdown subset still works
    assert 'href="https://example.com"' in desc
    assert "[docs](javascript:alert(2))" in desc and 'href="javascript' not in dom  # left as text
    assert "data-pwned" not in dom.split("<body")[1].split(">")[0]
    assert "the &lt;b&gt;id&lt;/b&gt;" in dom  # column descriptions too
    src = page.dom(index + "#!/node/source.demo.raw.events")
    assert "&lt;script&gt;alert('src')&lt;/script&gt;" in src or "&lt;script&gt;alert(&#39;src&#39;)" in src
    page.shot(index + "#!/node/model.demo.events_view", tmp_path / "escaping.png")
