//! The log's checkpoints in the database: signed after every seal with the
//! key in `lead_audit.signing_key_file`, or signed outside the database and
//! stored with `audit_add_checkpoint()`; witnesses' cosignatures stored with
//! `audit_add_cosignatures()`; the newest handed out by `audit_checkpoint()`.
//!
//! The private key is read from its file by the process that seals, each
//! time it signs, and never stored or returned: no SQL function reads it.

use std::ffi::CString;

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::note::{self, Checkpoint, PrivateKey, SignedCheckpoint};
use crate::audit_log::objects::{self, Objects};
use crate::error::{AuditError, OrReport};
use crate::tree;

static SIGNING_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static LOG_ORIGIN: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static VERIFIER_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub fn register_settings() {
    GucRegistry::define_string_guc(
        c"lead_audit.signing_key_file",
        c"The file with the Ed25519 key that signs the log's checkpoints.",
        c"One key in Go's note form (PRIVATE+KEY+name+id+key), readable by the server's operating-system user only. Unset: checkpoints are signed outside the database (audit_add_checkpoint).",
        &SIGNING_KEY_FILE,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_string_guc(
        c"lead_audit.log_origin",
        c"The origin line of the log's checkpoints: the log's name.",
        c"Unset: the signing key's name, a slash and the database's name.",
        &LOG_ORIGIN,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"lead_audit.verifier_key",
        c"The log's verifier key, when checkpoints are signed outside the database.",
        c"A note verifier key (name+id+key). With lead_audit.signing_key_file set, the key file's is used instead.",
        &VERIFIER_KEY,
        GucContext::Suset,
        GucFlags::default(),
    );
}

fn setting(s: &GucSetting<Option<CString>>) -> Option<String> {
    s.get()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.trim().is_empty())
}

/// The signing key, when `lead_audit.signing_key_file` names one.
fn signing_key() -> Result<Option<PrivateKey>, AuditError> {
    let Some(path) = setting(&SIGNING_KEY_FILE) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| AuditError::SigningKey {
        reason: format!("cannot read lead_audit.signing_key_file \"{path}\": {e}"),
    })?;
    PrivateKey::parse(&text)
        .map(Some)
        .map_err(|reason| AuditError::SigningKey {
            reason: format!("lead_audit.signing_key_file \"{path}\" holds no key: {reason}"),
        })
}

/// The log's verifier key: the signing key's, else `lead_audit.verifier_key`.
pub fn verifier_key() -> Result<Option<String>, AuditError> {
    if let Some(key) = signing_key()? {
        return Ok(Some(key.verifier_key().to_string()));
    }
    let Some(vkey) = setting(&VERIFIER_KEY) else {
        return Ok(None);
    };
    note::verifier_key_name(&vkey).map_err(|reason| AuditError::SigningKey {
        reason: format!("lead_audit.verifier_key: {reason}"),
    })?;
    Ok(Some(vkey))
}

fn no_key() -> AuditError {
    AuditError::NotReady {
        reason: "the log has no key: neither lead_audit.signing_key_file nor lead_audit.verifier_key is set".into(),
        hint: "Set lead_audit.signing_key_file (postgresql.conf, then reload) to sign in the database, or lead_audit.verifier_key to sign outside it with the Python package.",
    }
}

/// The log's origin: `lead_audit.log_origin`, else the key's name and the database's.
fn origin(key_name: &str) -> String {
    setting(&LOG_ORIGIN).unwrap_or_else(|| {
        // SAFETY: the current database's name, palloc'd.
        let db = unsafe {
            let name = pg_sys::get_database_name(pg_sys::MyDatabaseId);
            if name.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(name)
                    .to_string_lossy()
                    .into_owned()
            }
        };
        format!("{key_name}/{db}")
    })
}

/// The key's name from a verifier key or the signing key.
fn key_name(vkey: &str) -> String {
    vkey.split('+').next().unwrap_or_default().to_string()
}

