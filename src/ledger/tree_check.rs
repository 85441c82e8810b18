//! What `verify_audit()` concludes about the Merkle tree, as pure logic: the
//! sealed leaves in seal order in, findings out. The tree is rebuilt from the
//! blocks' checksums alone, and every stored part of it is compared with the
//! rebuilt one: each block's tree size and root (`audit_tree`), each stored
//! subtree (`audit_tree_node`), each signed checkpoint's root
//! (`audit_checkpoint`), and a checkpoint the caller kept, which the log must
//! still extend.

use std::collections::{BTreeMap, HashMap};

use super::classify::{finding, Finding, Status};
use crate::tree::merkle::{self, Frontier};

/// One block's leaves, as listed: ids and 32-byte checksums.
pub struct BlockLeaves<'a> {
    pub id: i64,
    pub row_ids: &'a [Option<i64>],
    pub checksums: &'a [u8],
}

/// A checkpoint the caller kept (`verify_audit(checkpoint)`).
pub struct Kept {
    pub size: u64,
    pub root: [u8; 32],
}

/// audit_tree as stored: block id -> (tree size, root, frontier).
pub type Heads = HashMap<i64, (i64, Vec<u8>, Vec<u8>)>;
/// audit_tree_node as stored: (level, index) -> hash.
pub type Nodes = HashMap<(u8, u64), Vec<u8>>;

pub struct TreeCheck {
    frontier: Frontier,
    heads: Heads,
    nodes: Nodes,
    /// Tree sizes whose root must be a given one: the stored checkpoints'
    /// (size -> roots) and the kept one's.
    checkpoints: BTreeMap<u64, Vec<[u8; 32]>>,
    kept: Option<Kept>,
    last_id: Option<i64>,
    findings: Vec<Finding>,
    /// Findings about the kept checkpoint: reported even next to the
    /// chain's own problems (the others then only repeat them).
    kept_findings: Vec<Finding>,
}

/// The tree's findings: about the kept checkpoint, and the others.
pub struct TreeFindings {
    pub kept: Vec<Finding>,
    pub other: Vec<Finding>,
}

impl TreeCheck {
    pub fn new(
        heads: Heads,
        nodes: Nodes,
        stored_checkpoints: Vec<(u64, [u8; 32])>,
        kept: Option<Kept>,
    ) -> TreeCheck {
        let mut checkpoints: BTreeMap<u64, Vec<[u8; 32]>> = BTreeMap::new();
        for (size, root) in stored_checkpoints {
            checkpoints.entry(size).or_default().push(root);
        }
        if let Some(k) = &kept {
            let roots = checkpoints.entry(k.size).or_default();
            if !roots.contains(&k.root) {
                roots.push(k.root);
            }
        }
        TreeCheck {
            frontier: Frontier::new(),
            heads,
            nodes,
            checkpoints,
            kept,
            last_id: None,
            findings: Vec::new(),
            kept_findings: Vec::new(),
        }
    }

    /// The next block's leaves, in chain order.
    pub fn block(&mut self, b: &BlockLeaves<'_>) {
        for (i, sum) in b.checksums.chunks_exact(32).enumerate() {
            let id = b.row_ids.get(i).copied().flatten();
            for (level, index, hash) in self.frontier.push(merkle::leaf_hash(sum)) {
                match self.nodes.remove(&(level, index)) {
                    Some(stored) if stored == hash.0 => {}
                    Some(_) => self.findings.push(finding(
                        Status::TreeMismatch,
                        None,
                        Some(b.id),
                        format!("the stored hash of the tree's subtree {index} of level {level} is not the hash of its leaves"),
                    )),
                    None => self.findings.push(finding(
                        Status::TreeMismatch,
                        None,
                        Some(b.id),
                        format!("the tree's subtree {index} of level {level} is not stored"),
                    )),
                }
            }
            self.last_id = id;
            let size = self.frontier.size();
            if let Some(roots) = self.checkpoints.remove(&size) {
                let root = self.frontier.root().0;
                for r in roots {
                    if r != root {
                        self.checkpoint_differs(size, r, id);
                    }
                }
            }
        }
        match self.heads.remove(&b.id) {
            Some((size, root, frontier)) => {
                if size != self.frontier.size() as i64
                    || root != self.frontier.root().0
                    || frontier != self.frontier.to_bytes()
                {
                    self.findings.push(finding(
                        Status::TreeMismatch,
                        None,
                        Some(b.id),
                        format!(
                            "the tree's size, root and frontier stored for block {} (size {size}) are not those of the rows sealed up to it (size {})",
                            b.id,
                            self.frontier.size()
                        ),
                    ));
                }
            }
            None => self.findings.push(finding(
                Status::TreeMismatch,
                None,
                Some(b.id),
                format!("block {} is not in the tree (audit_tree)", b.id),
            )),
        }
    }

