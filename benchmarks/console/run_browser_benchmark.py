"""Console export preview speed as a person sees it: headless Chromium against `streamlit run`.

Run: `.venv/bin/python -m benchmarks.console.run_browser_benchmark [--members 100000] [--repeat 5]`.

The same 100k-member export and file server as `run_console_benchmark`, a moto Cognito
pool (in-process server) for the login, and the console started as `hdcn local up`
starts it. Each step is timed in the page, from the action (the option chosen, Enter
pressed) to the end of the Streamlit run it triggers (the app's `data-test-script-state`
going back to `notRunning`); drawing the table's canvas afterwards is not included.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.console.run_console_benchmark import EXPORTS, REPO, build_export, serve
from console.i18n import t
from console.member_model import label

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WATCH = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__runs = [];
  const state = () => app.getAttribute('data-test-script-state');
  new MutationObserver(() => window.__runs.push([performance.now(), state()]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
# Seconds from t0 to the first `notRunning` after a `running` that began after t0 (null until then).
DONE_AFTER = """(t0) => {
  const runs = window.__runs.filter(([t]) => t >= t0);
  const started = runs.findIndex(([, s]) => s === 'running');
  if (started < 0) return null;
  const done = runs.slice(started).find(([, s]) => s === 'notRunning');
  return done ? (done[0] - t0) / 1000 : null;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cognito(endpoint: str) -> dict[str, str]:
    """A pool with the console's client and an admin user (Members_Export, Regio_All)."""
    import boto3

    idp = boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="admin", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool, Username="admin", Password="Bench-password-1", Permanent=True
    )
    for group in ("Members_Export", "Regio_All"):
        idp.create_group(UserPoolId=pool, GroupName=group)
        idp.admin_add_user_to_group(UserPoolId=pool, Username="admin", GroupName=group)
    return {"pool": pool, "client_id": client_id}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer
    from playwright.sync_api import Page, expect, sync_playwright

    files = build_export(args.members)
    server, api_url = serve(files, args.members)
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    aws = f"http://127.0.0.1:{moto_port}"
    pool = cognito(aws)
    port = free_port()
    env = {
        **os.environ,
        "HDCN_API_URL": api_url,
        "HDCN_REGION": "eu-west-1",
        "HDCN_USER_POOL_ID": pool["pool"],
        "HDCN_CLIENT_ID": pool["client_id"],
        "HDCN_COGNITO_ENDPOINT": aws,
    }
    console = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "console" / "server.py"),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, list[float]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            for _ in range(60):
                try:
                    page.goto(f"http://127.0.0.1:{port}")
                    break
                except Exception:
                    time.sleep(0.5)
            page.get_by_role("textbox", name=t("login.username")).fill("admin")
            page.get_by_role("textbox", name=t("login.password")).fill("Bench-password-1")
            page.get_by_role("button", name=t("login.submit")).click()
            page.get_by_test_id("stSidebarNav").get_by_role("link", name=t("nav.exports"), exact=True).click()
            expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
            page.evaluate(WATCH)

            def timed(name: str, action: Any, page: Page = page) -> None:
                t0 = page.evaluate("performance.now()")
                action()
                page.wait_for_function(DONE_AFTER, arg=t0)
                results.setdefault(name, []).append(float(page.evaluate(DONE_AFTER, t0)))

            def choose(export_id: str) -> None:
                # The list names exports by date and kind, newest first: pick by position.
                page.get_by_test_id("stMain").get_by_test_id("stSelectbox").first.click()  # not the language
                option = page.get_by_role("option").nth(EXPORTS.index(export_id))
                timed("choose an export (downloaded once, decoded before)", option.click)

            # Both exports downloaded and decoded once, then alternate between them.
            choose(EXPORTS[1])
            choose(EXPORTS[0])
            results.clear()
            for i in range(args.repeat):
                choose(EXPORTS[(i + 1) % 2])
            regio = page.get_by_role("combobox", name=label("regio"))
            for value in ["Utrecht", "Oost", "Limburg", "Friesland", "Overig"][: args.repeat]:
                regio.click()
                regio.fill(value)
                timed("filter change: regio", lambda: regio.press("Enter"))
                page.keyboard.press("Escape")
            search = page.get_by_label(t("filter.search"))
            for term in ["jansen", "de vries", "12", "bakker", "van"][: args.repeat]:
                search.fill(term)
                timed("filter change: search", lambda: search.press("Enter"))
            page.screenshot(path=str(REPO / "benchmarks" / "results" / "console-browser.png"))
            browser.close()
    finally:
        console.terminate()
        console.wait(timeout=10)
        moto.stop()
        server.shutdown()

    print(f"\n{args.members:,} members, {os.cpu_count()} CPUs, median of {args.repeat}, in Chromium\n")
    print("| step | median s | max s |")
    print("|---|---:|---:|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.3f} | {max(values):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
