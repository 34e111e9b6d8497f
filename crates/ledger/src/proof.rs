//! RFC 6962 inclusion proofs for single records, checkable against a signed checkpoint
//! without the rest of the ledger.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::{parse_hash, sha256_hex};
use crate::merkle::{Frontier, audit_path_ranges, leaf_hash, root_from_inclusion_proof};
use crate::note::{Checkpoint, Verifier};
use crate::record::{RowView, encode_canonical};
use crate::schema::StreamSchema;
use crate::segment::{self, BatchRows};
use crate::{Ledger, LedgerError, Result};

/// Format identifier of proof files.
pub const PROOF_FORMAT: &str = "keytrail-proof/1";

/// Everything needed to show that one record is in a stream at a signed tree size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Always `keytrail-proof/1`.
    pub format: String,
    /// Stream name.
    pub stream: String,
    /// The record's seq (its leaf index).
    pub seq: u64,
    /// Tree size the proof is for (the checkpoint's size).
    pub tree_size: u64,
    /// Base64 canonical bytes of the row (see `docs/LEDGER.md`).
    pub canonical: String,
    /// Hex `prev_hash` of the row.
    pub prev_hash: String,
    /// Hex `row_hash = SHA-256(prev_hash || canonical)`.
    pub row_hash: String,
    /// Hex RFC 6962 leaf hash `SHA-256(0x00 || row_hash)`.
    pub leaf_hash: String,
    /// Hex sibling subtree roots, nearest first.
    pub audit_path: Vec<String>,
    /// Hex tree root the path leads to.
    pub root: String,
    /// Human-readable copy of the record (not trusted by verification).
    pub record: ProvenRecord,
    /// The signed checkpoint the proof was made against.
    pub checkpoint: String,
}

/// The proven record, for people reading a proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProvenRecord {
    /// Event time.
    pub event_time: DateTime<Utc>,
    /// Ingest time.
    pub ingest_time: DateTime<Utc>,
    /// The original record (lossy UTF-8 if it was not text).
    pub raw: String,
}

/// The proven record, as found on the way through the stream.
struct Leaf {
    canonical: Vec<u8>,
    prev_hash: [u8; 32],
    row_hash: [u8; 32],
    event_time: i64,
    ingest_time: i64,
    raw: Vec<u8>,
}

impl Ledger {
    /// Proves the record `seq` of `stream` against the newest checkpoint stored in the
    /// ledger that covers it, or against `checkpoint` (a signed note) when given.
    pub async fn prove(&self, stream: &str, seq: u64, checkpoint: Option<&str>, verifier: Option<&Verifier>) -> Result<InclusionProof> {
        // Past the end is said as such, before any word about checkpoints.
        match self.head(stream).await? {
            None => return Err(LedgerError::NoSuchStream(stream.into())),
            Some((head, _)) if seq >= head.tree_size => return Err(LedgerError::NoSuchRecord { stream: stream.into(), seq, size: head.tree_size }),
            Some(_) => {}
        }
        let note = match checkpoint {
            Some(n) => n.to_string(),
            None => self.newest_checkpoint(stream, seq).await?,
        };
        let cp = match verifier {
            Some(v) => Checkpoint::open(&note, v, "checkpoint")?,
            None => {
                let text = note.split("\n\n").next().unwrap_or_default();
                Checkpoint::parse_body(text, "checkpoint")?
            }
        };
        if cp.stream != stream {
            return Err(LedgerError::Proof(format!("the checkpoint is for stream {}, not {stream}", cp.stream)));
        }
        if seq >= cp.size {
            return Err(LedgerError::NoSuchRecord { stream: stream.into(), seq, size: cp.size });
        }
        let ranges = audit_path_ranges(seq, cp.size);
        let mut order: Vec<usize> = (0..ranges.len()).collect();
        order.sort_by_key(|&i| ranges[i].0);
        let mut path = vec![None; ranges.len()];
        let (mut next, mut sub) = (0usize, Frontier::new());
        let mut tree = Frontier::new();
        let mut leaf: Option<Leaf> = None;

        'manifests: for m in self.manifests(stream).await? {
            let schema = StreamSchema::from_parts(stream, m.raw_kind, m.columns.clone())?;
            let names: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();
            for seg in &m.segments {
                if seg.first_seq >= cp.size {
                    break 'manifests;
                }
                let bytes = self.get(&seg.path).await?;
                if sha256_hex(&bytes) != seg.sha256 {
                    return Err(LedgerError::corrupt("segment", &seg.path, "SHA-256 differs from its manifest"));
                }
                let batches = segment::decode(bytes, &schema).map_err(|e| LedgerError::corrupt("segment", &seg.path, e))?;
                let mut typed = Vec::new();
                for batch in batches {
                    let batch = batch.map_err(|e| LedgerError::corrupt("segment", &seg.path, e))?;
                    let rows = BatchRows::new(&batch, &schema);
                    for i in 0..rows.len() {
                        let idx = tree.size();
                        if idx >= cp.size {
                            break 'manifests;
                        }
                        let h = rows.row_hash(i);
                        tree.push_row(&h);
                        if idx == seq {
                            rows.typed_encoded(i, &mut typed);
                            let view = RowView {
                                seq: rows.seq(i),
                                event_time: rows.event_time(i),
                                ingest_time: rows.ingest_time(i),
                                raw: rows.raw(i),
                                names: &names,
                                typed: &typed,
                            };
                            let mut canonical = Vec::new();
                            encode_canonical(&view, &mut canonical);
                            leaf = Some(Leaf {
                                canonical,
                                prev_hash: rows.prev_hash(i),
                                row_hash: h,
                                event_time: view.event_time,
                                ingest_time: view.ingest_time,
                                raw: view.raw.to_vec(),
                            });
                            continue;
                        }
                        let Some(&r) = order.get(next) else { continue };
                        let (start, end) = ranges[r];
                        if idx >= start {
                            sub.push_row(&h);
                            if idx + 1 == end {
                                path[r] = Some(sub.root());
                                sub = Frontier::new();
                                next += 1;
                            }
                        }
                    }
                }
            }
        }
        let root = tree.root();
        if tree.size() != cp.size || root != cp.root {
            return Err(LedgerError::Proof(format!("the ledger's tree at size {} does not match the checkpoint; run `keytrail verify`", cp.size)));
        }
        let Leaf { canonical, prev_hash: prev, row_hash: row, event_time, ingest_time, raw } = leaf.expect("seq < size was visited");
        let to_time = |t| DateTime::from_timestamp_micros(t).unwrap_or_default();
        Ok(InclusionProof {
            format: PROOF_FORMAT.into(),
            stream: stream.into(),
            seq,
            tree_size: cp.size,
            canonical: B64.encode(&canonical),
            prev_hash: hex::encode(prev),
            row_hash: hex::encode(row),
            leaf_hash: hex::encode(leaf_hash(&row)),
            audit_path: path.into_iter().map(|h| hex::encode(h.expect("every range visited"))).collect(),
            root: hex::encode(root),
            record: ProvenRecord { event_time: to_time(event_time), ingest_time: to_time(ingest_time), raw: String::from_utf8_lossy(&raw).into_owned() },
            checkpoint: note,
        })
    }

    /// The signed note of the largest stored checkpoint of `stream` that covers `seq`.
    async fn newest_checkpoint(&self, stream: &str, seq: u64) -> Result<String> {
        let dir = format!("_checkpoints/{stream}");
        let mut notes: Vec<_> = self.object_store().list(Some(&Path::from(dir.as_str()))).try_collect().await.map_err(|e| LedgerError::store(&dir, e))?;
        notes.sort_by(|a, b| b.location.cmp(&a.location));
        let newest =
            notes.into_iter().find(|o| o.location.filename().and_then(|f| f.get(..20)).and_then(|s| s.parse::<u64>().ok()).is_some_and(|size| size > seq));
        let Some(o) = newest else {
            return Err(LedgerError::Proof(format!("no checkpoint of stream {stream} covers seq {seq}; run `keytrail checkpoint --key FILE` first")));
        };
        let bytes = self.object_store().get(&o.location).await.map_err(|e| LedgerError::store(&o.location, e))?;
        let bytes = bytes.bytes().await.map_err(|e| LedgerError::store(&o.location, e))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| LedgerError::corrupt("checkpoint", &o.location, "not UTF-8"))
    }
}

