"""A small Lead service whose change history is kept by the lead_audit extension."""

from .audit_context import (
    AuditContext,
    audit_context,
    install_audit_context,
    install_comment_context,
    request_context,
)

__all__ = [
    "AuditContext",
    "audit_context",
    "install_audit_context",
    "install_comment_context",
    "request_context",
]
