//! What a failed attempt becomes on its way to the attempts writer: one
//! message per attempt, bounded to a queue slot. Pure: bytes in, bytes out.
//!
//! A message is two JSON texts on two lines: the header (the columns of the
//! audit row) and the `error` object as it will be stored. The error keeps
//! the captured keys as the jsonb text they were, so no number in a key is
//! rounded on the way.

use serde_json::{json, Map, Value};

use super::pending::Attempt;
use crate::actor::Snapshot;

/// The longest statement, error message or detail kept, in bytes.
pub const TEXT_MAX: usize = 2000;
/// A key longer than this is left out of the list (still counted).
pub const KEY_MAX: usize = 300;

/// Why the attempt's (sub)transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// An error the server reported: its SQLSTATE, message and detail.
    Error {
        sqlstate: String,
        message: String,
        detail: Option<String>,
    },
    /// An error caught and handled inside the session (a PL/pgSQL
    /// EXCEPTION block, a driver's savepoint): it was not reported, so its
    /// SQLSTATE is not known here.
    HandledError,
    /// ROLLBACK or ROLLBACK TO SAVEPOINT without an error.
    Rollback,
}

impl Ending {
    fn reason(&self) -> &'static str {
        match self {
            Ending::Error { .. } => "error",
            Ending::HandledError => "error handled in the session",
            Ending::Rollback => "rollback",
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The `error` object of a failed attempt, as JSON text. `xid`: the failed
/// transaction's id (0 when it had none yet); `not_listed`: attempts of the
/// transaction that were only counted.
pub fn error_text(
    a: &Attempt,
    ending: &Ending,
    xid: u64,
    not_listed: u64,
    with_keys: bool,
) -> String {
    let mut e = Map::new();
    e.insert("reason".into(), ending.reason().into());
    if let Ending::Error {
        sqlstate,
        message,
        detail,
    } = ending
    {
        e.insert("sqlstate".into(), sqlstate.as_str().into());
        e.insert("message".into(), cut(message, TEXT_MAX).into());
        if let Some(d) = detail {
            e.insert("detail".into(), cut(d, TEXT_MAX).into());
        }
    }
    if let Some(s) = &a.statement {
        e.insert("statement".into(), cut(s, TEXT_MAX).into());
    }
    if a.statements > 1 {
        e.insert("statements".into(), a.statements.into());
    }
    if xid != 0 {
        e.insert("xid".into(), xid.into());
    }
    e.insert("row_count".into(), a.rows.into());
    if not_listed > 0 {
        e.insert("attempts_not_listed".into(), not_listed.into());
    }
    let mut text = Value::Object(e).to_string();
    // The keys go in as the jsonb text they are (valid JSON by construction).
    let keys: Vec<&str> = a
        .keys
        .iter()
        .filter(|k| k.len() <= KEY_MAX)
        .map(String::as_str)
        .collect();
    if with_keys {
        text.pop(); // the closing brace
        text.push_str(",\"rows\":[");
        text.push_str(&keys.join(","));
        text.push_str("]}");
    }
    text
}

/// The audit row's own columns, as the header of a message.
fn header(a: &Attempt, actor: &Snapshot) -> Value {
    json!({
        "table_oid": a.relid,
        "table_name": a.table,
        "action": a.action,
        "logged_at": a.at,
        "actor_id": actor.actor_id,
        "client_ip": actor.client_ip,
        "user_agent": actor.user_agent,
        "request_id": actor.request_id,
        "context": actor.context,
        "db_user": actor.db_user,
        "application_name": actor.application_name,
    })
}

/// The message for one failed attempt, at most `cap` bytes (at least
/// [`MIN_CAP`]): when it does not fit, the statement, then the keys, then the
/// context are left out (and the error says so); as a last resort only the
/// table, action, time, user and the error's code are kept.
pub fn encode(a: &Attempt, ending: &Ending, xid: u64, not_listed: u64, cap: usize) -> Vec<u8> {
    let mut a = a.clone();
    let mut with_keys = true;
    for step in 0..4 {
        match step {
            1 => a.statement = Some(LEFT_OUT.into()),
            2 => with_keys = false,
            3 => a.actor.context = None,
            _ => {}
        }
        let out = message(&a, ending, xid, not_listed, with_keys);
        if out.len() <= cap {
            return out;
        }
    }
    let actor = Snapshot {
        db_user: cut(&a.actor.db_user, 100),
        ..Snapshot::default()
    };
    let minimal = Attempt {
        table: cut(&a.table, 100),
        statement: Some(LEFT_OUT.into()),
        actor,
        keys: Vec::new(),
        ..a
    };
    let ending = match ending {
        Ending::Error { sqlstate, .. } => Ending::Error {
            sqlstate: cut(sqlstate, 5),
            message: LEFT_OUT.into(),
            detail: None,
        },
        other => other.clone(),
    };
    message(&minimal, &ending, xid, not_listed, false)
}

/// The smallest slot a message always fits in.
pub const MIN_CAP: usize = 1000;
const LEFT_OUT: &str = "(left out: the record was too long)";

fn message(a: &Attempt, ending: &Ending, xid: u64, not_listed: u64, with_keys: bool) -> Vec<u8> {
    let mut out = header(a, &a.actor).to_string().into_bytes();
    out.push(b'\n');
    out.extend_from_slice(error_text(a, ending, xid, not_listed, with_keys).as_bytes());
    out
}

/// A message split into its header and its error text; None when it is not
/// one of ours (never expected: the queue holds only what `encode` wrote).
pub fn decode(bytes: &[u8]) -> Option<(Value, &str)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (header, error) = text.split_once('\n')?;
    let header: Value = serde_json::from_str(header).ok()?;
    header.is_object().then_some((header, error))
}

/// The error text with a count of attempts the queue dropped before it.
pub fn with_dropped(error: &str, dropped: u64) -> String {
    if dropped == 0 {
        return error.to_string();
    }
    format!("{{\"dropped_before\":{dropped},{}", &error[1..])
}

#[cfg(test)]
mod unit {
    use super::*;