/// After a seal (the caller holds the sealers' lock): signs the tree's newest
/// head when a signing key is configured and it is not signed yet.
pub fn after_seal(client: &mut SpiClient<'_>, objs: &Objects) -> Result<(), AuditError> {
    if !objs.has_tree() {
        return Ok(());
    }
    let Some(key) = signing_key()? else {
        return Ok(());
    };
    let (_, size) = tree::store::head(client, objs)?;
    if size == 0 || newest(client, objs)?.is_some_and(|(s, _)| s == size) {
        return Ok(());
    }
    let checkpoint = Checkpoint {
        origin: origin(key.name()),
        size,
        root: tree::store::root_at(client, objs, size).0,
    };
    insert(client, objs, size, &key.sign(&checkpoint))
}

fn insert(
    client: &mut SpiClient<'_>,
    objs: &Objects,
    size: u64,
    note: &str,
) -> Result<(), AuditError> {
    client
        .update(
            &objs.sql(include_str!("../../sql/queries/checkpoint_insert.sql")),
            None,
            &[(size as i64).into(), note.into()],
        )
        .map_err(AuditError::spi("could not write audit_checkpoint"))?;
    Ok(())
}

/// The newest stored checkpoint: (tree size, signed note with the cosignatures).
pub fn newest(client: &SpiClient<'_>, objs: &Objects) -> Result<Option<(u64, String)>, AuditError> {
    let read = AuditError::spi("could not read audit_checkpoint");
    let rows = client
        .select(
            &objs.sql(include_str!("../../sql/queries/checkpoint_newest.sql")),
            None,
            &[],
        )
        .map_err(read)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = rows.first();
    let size = row.get::<i64>(1).map_err(read)?;
    let note = row.get::<String>(2).map_err(read)?;
    match (size, note) {
        (Some(size), Some(note)) if size > 0 => Ok(Some((size as u64, note))),
        _ => Err(AuditError::CorruptLedger {
            reason: "audit_checkpoint's newest row has a NULL or non-positive size".into(),
        }),
    }
}

/// `audit_checkpoint()`: the newest signed checkpoint, with the witnesses'
/// cosignatures collected for it, as one signed note.
#[pg_extern(stable, parallel_safe)]
fn audit_checkpoint() -> String {
    let objs = objects::objects();
    Spi::connect(|client| newest(client, &objs))
        .or_report()
        .map(|(_, note)| note)
        .unwrap_or_else(|| {
            AuditError::NotReady {
                reason: "the log has no signed checkpoint yet".into(),
                hint: "Checkpoints are signed by audit_seal() when lead_audit.signing_key_file is set, or stored with audit_add_checkpoint() when they are signed outside the database.",
            }
            .report()
        })
}

/// `audit_verifier_key()`: the log's public key, in the note verifier key
/// form, for auditors and witnesses.
#[pg_extern(stable, parallel_safe)]
fn audit_verifier_key() -> String {
    verifier_key()
        .or_report()
        .unwrap_or_else(|| no_key().report())
}

/// `audit_tree_head()`: the newest tree head as an unsigned checkpoint, for
/// a signer outside the database (NULL before the first seal).
#[pg_extern(stable, parallel_safe)]
fn audit_tree_head() -> Option<String> {
    let objs = objects::objects();
    let vkey = verifier_key()
        .or_report()
        .unwrap_or_else(|| no_key().report());
    Spi::connect(|client| {
        let (_, size) = tree::store::head(client, &objs)?;
        if size == 0 {
            return Ok(None);
        }
        Ok(Some(
            Checkpoint {
                origin: origin(&key_name(&vkey)),
                size,
                root: tree::store::root_at(client, &objs, size).0,
            }
            .body(),
        ))
    })
    .or_report()
}

fn invalid(reason: String) -> AuditError {
    AuditError::InvalidArgument { reason }
}

