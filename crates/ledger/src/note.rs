//! Signed checkpoints in the C2SP `signed-note` / `tlog-checkpoint` formats, with Ed25519
//! keys in the key-string forms of Go's `golang.org/x/mod/sumdb/note` (so third-party
//! tooling can check keytrail checkpoints).
//!
//! Hand-written because no maintained Rust crate implements signed notes; it is a few
//! dozen lines over `ed25519-dalek`.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::OsRng;
use sha2::{Digest, Sha256};

use crate::manifest::sha256_hex;
use crate::{Hash, Ledger, LedgerError, Result};

/// Signature algorithm byte for Ed25519 in note keys.
const ALG_ED25519: u8 = 0x01;
/// The em dash that opens a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public.as_bytes());
    h.finalize()[..4].try_into().expect("4 bytes")
}

fn check_key_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(LedgerError::Key { path: name.into(), reason: "key names must be non-empty, without spaces or '+'".into() });
    }
    Ok(())
}

/// An Ed25519 note signer.
pub struct Signer {
    name: String,
    key: SigningKey,
}

impl Signer {
    /// A new random key named `name` (for example `keytrail.example.com`).
    pub fn generate(name: &str) -> Result<Self> {
        check_key_name(name)?;
        Ok(Self { name: name.to_string(), key: SigningKey::generate(&mut OsRng) })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`.
    pub fn from_key_string(s: &str, origin: &str) -> Result<Self> {
        let bad = |reason: &str| LedgerError::Key { path: origin.into(), reason: reason.into() };
        let rest =
            s.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(|| bad("not a private key (expected PRIVATE+KEY+…; generate one with `keytrail keygen`)"))?;
        // The base64 key may itself contain '+': split off only the name and the id.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("malformed private key"));
        };
        let bytes = B64.decode(key).map_err(|_| bad("key is not base64"))?;
        let [ALG_ED25519, seed @ ..] = bytes.as_slice() else { return Err(bad("not an Ed25519 key")) };
        let seed: [u8; 32] = seed.try_into().map_err(|_| bad("Ed25519 seed must be 32 bytes"))?;
        let signer = Self { name: name.to_string(), key: SigningKey::from_bytes(&seed) };
        if hex::encode(key_id(name, &signer.key.verifying_key())) != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(signer)
    }

    /// Reads a private key file written by [`Signer::write_key_files`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| LedgerError::Io { path: path.into(), source })?;
        Self::from_key_string(&text, &path.display().to_string())
    }

    /// `PRIVATE+KEY+<name>+<id>+<base64>`.
    pub fn to_key_string(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex::encode(self.key_id()), B64.encode(bytes))
    }

    /// Writes the private key to `path` (created new, mode 0600) and the verifier key to
    /// `path.pub`. Refuses to overwrite either.
    pub fn write_key_files(&self, path: &Path) -> Result<()> {
        let public = path.with_file_name(format!("{}.pub", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        // Both files are created (empty) before either is written, so an existing public
        // key leaves no private key behind that nothing can verify.
        let private_file = open.open(path).map_err(|source| LedgerError::Io { path: path.into(), source })?;
        let public_file = match open.open(&public) {
            Ok(f) => f,
            Err(source) => {
                let _ = std::fs::remove_file(path);
                return Err(LedgerError::Io { path: public.clone(), source });
            }
        };
        for (mut f, p, text) in [(private_file, path, self.to_key_string()), (public_file, public.as_path(), self.verifier().to_string())] {
            f.write_all(format!("{text}\n").as_bytes()).map_err(|source| LedgerError::Io { path: p.into(), source })?;
        }
        // The public key need not be secret.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).map_err(|source| LedgerError::Io { path: public.clone(), source })?;
        }
        Ok(())
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key.verifying_key())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier { name: self.name.clone(), key: self.key.verifying_key() }
    }

    /// Signs a note text (which must end in a newline) and returns the signed note.
    pub fn sign(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.key_id().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// An Ed25519 note verifier key: `<name>+<hex key id>+<base64(0x01 || public key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key: VerifyingKey,
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex::encode(key_id(&self.name, &self.key)), B64.encode(bytes))
    }
}

