"""M-Pesa's own words: the line that tells voters how to pay a candidate's votes from the M-Pesa menu, and the
organiser's form fields of a contest's paybill. The `mpesa` domain of the catalogs in locales/ beside this module
(fr, en, sw; the admin's fields in the "admin" context, the voters' line in "web")."""

from __future__ import annotations

from pathlib import Path

from gateway.core.texts import TextDomain

CATALOGS = TextDomain("mpesa", Path(__file__).parent / "locales")
