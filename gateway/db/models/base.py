"""The declarative base every table maps onto (the core's here, the channels' in their own `models.py`): one
metadata, so one schema check and one naming convention for constraints and indexes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import DateTime, Enum, MetaData, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Every model here maps one Table (SQLAlchemy types it as any FromClause): Core inserts and updates take it.
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB, datetime: DateTime(timezone=True)}


def enum_column(cls: type[StrEnum], name: str) -> Enum:
    """A PostgreSQL enum type of `cls`'s values (not its member names)."""
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])