impl Verifier {
    /// Parses a verifier key string.
    pub fn parse(s: &str, origin: &str) -> Result<Self> {
        let bad = |reason: &str| LedgerError::Key { path: origin.into(), reason: reason.into() };
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("not a verifier key (expected <name>+<id>+<key>, as in the .pub file from `keytrail keygen`)"));
        };
        check_key_name(name)?;
        let bytes = B64.decode(key).map_err(|_| bad("key is not base64"))?;
        let [ALG_ED25519, public @ ..] = bytes.as_slice() else { return Err(bad("not an Ed25519 key")) };
        let public: [u8; 32] = public.try_into().map_err(|_| bad("Ed25519 public key must be 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("invalid Ed25519 public key"))?;
        if hex::encode(key_id(name, &key)) != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(Self { name: name.to_string(), key })
    }

    /// Reads a verifier key file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| LedgerError::Io { path: path.into(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks that `note` carries a valid signature by this key and returns its text.
    pub fn open<'a>(&self, note: &'a str, origin: &str) -> Result<&'a str> {
        let bad = |reason: String| LedgerError::Checkpoint { origin: origin.into(), reason };
        let split = note.rfind("\n\n").ok_or_else(|| bad("not a signed note (no blank line before signatures)".into()))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        let want_id = key_id(&self.name, &self.key);
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(bad(format!("malformed signature line {line:?}")));
            };
            let Some((name, blob)) = rest.split_once(' ') else { continue };
            let Ok(blob) = B64.decode(blob) else { continue };
            if name != self.name || blob.len() != 68 || blob[..4] != want_id {
                continue;
            }
            let sig = Signature::from_bytes(blob[4..].try_into().expect("64 bytes"));
            return match self.key.verify_strict(text.as_bytes(), &sig) {
                Ok(()) => Ok(text),
                Err(_) => Err(bad(format!("signature by {} is INVALID (the note was changed after signing)", self.name))),
            };
        }
        Err(bad(format!("not signed by key {self}")))
    }
}

/// A signed-note body per C2SP `tlog-checkpoint`: origin, tree size, base64 root hash.
/// keytrail's origins are `<origin prefix>/<stream>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The origin line.
    pub origin: String,
    /// The stream (the origin's last path segment).
    pub stream: String,
    /// Tree size (rows).
    pub size: u64,
    /// Tree root.
    pub root: Hash,
    /// Where this checkpoint was read from, for reports.
    pub source: String,
}

impl Checkpoint {
    /// The note text.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    /// Parses a note text (already signature-checked).
    pub fn parse_body(text: &str, source: &str) -> Result<Self> {
        let bad = |reason: &str| LedgerError::Checkpoint { origin: source.into(), reason: reason.into() };
        let mut lines = text.lines();
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(bad("a checkpoint has an origin, a size and a root hash line"));
        };
        let size = size.parse().map_err(|_| bad("tree size is not a decimal number"))?;
        let root: Hash = B64.decode(root).ok().and_then(|r| r.try_into().ok()).ok_or_else(|| bad("root hash is not base64 of 32 bytes"))?;
        let stream = origin.rsplit('/').next().unwrap_or(origin).to_string();
        Ok(Self { origin: origin.to_string(), stream, size, root, source: source.to_string() })
    }

    /// Reads a signed checkpoint and checks its signature.
    pub fn open(signed: &str, verifier: &Verifier, source: &str) -> Result<Self> {
        Self::parse_body(verifier.open(signed, source)?, source)
    }

    /// Reads a signed checkpoint without checking its signature (no key at hand): it still
    /// holds a ledger against the size and root it records, but proves nothing about who
    /// recorded them.
    pub fn open_unverified(signed: &str, source: &str) -> Result<Self> {
        let split = signed
            .rfind("\n\n")
            .ok_or_else(|| LedgerError::Checkpoint { origin: source.into(), reason: "not a signed note (no blank line before signatures)".into() })?;
        Self::parse_body(&signed[..split + 1], source)
    }
}

/// Opens signed checkpoints, given as (where it came from, note text): each signature is
/// checked with `verifier` when there is one (else the note is read unchecked, see
/// [`Checkpoint::open_unverified`]). A note that does not open is an INVALID finding of its
/// own, so that a report still shows everything else.
pub fn open_checkpoints(notes: &[(String, String)], verifier: Option<&Verifier>) -> (Vec<Checkpoint>, Vec<crate::Finding>) {
    let mut opened = Vec::new();
    let mut failed = Vec::new();
    for (source, text) in notes {
        let checkpoint = match verifier {
            Some(verifier) => Checkpoint::open(text, verifier, source),
            None => Checkpoint::open_unverified(text, source),
        };
        match checkpoint {
            Ok(c) => opened.push(c),
            Err(e) => failed.push(crate::Finding { kind: crate::ObjectKind::Checkpoint, path: source.clone(), problems: vec![e.to_string()] }),
        }
    }
    (opened, failed)
}

/// A checkpoint as signed and stored.
#[derive(Clone, Debug)]
pub struct SignedNote {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The signed note text.
    pub text: String,
    /// Where it was stored in the ledger.
    pub path: String,
}

