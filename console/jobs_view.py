"""Export job records as people read them (status line, history table), free of Streamlit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

TERMINAL = {"succeeded", "failed"}


@dataclass(frozen=True)
class JobStatus:
    """What a status box shows for a job."""

    label: str
    state: Literal["running", "complete", "error"]
    detail: str
    error: str | None
    finished: bool


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def size_text(n: int | None) -> str:
    """Bytes for people: 1.2 MB."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover - the loop always returns


def duration_seconds(job: dict[str, Any]) -> float | None:
    """Run time: the record's own duration, else finished minus started."""
    for key in ("duration_seconds", "duration_s", "seconds"):
        if isinstance(job.get(key), int | float):
            return float(job[key])
    if isinstance(job.get("duration_ms"), int | float):
        return float(job["duration_ms"]) / 1000
    nested = job.get("timings")
    timings: dict[str, Any] = nested if isinstance(nested, dict) else job
    start = timings.get("started_at") or timings.get("created_at")
    end = timings.get("finished_at") or timings.get("completed_at")
    if not (start and end):
        return None
    try:
        return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except ValueError:
        return None


def rows_of(job: dict[str, Any]) -> int | None:
    for key in ("rows", "row_count", "rows_so_far", "rows_written", "progress"):
        value = job.get(key)
        if isinstance(value, dict):
            value = value.get("rows")
        if _int(value) is not None:
            return _int(value)
    return None


def job_status(job: dict[str, Any]) -> JobStatus:
    """The status line of a job record."""
    state = str(job.get("state") or "unknown")
    job_id = str(job.get("job_id") or job.get("export_id") or "")
    rows = rows_of(job)
    rows_text = f"{rows:,} rows" if rows is not None else "no rows yet"
    if state == "succeeded":
        secs = duration_seconds(job)
        took = f" in {secs:.1f} s" if secs is not None else ""
        size = size_text(_int(job.get("bytes")))
        return JobStatus(
            f"Export {job_id} succeeded", "complete", f"{rows_text}, {size}{took}".strip(", "), None, True
        )
    if state == "failed":
        error = job.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        return JobStatus(
            f"Export {job_id} failed", "error", rows_text, str(message or "no reason given"), True
        )
    return JobStatus(f"Export {job_id} {state} …", "running", rows_text + " so far", None, False)


def history_rows(data: Any) -> list[dict[str, Any]]:
    """The job list as table rows: who, when, state, rows, size, duration."""
    items: list[dict[str, Any]] = (
        list(data.get("jobs", data.get("items", [])) or []) if isinstance(data, dict) else list(data or [])
    )
    rows = []
    for job in items:
        rows.append(
            {
                "job": job.get("job_id"),
                "state": job.get("state"),
                "requested_by": job.get("requested_by"),
                "created_at": job.get("created_at"),
                "rows": rows_of(job),
                "size": size_text(_int(job.get("bytes"))),
                "duration_s": duration_seconds(job),
                "options": ", ".join(f"{k}={v}" for k, v in (job.get("options") or {}).items() if v),
            }
        )
    return rows


def running_job_id(details: Any) -> str | None:
    """The running job named by a 409 answer to a second trigger, if any."""
    if not isinstance(details, dict):
        return None
    job = details.get("running_job")
    if isinstance(job, dict) and job.get("job_id"):
        return str(job["job_id"])
    return str(details["job_id"]) if details.get("job_id") else None
