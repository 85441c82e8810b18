-- Everything the extension owns in this database, as text that does not
-- depend on oids: an upgraded database and a fresh install of the same
-- version must print exactly the same. Run with psql -At.
\dx+ lead_audit

WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'lead_audit')
SELECT 'extension', extversion, extrelocatable, extnamespace::regnamespace,
       (SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM unnest(extconfig) c),
       extcondition
FROM ext;

CREATE TEMP VIEW member AS
SELECT d.classid, d.objid
FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'lead_audit' AND d.deptype = 'e';

-- Functions: signature, definition (body, language, SECURITY DEFINER,
-- volatility, SET search_path, ...), privileges, comment.
SELECT 'function', p.oid::regprocedure, p.proacl, obj_description(p.oid, 'pg_proc'),
       pg_get_functiondef(p.oid)
FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
ORDER BY p.oid::regprocedure::text;

-- Tables, sequences, views: kind, privileges, options, comment, columns
-- (with their storage).
SELECT 'relation', c.oid::regclass, c.relkind, c.relacl, c.reloptions, obj_description(c.oid, 'pg_class'),
       (SELECT string_agg(format('%s %s%s%s storage %s', a.attname, format_type(a.atttypid, a.atttypmod),
                                 CASE WHEN a.attnotnull THEN ' NOT NULL' END,
                                 ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), a.attstorage), ', ' ORDER BY a.attnum)
        FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
ORDER BY c.oid::regclass::text;

-- Indexes, constraints and triggers of the extension's tables.
SELECT 'index', i.indrelid::regclass, pg_get_indexdef(i.indexrelid)
FROM member m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
ORDER BY 2::text, 3;
SELECT 'constraint', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)
FROM member m JOIN pg_constraint c ON m.classid = 'pg_class'::regclass AND c.conrelid = m.objid
ORDER BY 2::text, 3;
SELECT 'trigger', t.tgrelid::regclass, pg_get_triggerdef(t.oid), t.tgenabled
FROM member m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
ORDER BY 2::text, 3;

-- Sequences' parameters, event triggers, and any other kind of member.
SELECT 'sequence', s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcycle
FROM member m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid;
SELECT 'event trigger', e.evtname, e.evtevent, e.evtfoid::regprocedure, e.evttags, e.evtenabled
FROM member m JOIN pg_event_trigger e ON m.classid = 'pg_event_trigger'::regclass AND e.oid = m.objid
ORDER BY 2;
SELECT 'member', pg_describe_object(m.classid, m.objid, 0)
FROM member m
ORDER BY 2;
