"""Playwright in Debian's Chromium for the browser tests (never a downloaded browser: the machines have none)."""

import os
import time
from contextlib import contextmanager

from django.core.signals import request_finished, request_started
from django.db import connections
from PIL import Image, ImageStat
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# WebGL through SwiftShader, the path most users' GPUs take; and a browser with no WebGL at all, where
# Cornerstone must fall back to CPU rendering.
WEBGL_ARGS = ["--enable-unsafe-swiftshader"]
NO_WEBGL_ARGS = ["--disable-webgl", "--disable-3d-apis"]


@contextmanager
def chromium(webgl=True):
    # Sync Playwright runs an event loop in this thread; Django's ORM calls in the same test must be allowed.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=BASE_ARGS + (WEBGL_ARGS if webgl else NO_WEBGL_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()
            # ORM calls made while Playwright's loop ran opened their own connections; close them here, or the
            # test database cannot be dropped at the end of the run.
            connections.close_all()


def log_in(page, base_url, username, password="correct horse battery"):
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


# Notes, in the page's own clock, when the viewer first says its image is ready: asking afterwards from the
# test would add a round trip of latency (hundreds of milliseconds on a busy two-core machine).
NOTE_IMAGE_READY = """
new MutationObserver(() => {
    if (!window.imageReadyAt && document.querySelector('[data-testid=viewer][data-state=ready]')) {
        window.imageReadyAt = performance.now();
    }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-state']});
"""


def wait_for_image(page):
    """Until the viewer reports a rendered image; returns the page's performance.now() at that moment."""
    page.wait_for_selector("[data-testid=viewer][data-state=ready]", timeout=30_000)
    return page.evaluate("window.imageReadyAt ?? performance.now()")


def image_spread(page, path):
    """Standard deviation of the viewer's pixels in a screenshot: near zero for a blank canvas."""
    page.locator("[data-testid=viewer] canvas").first.screenshot(path=path)
    return ImageStat.Stat(Image.open(path).convert("L")).stddev[0]


def set_visibility(page, state):
    """Headless pages are always visible: override the property and fire the event a real tab would."""
    return page.evaluate(
        """state => {
        Object.defineProperty(document, 'visibilityState', {get: () => state, configurable: true});
        Object.defineProperty(document, 'hidden', {get: () => state === 'hidden', configurable: true});
        const at = performance.now();
        document.dispatchEvent(new Event('visibilitychange'));
        return at;
    }""",
        state,
    )


def select_text(page, selector, text):
    """Select `text` inside the element matched by `selector`, as a mouse selection would."""
    page.evaluate(
        """([selector, text]) => {
        const host = [...document.querySelectorAll(selector)].find(n => n.textContent.includes(text));
        const walker = document.createTreeWalker(host, NodeFilter.SHOW_TEXT);
        let node;
        while ((node = walker.nextNode())) {
            const at = node.textContent.indexOf(text);
            if (at >= 0) {
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + text.length);
                const selection = document.getSelection();
                selection.removeAllRanges();
                selection.addRange(range);
                return;
            }
        }
        throw new Error('text not found: ' + text);
    }""",
        [selector, text],
    )


class ServerRequests:
    """Counts requests the live server is handling, so a test ends only after the page's last (keepalive)
    requests are done: the database flush between tests must not race them."""

    def __init__(self):
        self.active = 0
        request_started.connect(self.started)
        request_finished.connect(self.finished)

    def started(self, **kwargs):
        self.active += 1

    def finished(self, **kwargs):
        self.active -= 1

    def wait_until_quiet(self, quiet_s=0.3, timeout_s=10):
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self.active:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                break
            time.sleep(0.05)
        request_started.disconnect(self.started)
        request_finished.disconnect(self.finished)


# Chromium reports each thing the Content-Security-Policy blocked (a script, a worker, a style, WebAssembly)
# on the console with this phrase.
CSP_REPORT = "Content Security Policy"


@contextmanager
def settled_context(browser, **options):
    """A browser context whose pages are closed, and whose last requests are answered, before the test ends."""
    with settled(browser.new_context(**options)) as context:
        yield context


@contextmanager
def chromium_with_profile(user_data_dir, **options):
    """A browser whose profile, and so its HTTP cache, is on disk in `user_data_dir`, as on a reader's
    workstation (a plain context keeps its cache in memory). Settled as settled_context's."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        try:
            with settled(
                playwright.chromium.launch_persistent_context(
                    str(user_data_dir), executable_path=CHROMIUM, args=BASE_ARGS + WEBGL_ARGS, **options
                )
            ) as context:
                yield context
        finally:
            connections.close_all()


@contextmanager
def settled(context):
    """Closes `context` once its pages' last requests are answered.

    Every browser test also proves the pages work under the site's Content-Security-Policy: a test whose
    pages had anything blocked fails, naming what.
    """
    requests = ServerRequests()
    context.add_init_script(NOTE_IMAGE_READY)
    blocked = []
    context.on("console", lambda message: CSP_REPORT in message.text and blocked.append(message.text))
    try:
        yield context
    finally:
        for page in context.pages:
            try:
                page.goto("about:blank")  # fires pagehide: the page's keepalive requests go out now
            except PlaywrightError:
                pass  # a page the test left mid-navigation or closed has nothing more to send
        context.close()
        requests.wait_until_quiet()
    assert not blocked, blocked
