"""Browser-test settings shared by every e2e file."""

from __future__ import annotations

from playwright.sync_api import expect

# Playwright's `expect` waits 5 s by default; on a 2-core machine running two workers, a stack, a
# console and Chromium, a Streamlit rerun can take longer. A wait for an element, not a timing
# assertion: the element must still appear.
expect.set_options(timeout=30_000)
