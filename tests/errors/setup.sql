-- Tables, functions, procedures and triggers the error corpus runs against.
-- Run on every server compared; errors.sql is the corpus itself.
CREATE SCHEMA crm;
CREATE TABLE crm.accounts (
    id int PRIMARY KEY,
    name text NOT NULL UNIQUE,
    credit numeric CHECK (credit >= 0),
    region text
);
CREATE TABLE crm.leads (
    id int PRIMARY KEY,
    account_id int REFERENCES crm.accounts (id),
    email text UNIQUE,
    score int CONSTRAINT score_range CHECK (score BETWEEN 0 AND 100),
    stage text NOT NULL DEFAULT 'new'
);
CREATE TABLE crm.deferred (
    id int PRIMARY KEY,
    account_id int REFERENCES crm.accounts (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE crm.bookings (
    id int PRIMARY KEY,
    room int,
    during int4range,
    EXCLUDE USING gist (during WITH &&)
);
CREATE TABLE crm.events (
    id int,
    at date NOT NULL,
    what text,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE crm.events_2026 PARTITION OF crm.events
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE DOMAIN crm.positive AS int CHECK (VALUE > 0);
CREATE TABLE crm.quantities (id int PRIMARY KEY, q crm.positive);
CREATE VIEW crm.lead_emails AS SELECT id, email FROM crm.leads WHERE score > 10 WITH CHECK OPTION;
CREATE TABLE crm.col_order (a int PRIMARY KEY, b int, c int);

INSERT INTO crm.accounts VALUES (1, 'Acme', 10, 'eu'), (2, 'Globex', 0, 'us');
INSERT INTO crm.leads VALUES (1, 1, 'a@example.com', 50, 'new'), (2, 2, 'b@example.com', 60, 'won');
INSERT INTO crm.bookings VALUES (1, 101, '[1,5)');
INSERT INTO crm.events VALUES (1, '2026-03-01', 'call');
INSERT INTO crm.quantities VALUES (1, 5);

CREATE FUNCTION crm.add_lead(i int, e text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crm.leads (id, account_id, email, score) VALUES (i, 1, e, 10);
END $$;
CREATE FUNCTION crm.sql_add_lead(i int, e text) RETURNS void LANGUAGE sql AS
    $$ INSERT INTO crm.leads (id, account_id, email, score) VALUES (i, 1, e, 10) $$;
CREATE PROCEDURE crm.move_lead(i int, a int) LANGUAGE plpgsql AS $$
BEGIN
    UPDATE crm.leads SET account_id = a WHERE id = i;
    COMMIT;
END $$;
CREATE FUNCTION crm.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stage = 'refused' THEN
        RAISE EXCEPTION 'stage % refused', NEW.stage
            USING DETAIL = 'lead ' || NEW.id, HINT = 'pick another stage',
                  ERRCODE = 'check_violation', COLUMN = 'stage', CONSTRAINT = 'stage_rule',
                  TABLE = 'leads', SCHEMA = 'crm';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON crm.leads FOR EACH ROW EXECUTE FUNCTION crm.refuse();
CREATE FUNCTION crm.after_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.region = 'mars' THEN
        RAISE EXCEPTION 'no accounts on mars' USING ERRCODE = '22023', DATATYPE = 'text';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER after_check AFTER INSERT OR UPDATE ON crm.accounts FOR EACH ROW EXECUTE FUNCTION crm.after_check();
DO $$ BEGIN CREATE ROLE corpus_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA crm TO corpus_reader;
GRANT SELECT ON crm.leads TO corpus_reader;
