//! `audit_proof(audit_id)`: a receipt for one audit row, in the C2SP
//! tlog-proof format, that an auditor checks offline with only the log's
//! verifier key and the witnesses' keys: the row's canonical form (whose
//! SHA-256 is its checksum, the leaf's entry), its index in the tree, the
//! inclusion path, and the newest signed checkpoint with its cosignatures.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::note;
use super::sign;
use crate::audit_log::objects::{self, Objects};
use crate::audit_log::scan::scan_audit_log;
use crate::error::{AuditError, OrReport};
use crate::forms;
use crate::tree::{merkle, store};

#[pg_extern(stable, parallel_safe)]
fn audit_proof(audit_id: Option<i64>) -> String {
    let Some(id) = audit_id else {
        AuditError::NullArgument {
            what: "audit_proof() needs an audit row id".into(),
        }
        .report()
    };
    let objs = objects::objects();
    // SAFETY: an ACL check of the current user on an existing table.
    let may_read = unsafe {
        pg_sys::pg_class_aclcheck(
            objs.audit_log,
            pg_sys::GetUserId(),
            pg_sys::ACL_SELECT as pg_sys::AclMode,
        )
    } == pg_sys::AclResult::ACLCHECK_OK;
    if !may_read {
        AuditError::NoPrivilege {
            reason: "permission denied for audit_log: a receipt holds the row's values".into(),
        }
        .report()
    }
    let mut canonical = None;
    scan_audit_log(&objs, (id, id), &mut |values, nulls| {
        // SAFETY: the datums of a row of audit_log, whose columns `objects` checked.
        canonical = Some(unsafe { forms::row::canonical_bytes(values, nulls) });
    });
    let Some(canonical) = canonical else {
        AuditError::NotFound {
            reason: format!("there is no audit row {id}"),
        }
        .report()
    };
    Spi::connect(|client| receipt(client, &objs, id, &canonical)).or_report()
}

fn receipt(
    client: &SpiClient<'_>,
    objs: &Objects,
    id: i64,
    canonical: &[u8],
) -> Result<String, AuditError> {
    let index = leaf_index(client, objs, id)?.ok_or_else(|| AuditError::NotReady {
        reason: format!("audit row {id} is not sealed yet"),
        hint: "A row gets a receipt once it is sealed and signed: the background sealer does it every lead_audit.seal_interval, or call audit_seal().",
    })?;
    let (size, checkpoint) = sign::newest(client, objs)?
        .filter(|(size, _)| *size > index)
        .ok_or_else(|| AuditError::NotReady {
            reason: format!("no signed checkpoint covers audit row {id} yet"),
            hint: "Checkpoints are signed by audit_seal() when lead_audit.signing_key_file is set, or stored with audit_add_checkpoint() when they are signed outside the database.",
        })?;
    let path = merkle::inclusion(&store::Stored::new(client, objs), index, size)
        .expect("the index is below the checkpoint's size");
    Ok(note::tlog_proof(canonical, index, &path, &checkpoint))
}

/// The row's 0-based index in the tree, when it is sealed and in the tree.
fn leaf_index(client: &SpiClient<'_>, objs: &Objects, id: i64) -> Result<Option<u64>, AuditError> {
    let read = AuditError::spi("could not read audit_block");
    let rows = client
        .select(
            &objs.sql(include_str!("../../sql/queries/tree_leaf_of.sql")),
            None,
            &[id.into()],
        )
        .map_err(read)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let index = rows.first().get::<i64>(2).map_err(read)?;
    Ok(index.filter(|i| *i >= 0).map(|i| i as u64))
}
