-- lead_audit's SQL API: the trigger functions written in Rust: capture and stamp.
-- Loaded after the Rust functions and the SQL files it uses (src/lib.rs).

-- The capture triggers (src/capture/mod.rs: written by hand, so that a call
-- that does not come from the trigger manager gets 39P01).
CREATE FUNCTION audit_capture_row() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'audit_capture_row_wrapper';
CREATE FUNCTION audit_capture_truncate() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'audit_capture_truncate_wrapper';
-- The stamp option's BEFORE row trigger (src/capture/stamp_columns.rs).
CREATE FUNCTION audit_stamp_row() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'audit_stamp_row_wrapper';
