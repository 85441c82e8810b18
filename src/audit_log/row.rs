//! The shape of an `audit_log` row: a Rust mirror of `sql/schema.sql`.
//!
//! The writer fills a [`Row`] column by column; the canonical row form walks
//! [`COLUMNS`] in table order; `objects` checks at load time that the table
//! still has exactly these columns.

use std::cell::RefCell;

use pgrx::pg_sys::{self, Datum, Oid};

use crate::pg::spare;

/// How a column of `audit_log` is typed (and rendered in the canonical form).
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum Kind {
    Int8,
    TimestampTz,
    Oid,
    Text,
    Jsonb,
    TextArray,
    Inet,
    Checksum,
}

impl Kind {
    pub fn type_oid(self) -> Oid {
        match self {
            Kind::Int8 => pg_sys::INT8OID,
            Kind::TimestampTz => pg_sys::TIMESTAMPTZOID,
            Kind::Oid => pg_sys::OIDOID,
            Kind::Text => pg_sys::TEXTOID,
            Kind::Jsonb => pg_sys::JSONBOID,
            Kind::TextArray => pg_sys::TEXTARRAYOID,
            Kind::Inet => pg_sys::INETOID,
            Kind::Checksum => pg_sys::BYTEAOID,
        }
    }
}

pub const NCOLS: usize = 21;

/// The columns of `audit_log`, in table order (see sql/schema.sql).
pub const COLUMNS: [(&str, Kind); NCOLS] = [
    ("id", Kind::Int8),
    ("tx_id", Kind::Int8),
    ("logged_at", Kind::TimestampTz),
    ("table_oid", Kind::Oid),
    ("table_name", Kind::Text),
    ("action", Kind::Text),
    ("soft_delete", Kind::Text),
    ("record_pk", Kind::Jsonb),
    ("old_values", Kind::Jsonb),
    ("new_values", Kind::Jsonb),
    ("changed_columns", Kind::TextArray),
    ("actor_id", Kind::Text),
    ("client_ip", Kind::Inet),
    ("user_agent", Kind::Text),
    ("request_id", Kind::Text),
    ("context", Kind::Jsonb),
    ("db_user", Kind::Text),
    ("application_name", Kind::Text),
    ("checksum", Kind::Checksum),
    ("outcome", Kind::Text),
    ("error", Kind::Jsonb),
];

/// Column positions in [`COLUMNS`].
pub mod col {
    pub const ID: usize = 0;
    pub const TX_ID: usize = 1;
    pub const LOGGED_AT: usize = 2;
    pub const TABLE_OID: usize = 3;
    pub const TABLE_NAME: usize = 4;
    pub const ACTION: usize = 5;
    pub const SOFT_DELETE: usize = 6;
    pub const RECORD_PK: usize = 7;
    pub const OLD_VALUES: usize = 8;
    pub const NEW_VALUES: usize = 9;
    pub const CHANGED_COLUMNS: usize = 10;
    pub const ACTOR_ID: usize = 11;
    pub const CLIENT_IP: usize = 12;
    pub const USER_AGENT: usize = 13;
    pub const REQUEST_ID: usize = 14;
    pub const CONTEXT: usize = 15;
    pub const DB_USER: usize = 16;
    pub const APPLICATION_NAME: usize = 17;
    pub const CHECKSUM: usize = 18;
    pub const OUTCOME: usize = 19;
    pub const ERROR: usize = 20;
}

/// One audit row being assembled; every column starts NULL.
pub struct Row {
    pub values: [Datum; NCOLS],
    pub nulls: [bool; NCOLS],
    /// The text (as jsonb prints it) of jsonb columns whose text was made
    /// with their values, by column: the checksum uses it instead of
    /// reading the jsonb's bytes back.
    pub jsonb_texts: JsonbTexts,
}

/// Jsonb texts by column (see [`Row::jsonb_texts`]).
pub type JsonbTexts = Vec<(usize, Vec<u8>)>;

impl Default for Row {
    fn default() -> Self {
        Row {
            values: [Datum::from(0); NCOLS],
            nulls: [true; NCOLS],
            jsonb_texts: spare::take(&SPARE_LISTS).unwrap_or_default(),
        }
    }
}

