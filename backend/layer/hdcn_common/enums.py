"""The club's fixed vocabularies as enums, made from the field catalogue (`member_fields`).

Used where a type is needed (query parameters, filters); the vocabularies themselves live
only in the catalogue.
"""

from __future__ import annotations

from enum import StrEnum

from hdcn_common.member_fields import FIELD_BY_NAME


def _vocabulary_enum(name: str, field: str) -> type[StrEnum]:
    return StrEnum(name, [(value, value) for value in FIELD_BY_NAME[field].vocabulary])  # type: ignore[return-value]


# mypy cannot follow the functional API with a computed list; these are ordinary StrEnums at runtime.
Regio = _vocabulary_enum("Regio", "regio")
Lidmaatschap = _vocabulary_enum("Lidmaatschap", "lidmaatschap")
Status = _vocabulary_enum("Status", "status")
Clubblad = _vocabulary_enum("Clubblad", "clubblad")
