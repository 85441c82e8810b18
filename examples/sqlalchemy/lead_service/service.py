"""The Lead service: plain SQLAlchemy, with no audit code in it.

Each function works inside the caller's transaction (``with Session.begin() as
session:``); the caller commits. With an AsyncSession, call them through
``await session.run_sync(create_lead, ...)``.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .models import Lead

UPDATABLE = frozenset({"email", "full_name", "status", "score", "meta"})


def create_lead(
    session: Session,
    email: str,
    full_name: str | None = None,
    *,
    status: str = "new",
    score: int = 0,
    meta: dict[str, Any] | None = None,
) -> Lead:
    lead = Lead(email=email, full_name=full_name, status=status, score=score, meta=meta or {})
    session.add(lead)
    session.flush()
    return lead


def get_lead(session: Session, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise LookupError(f"no lead {lead_id}")
    return lead


def update_lead(session: Session, lead_id: int, **changes: Any) -> Lead:
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    lead = get_lead(session, lead_id)
    for name, value in changes.items():
        setattr(lead, name, value)
    session.flush()
    return lead


def soft_delete_lead(session: Session, lead_id: int) -> Lead:
    lead = get_lead(session, lead_id)
    lead.is_deleted = True
    session.flush()
    return lead


def restore_lead(session: Session, lead_id: int) -> Lead:
    lead = get_lead(session, lead_id)
    lead.is_deleted = False
    session.flush()
    return lead


def delete_lead(session: Session, lead_id: int) -> None:
    session.delete(get_lead(session, lead_id))
    session.flush()


def bulk_update_status(session: Session, lead_ids: Iterable[int], status: str) -> int:
    """One UPDATE statement for many rows: ORM listeners never see these rows."""
    result = session.execute(
        update(Lead).where(Lead.id.in_(list(lead_ids))).values(status=status)
    )
    return result.rowcount


def bulk_delete(session: Session, lead_ids: Iterable[int]) -> int:
    """One DELETE statement for many rows."""
    result = session.execute(delete(Lead).where(Lead.id.in_(list(lead_ids))))
    return result.rowcount


def purge_soft_deleted(session: Session) -> int:
    """Hard-delete every soft-deleted lead, in one statement."""
    result = session.execute(delete(Lead).where(Lead.is_deleted.is_(True)))
    return result.rowcount


def list_leads(session: Session, *, include_deleted: bool = False) -> list[Lead]:
    query = select(Lead).order_by(Lead.id)
    if not include_deleted:
        query = query.where(Lead.is_deleted.is_(False))
    return list(session.scalars(query))
