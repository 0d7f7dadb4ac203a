"""`hdcn local up`: the whole stack on this machine, no AWS account and no Docker.

moto server (the AWS endpoint) → `template.yaml` deployed as `webshop-backend` →
seed data and demo users → the local API gateway and Lambda endpoint → the console.
Everything binds to 127.0.0.1. SIGINT/SIGTERM stop every part this process started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.local.seed import DATA_KINDS
from backend.local.template import REPO_ROOT

HOST = "127.0.0.1"
STATE_FILE = "local-stack.json"


@dataclass
class Ports:
    aws: int = 4566
    api: int = 3000
    lambda_: int = 3001
    console: int = 8501


def local_env(aws_endpoint: str, lambda_endpoint: str, region: str) -> dict[str, str]:
    """The standard AWS variables that point every boto3 client at the local stack."""
    return {
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ENDPOINT_URL_LAMBDA": lambda_endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # Requests queue behind moto's DynamoDB lock and one interpreter; a client-side timeout
        # and retry of a write already applied would report a false conflict.
        "HDCN_AWS_READ_TIMEOUT": "300",
    }


class NoLocalStack(FileNotFoundError):
    """No running local stack wrote its state into the state directory."""


def read_state(state_dir: Path) -> dict[str, Any]:
    """What a running local stack wrote about itself (endpoints, outputs, demo users)."""
    path = state_dir / STATE_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoLocalStack(
            f"no local stack is running with state directory {state_dir}: start one with"
            " `hdcn local up`, or pass the --state-dir it was started with"
        ) from None
    except ValueError:
        raise NoLocalStack(
            f"the local stack state in {path} is unreadable: restart `hdcn local up`"
        ) from None
    return data


SESSION_SECRET_FILE = "session-secret"  # noqa: S105 - a file name, not a secret


def session_secret(state_dir: Path) -> str:
    """The console's session cookie key for this state folder: made once, kept 0600, reused.

    Kept across restarts so a restarted console still opens the cookies it sealed (a signed-in
    user stays signed in); on AWS the key comes from Secrets Manager instead (README).
    """
    path = state_dir / SESSION_SECRET_FILE
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if len(secret) < 32:
        secret = secrets.token_urlsafe(48)
        partial = path.with_suffix(".tmp")
        partial.touch(mode=0o600)
        os.chmod(partial, 0o600)
        partial.write_text(secret + "\n")
        partial.replace(path)
    return secret


def console_env(state: dict[str, Any], state_dir: Path) -> dict[str, str]:
    """The console's environment: the local API, the user pool, the session cookie key."""
    return {
        **os.environ,
        "HDCN_API_URL": state["api_url"],
        "HDCN_REGION": state["region"],
        "HDCN_USER_POOL_ID": state["outputs"]["UserPoolId"],
        "HDCN_CLIENT_ID": state["outputs"]["UserPoolClientId"],
        "HDCN_COGNITO_ENDPOINT": state["aws_endpoint"],
        "HDCN_SESSION_SECRET": session_secret(state_dir),
    }


