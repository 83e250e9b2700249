"""A real Busbook server (the README's `busbook serve`) on its own database, and Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from html import escape as html_escape
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from domain import database
from domain.settings import PROJECT_ROOT
from tests.e2e import axe

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
E2E_HOLD_SECONDS = 8
AXE_SECONDS = 60  # one audit; a page that keeps axe longer fails its test, never hangs it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def busbook_server(
    server_url: str, artifacts, name: str, extra_env: dict[str, str]
) -> AsyncIterator[str]:
    """`busbook serve --workers 2 --demo` on a database of its own, as a user starts it."""
    url = database.fresh_database_url(server_url, prefix="busbook_e2e")
    await database.create_database(url, if_missing=False)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "e2e-secret-" + "y" * 32,
        "BUSBOOK_VAR_DIR": str(artifacts / name),
        # every browser of the suite comes from 127.0.0.1
        "REGISTRATIONS_PER_IP_PER_HOUR": "1000",
        **extra_env,
    }
    log = (artifacts / f"e2e-{name}.log").open("wb")
    # Two workers, so two browsers may be served by different processes.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "app.py",
        "serve",
        "--port",
        str(port),
        "--demo",
        "--workers",
        "2",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                if process.returncode is not None:
                    raise RuntimeError(f"server exited; see {artifacts}/e2e-{name}.log")
                try:
                    if (await http.get(base + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("server did not answer /healthz within 30 s")
        yield base
    finally:
        process.terminate()
        await process.wait()
        log.close()
        await database.drop_database(url)


@pytest.fixture(scope="session")
async def live_server(server_url: str, artifacts) -> AsyncIterator[str]:
    async with busbook_server(server_url, artifacts, "main", {}) as base:
        yield base


@pytest.fixture(scope="session")
async def short_hold_server(server_url: str, artifacts) -> AsyncIterator[str]:
    """Holds of a few seconds, so a browser test can watch one expire."""
    env = {"HOLD_MINUTES": str(E2E_HOLD_SECONDS / 60), "SWEEP_SECONDS": "1"}
    async with busbook_server(server_url, artifacts, "short-holds", env) as base:
        yield base


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        await browser.close()


# Every page of every browser test runs under the app's Content-Security-Policy. Chromium
# reports what the policy blocks on the console ("Refused to execute inline script …",
# "Refused to load the script …"); a blocked script or style is a broken page, so any such
# message fails the test that caused it.
CSP_MARKERS = ("Content Security Policy", "Refused to ")


@pytest.fixture(autouse=True)
async def page_checks(
    request: pytest.FixtureRequest, artifacts
) -> AsyncIterator[tuple[list[str], axe.Findings]]:
    """Every page of a browser test is watched: a Content-Security-Policy refusal on its
    console, and axe-core's audit after each load (tests/e2e/axe.py), fail the test; axe's
    "needs review" items go to var/artifacts/axe-needs-review.jsonl."""
    if "browser" not in request.fixturenames:
        yield [], axe.Findings()
        return
    browser: Browser = request.getfixturevalue("browser")
    violations: list[str] = []
    findings = axe.Findings()
    audits: set[asyncio.Task[None]] = set()

    no_script: set[BrowserContext] = set()  # contexts made with java_script_enabled=False

    async def audit_a_copy(page: Page) -> dict[str, Any] | None:
        """axe cannot run in a page without JavaScript (its timers never fire), so the
        document such a visitor got is audited in a copy that runs axe but none of the
        page's own scripts, with the page's styles (from its own address)."""
        url, html = page.url, await page.content()
        context = await original_context(viewport=page.viewport_size)
        try:
            await context.route("**/*.js", lambda route: route.abort())
            copy = await context.new_page()
            base = f'<base href="{html_escape(url)}">'
            await copy.set_content(html.replace("<head>", "<head>" + base, 1))
            result = await axe.audit(copy)
        finally:
            await context.close()
        if result is not None:
            parts = urlsplit(url)
            result["url"] = parts.path + (f"?{parts.query}" if parts.query else "")
        return result

    async def audit(page: Page) -> None:
        try:
            run = audit_a_copy(page) if page.context in no_script else axe.audit(page)
            result = await asyncio.wait_for(run, timeout=AXE_SECONDS)
        except TimeoutError:
            violations.append(f"{page.url}: axe did not finish in {AXE_SECONDS} s")
            return
        except Exception as error:
            if axe.gone(error):
                return
            raise
        if result is not None:
            findings.add(result)

    def on_load(page: Page) -> None:
        task = asyncio.ensure_future(audit(page))
        audits.add(task)

    async def settle() -> None:
        """Let the audits under way finish before their page closes."""
        while pending := [t for t in audits if not t.done()]:
            await asyncio.wait(pending, timeout=30)

    def watch_page(page: Page) -> None:
        page.on("load", on_load)
        original_close = page.close

        async def close(*args: Any, **kwargs: Any) -> None:
            await settle()
            await original_close(*args, **kwargs)

        page.close = close  # type: ignore[method-assign]

    def watch(context: BrowserContext) -> BrowserContext:
        def on_console(message: ConsoleMessage) -> None:
            if any(marker in message.text for marker in CSP_MARKERS):
                violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

        context.on("console", on_console)
        context.on("page", watch_page)
        original_close = context.close

        async def close(*args: Any, **kwargs: Any) -> None:
            await settle()
            await original_close(*args, **kwargs)

        context.close = close  # type: ignore[method-assign]
        return context

    original_context, original_page = browser.new_context, browser.new_page

    async def new_context(*args: Any, **kwargs: Any) -> BrowserContext:
        context = watch(await original_context(*args, **kwargs))
        if kwargs.get("java_script_enabled") is False:
            no_script.add(context)
        return context

    async def new_page(*args: Any, **kwargs: Any) -> Page:
        page = await original_page(*args, **kwargs)
        watch(page.context)
        watch_page(page)
        return page

    browser.new_context = new_context  # type: ignore[method-assign]
    browser.new_page = new_page  # type: ignore[method-assign]
    try:
        yield violations, findings
        await settle()
    finally:
        browser.new_context = original_context  # type: ignore[method-assign]
        browser.new_page = original_page  # type: ignore[method-assign]
        for task in audits:
            task.cancel()
    errors = [t.exception() for t in audits if not t.cancelled() and t.exception()]
    if findings.needs_review:
        with (artifacts / "axe-needs-review.jsonl").open("a", encoding="utf-8") as out:
            for item in findings.needs_review:
                out.write(json.dumps({"test": request.node.nodeid, **item}) + "\n")
    assert violations == [], "pages broke under the Content-Security-Policy"
    assert not errors, f"axe could not audit a page: {errors}"
    assert findings.failures == [], f"axe: serious or critical violations\n{findings.report()}"
