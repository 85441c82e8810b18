//! The errors lead_audit raises from Rust, each turned into an `ErrorReport`
//! with a SQLSTATE a client can match on. (The SQL API in `sql/api.sql` raises
//! its own argument errors with `RAISE ... USING ERRCODE`.)

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub enum AuditError {
    /// A `lead_audit.*` setting holds a value that cannot be recorded, so the
    /// write it belongs to must fail rather than commit unaudited.
    InvalidSetting {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// An audited table lost its primary key after `audit_enable`.
    NoPrimaryKey { table: String },
    /// A lead_audit function was called in a way it does not support.
    WrongCall {
        function: &'static str,
        reason: &'static str,
    },
    /// A function argument that cannot be used.
    InvalidArgument { reason: &'static str },
    /// The extension's own objects are missing or were altered.
    BrokenInstall { reason: String },
}

impl AuditError {
    fn code(&self) -> PgSqlErrorCode {
        match self {
            AuditError::InvalidSetting { .. } => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            AuditError::NoPrimaryKey { .. } => {
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
            }
            AuditError::WrongCall { .. } => {
                PgSqlErrorCode::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED
            }
            AuditError::InvalidArgument { .. } => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            AuditError::BrokenInstall { .. } => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            AuditError::InvalidSetting {
                name,
                value,
                reason,
            } => {
                format!("lead_audit: invalid value for setting \"{name}\": \"{value}\" ({reason})")
            }
            AuditError::NoPrimaryKey { table } => {
                format!("lead_audit: audited table {table} has no primary key")
            }
            AuditError::WrongCall { function, reason } => {
                format!("lead_audit: {function} {reason}")
            }
            AuditError::InvalidArgument { reason } => format!("lead_audit: {reason}"),
            AuditError::BrokenInstall { reason } => format!("lead_audit: {reason}"),
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            AuditError::InvalidSetting { .. } => Some(
                "The change was not made because it could not be audited; fix the setting \
                 (SET LOCAL lead_audit.<name> = ...) and retry.",
            ),
            AuditError::NoPrimaryKey { .. } => {
                Some("Restore the primary key, or stop auditing the table with audit_disable().")
            }
            AuditError::WrongCall { .. } => {
                Some("Use audit_enable() to install lead_audit's triggers.")
            }
            AuditError::InvalidArgument { .. } => None,
            AuditError::BrokenInstall { .. } => Some(
                "Reinstall the extension: DROP EXTENSION lead_audit; CREATE EXTENSION lead_audit.",
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
