//! The standard texts, as pure logic: checkpoints (C2SP tlog-checkpoint),
//! signed notes and their keys (C2SP signed-note, in Go's key forms),
//! witnesses' cosignatures (C2SP tlog-cosignature, `cosignature/v1`) and
//! proofs (C2SP tlog-proof). Notes are signed and verified by the
//! `signed_note` crate; this module only says what is signed.

use base64::prelude::{Engine, BASE64_STANDARD};
use signed_note::{Note, Signature, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::Hash;

/// A tree head as a checkpoint says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The checkpoint's text: origin, size and root lines, no extension
    /// lines (what the log's signature and the witnesses' cosignatures cover).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64_STANDARD.encode(self.root)
        )
    }

    /// A checkpoint's text, as tlog-checkpoint writes it: a non-empty origin,
    /// the size in decimal without leading zeroes, the root in base64, then
    /// any extension lines (kept as they are, but not read).
    pub fn parse(text: &str) -> Result<Checkpoint, String> {
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or("a checkpoint ends with a newline")?
            .split('\n')
            .collect();
        if lines.len() < 3 || lines.iter().any(|l| l.is_empty()) {
            return Err("a checkpoint has an origin, a size and a root line, none empty".into());
        }
        let size = lines[1];
        let decimal = size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'))
            && size.len() <= 20;
        let size: u64 = decimal
            .then(|| size.parse().ok())
            .flatten()
            .ok_or_else(|| format!("the checkpoint's size {size:?} is not a decimal number"))?;
        let root = BASE64_STANDARD
            .decode(lines[2])
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or("the checkpoint's root is not 32 bytes in base64")?;
        Ok(Checkpoint {
            origin: lines[0].to_string(),
            size,
            root,
        })
    }
}

/// A signed checkpoint: its text and its signature lines.
#[derive(Debug)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The checkpoint's text exactly as signed.
    pub text: String,
    pub note: Note,
}

impl SignedCheckpoint {
    /// A signed note holding a checkpoint.
    pub fn parse(note: &str) -> Result<SignedCheckpoint, String> {
        // Blank lines after the last signature line are not part of the note
        // (a file or a psql output often ends with one more newline).
        let note = format!("{}\n", note.trim_end_matches('\n'));
        let parsed = Note::from_bytes(note.as_bytes()).map_err(|_| {
            "not a signed note: text, a blank line, then signature lines \"— name base64\""
                .to_string()
        })?;
        let text = String::from_utf8(parsed.text().to_vec()).expect("a note's text is UTF-8");
        Ok(SignedCheckpoint {
            checkpoint: Checkpoint::parse(&text)?,
            text,
            note: parsed,
        })
    }

    /// Whether the log's key (`vkey`, a verifier key) signed it.
    pub fn signed_by(&self, vkey: &str) -> Result<bool, String> {
        let verifier = StandardVerifier::new(vkey).map_err(|e| format!("{vkey:?}: {e}"))?;
        let list = VerifierList::new(vec![Box::new(verifier)]);
        Ok(self.note.verify(&list).is_ok())
    }

    /// The signature lines of keys other than `log_key` (the log's key name):
    /// the witnesses' cosignatures, each a well-formed `cosignature/v1`
    /// (an 8-byte timestamp and a 64-byte Ed25519 signature).
    pub fn cosignatures(&self, log_key: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for sig in self.signatures() {
            if sig.name() == log_key {
                continue;
            }
            if sig.signature().len() != 8 + 64 {
                return Err(format!(
                    "the signature of {:?} is not a cosignature/v1 (a timestamp and an Ed25519 signature)",
                    sig.name()
                ));
            }
            out.push(String::from_utf8(sig.to_bytes()).expect("a signature line is UTF-8"));
        }
        Ok(out)
    }

    /// The name on the first signature line: the log's key, for a
    /// checkpoint as the log signed it.
    pub fn first_signer(&self) -> Option<String> {
        self.signatures().first().map(|s| s.name().to_string())
    }

