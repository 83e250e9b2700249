"""axe-core (vendored from npm under tests/e2e/vendor/) run on a page of a browser test.

conftest.py runs `check` on every page load of every browser test and fails the test on a
serious or critical violation; axe's "needs review" items (`incomplete`) are written to
var/artifacts/axe-needs-review.jsonl for a person to look at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE_VERSION = "4.14.1"
AXE_SOURCE = (
    Path(__file__).parent / "vendor" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
).read_text(encoding="utf-8")
FAILING = frozenset({"serious", "critical"})
# Third-party widgets audited apart (tests/e2e/test_accessibility.py reports them): swagger-ui
# on /docs is a large vendored UI whose markup we do not write, and auditing it on every load
# keeps its page busy for seconds while it renders.
THIRD_PARTY = ("#swagger-ui",)

# Run in the page. The page's Content-Security-Policy forbids inline scripts and eval, so
# axe's source is not added as a <script>: Playwright evaluates it through the DevTools
# protocol, which the policy does not govern (and which reports nothing on the console).
RUN = """async (exclude) => {
  if (document.contentType !== "text/html") return null;
  const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
  const results = await axe.run(context, {resultTypes: ["violations", "incomplete"]});
  const brief = (rule) => ({
    id: rule.id, impact: rule.impact, help: rule.help,
    nodes: rule.nodes.slice(0, 5).map((n) => ({
      target: n.target.join(" "),
      summary: (n.failureSummary || n.any.concat(n.all, n.none).map((c) => c.message).join("; "))
        .slice(0, 300),
    })),
  });
  return {url: location.pathname + location.search,
          width: innerWidth,
          violations: results.violations.map(brief),
          incomplete: results.incomplete.map(brief)};
}"""


@dataclass
class Findings:
    """What axe found on the pages of one test."""

    failures: list[dict[str, Any]] = field(default_factory=list)
    needs_review: list[dict[str, Any]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def add(self, result: dict[str, Any]) -> None:
        self.urls.append(result["url"])
        for rule in result["violations"]:
            if rule["impact"] in FAILING:
                self.failures.append({"url": result["url"], "width": result["width"], **rule})
        for rule in result["incomplete"]:
            self.needs_review.append({"url": result["url"], "width": result["width"], **rule})

    def report(self) -> str:
        return json.dumps(self.failures, indent=2, ensure_ascii=False)


async def audit(page: Page, *, exclude: tuple[str, ...] = THIRD_PARTY) -> dict[str, Any] | None:
    """axe's verdict on the page as it is now (None for a document that is not HTML), with
    axe's default rules (WCAG 2.0-2.2 A and AA, best practices)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SOURCE)
    result: dict[str, Any] | None = await page.evaluate(RUN, list(exclude))
    return result


def gone(error: Exception) -> bool:
    """The page went on to another document (or closed) while axe ran: that next page is
    checked on its own load."""
    text = str(error)
    return any(
        marker in text
        for marker in (
            "Execution context was destroyed",
            "Target page, context or browser has been closed",
            "Target closed",
            "navigation",
            "is navigating",
            "axe is not defined",
            "Axe is already running",
        )
    )
