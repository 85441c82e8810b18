"""The Lead model.

Nothing here knows about auditing: no ``created_by``/``updated_by`` columns, no
per-model listeners, no history table. lead_audit's trigger records every change
of the ``leads`` table, whoever makes it and however (ORM, bulk statement, raw SQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Identity, Integer, Text, false, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)
    full_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="new")
    score: Mapped[int] = mapped_column(Integer, server_default="0")
    # `metadata` is reserved on declarative classes (it is the MetaData), so the
    # column named "metadata" is mapped to the attribute `meta`. JSONB values are
    # not mutation-tracked: assign a new dict rather than changing one in place.
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    # Soft-delete flag: lead_audit auto-detects a boolean `is_deleted` column and
    # marks the UPDATEs that flip it with soft_delete = 'deleted' / 'restored'.
    is_deleted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # A convenience column for the application; the audit log has the time of
    # every change regardless. onupdate covers ORM flushes and update()
    # statements, not raw SQL.
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    def __repr__(self) -> str:
        return f"Lead(id={self.id!r}, email={self.email!r}, status={self.status!r})"