impl InclusionProof {
    /// The original record as covered by the row hash (decoded from `canonical`, unlike
    /// the informative `record` field).
    pub fn proven_raw(&self) -> Option<Vec<u8>> {
        let canonical = B64.decode(&self.canonical).ok()?;
        // version (1) + seq (8) + event_time (8) + ingest_time (8), then length-prefixed raw.
        let len = u64::from_be_bytes(canonical.get(25..33)?.try_into().ok()?) as usize;
        canonical.get(33..33usize.checked_add(len)?).map(<[u8]>::to_vec)
    }

    /// Checks the proof against a signed checkpoint: the checkpoint's signature, that it is
    /// for the same stream and size, that the row hash covers the canonical bytes, and
    /// that the audit path leads from the leaf to the checkpoint's root. Returns the
    /// checkpoint on success and why not otherwise.
    pub fn verify(&self, checkpoint_note: &str, verifier: &Verifier, source: &str) -> Result<Checkpoint, String> {
        let cp = Checkpoint::open(checkpoint_note, verifier, source).map_err(|e| e.to_string())?;
        if self.format != PROOF_FORMAT {
            return Err(format!("format {:?} is not {PROOF_FORMAT}", self.format));
        }
        if cp.stream != self.stream {
            return Err(format!("the proof is for stream {} but the checkpoint is for {}", self.stream, cp.stream));
        }
        if cp.size != self.tree_size {
            return Err(format!("the proof is for tree size {} but the checkpoint has size {}", self.tree_size, cp.size));
        }
        let canonical = B64.decode(&self.canonical).map_err(|_| "canonical is not base64".to_string())?;
        if canonical.get(1..9).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes"))) != Some(self.seq) {
            return Err(format!("the canonical bytes are not those of seq {}", self.seq));
        }
        let prev = parse_hash(&self.prev_hash).ok_or("prev_hash is not a hex SHA-256")?;
        let mut h = Sha256::new();
        h.update(prev);
        h.update(&canonical);
        let row: [u8; 32] = h.finalize().into();
        if hex::encode(row) != self.row_hash {
            return Err("row_hash does not match SHA-256(prev_hash || canonical): the record was changed".into());
        }
        let leaf = leaf_hash(&row);
        let path = self.audit_path.iter().map(|p| parse_hash(p)).collect::<Option<Vec<_>>>().ok_or("audit_path holds a value that is not a hex SHA-256")?;
        match root_from_inclusion_proof(self.seq, self.tree_size, &leaf, &path) {
            Some(root) if root == cp.root => Ok(cp),
            Some(_) => Err("the audit path does not lead to the checkpoint's root: the record is not in that tree".into()),
            None => Err("the audit path has the wrong length for this seq and tree size".into()),
        }
    }
}