    fn checkpoint_differs(&mut self, size: u64, root: [u8; 32], last_id: Option<i64>) {
        let kept = self
            .kept
            .as_ref()
            .is_some_and(|k| k.size == size && k.root == root);
        let what = if kept {
            "the kept checkpoint"
        } else {
            "a signed checkpoint (audit_checkpoint)"
        };
        let f = finding(
            Status::CheckpointMismatch,
            last_id,
            None,
            format!(
                "the log does not extend {what} of size {size}: its first {size} sealed rows hash to another root (rewritten up to audit row {})",
                last_id.map_or("?".to_string(), |i| i.to_string())
            ),
        );
        if kept {
            self.kept_findings.push(f);
        } else {
            self.findings.push(f);
        }
    }

    /// The findings, once every block was given.
    pub fn finish(mut self) -> TreeFindings {
        let size = self.frontier.size();
        let mut missing: Vec<(u64, Vec<[u8; 32]>)> =
            std::mem::take(&mut self.checkpoints).into_iter().collect();
        missing.retain(|(s, _)| *s > size);
        for (s, roots) in missing {
            for root in roots {
                let kept = self
                    .kept
                    .as_ref()
                    .is_some_and(|k| k.size == s && k.root == root);
                let f = finding(
                    Status::CheckpointMismatch,
                    self.last_id,
                    None,
                    format!(
                        "the log does not extend {} of size {s}: it has only {size} sealed rows (rows or blocks after audit row {} were removed)",
                        if kept { "the kept checkpoint" } else { "a signed checkpoint (audit_checkpoint)" },
                        self.last_id.map_or("?".to_string(), |i| i.to_string())
                    ),
                );
                if kept {
                    self.kept_findings.push(f);
                } else {
                    self.findings.push(f);
                }
            }
        }
        let mut heads: Vec<i64> = self.heads.keys().copied().collect();
        heads.sort_unstable();
        for block in heads {
            self.findings.push(finding(
                Status::TreeMismatch,
                None,
                Some(block),
                format!("audit_tree holds a head for block {block}, which the chain does not have"),
            ));
        }
        if !self.nodes.is_empty() {
            self.findings.push(finding(
                Status::TreeMismatch,
                None,
                None,
                format!(
                    "audit_tree_node holds {} subtrees beyond the sealed rows",
                    self.nodes.len()
                ),
            ));
        }
        TreeFindings {
            kept: self.kept_findings,
            other: self.findings,
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn sums(n: usize, salt: u8) -> Vec<u8> {
        (0..n)
            .flat_map(|i| [salt; 31].into_iter().chain([i as u8]))
            .collect()
    }

    /// The stored tree of `blocks` (sizes), as sealing writes it.
    type Stored = (Heads, Nodes, Vec<[u8; 32]>);

    fn stored(blocks: &[Vec<u8>]) -> Stored {
        let mut f = Frontier::new();
        let (mut heads, mut nodes, mut roots) = (HashMap::new(), HashMap::new(), Vec::new());
        for (i, b) in blocks.iter().enumerate() {
            for s in b.chunks_exact(32) {
                for (l, k, h) in f.push(merkle::leaf_hash(s)) {
                    nodes.insert((l, k), h.0.to_vec());
                }
                roots.push(f.root().0);
            }
            heads.insert(
                i as i64 + 1,
                (f.size() as i64, f.root().0.to_vec(), f.to_bytes()),
            );
        }
        (heads, nodes, roots)
    }

    fn run(blocks: &[Vec<u8>], check: TreeCheck) -> Vec<Finding> {
        let mut check = check;
        let ids: Vec<Vec<Option<i64>>> = blocks
            .iter()
            .scan(0i64, |next, b| {
                let v: Vec<Option<i64>> = (0..b.len() / 32)
                    .map(|_| {
                        *next += 1;
                        Some(*next)
                    })
                    .collect();
                Some(v)
            })
            .collect();
        for (i, b) in blocks.iter().enumerate() {
            check.block(&BlockLeaves {
                id: i as i64 + 1,
                row_ids: &ids[i],
                checksums: b,
            });
        }
        let f = check.finish();
        f.kept.into_iter().chain(f.other).collect()
    }

    #[test]
    fn an_intact_tree_and_checkpoints_give_no_finding() {
        let blocks = vec![sums(100, 1), sums(200, 2), sums(3, 3)];
        let (heads, nodes, roots) = stored(&blocks);
        assert_eq!(nodes.len(), 1);
        let kept = Kept {
            size: 250,
            root: roots[249],
        };
        let check = TreeCheck::new(
            heads,
            nodes,
            vec![(300, roots[299]), (303, roots[302])],
            Some(kept),
        );
        assert_eq!(run(&blocks, check), vec![]);
    }

    #[test]
    fn a_rewritten_row_a_stored_part_or_a_shorter_log_is_found() {
        let blocks = vec![sums(100, 1), sums(200, 2), sums(3, 3)];
        let (heads, nodes, roots) = stored(&blocks);
        // A rebuilt log: block 2's leaves changed (and re-hashed consistently
        // by whoever rebuilt it), but the kept checkpoint of 250 remembers.
        let mut rebuilt = blocks.clone();
        rebuilt[1][5 * 32] ^= 1;
        let (h2, n2, _) = stored(&rebuilt);
        let f = run(
            &rebuilt,
            TreeCheck::new(
                h2,
                n2,
                vec![],
                Some(Kept {
                    size: 250,
                    root: roots[249],
                }),
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].status, f[0].audit_id),
            (Status::CheckpointMismatch, Some(250))
        );
        // A stored head, node or checkpoint edited: named.
        let mut h = heads.clone();
        h.get_mut(&2).unwrap().1[0] ^= 1;
        let f = run(&blocks, TreeCheck::new(h, nodes.clone(), vec![], None));
        assert_eq!(
            (f.len(), f[0].status, f[0].block_id),
            (1, Status::TreeMismatch, Some(2))
        );
        let mut n = nodes.clone();
        n.values_mut().next().unwrap()[0] ^= 1;
        let f = run(&blocks, TreeCheck::new(heads.clone(), n, vec![], None));
        assert_eq!((f.len(), f[0].status), (1, Status::TreeMismatch));
        let f = run(
            &blocks,
            TreeCheck::new(heads.clone(), nodes.clone(), vec![(7, [0; 32])], None),
        );
        assert_eq!(
            (f.len(), f[0].status, f[0].audit_id),
            (1, Status::CheckpointMismatch, Some(7))
        );
        // The last block removed: the kept checkpoint of 303 is beyond the log.
        let f = run(
            &blocks[..2],
            TreeCheck::new(
                heads.clone(),
                nodes.clone(),
                vec![],
                Some(Kept {
                    size: 303,
                    root: roots[302],
                }),
            ),
        );
        let statuses: Vec<Status> = f.iter().map(|f| f.status).collect();
        assert_eq!(
            statuses,
            vec![Status::CheckpointMismatch, Status::TreeMismatch]
        );
        assert_eq!(f[0].audit_id, Some(300));
    }
}
