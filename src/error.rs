//! Every error lead_audit raises from Rust, each turned into an `ErrorReport`
//! with a SQLSTATE a client can match on. No code path of ours raises XX000
//! (internal_error): a failure is either the caller's (22023, 39P01, 25000),
//! the table's (55000), the installation's (55000), a captured value's
//! (54000, 0A000), the ledger's data (XX001), a missing argument or row
//! (22004, P0002), a privilege (42501) or the signing key's file (F0000). The SQL API in `sql/api/`
//! raises its own argument errors with `RAISE ... USING ERRCODE`.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(Debug)]
pub enum AuditError {
    /// A `lead_audit.*` setting holds a value that cannot be recorded, so the
    /// write it belongs to must fail rather than commit unaudited.
    InvalidSetting {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// A statement's `/* lead_audit {...} */` comment cannot be recorded
    /// (read when `lead_audit.comment_context` is on).
    InvalidComment { reason: String },
    /// A trigger function was called as something it is not.
    WrongCall {
        function: &'static str,
        reason: &'static str,
    },
    /// A function argument that cannot be used.
    InvalidArgument { reason: String },
    /// A function that needs a fresh snapshot per statement ran in a
    /// REPEATABLE READ or SERIALIZABLE transaction.
    WrongIsolation { function: &'static str },
    /// The extension's own objects are missing or were altered.
    BrokenInstall { reason: String },
    /// A table redacts columns but the database has no redaction secret
    /// (`audit_secret` emptied by hand).
    NoSecret,
    /// A captured row whose jsonb would exceed jsonb's limits.
    ValueTooLarge { reason: String },
    /// A captured value that lead_audit cannot write as jsonb.
    UnsupportedValue { reason: String },
    /// Ledger data that cannot be sealed as it is (a superuser edited
    /// audit_log or audit_block); verify_audit() reports where.
    CorruptLedger { reason: String },
    /// A required argument was NULL.
    NullArgument { what: String },
    /// What an argument names does not exist (an audit row id).
    NotFound { reason: String },
    /// What was asked for does not exist yet, or needs a setting first (a
    /// checkpoint before the first seal, a proof for a row not sealed yet).
    NotReady { reason: String, hint: &'static str },
    /// `lead_audit.signing_key_file` cannot be read, or holds no key.
    SigningKey { reason: String },
    /// The caller may not read what was asked for.
    NoPrivilege { reason: String },
}

impl AuditError {
    /// The mapping of an SPI failure while reading or writing the extension's
    /// own tables (`.map_err(AuditError::spi("could not read ..."))`): the
    /// query is ours and fixed, so only an altered installation gets here.
    pub fn spi(what: &'static str) -> impl Fn(pgrx::spi::SpiError) -> AuditError + Copy {
        move |error| AuditError::BrokenInstall {
            reason: format!("{what}: {error}"),
        }
    }

    pub fn code(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            AuditError::InvalidSetting { .. }
            | AuditError::InvalidArgument { .. }
            | AuditError::InvalidComment { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
            AuditError::BrokenInstall { .. } | AuditError::NoSecret => {
                ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
            }
            AuditError::WrongCall { .. } => ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
            AuditError::WrongIsolation { .. } => ERRCODE_INVALID_TRANSACTION_STATE,
            AuditError::CorruptLedger { .. } => ERRCODE_DATA_CORRUPTED,
            AuditError::ValueTooLarge { .. } => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            AuditError::UnsupportedValue { .. } => ERRCODE_FEATURE_NOT_SUPPORTED,
            AuditError::NullArgument { .. } => ERRCODE_NULL_VALUE_NOT_ALLOWED,
            AuditError::NotFound { .. } => ERRCODE_NO_DATA_FOUND,
            AuditError::NotReady { .. } => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            AuditError::SigningKey { .. } => ERRCODE_CONFIG_FILE_ERROR,
            AuditError::NoPrivilege { .. } => ERRCODE_INSUFFICIENT_PRIVILEGE,
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuditError::InvalidSetting {
                name,
                value,
                reason,
            } if name.starts_with("lead_audit.") => {
                format!("lead_audit: invalid value for setting \"{name}\": \"{value}\" ({reason})")
            }
            // A value of a statement's comment (named "actor_id of the ...").
            AuditError::InvalidSetting {
                name,
                value,
                reason,
            } => format!("lead_audit: invalid {name}: \"{value}\" ({reason})"),
            AuditError::InvalidComment { reason } => {
                format!("lead_audit: invalid lead_audit comment: {reason}")
            }
            AuditError::WrongCall { function, reason } => {
                format!("lead_audit: {function} {reason}")
            }
            AuditError::WrongIsolation { function } => {
                format!("lead_audit: {function} must run in a READ COMMITTED transaction")
            }
            AuditError::NoSecret => {
                "lead_audit: this database has no redaction secret (audit_secret is empty)".into()
            }
            AuditError::InvalidArgument { reason }
            | AuditError::BrokenInstall { reason }
            | AuditError::CorruptLedger { reason }
            | AuditError::ValueTooLarge { reason }
            | AuditError::UnsupportedValue { reason }
            | AuditError::NotFound { reason }
            | AuditError::NotReady { reason, .. }
            | AuditError::SigningKey { reason }
            | AuditError::NoPrivilege { reason } => format!("lead_audit: {reason}"),
            AuditError::NullArgument { what } => format!("lead_audit: {what}, got NULL"),
        }
    }

    pub fn hint(&self) -> Option<&'static str> {
        match self {
            AuditError::InvalidSetting { name, .. } if !name.starts_with("lead_audit.") => Some(
                "The change was not made because it could not be audited; fix the statement's \
                 /* lead_audit {...} */ comment and retry.",
            ),
            AuditError::InvalidSetting { .. } => Some(
                "The change was not made because it could not be audited; fix the setting \
                 (SET LOCAL lead_audit.<name> = ...) and retry.",
            ),
            AuditError::InvalidComment { .. } => Some(
                "The change was not made because it could not be audited; the comment is \
                 /* lead_audit {\"actor_id\": \"...\", \"request_id\": \"...\"} */ before the statement.",
            ),
            AuditError::WrongCall { .. } => {
                Some("Use audit_enable() to install lead_audit's triggers.")
            }
            AuditError::WrongIsolation { .. } => {
                Some("Sealing must see blocks other sealers committed: run it on its own, in READ COMMITTED.")
            }
            AuditError::InvalidArgument { .. }
            | AuditError::ValueTooLarge { .. }
            | AuditError::UnsupportedValue { .. }
            | AuditError::NullArgument { .. }
            | AuditError::NotFound { .. } => None,
            AuditError::NoPrivilege { .. } => {
                Some("A receipt holds the row's values: it needs SELECT on audit_log, as reading the log does.")
            }
            AuditError::NotReady { hint, .. } => Some(hint),
            AuditError::SigningKey { .. } => Some(
                "lead_audit.signing_key_file names a file, readable by the server only, that holds \
                 one Ed25519 key in the Go note form PRIVATE+KEY+<name>+<key id>+<key> \
                 (lead-audit keygen writes one); reload after changing it.",
            ),
            AuditError::NoSecret => Some(
                "Call audit_enable() again with the redact option: it makes a new secret \
                 (values redacted with the old one will no longer compare equal to new ones).",
            ),
            AuditError::BrokenInstall { .. } => Some(
                "Reinstall the extension: DROP EXTENSION lead_audit; CREATE EXTENSION lead_audit.",
            ),
            AuditError::CorruptLedger { .. } => Some(
                "Someone edited the ledger's tables; SELECT * FROM verify_audit() shows what changed.",
            ),
        }
    }

    /// Raise the error: aborts the current statement (and with it the change).
    pub fn report(self) -> ! {
        let mut report = ErrorReport::new(self.code(), self.message(), "lead_audit");
        if let Some(hint) = self.hint() {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

/// `Result<T, AuditError>` to `T`, raising the error.
pub trait OrReport<T> {
    fn or_report(self) -> T;
}

impl<T> OrReport<T> for Result<T, AuditError> {
    fn or_report(self) -> T {
        self.unwrap_or_else(|e| e.report())
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn no_error_of_ours_is_an_internal_error() {
        let all = [
            AuditError::InvalidSetting {
                name: "lead_audit.context",
                value: "x".into(),
                reason: "r".into(),
            },
            AuditError::WrongCall {
                function: "f()",
                reason: "r",
            },
            AuditError::InvalidArgument { reason: "r".into() },
            AuditError::WrongIsolation { function: "f()" },
            AuditError::BrokenInstall { reason: "r".into() },
            AuditError::CorruptLedger { reason: "r".into() },
            AuditError::NullArgument { what: "w".into() },
            AuditError::NotFound { reason: "r".into() },
            AuditError::NotReady {
                reason: "r".into(),
                hint: "h",
            },
            AuditError::SigningKey { reason: "r".into() },
            AuditError::NoPrivilege { reason: "r".into() },
        ];
        for e in all {
            assert_ne!(e.code(), PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, "{e:?}");
            assert!(e.message().starts_with("lead_audit: "), "{e:?}");
        }
    }
}
