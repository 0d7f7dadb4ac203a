"""GenerateMemberParquetFunction (container image): placeholder until the export issue lands."""

from __future__ import annotations

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("the member export generator is built in the export issue")
