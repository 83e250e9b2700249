"""The API's interactive documentation at /docs: a static page that loads the vendored
swagger-ui and one external start-up script, nothing from another site, under the site's
Content-Security-Policy. (tests/e2e/test_api_docs.py opens it in Chromium.)"""

from __future__ import annotations

import re

from domain.settings import PROJECT_ROOT

VENDOR = PROJECT_ROOT / "static" / "vendor" / "swagger-ui"


async def test_the_docs_page_loads_only_this_sites_files(client, db):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = await response.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all(body.strip() == "" for _, body in scripts), "no inline script"
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    paths = {s.split("?v=")[0] for s in sources}  # versioned URLs (views/assets.py)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in paths
    assert "/static/vendor/swagger-ui/swagger-ui.css" in paths
    assert "/static/js/api-docs.js" in paths
    assert all(s.startswith(("/", "data:")) for s in sources), sources
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    for path in sources:
        if path.startswith("/static/"):
            assert (await client.get(path)).status_code == 200, path


async def test_the_start_up_script_reads_our_document_without_a_validator(client, db):
    script = await (await client.get("/static/js/api-docs.js")).get_data(as_text=True)
    assert 'url: "/openapi.json"' in script
    assert "validatorUrl: null" in script


def test_swagger_ui_is_vendored_with_its_licence():
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        assert (VENDOR / name).stat().st_size > 0, name
    bundle = (VENDOR / "swagger-ui-bundle.js").read_text()
    assert "https://validator.swagger.io" in bundle  # the default we switch off


async def test_the_docs_page_is_not_an_api_operation(client, db):
    document = await (await client.get("/openapi.json")).get_json()
    assert "/docs" not in document["paths"]
    assert all(path.startswith("/api/") for path in document["paths"])
