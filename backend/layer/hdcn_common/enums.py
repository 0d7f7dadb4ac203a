"""The club's fixed vocabularies (DESIGN.md, "Member record")."""

from __future__ import annotations

from enum import StrEnum


class Regio(StrEnum):
    NOORD_HOLLAND = "Noord-Holland"
    ZUID_HOLLAND = "Zuid-Holland"
    FRIESLAND = "Friesland"
    UTRECHT = "Utrecht"
    OOST = "Oost"
    LIMBURG = "Limburg"
    GRONINGEN_DRENTHE = "Groningen/Drenthe"
    BRABANT_ZEELAND = "Brabant/Zeeland"
    DUITSLAND = "Duitsland"
    OVERIG = "Overig"


class Lidmaatschap(StrEnum):
    GEWOON = "Gewoon lid"
    GEZINS = "Gezins lid"
    DONATEUR = "Donateur"
    GEZINS_DONATEUR = "Gezins donateur"
    ERELID = "Erelid"
    OVERIG = "Overig"


class Status(StrEnum):
    ACTIEF = "Actief"
    OPGEZEGD = "Opgezegd"
    WACHT_REGIO = "wachtRegio"
    AANGEMELD = "Aangemeld"
    GESCHORST = "Geschorst"
    OVERIG = "Overig"


class Clubblad(StrEnum):
    DIGITAAL = "Digitaal"
    PAPIER = "Papier"
    GEEN = "Geen"