thread_local! {
    /// Emptied `jsonb_texts` lists of rows written, for the next rows.
    static SPARE_LISTS: RefCell<Vec<JsonbTexts>> = const { RefCell::new(Vec::new()) };
    /// Emptied jsonb texts of rows written (a row has up to three).
    static SPARE_TEXTS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// How many spare lists and texts are kept.
const SPARES_KEPT: usize = 8;

/// An empty buffer with room for `n` bytes, for a jsonb text: one a row
/// written before gave back when there is one.
pub fn text_buffer(n: usize) -> Vec<u8> {
    let mut text = spare::take(&SPARE_TEXTS).unwrap_or_default();
    text.reserve(n);
    text
}

impl Drop for Row {
    /// Gives its texts, emptied, to the rows after it.
    fn drop(&mut self) {
        let mut list = std::mem::take(&mut self.jsonb_texts);
        for (_, mut text) in list.drain(..) {
            text.clear();
            spare::give(&SPARE_TEXTS, text, SPARES_KEPT);
        }
        spare::give(&SPARE_LISTS, list, SPARES_KEPT);
    }
}

impl Row {
    pub fn set(&mut self, column: usize, value: Datum) {
        self.values[column] = value;
        self.nulls[column] = false;
    }

    /// Sets a jsonb column and, when there is one, its text.
    pub fn set_jsonb(&mut self, column: usize, (value, text): (Datum, Option<Vec<u8>>)) {
        self.set(column, value);
        self.jsonb_texts.retain(|(c, _)| *c != column);
        if let Some(text) = text {
            self.jsonb_texts.push((column, text));
        }
    }

    pub fn set_opt(&mut self, column: usize, value: Option<Datum>) {
        if let Some(v) = value {
            self.set(column, v);
        }
    }
}

/// The shapes `audit_log` can have: 0.1.0's, until `ALTER EXTENSION
/// lead_audit UPDATE` adds `outcome` and `error`, and today's.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum Shape {
    /// Up to `checksum`: rows are written without an outcome (form v1) and
    /// failed attempts cannot be recorded.
    V1,
    Current,
}

impl Shape {
    pub fn columns(self) -> usize {
        match self {
            Shape::V1 => col::CHECKSUM + 1,
            Shape::Current => NCOLS,
        }
    }
}

/// Which shape a table's columns, given as (name, type, dropped), have, if
/// any: the writer forms tuples by position, so any other difference (a
/// column added, dropped, renamed or retyped by hand) must stop it.
pub fn shape<'a>(attributes: impl ExactSizeIterator<Item = (&'a str, Oid, bool)>) -> Option<Shape> {
    let shape = [Shape::V1, Shape::Current]
        .into_iter()
        .find(|s| s.columns() == attributes.len())?;
    attributes
        .zip(COLUMNS.iter())
        .all(|((name, typid, dropped), (want, kind))| {
            !dropped && typid == kind.type_oid() && name == *want
        })
        .then_some(shape)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn columns() -> Vec<(&'static str, Oid, bool)> {
        COLUMNS
            .iter()
            .map(|(n, k)| (*n, k.type_oid(), false))
            .collect()
    }

    #[test]
    fn column_positions_agree_with_the_column_list() {
        let at = |name: &str| COLUMNS.iter().position(|(n, _)| *n == name).unwrap();
        assert_eq!(col::ID, at("id"));
        assert_eq!(col::TX_ID, at("tx_id"));
        assert_eq!(col::LOGGED_AT, at("logged_at"));
        assert_eq!(col::RECORD_PK, at("record_pk"));
        assert_eq!(col::CLIENT_IP, at("client_ip"));
        assert_eq!(col::APPLICATION_NAME, at("application_name"));
        assert_eq!(col::CHECKSUM, at("checksum"));
        assert_eq!(col::CHECKSUM, at("checksum"));
        assert_eq!(col::OUTCOME, at("outcome"));
        assert_eq!(col::ERROR, NCOLS - 1);
    }

    #[test]
    fn only_the_exact_columns_match() {
        assert_eq!(shape(columns().into_iter()), Some(Shape::Current));
        let mut renamed = columns();
        renamed[4].0 = "tablename";
        assert_eq!(shape(renamed.into_iter()), None);
        let mut dropped = columns();
        dropped[6].2 = true;
        assert_eq!(shape(dropped.into_iter()), None);
        let mut retyped = columns();
        retyped[1].1 = pg_sys::INT4OID;
        assert_eq!(shape(retyped.into_iter()), None);
        let mut added = columns();
        added.push(("extra", pg_sys::TEXTOID, false));
        assert_eq!(shape(added.into_iter()), None);
    }

    #[test]
    fn the_shape_of_0_1_0_is_known_until_the_update() {
        let mut old = columns();
        old.truncate(col::CHECKSUM + 1);
        assert_eq!(shape(old.clone().into_iter()), Some(Shape::V1));
        old.pop();
        assert_eq!(shape(old.into_iter()), None);
        let mut half = columns();
        half.truncate(col::OUTCOME + 1);
        assert_eq!(shape(half.into_iter()), None);
    }
}
