"""Export job records as people read them (status line, history sentences), free of Streamlit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from console import formats
from console.exports_view import option_words
from console.i18n import N_, t

TERMINAL = {"succeeded", "failed"}
HISTORY_SENTENCES = {
    "succeeded": N_("job.history.succeeded"),
    "failed": N_("job.history.failed"),
    "running": N_("job.history.running"),
    "queued": N_("job.history.queued"),
    "other": N_("job.history.other"),
}
ACTIVE = {"queued", "running"}


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
    """Bytes for people: 1,2 MB."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            shown = formats.number(round(size)) if unit == "B" else formats.number(round(size, 1))
            return f"{shown} {unit}"
        size /= 1024
    return f"{formats.number(round(size, 1))} GB"  # pragma: no cover - the loop always returns


def duration_seconds(job: dict[str, Any]) -> float | None:
    """Run time: the record's own duration, else finished minus started."""
    for key in ("duration_seconds", "duration_s", "seconds"):
        if isinstance(job.get(key), int | float):
            return float(job[key])
    if isinstance(job.get("duration_ms"), int | float):
        return float(job["duration_ms"]) / 1000
    nested = job.get("timings")
    timings: dict[str, Any] = nested if isinstance(nested, dict) else job
    start = formats.to_moment(timings.get("started_at") or timings.get("created_at"))
    end = formats.to_moment(timings.get("finished_at") or timings.get("completed_at"))
    if not (start and end):
        return None
    return (end - start).total_seconds()


def elapsed_seconds(job: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds since the job was asked for (a running job's clock)."""
    start = formats.to_moment(job.get("created_at") or job.get("started_at"))
    if start is None:
        return None
    return max(0.0, ((now or datetime.now(UTC)) - start).total_seconds())


def rows_of(job: dict[str, Any]) -> int | None:
    for key in ("rows", "row_count", "rows_so_far", "rows_written", "progress"):
        value = job.get(key)
        if isinstance(value, dict):
            value = value.get("rows")
        if _int(value) is not None:
            return _int(value)
    return None


def job_status(job: dict[str, Any], now: datetime | None = None) -> JobStatus:
    """The status line of a job record: ✓ (complete) only once it has succeeded."""
    state = str(job.get("state") or "unknown")
    rows = rows_of(job)
    rows_text = formats.number(rows or 0)
    if state == "succeeded":
        secs = duration_seconds(job)
        detail = t(
            "job.detail.succeeded",
            rows=rows_text,
            size=size_text(_int(job.get("bytes"))) or "—",
            duration=formats.seconds(secs) if secs is not None else "—",
        )
        return JobStatus(t("job.label.succeeded"), "complete", detail, None, True)
    if state == "failed":
        error = job.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        return JobStatus(
            t("job.label.failed"),
            "error",
            t("job.detail.rows", rows=rows_text),
            formats.md_escape(message) if message else t("job.no_reason"),
            True,
        )
    elapsed = elapsed_seconds(job, now)
    detail = t(
        "job.detail.running",
        elapsed=formats.seconds(elapsed) if elapsed is not None else "—",
        rows=rows_text,
    )
    label = t("job.label.queued") if state == "queued" else t("job.label.running")
    return JobStatus(label, "running", detail, None, False)


def is_active(job: dict[str, Any]) -> bool:
    return str(job.get("state") or "") in ACTIVE


def history_items(data: Any) -> list[dict[str, Any]]:
    """The job list of a `GET /analytics/jobs` answer."""
    if isinstance(data, dict):
        return list(data.get("jobs", data.get("items", [])) or [])
    return list(data or [])


def history_sentence(job: dict[str, Any]) -> str:
    """One job as a sentence: who asked what when, and how it ended."""
    kind = ", ".join(option_words(job.get("options"))) or t("export.option.full")
    who = formats.md_escape(job.get("requested_by") or t("job.someone"))
    when = formats.moment(job.get("created_at"))
    state = str(job.get("state") or "unknown")
    rows = formats.number(rows_of(job) or 0)
    secs = duration_seconds(job)
    took = formats.seconds(secs) if secs is not None else "—"
    msgid = HISTORY_SENTENCES.get(state, HISTORY_SENTENCES["other"])
    return t(msgid, who=who, when=when, kind=kind, rows=rows, duration=took)


def running_job_id(details: Any) -> str | None:
    """The running job named by a 409 answer to a second trigger, if any."""
    if not isinstance(details, dict):
        return None
    job = details.get("running_job")
    if isinstance(job, dict) and job.get("job_id"):
        return str(job["job_id"])
    return str(details["job_id"]) if details.get("job_id") else None