def console_command(port: int) -> list[str]:
    """`streamlit run console/server.py` on 127.0.0.1, usage stats off (the app plus its session route)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "console" / "server.py"),
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--client.toolbarMode",
        "viewer",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def start_console(ports: Ports, state: dict[str, Any], state_dir: Path) -> subprocess.Popen[bytes]:
    """Streamlit on 127.0.0.1, pointed at the local API and user pool, logging to the state folder."""
    log = (state_dir / "logs" / "console.log").open("ab")
    return subprocess.Popen(
        console_command(ports.console),
        cwd=REPO_ROOT,
        env=console_env(state, state_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def run(
    ports: Ports,
    members: int,
    console: bool,
    state_dir: Path,
    fresh: bool = False,
    autosave_seconds: float = 60.0,
    fault_proxy_port: int | None = None,
    parameters: dict[str, str] | None = None,
    data_kind: str = "clean",
    record_aws_calls: bool = False,
    runtime_mode: str = "workers",
) -> int:
    """Bring the stack up, then wait for SIGINT/SIGTERM and take it down."""
    from backend.local.persistence import secure_dir, secure_tree

    # The state folder holds the club's member data and the demo password: this user's only.
    # The umask covers what moto, the console and the logs create in it as well.
    os.umask(0o077)
    secure_dir(state_dir)
    log_dir = state_dir / "logs"
    secure_dir(log_dir)
    secure_tree(log_dir)
    logging.basicConfig(
        level=logging.INFO,
        filename=log_dir / "local.log",
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.time()
    if record_aws_calls:
        from backend.local import aws_calls

        # Before any client exists: every function's AWS call is recorded (the IAM policy test).
        aws_calls.install(log_dir / aws_calls.FILE_NAME)

    from backend.local.deploy import (
        ACCOUNT_ID,
        DEMO_PASSWORD,
        DEMO_USERS,
        REGION,
        SIGN_IN_USERS,
        aws_client,
        deploy,
    )

    aws_endpoint = f"http://{HOST}:{ports.aws}"
    lambda_endpoint = f"http://{HOST}:{ports.lambda_}"
    os.environ.update(local_env(aws_endpoint, lambda_endpoint, REGION))
    # moto checks six-digit codes only when asked (read per request): the `totp` user's wrong
    # codes are refused as on AWS. All users then share moto's one key (LOCAL-AWS-NOTES.md).
    os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"

    # moto must run in this process so that the CloudFormation adapters apply.
    from moto.server import ThreadedMotoServer

    from backend.local import cfn_adapters, moto_patches, s3_presign

    cfn_adapters.install()
    # moto's DynamoDB is not atomic per request under concurrency; real DynamoDB is.
    moto_patches.install()
    # moto serves presigned links whatever their signature; S3 refuses SigV2, altered and expired ones.
    s3_presign.install()
    moto = ThreadedMotoServer(ip_address=HOST, port=ports.aws, verbose=False)
    moto.start()

    from backend.local.authorizer import CognitoAuthorizer
    from backend.local.gateway import ApiGateway, LambdaEndpoint, serve
    from backend.local.persistence import LocalData
    from backend.local.runtime import LocalRuntime
    from backend.local.seed import seed_tables
    from backend.local.template import load_template, routes

    # The local stack sends no mail: an invited user's temporary password is shown to the inviter once.
    stack = deploy(aws_endpoint, {"UserInviteDelivery": "SHOW", **(parameters or {})})
    outputs = stack.outputs
    lam = aws_client("lambda", aws_endpoint)
    template = load_template()
    fn_ids = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    physical = {lid: stack.physical_ids[lid] for lid in fn_ids}
    envs = {
        lid: lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
        for lid, name in physical.items()
    }
    runtime = LocalRuntime(
        physical_names=physical,
        environments=envs,
        region=REGION,
        account_id=ACCOUNT_ID,
        mode=runtime_mode,
        report=platform_log_writer(ACCOUNT_ID, REGION),
    )
    runtime.apply_environment()
    fault_proxy_url = None
    if fault_proxy_port is not None:
        # Functions (and their child invocations) reach AWS through the fault proxy; the deploy,
        # the authorizer and the data saves keep talking to moto directly.
        from backend.local.faults import serve_fault_proxy

        fault_proxy = serve_fault_proxy(aws_endpoint, HOST, fault_proxy_port)
        runtime.faults = fault_proxy.fault_proxy  # type: ignore[attr-defined]
        fault_proxy_url = f"http://{HOST}:{fault_proxy_port}"
        os.environ["AWS_ENDPOINT_URL"] = fault_proxy_url

    # Saved data from the last run wins over seeding, unless --fresh.
    data = LocalData(state_dir, stack.physical_ids, ACCOUNT_ID, REGION)
    if fresh:
        data.discard()
    if data.exists():
        restored = data.restore()
        data_note = f"{restored['MembersTable']} members restored from {data.path}"
    else:
        seed_tables(
            stack_dynamodb(aws_endpoint),
            outputs["MembersTableName"],
            outputs["MemberKeysTableName"],
            outputs["ProductsTableName"],
            members,
            data_kind,
        )
        data_note = f"{members} members seeded ({data_kind} data)"

    stage = str(template["Parameters"]["Stage"]["Default"])
    authorizer = CognitoAuthorizer(aws_endpoint, REGION, outputs["UserPoolId"], outputs["UserPoolClientId"])
    gateway = ApiGateway(routes(template), runtime, authorizer, stage=stage, api_id=outputs["RestApiId"])
    api_server = serve(gateway, HOST, ports.api)
    lambda_server = serve(LambdaEndpoint(runtime, upstream=aws_endpoint), HOST, ports.lambda_)

    state = {
        "pid": os.getpid(),
        "region": REGION,
        "stack_name": "webshop-backend",
        "aws_endpoint": aws_endpoint,
        "lambda_endpoint": lambda_endpoint,
        "fault_proxy": fault_proxy_url,
        "api_url": f"http://{HOST}:{ports.api}",
        "console_url": f"http://{HOST}:{ports.console}" if console else None,
        "outputs": outputs,
        "members": members,
        "data": data_note,
        "demo_users": {u: list(g) for u, g in DEMO_USERS.items()},
        "demo_password": DEMO_PASSWORD,
        # nieuw's temporary password and totp's key: local demo values, in the 0600 state file.
        "sign_in_users": {
            user: {"groups": list(SIGN_IN_USERS[user]), **extra} for user, extra in stack.sign_ins.items()
        },
    }
    state_path = state_dir / STATE_FILE
    # Written beside and renamed: a reader (hdcn token, the launcher) never sees half a file.
    partial = state_path.with_suffix(".tmp")
    partial.write_text(json.dumps(state, indent=2))
    os.chmod(partial, 0o600)
    partial.replace(state_path)

    console_proc = start_console(ports, state, state_dir) if console else None
    _print_banner(state, time.time() - started, state_dir)

    stop = threading.Event()
    data.autosave(autosave_seconds, stop, tell=_say)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if console_proc is not None and console_proc.poll() is not None:
                print(
                    f"console exited ({console_proc.returncode}); see {log_dir / 'console.log'}", flush=True
                )
                console_proc = None
    finally:
        print("stopping local stack …", flush=True)
        if console_proc is not None:
            console_proc.terminate()
            try:
                console_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                console_proc.kill()
        # Order matters for "nothing acknowledged is lost": first no new API requests and the
        # running ones finish (they may still invoke functions), then no new invocations, then
        # running exports record their own failure while AWS is still up, and only then save.
        api_timeout = max(runtime.specs[r.function].timeout for r in gateway.routes)
        for server in (api_server, lambda_server):
            unfinished = server.drain(timeout=api_timeout)
            if unfinished:
                print(f"{unfinished} request(s) still running after {api_timeout} s", flush=True)
        runtime.stop()
        saved = data.save_at_stop(_say)
        if fault_proxy_port is not None:
            fault_proxy.shutdown()
        moto.stop()
        state_path.unlink(missing_ok=True)
        print("stopped." if saved else "stopped, but the data of this run was NOT saved.", flush=True)
    return 0 if saved else 1


def _say(message: str) -> None:
    """A line for the person running the stack (the terminal) and the log."""
    print(message, flush=True)


def platform_log_writer(account_id: str, region: str) -> Callable[[str, list[str]], None]:
    """Writes Lambda's platform lines (START/END/REPORT) into a function's log group in moto.

    Straight into moto's in-process Logs backend: one HTTP call per invocation would cost more
    than many handlers do. moto's log streams are not thread-safe, hence the lock.
    """
    from moto.logs.exceptions import ResourceAlreadyExistsException
    from moto.logs.models import logs_backends

    lock = threading.Lock()

    def write(group: str, lines: list[str]) -> None:
        backend = logs_backends[account_id][region]
        stream = time.strftime("%Y/%m/%d/[$LATEST]local", time.gmtime())
        now = int(time.time() * 1000)
        with lock:
            if group not in backend.groups:
                backend.create_log_group(group, tags={})
            with contextlib.suppress(ResourceAlreadyExistsException):
                backend.groups[group].create_log_stream(stream)
            backend.groups[group].put_log_events(stream, [{"timestamp": now, "message": m} for m in lines])

    return write


def stack_dynamodb(endpoint: str) -> Any:
    import boto3

    return boto3.resource("dynamodb", endpoint_url=endpoint)


def _sign_in_lines(state: dict[str, Any]) -> str:
    """The sign-in users: `nieuw`'s temporary password (a new one each start) and how `totp` signs in."""
    lines = []
    for user, info in state.get("sign_in_users", {}).items():
        groups = ", ".join(info.get("groups", []))
        if "temporary_password" in info:
            how = f"temporary password {info['temporary_password']} (must choose a new one)"
        else:
            how = f"demo password + six-digit code (hdcn token --user {user} computes it)"
        lines.append(f"    {user:<14} {groups}: {how}")
    return "\n".join(lines)


