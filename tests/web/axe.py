"""axe-core in a page: its serious and critical accessibility violations (none is the goal)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SERIOUS = frozenset({"serious", "critical"})


def serious_violations(page: Page) -> list[dict[str, Any]]:
    violations: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return [{"id": item["id"], "help": item["help"]} for item in violations if item["impact"] in SERIOUS]
