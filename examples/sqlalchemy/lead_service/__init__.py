"""A small Lead service whose change history is kept by the lead_audit extension.

The request's context and the SQLAlchemy hook come from the lead-audit package
(clients/python): lead_audit.request_context, lead_audit.sqlalchemy.
"""
