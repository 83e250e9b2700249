"""Static files under versioned URLs, cached for a year.

`static_url('css/busbook.css')` in a template is `/static/css/busbook.css?v=<hash>`, the hash
of the file's content computed once at start-up. A request that names the current hash is
answered `Cache-Control: public, max-age=31536000, immutable`: the browser never asks again,
and a changed file gets a new URL on the next page. Any other request for a static file (no
`v`, or an old one) gets a short cache and revalidates with the ETag, so a stale version is
never pinned for a year under a URL that now means another file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from quart import Quart, Response, current_app, request, url_for

VERSIONS_KEY = "busbook.static_versions"
YEAR = 365 * 24 * 3600
SHORT = 300  # unversioned static URLs: five minutes, then a conditional request


def content_hashes(folder: Path) -> dict[str, str]:
    """Every file under `folder` (its path relative to it, with /) to a short hash of its
    bytes: the same file gives the same URL on every worker and every machine."""
    hashes: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            hashes[path.relative_to(folder).as_posix()] = digest
    return hashes


def static_url(filename: str) -> str:
    """The versioned URL of a static file; a name with no file is a mistake in a template,
    and fails the page that has it (the tests render every page)."""
    versions: dict[str, str] = current_app.extensions[VERSIONS_KEY]
    try:
        version = versions[filename]
    except KeyError:
        raise LookupError(f"no static file {filename!r} (static_url in a template)") from None
    return url_for("static", filename=filename, v=version)


async def cache_static_files(response: Response) -> Response:
    """Year-long, immutable caching for the versioned URL of a static file; a short one for
    any other URL of it."""
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    filename = (request.view_args or {}).get("filename", "")
    versions: dict[str, str] = current_app.extensions[VERSIONS_KEY]
    version = request.args.get("v")
    cache = response.cache_control
    cache.public = True
    if version is not None and version == versions.get(filename):
        cache.max_age = YEAR
        cache.immutable = True
    else:
        cache.max_age = SHORT
    response.headers.pop("Expires", None)  # max-age says it, for every cache since HTTP/1.1
    return response


def install_assets(app: Quart) -> None:
    """Hash the static files (once per process, at start-up), offer `static_url` to the
    templates and set the cache headers of static responses."""
    assert app.static_folder is not None
    app.extensions[VERSIONS_KEY] = content_hashes(Path(app.static_folder))
    app.jinja_env.globals["static_url"] = static_url
    app.after_request(cache_static_files)
