"""The context as a statement comment, for connections in autocommit mode:
install_comment_context prefixes each statement with /* lead_audit {...} */,
which the server reads with lead_audit.comment_context on."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from helpers import assert_context, assert_no_context
from lead_audit import AuditContext, request_context
from lead_audit.sqlalchemy import install_comment_context
from lead_service.db import make_sync
from lead_service.service import create_lead, update_lead

BOB = dict(actor_id=7, client_ip="198.51.100.4", user_agent="curl/8 */ 100%", request_id="req-comment-1")


@pytest.fixture(scope="module")
def autocommit_db(database):
    """An engine in autocommit mode, whose statements carry their context."""
    engine, factory = make_sync(
        database,
        isolation_level="AUTOCOMMIT",
        connect_args={"options": "-c lead_audit.comment_context=on"},
    )
    install_comment_context(engine)
    yield engine, factory
    engine.dispose()


def test_each_autocommit_statement_carries_the_request_context(autocommit_db, audit):
    engine, factory = autocommit_db
    with request_context(**BOB, extra={"route": "PATCH /leads"}):
        with factory() as session:
            lead = create_lead(session, "comment@example.com", "Comment")
            session.flush()
            lead_id = lead.id
            update_lead(session, lead_id, status="contacted")
            session.flush()
    rows = audit.for_lead(lead_id)
    assert [r["action"] for r in rows] == ["INSERT", "UPDATE"]
    for row in rows:
        # The "*/" and "%" in the user agent arrive as they were.
        assert_context(row, **dict(BOB, actor_id="7"), context={"route": "PATCH /leads"})


def test_no_context_no_comment(autocommit_db, audit, connection_ip):
    engine, factory = autocommit_db
    with factory() as session:
        lead = create_lead(session, "nocomment@example.com")
        session.flush()
        lead_id = lead.id
    [row] = audit.for_lead(lead_id)
    assert_no_context(row, connection_ip)


def test_a_context_that_cannot_be_recorded_fails_the_write(autocommit_db, audit):
    engine, factory = autocommit_db
    audit.mark()
    with pytest.raises(ValueError):  # the client refuses it where it is made
        AuditContext(client_ip="not-an-ip")
    with pytest.raises(DBAPIError) as failure:  # and the server, from a comment written by hand
        with engine.connect() as conn:
            conn.execute(text("""/* lead_audit {"client_ip": "not-an-ip"} */ INSERT INTO leads (email) VALUES ('bad@example.com')"""))
    assert failure.value.orig.sqlstate == "22023"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leads WHERE email = 'bad@example.com'")).scalar() == 0
    assert all(r["action"] != "INSERT" for r in audit.new_rows())


def test_the_comment_is_read_only_when_the_setting_is_on(database, audit, connection_ip):
    engine, factory = make_sync(database, isolation_level="AUTOCOMMIT")
    install_comment_context(engine)
    try:
        with request_context(**BOB):
            with factory() as session:
                lead = create_lead(session, "off@example.com")
                session.flush()
                lead_id = lead.id
    finally:
        engine.dispose()
    [row] = audit.for_lead(lead_id)
    assert_no_context(row, connection_ip)
