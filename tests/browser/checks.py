"""What every browser test checks a page for: it fits the screen, axe finds no
serious or critical violation, and it is usable by keyboard alone."""

import os
from pathlib import Path


def overflow(page):
    """How many pixels the page is wider than the screen (0 when it fits)."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


def serious_violations(page, axe):
    """axe's serious and critical findings on the page as it is now."""
    # Evaluated by the browser's debugger: an inline <script> would be refused by the
    # page's Content-Security-Policy, as it should.
    page.evaluate(axe)
    result = page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']})"
    )
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def tab_until(page, condition, what, limit=80):
    """Press Tab (only the keyboard) until ``condition`` (JS, on the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(element => {condition})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {what}")


def tab_to(page, element_id):
    tab_until(page, f"element.id === {element_id!r}", f"#{element_id}")


def phone_shot(page, name):
    """With ``PHONE_SHOTS_DIR`` set (outside the work tree), keep a full-page
    screenshot of what the test sees, for people to look at."""
    folder = os.environ.get("PHONE_SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