    fn signatures(&self) -> Vec<Signature> {
        // The note's signature lines, re-read from its text form.
        let bytes = self.note.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        text.rsplit_once("\n\n")
            .map(|(_, sigs)| {
                sigs.lines()
                    .filter_map(|l| Signature::from_bytes(l.as_bytes()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A private key in Go's note form: `PRIVATE+KEY+<name>+<key id>+<base64 of
/// 0x01 || 32-byte Ed25519 seed>`.
pub struct PrivateKey {
    signer: StandardSigner,
    name: String,
    verifier_key: String,
}

impl PrivateKey {
    pub fn parse(text: &str) -> Result<PrivateKey, String> {
        let text = text.trim();
        let signer = StandardSigner::new(text).map_err(|e| {
            format!("not an Ed25519 note key (PRIVATE+KEY+<name>+<key id>+<key>): {e}")
        })?;
        // The public key, for the verifier key: derived from the seed. The
        // name holds no '+'; the base64 key may.
        let parts: Vec<&str> = text.splitn(5, '+').collect();
        let [_, _, name, _, key64] = parts[..] else {
            return Err("no key".into());
        };
        let name = name.to_string();
        let key = BASE64_STANDARD.decode(key64).map_err(|e| e.to_string())?;
        let seed: [u8; 32] = key
            .get(1..)
            .and_then(|s| s.try_into().ok())
            .ok_or("the key is not 0x01 and a 32-byte seed")?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let verifier_key = signed_note::new_ed25519_verifier_key(&name, &signing.verifying_key());
        Ok(PrivateKey {
            signer,
            name,
            verifier_key,
        })
    }

    /// The key's name: the name on its signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key, in the note form `<name>+<key id>+<base64 of 0x01 || public key>`.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The checkpoint as a signed note: its text, a blank line, the log's signature line.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let mut note =
            Note::new(checkpoint.body().as_bytes(), &[]).expect("a checkpoint is a note's text");
        note.add_sigs(&[&self.signer])
            .expect("an Ed25519 key signs");
        String::from_utf8(note.to_bytes()).expect("a note is UTF-8")
    }
}

/// The verifier key's name (what comes before its first '+').
pub fn verifier_key_name(vkey: &str) -> Result<&str, String> {
    StandardVerifier::new(vkey).map_err(|e| format!("not a verifier key ({e})"))?;
    Ok(vkey.split('+').next().unwrap_or_default())
}

/// A C2SP tlog-proof: the row's canonical form as its extra data, the leaf
/// index, the inclusion path and the signed checkpoint with its cosignatures.
pub fn tlog_proof(extra: &[u8], index: u64, path: &[Hash], checkpoint_note: &str) -> String {
    let mut out = String::from("c2sp.org/tlog-proof@v1\n");
    out.push_str(&format!("extra {}\n", BASE64_STANDARD.encode(extra)));
    out.push_str(&format!("index {index}\n"));
    for h in path {
        out.push_str(&BASE64_STANDARD.encode(h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(checkpoint_note);
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    /// A private key in Go's form, from a seed (for tests only).
    fn key_text(name: &str, seed: [u8; 32]) -> String {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let id = signed_note::key_id(name, &[&[1u8][..], public.as_bytes()].concat());
        let key = BASE64_STANDARD.encode([&[1u8][..], &seed].concat());
        format!("PRIVATE+KEY+{name}+{id:08x}+{key}")
    }

    fn key() -> PrivateKey {
        PrivateKey::parse(&key_text("example.com/lead_audit", [42; 32])).unwrap()
    }

    #[test]
    fn keys_whose_base64_holds_a_plus_parse() {
        // Seeds until one's base64 has a '+' (the name never does).
        let (seed, text) = (0u8..=255)
            .map(|b| (b, key_text("k", [b; 32])))
            .find(|(_, t)| t.splitn(5, '+').nth(4).unwrap().contains('+'))
            .unwrap();
        let key = PrivateKey::parse(&text).unwrap();
        assert_eq!(key.name(), "k");
        let public = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
        assert_eq!(
            key.verifier_key(),
            signed_note::new_ed25519_verifier_key("k", &public)
        );
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.com/lead_audit/crm".into(),
            size: 1234,
            root: [7; 32],
        }
    }

    #[test]
    fn a_checkpoint_reads_back_and_rejects_what_is_not_one() {
        let c = checkpoint();
        assert_eq!(
            c.body(),
            "example.com/lead_audit/crm\n1234\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
        );
        assert_eq!(Checkpoint::parse(&c.body()), Ok(c.clone()));
        // Extension lines are allowed.
        assert!(Checkpoint::parse(&(c.body() + "ext\n")).is_ok());
        for bad in [
            "",
            "o\n12\n",
            "o\n012\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "o\n-1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "o\n1\nBwcH\n",
            "\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
            "o\n99999999999999999999999\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_signed_checkpoint_verifies_with_its_key_only() {
        let key = key();
        assert_eq!(key.name(), "example.com/lead_audit");
        let note = key.sign(&checkpoint());
        assert!(note.starts_with(&(checkpoint().body() + "\n— example.com/lead_audit ")));
        let signed = SignedCheckpoint::parse(&note).unwrap();
        assert_eq!(signed.checkpoint, checkpoint());
        assert_eq!(signed.signed_by(key.verifier_key()), Ok(true));
        assert_eq!(
            verifier_key_name(key.verifier_key()),
            Ok("example.com/lead_audit")
        );
        // Another key, or a changed text, does not verify.
        let other = PrivateKey::parse(&key_text("example.com/lead_audit", [43; 32])).unwrap();
        assert_eq!(signed.signed_by(other.verifier_key()), Ok(false));
        let changed = note.replacen("1234", "1235", 1);
        assert_eq!(
            SignedCheckpoint::parse(&changed)
                .unwrap()
                .signed_by(key.verifier_key()),
            Ok(false)
        );
        assert!(SignedCheckpoint::parse("no note").is_err());
        assert!(PrivateKey::parse("PRIVATE+KEY+x+00000000+AAAA").is_err());
        // The key id must be the key's.
        let wrong_id = key_text("example.com/lead_audit", [42; 32]);
        let (head, tail) = wrong_id.rsplit_once('+').unwrap();
        let (head, _) = head.rsplit_once('+').unwrap();
        assert!(PrivateKey::parse(&format!("{head}+00000000+{tail}")).is_err());
        assert!(PrivateKey::parse("").is_err());
    }

    #[test]
    fn cosignatures_are_the_other_keys_signature_lines() {
        let key = key();
        let note = key.sign(&checkpoint());
        let cosig = format!(
            "— witness.example/w1 {}\n",
            BASE64_STANDARD.encode([1u8; 4 + 72])
        );
        let signed = SignedCheckpoint::parse(&(note.clone() + &cosig)).unwrap();
        assert_eq!(signed.cosignatures(key.name()), Ok(vec![cosig]));
        let short = format!(
            "— witness.example/w1 {}\n",
            BASE64_STANDARD.encode([1u8; 4 + 64])
        );
        let signed = SignedCheckpoint::parse(&(note + &short)).unwrap();
        assert!(signed.cosignatures(key.name()).is_err());
    }

    #[test]
    fn golden_vectors_sign_byte_for_byte_as_python_does() {
        // tests/vectors/merkle.json: the note signed by lead_audit.tlog
        // (Python, the cryptography package) with the same test key.
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/merkle.json")).unwrap();
        let n = &v["note"];
        let key = PrivateKey::parse(n["private_key"].as_str().unwrap()).unwrap();
        assert_eq!(key.verifier_key(), n["verifier_key"].as_str().unwrap());
        let checkpoint = Checkpoint::parse(n["checkpoint"].as_str().unwrap()).unwrap();
        assert_eq!(checkpoint.body(), n["checkpoint"].as_str().unwrap());
        assert_eq!(key.sign(&checkpoint), n["signed"].as_str().unwrap());
        // With the witness's cosignature appended, it is still the log's note,
        // and the cosignature is found as one.
        let cosigned =
            n["signed"].as_str().unwrap().to_string() + n["cosignature"].as_str().unwrap();
        let signed = SignedCheckpoint::parse(&cosigned).unwrap();
        assert_eq!(signed.signed_by(key.verifier_key()), Ok(true));
        assert_eq!(
            signed.cosignatures(key.name()),
            Ok(vec![n["cosignature"].as_str().unwrap().to_string()])
        );
    }

    #[test]
    fn a_tlog_proof_has_the_c2sp_layout() {
        let p = tlog_proof(b"row", 5, &[Hash([1; 32])], "note\n\n— k sig\n");
        assert_eq!(
            p,
            "c2sp.org/tlog-proof@v1\nextra cm93\nindex 5\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\nnote\n\n— k sig\n"
        );
    }
}
