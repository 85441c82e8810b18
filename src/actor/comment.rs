//! The actor context of one statement, from a leading comment:
//! `/* lead_audit {"actor_id": "42", "request_id": "r-1"} */ UPDATE ...`.
//!
//! For clients that cannot `SET LOCAL` before their statement: autocommit
//! drivers, and statement-pooling proxies that may run each statement of a
//! transaction on another connection. Read only when
//! `lead_audit.comment_context` is on (the comment is then part of what the
//! client says about itself, exactly like the settings). Pure text in, text
//! out: the values are then checked like the settings' values.

/// The keys a comment may carry, in the order of [`Values`].
pub const KEYS: [&str; 5] = [
    "actor_id",
    "client_ip",
    "user_agent",
    "request_id",
    "context",
];

/// Texts for actor_id, client_ip, user_agent, request_id and context (a
/// JSON object as text); None where the comment says nothing.
pub type Values = [Option<String>; 5];

/// The JSON text of the statement's leading `lead_audit` comment: after any
/// whitespace, a `/*` block comment whose text starts with the word
/// `lead_audit`. None when the statement has no such comment (any other
/// comment, or none, is not ours).
pub fn leading_comment(query: &str) -> Option<&str> {
    let rest = query.trim_start().strip_prefix("/*")?;
    let end = rest.find("*/")?;
    let body = rest[..end].trim_start().strip_prefix("lead_audit")?;
    // The word alone: `lead_auditx` is not ours.
    if !body.starts_with(char::is_whitespace) && !body.starts_with('{') {
        return None;
    }
    Some(body.trim())
}

/// The values of a comment's JSON: an object of [`KEYS`], each a string (a
/// number is taken as its text; null as absent), `context` an object.
pub fn parse(json: &str) -> Result<Values, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not valid JSON ({e})"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    let mut values: Values = Default::default();
    for (key, v) in map {
        let Some(i) = KEYS.iter().position(|k| *k == key) else {
            return Err(format!(
                "unknown key \"{key}\" (known: {})",
                KEYS.join(", ")
            ));
        };
        values[i] = match (KEYS[i], v) {
            (_, serde_json::Value::Null) => None,
            ("context", o @ serde_json::Value::Object(_)) => Some(o.to_string()),
            ("context", _) => return Err("\"context\" must be a JSON object".into()),
            (_, serde_json::Value::String(s)) => Some(s),
            (_, n @ serde_json::Value::Number(_)) => Some(n.to_string()),
            (k, _) => return Err(format!("\"{k}\" must be a string")),
        };
    }
    Ok(values)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn finds_only_a_leading_lead_audit_comment() {
        assert_eq!(
            leading_comment("/* lead_audit {\"actor_id\": \"42\"} */ UPDATE t SET a = 1"),
            Some("{\"actor_id\": \"42\"}")
        );
        assert_eq!(
            leading_comment("  \n/*lead_audit{\"a\":1}*/UPDATE t"),
            Some("{\"a\":1}")
        );
        assert_eq!(leading_comment("UPDATE t /* lead_audit {} */"), None);
        assert_eq!(leading_comment("/* a note */ UPDATE t"), None);
        assert_eq!(leading_comment("/* lead_auditx {} */ UPDATE t"), None);
        assert_eq!(leading_comment("-- lead_audit {}\nUPDATE t"), None);
        assert_eq!(leading_comment("/* lead_audit {} UPDATE t"), None);
        assert_eq!(leading_comment(""), None);
    }

    #[test]
    fn parses_known_keys() {
        let v = parse(
            r#"{"actor_id": "42", "request_id": 7, "context": {"route": "x"}, "client_ip": null}"#,
        )
        .unwrap();
        assert_eq!(v[0].as_deref(), Some("42"));
        assert_eq!(v[1], None);
        assert_eq!(v[2], None);
        assert_eq!(v[3].as_deref(), Some("7"));
        assert_eq!(v[4].as_deref(), Some(r#"{"route":"x"}"#));
    }

    #[test]
    fn refuses_what_cannot_be_recorded() {
        assert!(parse("{").unwrap_err().starts_with("not valid JSON"));
        assert_eq!(parse("[1]").unwrap_err(), "not a JSON object");
        assert!(parse(r#"{"actor": "42"}"#)
            .unwrap_err()
            .starts_with("unknown key \"actor\""));
        assert_eq!(
            parse(r#"{"context": "x"}"#).unwrap_err(),
            "\"context\" must be a JSON object"
        );
        assert_eq!(
            parse(r#"{"actor_id": true}"#).unwrap_err(),
            "\"actor_id\" must be a string"
        );
    }
}
