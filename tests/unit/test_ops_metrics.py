"""The export metrics reach CloudWatch as EMF under the HDCN namespace with the right units."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from hdcn_common.ops_metrics import (
    EXPORT_DURATION,
    EXPORT_ROWS,
    EXPORTS_FAILED,
    EXPORTS_REQUESTED,
    record_export_finished,
    record_export_requested,
)

pytestmark = pytest.mark.unit


def _blob(metrics: Metrics) -> dict[str, Any]:
    return dict(metrics.serialize_metric_set())


def _emf(metrics: Metrics) -> dict[str, dict[str, Any]]:
    return {dict(m)["Name"]: dict(m) for m in _blob(metrics)["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_successful_run_records_rows_and_duration() -> None:
    # GIVEN a generator run of 300 rows in 4.2 s WHEN recorded THEN rows (Count) and duration (Seconds)
    metrics = Metrics(namespace="HDCN", service="test-success")
    record_export_finished(metrics, rows=300, seconds=4.2004, succeeded=True)
    emf = _emf(metrics)
    assert emf[EXPORT_ROWS]["Unit"] == "Count" and emf[EXPORT_DURATION]["Unit"] == "Seconds"
    assert _blob(metrics)[EXPORT_ROWS] in (300.0, [300.0])
    assert EXPORTS_FAILED not in emf
    metrics.clear_metrics()


def test_failed_run_counts_a_failure_not_rows() -> None:
    metrics = Metrics(namespace="HDCN", service="test-failure")
    record_export_finished(metrics, rows=0, seconds=1.0, succeeded=False)
    emf = _emf(metrics)
    assert EXPORTS_FAILED in emf and EXPORT_ROWS not in emf
    metrics.clear_metrics()


def test_request_is_counted() -> None:
    metrics = Metrics(namespace="HDCN", service="test-request")
    record_export_requested(metrics, trigger="schedule")
    assert _emf(metrics)[EXPORTS_REQUESTED]["Unit"] == "Count"
    metrics.clear_metrics()
