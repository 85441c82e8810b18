#!/usr/bin/env bash
# Fuzz: every SQL function of the extension called with NULLs, wrong types,
# huge values and garbage, and every lead_audit.* setting set to garbage
# around audited writes, as a superuser and as an application role. Nothing
# may answer XX000 (internal_error) and no backend may crash: the checks read
# the SQLSTATEs caught in SQL and the server log.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

PORT=${LEAD_AUDIT_FUZZ_PORT:-5487}
DIR=${LEAD_AUDIT_FUZZ_DIR:-/tmp/lead_audit_fuzz}
cluster "$DIR" "$PORT" -c shared_preload_libraries=lead_audit -c log_error_verbosity=verbose \
    -c lead_audit.seal_interval=1
q -c "CREATE DATABASE fuzz"
export DB=fuzz

q >/dev/null <<'SQL'
CREATE EXTENSION lead_audit;
CREATE TABLE leads (id int PRIMARY KEY, email text, score numeric, tags text[], meta jsonb);
SELECT audit_enable('leads');
INSERT INTO leads VALUES (1, 'a', 1, '{x}', '{}');
CREATE ROLE app LOGIN;
GRANT USAGE ON SCHEMA public TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON leads TO app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO app;
-- What every call answered: one row per (function or setting, input, SQLSTATE).
CREATE TABLE answers (target text, input text, sqlstate text, message text, who name DEFAULT current_user);
GRANT INSERT ON answers TO app;

-- Candidate values per argument type (as SQL literals).
CREATE TABLE candidates (typ regtype, lit text);
INSERT INTO candidates VALUES
  ('regclass', 'NULL'), ('regclass', '0'), ('regclass', '''leads'''), ('regclass', '''audit_log'''),
  ('regclass', '''audit_block'''), ('regclass', '''pg_class'''), ('regclass', '4294967295'),
  ('oid', 'NULL'), ('oid', '0'), ('oid', '4294967295'), ('oid', '''leads''::regclass::oid'),
  ('name', 'NULL'), ('name', ''''''), ('name', '''nope'''), ('name', 'repeat(''x'', 100)'), ('name', '''email'''),
  ('boolean', 'NULL'), ('boolean', 'true'), ('boolean', 'false'),
  ('bigint', 'NULL'), ('bigint', '0'), ('bigint', '-1'), ('bigint', '9223372036854775807'),
  ('bigint', '-9223372036854775808'), ('bigint', '4000000000000000000'),
  ('integer', 'NULL'), ('integer', '0'), ('integer', '-1'), ('integer', '1'), ('integer', '2147483647'),
  ('text', 'NULL'), ('text', ''''''), ('text', '''garbage'''), ('text', 'repeat(''é'', 100000)'),
  ('text', '''{"command": "x"}'''), ('text', '''{"a": 1e400}'''), ('text', '''public.leads'''),
  ('text', 'E''\\x01'''),
  ('text[]', 'NULL'), ('text[]', '''{}'''), ('text[]', '''{nope}'''), ('text[]', '''{email}'''),
  ('text[]', '''{id}'''), ('text[]', 'ARRAY[NULL]'), ('text[]', '''{email,email,score}'''),
  ('timestamptz', 'NULL'), ('timestamptz', 'now()'), ('timestamptz', '''-infinity'''),
  ('timestamptz', '''infinity'''), ('timestamptz', '''1970-01-01'''),
  ('audit_log', 'NULL'), ('audit_log', '(SELECT l FROM audit_log l ORDER BY id LIMIT 1)'),
  ('audit_log', '(SELECT l FROM audit_log l ORDER BY id DESC LIMIT 1)'),
  ('audit_table', 'NULL'), ('audit_table', '(SELECT t FROM audit_table t LIMIT 1)'),
  ('jsonb', 'NULL'), ('jsonb', '''null'''), ('jsonb', '''[]'''), ('jsonb', '''"s"'''), ('jsonb', '''{}'''),
  ('jsonb', '''{"block_id": 1e400, "block_hash": "00"}'''), ('jsonb', '''{"block_id": -1, "block_hash": ""}'''),
  ('jsonb', '''{"block_id": 1, "block_hash": "zz"}'''), ('jsonb', '''{"block_id": "1", "block_hash": "00"}'''),
  ('jsonb', 'repeat(''['', 1000) || repeat('']'', 1000)'), ('jsonb', '''{"id": 1}'''),
  ('jsonb', '''{"created_by": "email"}'''), ('jsonb', '''[{"attnum": 1, "name": "id"}]'''),
  ('jsonb', '''{"block_id": 1, "block_hash": 1, "x": '' || repeat(''{"a":'', 300) || ''1'' || repeat(''}'', 300) || ''}''');