impl Ledger {
    /// The newest checkpoint the ledger holds of each stream (the largest size under
    /// `_checkpoints/<stream>/`), as (path, signed note text), by stream.
    pub async fn stored_checkpoints(&self) -> Result<Vec<(String, String)>> {
        use futures::TryStreamExt;
        let notes: Vec<_> = self
            .object_store()
            .list(Some(&object_store::path::Path::from("_checkpoints")))
            .try_collect()
            .await
            .map_err(|e| LedgerError::store("_checkpoints", e))?;
        let mut newest: std::collections::BTreeMap<String, (u64, String)> = std::collections::BTreeMap::new();
        for note in notes {
            let path = note.location.to_string();
            let mut parts = path.split('/').skip(1);
            let (Some(stream), Some(name), None) = (parts.next(), parts.next(), parts.next()) else { continue };
            let Some(size) = name.strip_suffix(".note").and_then(|n| n.get(..20)).and_then(|n| n.parse::<u64>().ok()) else { continue };
            if newest.get(stream).is_none_or(|(s, p)| size > *s || (size == *s && path > *p)) {
                newest.insert(stream.to_string(), (size, path));
            }
        }
        let mut out = Vec::new();
        for (_, (_, path)) in newest {
            let text = String::from_utf8(self.get(&path).await?.to_vec()).map_err(|_| LedgerError::corrupt("checkpoint", &path, "not UTF-8"))?;
            out.push((path, text));
        }
        Ok(out)
    }

    /// Signs a checkpoint of every stream's head and stores each under
    /// `_checkpoints/<stream>/<20-digit size>-<sha256 prefix>.note`.
    pub async fn checkpoint(&self, signer: &Signer, origin_prefix: &str) -> Result<Vec<SignedNote>> {
        let mut out = Vec::new();
        for stream in self.streams().await? {
            let Some((head, _)) = self.head(&stream).await? else { continue };
            let root = crate::manifest::parse_hash(&head.tree_root)
                .ok_or_else(|| LedgerError::corrupt("manifest", crate::manifest::manifest_path(&stream, head.number), "tree_root is not hex"))?;
            let checkpoint = Checkpoint {
                origin: format!("{}/{stream}", origin_prefix.trim_end_matches('/')),
                stream: stream.clone(),
                size: head.tree_size,
                root,
                source: String::new(),
            };
            let text = signer.sign(&checkpoint.body());
            let path = format!("_checkpoints/{stream}/{:020}-{}.note", head.tree_size, &sha256_hex(text.as_bytes())[..16]);
            // Ed25519 is deterministic, so the same head and key give the same bytes: an
            // existing object at this path is this very checkpoint.
            self.put_new(&path, text.clone().into_bytes()).await?;
            out.push(SignedNote { checkpoint: Checkpoint { source: path.clone(), ..checkpoint }, text, path });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_whose_base64_holds_a_plus_round_trip() {
        // Roughly one key in three has a '+' in its base64; try enough to be sure.
        for _ in 0..64 {
            let signer = Signer::generate("k").unwrap();
            Signer::from_key_string(&signer.to_key_string(), "k").unwrap();
            Verifier::parse(&signer.verifier().to_string(), "v").unwrap();
        }
    }

    #[test]
    fn keys_round_trip_and_notes_verify() {
        let signer = Signer::generate("ledger.example").unwrap();
        let again = Signer::from_key_string(&signer.to_key_string(), "k").unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let verifier = Verifier::parse(&signer.verifier().to_string(), "v").unwrap();

        let cp = Checkpoint { origin: "keytrail/s".into(), stream: "s".into(), size: 3, root: [7; 32], source: String::new() };
        let note = signer.sign(&cp.body());
        assert!(note.contains("\n\n\u{2014} ledger.example "));
        assert_eq!(Checkpoint::open(&note, &verifier, "n").unwrap(), Checkpoint { source: "n".into(), ..cp });

        let tampered = note.replacen("\n3\n", "\n2\n", 1);
        let err = Checkpoint::open(&tampered, &verifier, "n").unwrap_err().to_string();
        assert!(err.contains("INVALID"), "{err}");
        let other = Signer::generate("ledger.example").unwrap().verifier();
        assert!(Checkpoint::open(&note, &other, "n").unwrap_err().to_string().contains("not signed by"));
    }

    #[test]
    fn go_note_key_id_is_sha256_of_name_newline_alg_key() {
        // The key id layout matches golang.org/x/mod/sumdb/note: a verifier key string's
        // id must be recomputable from its name and key alone.
        let signer = Signer::generate("a.example").unwrap();
        let vkey = signer.verifier().to_string();
        let mut parts = vkey.splitn(3, '+');
        let (name, id, key) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update(B64.decode(key).unwrap());
        assert_eq!(id, hex::encode(&h.finalize()[..4]));
    }
}