/// `audit_add_checkpoint(note)`: stores a checkpoint signed outside the
/// database. It must be signed by the log's key, name this log's origin,
/// and have the root the tree has at its size. Returns its size.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn audit_add_checkpoint(note: Option<&str>) -> i64 {
    let note = note.unwrap_or_else(|| {
        AuditError::NullArgument {
            what: "audit_add_checkpoint() needs a signed checkpoint".into(),
        }
        .report()
    });
    let objs = objects::objects();
    let vkey = verifier_key()
        .or_report()
        .unwrap_or_else(|| no_key().report());
    let signed = SignedCheckpoint::parse(note).map_err(invalid).or_report();
    let c = &signed.checkpoint;
    if !signed.signed_by(&vkey).map_err(invalid).or_report() {
        invalid("the checkpoint is not signed by the log's key (audit_verifier_key())".into())
            .report()
    }
    if c.origin != origin(&key_name(&vkey)) {
        invalid(format!(
            "the checkpoint's origin {:?} is not this log's ({:?})",
            c.origin,
            origin(&key_name(&vkey))
        ))
        .report()
    }
    Spi::connect_mut(|client| {
        let (_, size) = tree::store::head(client, &objs)?;
        if c.size == 0 || c.size > size {
            return Err(invalid(format!(
                "the checkpoint's size {} is not a size of this log's tree (1 to {size})",
                c.size
            )));
        }
        if tree::store::root_at(client, &objs, c.size).0 != c.root {
            return Err(invalid(format!(
                "the checkpoint's root is not the tree's root at size {}",
                c.size
            )));
        }
        // Only the log's own signature is kept here; cosignatures go to audit_cosignature.
        let own = signed.text.clone() + "\n" + &own_signature_lines(note, &key_name(&vkey));
        if stored_at(client, &objs, c.size)?.is_none() {
            insert(client, &objs, c.size, &own)?;
        }
        Ok(c.size as i64)
    })
    .or_report()
}

/// The signature lines of `key` in a signed note's text.
fn own_signature_lines(note: &str, key: &str) -> String {
    let prefix = format!("— {key} ");
    note.rsplit_once("\n\n")
        .map(|(_, sigs)| {
            sigs.lines()
                .filter(|l| l.starts_with(&prefix))
                .map(|l| format!("{l}\n"))
                .collect()
        })
        .unwrap_or_default()
}

/// The stored checkpoint of `size`, if any.
fn stored_at(
    client: &SpiClient<'_>,
    objs: &Objects,
    size: u64,
) -> Result<Option<String>, AuditError> {
    let read = AuditError::spi("could not read audit_checkpoint");
    let rows = client
        .select(
            &objs.sql(include_str!("../../sql/queries/checkpoint_at.sql")),
            None,
            &[(size as i64).into()],
        )
        .map_err(read)?;
    if rows.is_empty() {
        return Ok(None);
    }
    rows.first().get::<String>(1).map_err(read)
}

/// `audit_add_cosignatures(cosigned)`: stores the witnesses' cosignatures
/// of a stored checkpoint, given as that checkpoint with their signature
/// lines added (what a witness's response appended to it gives). Which
/// witnesses count is the verifier's policy: here each line need only be a
/// well-formed cosignature/v1 on a checkpoint of this log. Returns how many
/// were new.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn audit_add_cosignatures(cosigned: Option<&str>) -> i64 {
    let cosigned = cosigned.unwrap_or_else(|| {
        AuditError::NullArgument {
            what: "audit_add_cosignatures() needs a cosigned checkpoint".into(),
        }
        .report()
    });
    let objs = objects::objects();
    let signed = SignedCheckpoint::parse(cosigned)
        .map_err(invalid)
        .or_report();
    Spi::connect_mut(|client| {
        let Some(stored) = stored_at(client, &objs, signed.checkpoint.size)? else {
            return Err(invalid(format!(
                "this log has no checkpoint of size {}",
                signed.checkpoint.size
            )));
        };
        let stored =
            SignedCheckpoint::parse(&stored).map_err(|reason| AuditError::CorruptLedger {
                reason: format!(
                    "the stored checkpoint of size {} is not a signed note: {reason}",
                    signed.checkpoint.size
                ),
            })?;
        if stored.text != signed.text {
            return Err(invalid(format!(
                "the checkpoint is not the one this log signed at size {}",
                signed.checkpoint.size
            )));
        }
        let log_key = stored.first_signer().unwrap_or_default();
        let lines = signed.cosignatures(&log_key).map_err(invalid)?;
        let mut added = 0;
        for line in lines {
            let read = AuditError::spi("could not write audit_cosignature");
            let rows = client
                .update(
                    &objs.sql(include_str!("../../sql/queries/cosignature_insert.sql")),
                    None,
                    &[
                        (signed.checkpoint.size as i64).into(),
                        line.trim_end().into(),
                    ],
                )
                .map_err(read)?;
            added += rows.len() as i64;
        }
        Ok(added)
    })
    .or_report()
}