def _print_banner(state: dict[str, Any], seconds: float, state_dir: Path) -> None:
    # `hdcn token` finds the stack through its state directory: name it unless it is the default.
    default_dir = (REPO_ROOT / ".hdcn").resolve()
    where = "" if state_dir.resolve() == default_dir else f" --state-dir {shlex.quote(str(state_dir))}"
    users = "\n".join(f"    {u:<14} {', '.join(g)}" for u, g in state["demo_users"].items())
    console = state["console_url"] or "(not started: --no-console)"
    print(
        f"""
H-DCN local stack is up ({seconds:.1f} s) — stack {state["stack_name"]} in {state["region"]}
  API        {state["api_url"]}          (try: curl {state["api_url"]}/health)
  console    {console}
  AWS        {state["aws_endpoint"]}     (moto; export AWS_ENDPOINT_URL={state["aws_endpoint"]})
  Lambda     {state["lambda_endpoint"]}
  data       {state["data"]} (saved on stop and every minute, 0600 files; --fresh ignores it)
  demo users (password {state["demo_password"]}):
{users}
{_sign_in_lines(state)}
  token      curl -H "Authorization: $(hdcn token --user staff{where})" {state["api_url"]}/members
Ctrl-C stops everything.
""",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hdcn local up", description=__doc__)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-console", action="store_true", help="do not start the Streamlit console")
    parser.add_argument("--members", type=int, default=500, help="members to seed (deterministic)")
    parser.add_argument("--aws-port", type=int, default=4566)
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--lambda-port", type=int, default=3001)
    parser.add_argument("--console-port", type=int, default=8501)
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".hdcn")
    parser.add_argument("--fresh", action="store_true", help="ignore the data saved by the last run")
    parser.add_argument(
        "--data",
        choices=DATA_KINDS,
        default="clean",
        help="seed members as this project writes them (clean) or in the club's old shapes (legacy)",
    )
    parser.add_argument("--autosave-seconds", type=float, default=60.0, help="interval between data saves")
    parser.add_argument(
        "--fault-proxy-port", type=int, help="route the functions' AWS calls through a fault proxy"
    )
    parser.add_argument(
        "--record-aws-calls",
        action="store_true",
        help="record each function's AWS operations in <state-dir>/logs/aws-calls.jsonl (IAM policy test)",
    )
    parser.add_argument(
        "--runtime",
        choices=("workers", "inline"),
        default=os.environ.get("HDCN_LOCAL_RUNTIME", "workers"),
        help="workers: a process per execution environment, as Lambda (default; HDCN_LOCAL_RUNTIME sets it);"
        " inline: every handler in this process, one at a time",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as `sam deploy --parameter-overrides` (e.g. ExportsToKeep=2)",
    )


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`Key=Value` pairs into a dict; SystemExit naming a pair without `=`."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--parameter-overrides: {pair!r} is not KEY=VALUE")
        overrides[key] = value
    return overrides


def run_from_args(args: argparse.Namespace) -> int:
    if args.members < 0:
        raise SystemExit("--members must be 0 or more")
    ports = Ports(aws=args.aws_port, api=args.api_port, lambda_=args.lambda_port, console=args.console_port)
    return run(
        ports,
        args.members,
        not args.no_console,
        args.state_dir,
        args.fresh,
        args.autosave_seconds,
        args.fault_proxy_port,
        parse_overrides(args.parameter_overrides),
        args.data,
        args.record_aws_calls,
        args.runtime,
    )


if __name__ == "__main__":
    sys.exit(main())
