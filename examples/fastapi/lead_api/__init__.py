"""Leads over HTTP (FastAPI), with their history kept by the lead_audit extension."""

from .app import create_app

__all__ = ["create_app"]