    fn attempt() -> Attempt {
        Attempt {
            subxact: 1,
            relid: 16384,
            table: "public.leads".into(),
            action: "INSERT",
            statement: Some("INSERT INTO leads VALUES (1)".into()),
            at: 42,
            actor: Snapshot {
                actor_id: Some("u-1".into()),
                db_user: "app".into(),
                ..Snapshot::default()
            },
            keys: vec!["{\"id\": 12345678901234567890123}".into()],
            rows: 3,
            statements: 1,
        }
    }

    fn error() -> Ending {
        Ending::Error {
            sqlstate: "23505".into(),
            message: "duplicate key".into(),
            detail: Some("Key (id)=(1) exists.".into()),
        }
    }

    #[test]
    fn a_message_round_trips_and_keeps_keys_exact() {
        let m = encode(&attempt(), &error(), 77, 0, 4000);
        let (h, e) = decode(&m).unwrap();
        assert_eq!(h["table_name"], "public.leads");
        assert_eq!(h["actor_id"], "u-1");
        assert_eq!(h["client_ip"], Value::Null);
        assert_eq!(h["logged_at"], 42);
        assert!(
            e.contains("\"rows\":[{\"id\": 12345678901234567890123}]"),
            "{e}"
        );
        let v: Value = serde_json::from_str(e).unwrap();
        assert_eq!(v["sqlstate"], "23505");
        assert_eq!(v["xid"], 77);
        assert_eq!(v["row_count"], 3);
        assert_eq!(v["reason"], "error");
    }

    #[test]
    fn an_unknown_error_and_a_rollback_say_so() {
        let e = error_text(&attempt(), &Ending::HandledError, 0, 2, true);
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["reason"], "error handled in the session");
        assert_eq!(v.get("sqlstate"), None);
        assert_eq!(v.get("xid"), None);
        assert_eq!(v["attempts_not_listed"], 2);
        let r = error_text(&attempt(), &Ending::Rollback, 5, 0, true);
        assert!(r.contains("\"reason\":\"rollback\""));
    }

    #[test]
    fn long_messages_shed_the_statement_then_keys_then_context_and_fit() {
        let mut a = attempt();
        a.statement = Some("x".repeat(10_000));
        a.keys = vec!["{\"id\": 1}".into(); 10];
        a.actor.context = Some(format!("{{\"k\": \"{}\"}}", "c".repeat(3000)));
        a.actor.user_agent = Some("u".repeat(5000));
        for cap in [4000, 1500, MIN_CAP] {
            let m = encode(&a, &error(), 1, 0, cap);
            assert!(m.len() <= cap);
            let (h, e) = decode(&m).expect("still a whole message");
            serde_json::from_str::<Value>(e).expect("the error is still JSON");
            assert_eq!(h["table_name"], "public.leads");
        }
        let minimal = encode(&a, &error(), 1, 0, MIN_CAP);
        let (_, e) = decode(&minimal).unwrap();
        assert!(e.contains("left out"));
        assert!(e.contains("23505"));
    }

    #[test]
    fn cutting_respects_characters() {
        assert_eq!(cut("héllo", 2), "h...");
        assert_eq!(cut("abc", 3), "abc");
    }

    #[test]
    fn dropped_counts_go_first() {
        assert_eq!(with_dropped("{\"a\":1}", 0), "{\"a\":1}");
        assert_eq!(
            with_dropped("{\"a\":1}", 3),
            "{\"dropped_before\":3,\"a\":1}"
        );
    }
}
