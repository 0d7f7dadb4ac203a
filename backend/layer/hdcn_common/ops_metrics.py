"""The stack's own CloudWatch metrics (namespace HDCN, Powertools EMF): names in one place.

Cold starts come from `log_metrics(capture_cold_start_metric=True)` on every handler;
the export metrics below are what an operator graphs next to the generator's alarms.
Callers pass the Metrics object of their handler, whose `log_metrics` flushes them.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "HDCN"  # the template's POWERTOOLS_METRICS_NAMESPACE
EXPORTS_REQUESTED = "ExportsRequested"
EXPORT_ROWS = "ExportRows"
EXPORT_DURATION = "ExportDurationSeconds"
EXPORTS_FAILED = "ExportsFailed"


def stack_metrics() -> Metrics:
    """A Metrics object in the stack's namespace, also where the environment does not name it."""
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE)


def record_export_requested(metrics: Metrics, trigger: str = "api") -> None:
    """One export asked for (API or nightly schedule)."""
    metrics.add_metric(name=EXPORTS_REQUESTED, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="trigger", value=trigger)


def record_export_finished(metrics: Metrics, rows: int, seconds: float, succeeded: bool) -> None:
    """The outcome of one generator run: rows written and how long it took."""
    metrics.add_metric(name=EXPORT_DURATION, unit=MetricUnit.Seconds, value=round(seconds, 3))
    if succeeded:
        metrics.add_metric(name=EXPORT_ROWS, unit=MetricUnit.Count, value=rows)
    else:
        metrics.add_metric(name=EXPORTS_FAILED, unit=MetricUnit.Count, value=1)
