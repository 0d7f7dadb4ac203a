"""Member export benchmark: this generator vs the approach it replaces vs awswrangler.

    .venv/bin/python -m benchmarks.export.run_export_benchmark --members 10000 100000

Each exporter runs in a fresh process against the same data: DynamoDB is the replay
server (recorded-format Scan pages of the seeded members), S3 is moto in this process.
Measured per exporting process: CPU seconds (os.wait4's user + system, from interpreter
start, imports included), wall seconds, peak RSS (the process's own VmHWM), bytes written.
Also the handler's import time against `import pandas, pyarrow, boto3` (median of runs).
Not a test: numbers go to stdout as a Markdown table and to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
WRANGLER_PYTHON = REPO_ROOT / "benchmarks" / ".venv-awswrangler" / "bin" / "python"
# The generator's own dependency set (docker/parquet-generator/requirements.txt): what the image runs.
GENERATOR_PYTHON = REPO_ROOT / "benchmarks" / ".venv-generator" / "bin" / "python"
TABLE = "bench-members"
BUCKET = "bench-exports"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_exporter(approach: str, env: dict[str, str]) -> dict[str, Any]:
    """One exporting process; its own rusage (CPU, peak RSS) and wall time."""
    python = {
        "awswrangler": WRANGLER_PYTHON,
        "generator": GENERATOR_PYTHON,
        "generator-4seg": GENERATOR_PYTHON,
    }.get(approach)
    python = python if python and python.exists() else Path(sys.executable)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(python), str(REPO_ROOT / "benchmarks" / "export" / "exporters.py"), approach],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{approach} exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result.update(
        approach=approach,
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
        wall_seconds=round(wall, 2),
    )
    return result


def import_seconds(code: str, python: Path) -> tuple[float, float]:
    """(CPU, wall) seconds of `code` (an import) in a fresh interpreter.

    CPU time is the steadier measure on a shared machine; wall is reported beside it.
    """
    timer = (
        "import time; c = time.process_time(); t = time.perf_counter(); "
        f"{code}; print(time.process_time() - c, time.perf_counter() - t)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "backend" / "layer")}
    run = subprocess.run(
        [str(python), "-c", timer], capture_output=True, text=True, env=env, check=True, cwd=REPO_ROOT
    )
    cpu, wall = run.stdout.split()
    return float(cpu), float(wall)


def import_medians(runs: int) -> dict[str, float]:
    """Median import times, interleaved so machine load hits all three alike."""
    image_python = GENERATOR_PYTHON if GENERATOR_PYTHON.exists() else Path(sys.executable)
    runs_of = {
        "handler_image_env": (HANDLER_IMPORT, image_python),
        "handler_dev_env": (HANDLER_IMPORT, Path(sys.executable)),
        "pandas_pyarrow_boto3": ("import pandas, pyarrow, boto3", Path(sys.executable)),
    }
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in runs_of}
    for _ in range(runs):
        for key, (code, python) in runs_of.items():
            samples[key].append(import_seconds(code, python))
    medians: dict[str, float] = {}
    for key, values in samples.items():
        medians[f"{key}_cpu"] = round(statistics.median(v[0] for v in values), 3)
        medians[f"{key}_wall"] = round(statistics.median(v[1] for v in values), 3)
    return medians


HANDLER_IMPORT = (
    "import importlib.util as u; "
    "s = u.spec_from_file_location('gen', 'backend/handler/generate_member_parquet/app.py'); "
    "m = u.module_from_spec(s); s.loader.exec_module(m)"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--approaches", nargs="+", default=["generator", "generator-4seg", "replaced", "awswrangler"]
    )
    parser.add_argument("--import-runs", type=int, default=9)
    args = parser.parse_args(argv)

    import boto3
    from moto.server import ThreadedMotoServer

    from benchmarks.export.replay_dynamodb import ScanPages, serve_replay

    s3_port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    s3_url = f"http://127.0.0.1:{s3_port}"
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    boto3.client("s3", endpoint_url=s3_url, region_name="eu-west-1", **_lower(creds)).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    approaches = [a for a in args.approaches if a != "awswrangler" or WRANGLER_PYTHON.exists()]
    if len(approaches) < len(args.approaches):
        print("awswrangler skipped: run benchmarks/export/setup_awswrangler.sh first", file=sys.stderr)

    results: list[dict[str, Any]] = []
    for count in args.members:
        pages = ScanPages.build(TABLE, count)
        replay = serve_replay(pages)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"} | creds
        env |= {
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{replay.server_address[1]}",
            "AWS_ENDPOINT_URL_S3": s3_url,
            "MEMBERS_TABLE": TABLE,
            "EXPORT_BUCKET": BUCKET,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "backend" / "layer"), str(REPO_ROOT)]),
        }
        for approach in approaches:
            row = run_exporter(approach, env) | {"members": count}
            assert row["rows"] == count, row
            results.append(row)
            print(json.dumps(row), flush=True)
        replay.shutdown()
        del pages

    moto.stop()
    imports = import_medians(args.import_runs)

    out_dir = REPO_ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    record = {"results": results, "imports": imports}
    (out_dir / f"export-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(record, indent=1))
    print(markdown(results, imports))
    return 0


def _lower(creds: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": creds["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": creds["AWS_SECRET_ACCESS_KEY"],
    }


def markdown(results: list[dict[str, Any]], imports: dict[str, float]) -> str:
    """The README table, with the three targets checked."""
    lines = [
        "| members | exporter | CPU s | wall s | peak RSS MB | bytes | files |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['members']:,} | {r['approach']} | {r['cpu_seconds']:.2f} | {r['wall_seconds']:.2f} "
            f"| {r['peak_rss_mb']:.0f} | {r['bytes']:,} | {r['files']} |"
        )
    by = {(r["members"], r["approach"]): r for r in results}
    big, small = max(r["members"] for r in results), min(r["members"] for r in results)
    lines.append("")
    if (big, "replaced") in by and (big, "generator") in by:
        ratio = by[big, "replaced"]["cpu_seconds"] / by[big, "generator"]["cpu_seconds"]
        lines.append(f"- CPU, replaced ÷ generator at {big:,}: {ratio:.1f}x (target ≥ 3x)")
    if (big, "generator") in by and (small, "generator") in by:
        growth = by[big, "generator"]["peak_rss_mb"] / by[small, "generator"]["peak_rss_mb"] - 1
        lines.append(f"- generator peak RSS {big:,} vs {small:,}: {growth:+.1%} (target within 15%)")
    for measure in ("cpu", "wall"):
        stack = imports[f"pandas_pyarrow_boto3_{measure}"]
        for label, key in (
            ("image's environment", "handler_image_env"),
            ("dev venv, numpy present", "handler_dev_env"),
        ):
            mine = imports[f"{key}_{measure}"]
            lines.append(
                f"- handler import ({measure}), {label}: {mine:.3f} s vs"
                f" `import pandas, pyarrow, boto3` {stack:.3f} s: {mine / stack:.0%} (target < 60%)"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
