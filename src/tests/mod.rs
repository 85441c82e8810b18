//! In-database tests (`cargo pgrx test`): each runs in its own transaction
//! with the extension created. The user-level scenarios live in
//! tests/pg_regress; these check internals a scenario cannot see easily.

use pgrx::prelude::*;

fn run(sql: &str) {
    Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn one<T: pgrx::FromDatum + pgrx::IntoDatum>(sql: &str) -> Option<T> {
    Spi::get_one::<T>(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn setup_leads() {
    run("CREATE TABLE leads (id bigserial PRIMARY KEY, email text NOT NULL, status text NOT NULL DEFAULT 'new',
                             score int, is_deleted boolean NOT NULL DEFAULT false)");
    run("SELECT audit_enable('leads')");
}

/// jsonb documents of every kind of value, for the tests that compare our
/// jsonb code with PostgreSQL's.
const JSONB_CASES: [&str; 14] = [
    "SELECT '{}'::jsonb",
    "SELECT '[]'::jsonb",
    "SELECT 'null'::jsonb",
    "SELECT 'true'::jsonb",
    "SELECT '\"x\"'::jsonb",
    "SELECT '-0.000100'::jsonb",
    "SELECT '[1e100, -5, 3.14159265358979323846264338327950288, 0]'::jsonb",
    "SELECT jsonb_build_object('tab', E'a\\tb', 'nl', E'x\\ny', 'ctl', E'\\u0001\\u001f', 'q', 'say \"hi\" \\\\ ok', 'u', 'é ✓ 😀')",
    "SELECT '{\"a\": {\"b\": [1, {\"c\": []}, {}], \"d\": null}, \"e\": [[[]]], \"\": false}'::jsonb",
    "SELECT jsonb_object_agg('key' || g, CASE g % 4 WHEN 0 THEN to_jsonb(g) WHEN 1 THEN to_jsonb('v' || g) WHEN 2 THEN jsonb_build_array(g, g * 1.5) ELSE 'null' END) FROM generate_series(1, 100) g",
    "SELECT jsonb_agg(g * 0.01) FROM generate_series(1, 70) g",
    // Numerics of every shape: short and long forms, negative and
    // fractional weights, display scales past the digits, zeros.
    "SELECT jsonb_agg(round((g * 7919 % 1000003 - 500000)::numeric / 10::numeric ^ (g % 23 - 6), g % 15)) FROM generate_series(1, 400) g",
    "SELECT '[0.0, -0.0, 0.00000, 10000, 100000000, 0.0001, 0.00001, 1e-40, -1e300, 123456789012345678901234567890.000000001, 9999.9999]'::jsonb",
    "SELECT to_jsonb(t) FROM (SELECT 1 AS a, now() AS b, ARRAY['x', NULL] AS c, '\\xdead'::bytea AS d) t",
];

#[pg_schema]
mod tests {
    use super::*;

    /// Every column type comes out exactly as to_jsonb gives it, whether it
    /// takes the fast path or the to_jsonb fallback.
    #[pg_test]
    fn values_match_to_jsonb_for_every_type() {
        run("CREATE TYPE mood AS ENUM ('sad', 'happy')");
        run("CREATE DOMAIN posint AS int CHECK (VALUE > 0)");
        run("CREATE TYPE pair AS (a int, b text)");
        run("CREATE TABLE typed (
               id int PRIMARY KEY, b bool, i2 smallint, i8 bigint, n numeric(10,3), nn numeric,
               f4 real, f8 double precision, t text, vc varchar(5), c char(4), nm name,
               d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
               u uuid, ip inet, cidr_ cidr, mac macaddr, by bytea, j json, jb jsonb,
               arr int[], tarr text[], m mood, dom posint, p pair, x xml, pt point, r int4range,
               vcarr varchar(3)[])");
        run("SELECT audit_enable('typed')");
        run("INSERT INTO typed VALUES (
               1, true, -3, 9007199254740993, 12.500, 'NaN', 1.5, 'Infinity', 'tab\there \"q\" é', 'abc', 'ab',
               'nm', '2024-02-29', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05+02', '10:11:12',
               '10:11:12+03', '1 day 2 hours', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.1.2.3/8',
               '10.0.0.0/8', '08:00:2b:01:02:03', '\\xdeadbeef', '{\"b\": 1, \"a\": [true, null]}',
               '{\"nested\": {\"k\": [1, 2.5, \"s\"]}}', '{1,NULL,3}', '{\"a b\",c}', 'happy', 7,
               ROW(1, 'x'), '<a>1</a>', '(1,2)', '[1,5)')");
        run("INSERT INTO typed (id) VALUES (2)");
        // text[] and varchar[] take a fast path for at most one dimension.
        run("INSERT INTO typed (id, tarr, vcarr) VALUES
               (3, '{}', '{}'), (4, '{{a,b},{c,NULL}}', '{{x},{y}}'), (5, '[0:1]={\"q\\\"\",NULL}', '{NULL}'),
               (6, ARRAY[repeat('long ', 5000), 'back\\slash', ''], ARRAY['abc', 'é'])");
        // Values read in place or through PostgreSQL's detoasting: stored
        // out of line (an incompressible text, a jsonb), compressed in
        // line, empty, jsonb scalars, and numerics of every special kind.
        run("INSERT INTO typed (id, t, jb, nn, n) VALUES
               (7, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 20000) g),
                (SELECT jsonb_object_agg('k' || g, md5(g::text)) FROM generate_series(1, 5000) g),
                '-Infinity', -12.5),
               (8, repeat('compressible ', 400), '\"just a string\"', 'Infinity', 0),
               (9, '', '5', 'NaN', 0.001),
               (10, 'x', 'null', -0.00000000001234, -9999999.999),
               (11, 'y', jsonb_build_object('s', repeat('compressible ', 400)), 1e-300, 1)");
        run("INSERT INTO typed (id, tarr) VALUES (12, ARRAY[repeat('compressible ', 400), 'z'])");
        let mismatches = one::<i64>(
            "SELECT count(*) FROM typed rec JOIN audit_log a
               ON a.table_oid = 'typed'::regclass AND a.record_pk = jsonb_build_object('id', rec.id)
             WHERE a.action = 'INSERT' AND a.new_values IS DISTINCT FROM to_jsonb(rec)",
        );
        assert_eq!(mismatches, Some(0));
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM audit_log WHERE table_oid = 'typed'::regclass AND action = 'INSERT'"
            ),
            Some(12)
        );
        // The checksums made with the values (their jsonb text rendered
        // from the values, not read back) are the ones verify_audit()
        // recomputes from the stored bytes, for changes of every kind.
        run("UPDATE typed SET b = NOT coalesce(b, false), t = t || 'é\"', jb = jb || '{\"z\": [1.50, null]}'");
        run("DELETE FROM typed WHERE id % 2 = 0");
        assert_eq!(
            one::<String>("SELECT string_agg(status, ',') FROM verify_audit()").as_deref(),
            Some("ok")
        );
    }

    /// An UPDATE records only what changed, compared datum by datum: a
    /// rewritten but equal value (including a toasted one) is no change.
    #[pg_test]
    fn update_diff_ignores_equal_values_including_toasted_ones() {
        run("CREATE TABLE docs (id int PRIMARY KEY, body text, n numeric, note text)");
        run("SELECT audit_enable('docs')");
        run("INSERT INTO docs SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 20000) g");
        run("UPDATE docs SET body = body, note = NULL WHERE id = 1");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM audit_log WHERE action = 'UPDATE'"),
            Some(0)
        );
        run("UPDATE docs SET note = 'x', n = 1.0 WHERE id = 1");
        run("UPDATE docs SET n = 1.00 WHERE id = 1");
        let changed = one::<Vec<String>>(
            "SELECT array_agg(c ORDER BY id) FROM audit_log, unnest(changed_columns) c WHERE action = 'UPDATE'",
        );
        assert_eq!(changed, Some(vec!["n".into(), "note".into(), "n".into()]));
    }

    /// The per-backend table cache follows ALTER TABLE in the same session.
    #[pg_test]
    fn cache_follows_alter_table() {
        setup_leads();
        run("INSERT INTO leads (email) VALUES ('a@example.com')");
        run("ALTER TABLE leads ADD COLUMN phone text");
        run("ALTER TABLE leads DROP COLUMN score");
        run("INSERT INTO leads (email, phone) VALUES ('b@example.com', '555')");
        let keys = one::<String>(
            "SELECT string_agg(k, ',' ORDER BY k) FROM audit_log, jsonb_object_keys(new_values) k WHERE id = (SELECT max(id) FROM audit_log)",
        );
        assert_eq!(keys.as_deref(), Some("email,id,is_deleted,phone,status"));
    }

    /// audit_enable with new settings reaches a backend that cached the old ones.
    #[pg_test]
    fn settings_change_is_seen_immediately() {
        setup_leads();
        run("INSERT INTO leads (email) VALUES ('a@example.com')");
        run("UPDATE leads SET is_deleted = true");
        run("SELECT audit_enable('leads', soft_delete_column => '')");
        run("UPDATE leads SET is_deleted = false");
        let flags = one::<Vec<Option<String>>>(
            "SELECT array_agg(soft_delete ORDER BY id) FROM audit_log WHERE action = 'UPDATE'",
        );
        assert_eq!(flags, Some(vec![Some("deleted".into()), None]));
    }

    /// A superuser can pause auditing; no change is captured while it is off
    /// (the transaction's UNAUDITED marker comes at commit: scenario 11).
    #[pg_test]
    fn enabled_off_captures_nothing() {
        setup_leads();
        run("SET LOCAL lead_audit.enabled = off");
        run("INSERT INTO leads (email) VALUES ('a@example.com')");
        run("SET LOCAL lead_audit.enabled = on");
        run("INSERT INTO leads (email) VALUES ('b@example.com')");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM audit_log WHERE action = 'INSERT'"),
            Some(1)
        );
    }

    /// Our jsonb text renderer (used for every checksum) prints exactly what
    /// jsonb::text prints, for every kind of value and for objects large
    /// enough to use jsonb's stored offsets.
    #[pg_test]
    fn jsonb_text_matches_postgres() {
        for sql in JSONB_CASES {
            let (ours, theirs) = Spi::connect(|client| {
                let row = client
                    .select(
                        &format!("SELECT v, v::text FROM ({sql}) AS s(v)"),
                        None,
                        &[],
                    )?
                    .first();
                let datum = row.get_datum_by_ordinal(1)?.expect("not NULL");
                let mut ours = Vec::new();
                // SAFETY: a jsonb datum from the query, detoasted before use.
                unsafe {
                    let j = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
                    crate::forms::jsonb_text::render_jsonb(j, &mut ours)
                        .expect("our renderer understands it");
                }
                Ok::<_, pgrx::spi::SpiError>((
                    String::from_utf8(ours).unwrap(),
                    row.get::<String>(2)?.unwrap(),
                ))
            })
            .unwrap();
            assert_eq!(ours, theirs, "{sql}");
        }
    }

    /// Our jsonb writer makes exactly PostgreSQL's bytes, from a tree of
    /// values and from a tree whose nested containers are given as they are
    /// stored (what a captured jsonb column becomes).
    #[pg_test]
    fn jsonb_binary_matches_postgres() {
        let extra = [
            "SELECT jsonb_build_object('j', '{\"k\": [1, 2]}'::jsonb, 'a', '[[], {}]'::jsonb, 's', 'x', 'n', 1.50)",
            "SELECT jsonb_object_agg('k' || g, jsonb_build_array(g, 'v', jsonb_build_object('x', g))) FROM generate_series(1, 40) g",
            "SELECT jsonb_agg(jsonb_build_object('deep', jsonb_build_array(g, jsonb_build_array(g * 0.5)))) FROM generate_series(1, 35) g",
        ];
        for sql in JSONB_CASES.iter().chain(extra.iter()) {
            Spi::connect(|client| {
                let row = client.select(*sql, None, &[])?.first();
                let datum = row.get_datum_by_ordinal(1)?.expect("not NULL");
                // SAFETY: a jsonb datum from the query, detoasted; the trees
                // point into it and into memory of this transaction.
                unsafe {
                    let j = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
                    let stored = std::slice::from_raw_parts(
                        (&raw const (*j).root).cast::<u8>(),
                        pgrx::varsize(j.cast()) - pg_sys::VARHDRSZ,
                    );
                    let full = unpacked(j);
                    let theirs = pg_sys::JsonbValueToJsonb(full);
                    let theirs = std::slice::from_raw_parts(
                        (&raw const (*theirs).root).cast::<u8>(),
                        pgrx::varsize(theirs.cast()) - pg_sys::VARHDRSZ,
                    );
                    assert_eq!(
                        theirs, stored,
                        "{sql}: PostgreSQL writes back what it stored"
                    );
                    let mut ours = Vec::new();
                    crate::jsonb::binary::encode(&*full, &mut ours).expect("encodes");
                    assert_eq!(ours, theirs, "{sql}: from a tree of values");
                    if let Some(shallow) = one_level(j) {
                        crate::jsonb::binary::encode(&shallow.value, &mut ours).expect("encodes");
                        assert_eq!(ours, theirs, "{sql}: nested containers as stored");
                    }
                }
                Ok::<_, pgrx::spi::SpiError>(())
            })
            .unwrap();
        }
    }

    /// Integer columns become the numerics `to_jsonb` makes, byte for byte.
    #[pg_test]
    fn integer_numerics_match_to_jsonb() {
        let mut values: Vec<i64> = vec![0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1, 99_990_000];
        for p in 0..19 {
            let t = 10_i64.pow(p);
            values.extend([t, -t, t - 1, 3 * t + 7]);
        }
        for v in values {
            Spi::connect(|client| {
                let row = client
                    .select(&format!("SELECT to_jsonb('{v}'::bigint)"), None, &[])?
                    .first();
                let datum = row.get_datum_by_ordinal(1)?.expect("not NULL");
                // SAFETY: a jsonb scalar from the query, detoasted; both
                // numerics are read within their varlena sizes.
                unsafe {
                    let j = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
                    let mut scalar: pg_sys::JsonbValue = std::mem::zeroed();
                    assert!(pg_sys::JsonbExtractScalar(&raw mut (*j).root, &mut scalar));
                    let bytes = |n: *const pg_sys::varlena| {
                        std::slice::from_raw_parts(n.cast::<u8>(), pgrx::varsize_any(n)).to_vec()
                    };
                    let theirs = bytes(scalar.val.numeric.cast());
                    let ours = crate::jsonb::convert::IntNumeric::new(v).bytes().to_vec();
                    assert_eq!(ours, theirs, "{v}");
                }
                Ok::<_, pgrx::spi::SpiError>(())
            })
            .unwrap();
        }
    }

    /// Dates and times render as `to_jsonb` renders them in the session's
    /// time zone at the time of the write, although the last ones rendered
    /// are kept: a new time zone, or another type with the same bits, is
    /// rendered anew.
    #[pg_test]
    fn kept_date_times_follow_the_time_zone_and_the_type() {
        // Two kept values: a date and a timestamptz, which are the same bits
        // here (midnight of 2000-01-01 is 0 in both), so every row after
        // the first finds both kept, right or wrong.
        run("CREATE TABLE times (id int PRIMARY KEY, d date, tstz timestamptz, tstz2 timestamptz)");
        run("SELECT audit_enable('times')");
        let write = |id: i32, zone: &str| {
            run(&format!("SET TimeZone = '{zone}'"));
            run(&format!(
                "INSERT INTO times VALUES ({id}, '2000-01-01', '2000-01-01 00:00+00', '2000-01-01 00:00+00'),
                                          ({}, '2000-01-01', '2000-01-01 00:00+00', '2000-01-01 00:00+00')",
                id + 100
            ));
            let expected = one::<String>(&format!(
                "SELECT to_jsonb(t)::text FROM times t WHERE id = {id}"
            ));
            let captured = one::<String>(&format!(
                "SELECT string_agg(new_values::text, ' | ' ORDER BY id) FROM audit_log
                  WHERE table_oid = 'times'::regclass AND (new_values->>'id')::int IN ({id}, {})",
                id + 100
            ));
            let expected = expected.expect("a row");
            let second =
                expected.replace(&format!("\"id\": {id}"), &format!("\"id\": {}", id + 100));
            assert_eq!(captured, Some(format!("{expected} | {second}")), "{zone}");
        };
        write(1, "UTC");
        write(2, "Asia/Kolkata");
        write(3, "UTC");
        write(4, "America/St_Johns");
        let zones = one::<i64>(
            "SELECT count(DISTINCT new_values->>'tstz') FROM audit_log WHERE table_oid = 'times'::regclass",
        );
        assert_eq!(zones, Some(3));
    }

    /// A jsonb document as a tree of values, nested containers unpacked.
    ///
    /// # Safety
    /// `j` must be a valid, detoasted jsonb.
    unsafe fn unpacked(j: *mut pg_sys::Jsonb) -> *mut pg_sys::JsonbValue {
        // SAFETY: PostgreSQL's iterator over a valid jsonb (the caller's contract).
        unsafe {
            let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
            let mut it = pg_sys::JsonbIteratorInit(&mut (*j).root);
            let mut tree = std::ptr::null_mut();
            loop {
                let mut v: pg_sys::JsonbValue = std::mem::zeroed();
                let token = pg_sys::JsonbIteratorNext(&mut it, &mut v, false);
                if token == pg_sys::JsonbIteratorToken::WJB_DONE {
                    break tree;
                }
                // A raw scalar's array carries its flag in its begin token.
                let with_value = token <= pg_sys::JsonbIteratorToken::WJB_BEGIN_ARRAY;
                tree = pg_sys::pushJsonbValue(
                    &mut state,
                    token,
                    if with_value {
                        &mut v
                    } else {
                        std::ptr::null_mut()
                    },
                );
            }
        }
    }

    /// The root of a document whose own children are values and whose
    /// nested containers stay as stored (`jbvBinary`); None for a scalar.
    struct Shallow {
        value: pg_sys::JsonbValue,
        _pairs: Vec<pg_sys::JsonbPair>,
        _elems: Vec<pg_sys::JsonbValue>,
    }

    /// # Safety
    /// `j` must be a valid, detoasted jsonb that outlives the result.
    unsafe fn one_level(j: *mut pg_sys::Jsonb) -> Option<Shallow> {
        // SAFETY: PostgreSQL's iterator over a valid jsonb, skipping nested
        // containers, which it hands out as binary values into `j`.
        unsafe {
            let mut root: pg_sys::JsonbValue = std::mem::zeroed();
            if pg_sys::JsonbExtractScalar(&mut (*j).root, &mut root) {
                return None;
            }
            let mut it = pg_sys::JsonbIteratorInit(&mut (*j).root);
            let (mut pairs, mut elems, mut object) = (Vec::new(), Vec::new(), false);
            let mut key: pg_sys::JsonbValue = std::mem::zeroed();
            loop {
                let mut v: pg_sys::JsonbValue = std::mem::zeroed();
                match pg_sys::JsonbIteratorNext(&mut it, &mut v, true) {
                    pg_sys::JsonbIteratorToken::WJB_DONE => break,
                    pg_sys::JsonbIteratorToken::WJB_BEGIN_OBJECT => object = true,
                    pg_sys::JsonbIteratorToken::WJB_KEY => key = v,
                    pg_sys::JsonbIteratorToken::WJB_VALUE => {
                        let mut p: pg_sys::JsonbPair = std::mem::zeroed();
                        p.key = key;
                        p.value = v;
                        pairs.push(p);
                    }
                    pg_sys::JsonbIteratorToken::WJB_ELEM => elems.push(v),
                    _ => {}
                }
            }
            if object {
                root.type_ = pg_sys::jbvType::jbvObject;
                root.val.object.nPairs = pairs.len() as i32;
                root.val.object.pairs = pairs.as_mut_ptr();
            } else {
                root.type_ = pg_sys::jbvType::jbvArray;
                root.val.array.nElems = elems.len() as i32;
                root.val.array.elems = elems.as_mut_ptr();
            }
            Some(Shallow {
                value: root,
                _pairs: pairs,
                _elems: elems,
            })
        }
    }

    /// Each audit row's checksum is SHA-256 over the documented canonical form,
    /// recomputed in plain SQL (tests/vectors/row_forms.sql) from the row's columns.
    #[pg_test]
    fn checksum_follows_the_documented_canonical_form() {
        run(include_str!("../../tests/vectors/row_forms.sql"));
        setup_leads();
        run("SET LOCAL lead_audit.actor_id = 'u-1'");
        run("SET LOCAL lead_audit.client_ip = '203.0.113.7/24'");
        run("SET LOCAL lead_audit.context = '{\"k\": \"v\"}'");
        run("INSERT INTO leads (email) VALUES ('a@example.com')");
        run("UPDATE leads SET status = 'won'");
        let mismatches = one::<i64>(
            "SELECT count(*) FROM audit_log a WHERE checksum <> sha256(pg_temp.row_form(a))",
        );
        assert_eq!(mismatches, Some(0));
        // Two changes, and the DDL row of audit_enable.
        assert_eq!(one::<i64>("SELECT count(*) FROM audit_log"), Some(3));
    }

    /// The golden rows (tests/vectors/rows.json, written by the extension):
    /// the SQL re-implementation gives their canonical bytes and SHA-256, and
    /// verify_audit, which recomputes every checksum from the datums with the
    /// writer's code, finds each stored checksum right.
    #[pg_test]
    fn golden_rows_verify_in_sql_and_in_the_database() {
        run(include_str!("../../tests/vectors/row_forms.sql"));
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/rows.json")).unwrap();
        let rows = vectors["rows"].as_array().unwrap();
        for row in rows {
            let columns: Vec<Option<String>> = row["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().map(String::from))
                .collect();
            let args: Vec<pgrx::datum::DatumWithOid> =
                columns.iter().cloned().map(|c| c.into()).collect();
            let (canonical, sha) = Spi::connect_mut(|client| {
                client.update(
                    "INSERT INTO audit_log VALUES ($1::bigint, $2::bigint, $3::timestamptz, $4::oid, $5, $6, $7,
                       $8::jsonb, $9::jsonb, $10::jsonb, $11::text[], $12, $13::inet, $14, $15, $16::jsonb,
                       $17, $18, $19::bytea, $20, $21::jsonb)",
                    None,
                    &args,
                )?;
                let found = client
                    .select(
                        "SELECT convert_from(pg_temp.row_form(a), 'UTF8'),
                                encode(sha256(pg_temp.row_form(a)), 'hex')
                         FROM audit_log a WHERE id = $1::bigint",
                        None,
                        &[columns[0].clone().into()],
                    )?
                    .first();
                Ok::<_, pgrx::spi::SpiError>((found.get::<String>(1)?, found.get::<String>(2)?))
            })
            .unwrap();
            assert_eq!(canonical.as_deref(), row["canonical"].as_str());
            assert_eq!(sha.as_deref(), row["sha256"].as_str());
        }
        assert_eq!(
            one::<i64>("SELECT count(*) FROM audit_log"),
            Some(rows.len() as i64)
        );
        assert_eq!(
            one::<String>("SELECT string_agg(status, ',') FROM verify_audit()").as_deref(),
            Some("ok")
        );
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