GRANT SELECT ON candidates TO app;

-- Calls every function of the extension with every combination of
-- candidates (capped per function), each in its own subtransaction.
CREATE FUNCTION fuzz_functions() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f record;
    call text;
    state text;
    msg text;
BEGIN
    FOR f IN SELECT p.oid, p.proname, p.pronargs, p.proargtypes::regtype[] AS types, p.prorettype
             FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
             WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lead_audit') AND d.deptype = 'e'
             ORDER BY p.proname LOOP
        FOR call IN
            WITH RECURSIVE args(n, list) AS (
                SELECT 0, ARRAY[]::text[]
                UNION ALL
                SELECT a.n + 1, a.list || c.lit
                FROM args a JOIN candidates c ON c.typ = f.types[a.n]
                WHERE a.n < f.pronargs
            )
            SELECT format('SELECT %s(%s)', f.oid::regproc,
                          (SELECT string_agg(format('%s::%s', l, f.types[i - 1]), ', ')
                           FROM unnest(list) WITH ORDINALITY u(l, i)))
            FROM args WHERE n = f.pronargs
            ORDER BY md5(list::text) LIMIT 400
        LOOP
            IF f.prorettype = 'event_trigger'::regtype OR f.prorettype = 'trigger'::regtype
               OR f.proname IN ('verify_audit', '_audit_verify', 'audit_seal') THEN
                call := replace(call, 'SELECT ', 'SELECT * FROM ');
            END IF;
            BEGIN
                EXECUTE call;
                state := '00000'; msg := NULL;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            END;
            INSERT INTO answers VALUES (f.proname, left(call, 200), state, left(msg, 200));
        END LOOP;
    END LOOP;
END;
$$;
GRANT EXECUTE ON FUNCTION fuzz_functions() TO app;

-- Sets every lead_audit.* setting to every garbage value, then writes.
CREATE FUNCTION fuzz_settings() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s text;
    v text;
    state text;
    msg text;
BEGIN
    FOR s IN SELECT name FROM pg_settings WHERE name LIKE 'lead\_audit.%' ORDER BY name LOOP
        FOREACH v IN ARRAY ARRAY['', 'off', 'on', '-1', '0', '2147483648', '1e400', 'garbage', ' 10.0.0.1 ',
                                 '10.0.0.1/33', '{"a": 1e400}', '[]', repeat('{"a":', 500) || '1' || repeat('}', 500),
                                 repeat('x', 100000), E'\\x01\\x02', 'null', '{"a": "\u0000"}'] LOOP
            BEGIN
                PERFORM set_config(s, v, true);
                INSERT INTO leads VALUES (1000, 'fuzz') ON CONFLICT (id) DO UPDATE SET email = leads.email || 'x';
                DELETE FROM leads WHERE id = 1000;
                state := '00000'; msg := NULL;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            END;
            INSERT INTO answers VALUES (s, left(v, 60), state, left(msg, 200));
        END LOOP;
    END LOOP;
END;
$$;
GRANT EXECUTE ON FUNCTION fuzz_settings() TO app;
SQL

q -c "SELECT fuzz_functions()" >/dev/null
q -c "SELECT fuzz_settings()" >/dev/null
psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U app -d fuzz \
    -c "SELECT fuzz_functions()" -c "SELECT fuzz_settings()" >/dev/null

calls=$(q -c "SELECT count(*) FROM answers")
check "thousands of calls made, as a superuser and as the application" "t|t" \
    "$(q -c "SELECT count(*) FILTER (WHERE who = 'postgres') > 1000, count(*) FILTER (WHERE who = 'app') > 1000 FROM answers")"
check "every function of the extension was called" 0 \
    "$(q -c "SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
             WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lead_audit') AND d.deptype = 'e'
               AND p.proname NOT IN (SELECT target FROM answers)")"
check "no call answered XX000 ($calls calls)" "" \
    "$(q -c "SELECT string_agg(DISTINCT target || ': ' || message, '; ') FROM answers WHERE sqlstate = 'XX000'")"
check "no internal error in the server log" "" "$(grep -E 'ERROR:  XX000' "$DIR/server.log" | head -3 || true)"
check "no backend crashed" "" "$(grep -E 'terminated by signal|PANIC|was terminated' "$DIR/server.log" | head -3 || true)"
check "the server still answers, and the log verifies" ok "$(q -c "SELECT string_agg(DISTINCT status, ',') FROM verify_audit()" 2>&1 | grep -o '^ok' || true)"
q -c "SELECT sqlstate, count(*) FROM answers GROUP BY 1 ORDER BY 2 DESC" | sed 's/^/    answers: /'
finish fuzz
