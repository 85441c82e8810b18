-- The third server: lead_audit installed and every table with a primary key audited.
CREATE EXTENSION lead_audit;
SELECT count(audit_enable(c.oid::regclass))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'crm' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary);
