-- An AFTER row trigger that does nothing: what PostgreSQL's own after-trigger
-- queue costs (the memory baseline for lead_audit's row trigger).
CREATE OR REPLACE FUNCTION noop_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER noop AFTER INSERT OR UPDATE OR DELETE ON leads FOR EACH ROW EXECUTE FUNCTION noop_row();
