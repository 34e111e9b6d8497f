//! Manifests: the commit records of a stream (`_manifests/<stream>/<20-digit number>.json`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::merkle::Frontier;
use crate::record::Column;
use crate::schema::RawKind;
use crate::{Hash, LedgerError, Result};

/// Format identifier written into every manifest.
pub const FORMAT: &str = "keytrail-ledger/1";

/// One commit of a stream. Field meanings are specified in `docs/LEDGER.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Stream name.
    pub stream: String,
    /// Commit number, 1 for the first commit, gapless.
    pub number: u64,
    /// Hex SHA-256 of the previous manifest's file bytes; `null` for number 1.
    pub prev_manifest_sha256: Option<String>,
    /// Wall-clock time of the commit (also every row's `ingest_time`).
    pub committed_at: DateTime<Utc>,
    /// Rows committed.
    pub rows: u64,
    /// First seq of this commit (`null` when it commits no rows).
    pub first_seq: Option<u64>,
    /// Last seq of this commit (`null` when it commits no rows).
    pub last_seq: Option<u64>,
    /// Earliest event time among the rows.
    pub event_time_min: Option<DateTime<Utc>>,
    /// Latest event time among the rows.
    pub event_time_max: Option<DateTime<Utc>>,
    /// Hex row hash that the first row chains from (the previous commit's last row hash,
    /// or the stream's genesis hash).
    pub prev_row_hash: String,
    /// Hex row hash of the last row (equal to `prev_row_hash` when no rows).
    pub last_row_hash: String,
    /// Hex RFC 6962 root over this commit's rows alone.
    pub merkle_root: String,
    /// Number of rows in the stream after this commit.
    pub tree_size: u64,
    /// Hex RFC 6962 root over all rows of the stream after this commit.
    pub tree_root: String,
    /// Hex perfect-subtree roots of the stream's tree after this commit, largest first.
    pub tree_frontier: Vec<String>,
    /// How `raw` is stored.
    pub raw_kind: RawKind,
    /// Typed columns of the segments.
    pub columns: Vec<Column>,
    /// Segment files, in seq order.
    pub segments: Vec<SegmentRef>,
    /// The collector's opaque resume point; moves only with the data it covers.
    pub cursor: Option<serde_json::Value>,
    /// Software that wrote the commit.
    pub writer: String,
}

/// What a reader of the data needs from a manifest: its segment files and columns. Parsing
/// only these skips the collector's cursor, which can hold thousands of entries and is
/// read only by the next collect.
#[derive(Clone, Debug, Deserialize)]
pub struct ManifestSegments {
    /// Always [`FORMAT`].
    pub format: String,
    /// How `raw` is stored.
    pub raw_kind: RawKind,
    /// Typed columns of the segments.
    pub columns: Vec<Column>,
    /// Segment files, in seq order.
    pub segments: Vec<SegmentRef>,
}

impl ManifestSegments {
    /// Parses the segment list of stored manifest bytes.
    pub fn from_bytes(path: &str, bytes: &[u8]) -> Result<Self> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| LedgerError::corrupt("manifest", path, format!("not a manifest: {e}")))?;
        check_format(path, &manifest.format)?;
        Ok(manifest)
    }
}

fn check_format(path: &str, format: &str) -> Result<()> {
    if format != FORMAT {
        return Err(LedgerError::corrupt("manifest", path, format!("format {format:?} is not {FORMAT:?}; use a keytrail version that reads it")));
    }
    Ok(())
}

/// A segment file committed by a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRef {
    /// Path relative to the ledger root.
    pub path: String,
    /// Hex SHA-256 of the file bytes.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Rows in the file.
    pub rows: u64,
    /// Seq of the first row.
    pub first_seq: u64,
    /// Seq of the last row.
    pub last_seq: u64,
    /// Earliest event time in the file.
    pub event_time_min: DateTime<Utc>,
    /// Latest event time in the file.
    pub event_time_max: DateTime<Utc>,
}

impl Manifest {
    /// The stream's tree frontier after this commit.
    pub fn frontier(&self) -> Result<Frontier> {
        let nodes = self
            .tree_frontier
            .iter()
            .map(|h| parse_hash(h))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.corrupt("tree_frontier holds a value that is not a hex SHA-256"))?;
        Frontier::from_parts(self.tree_size, nodes).ok_or_else(|| self.corrupt("tree_frontier does not match tree_size"))
    }

    /// The last row hash as bytes.
    pub fn last_row_hash(&self) -> Result<Hash> {
        parse_hash(&self.last_row_hash).ok_or_else(|| self.corrupt("last_row_hash is not a hex SHA-256"))
    }

    /// Serializes the manifest as it is stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("manifest serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Parses stored manifest bytes.
    pub fn from_bytes(path: &str, bytes: &[u8]) -> Result<Self> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| LedgerError::corrupt("manifest", path, format!("not a manifest: {e}")))?;
        check_format(path, &manifest.format)?;
        Ok(manifest)
    }

    fn corrupt(&self, reason: &str) -> LedgerError {
        LedgerError::corrupt("manifest", manifest_path(&self.stream, self.number), reason)
    }
}

/// `_manifests/<stream>/<number as 20 digits>.json`
pub fn manifest_path(stream: &str, number: u64) -> String {
    format!("{}/{number:020}.json", manifest_dir(stream))
}

/// `_manifests/<stream>`
pub fn manifest_dir(stream: &str) -> String {
    format!("_manifests/{stream}")
}

/// The manifest number encoded in a manifest file name, if it is one.
pub fn parse_manifest_name(file_name: &str) -> Option<u64> {
    let digits = file_name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok())?
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Parses a lower-case hex SHA-256.
pub fn parse_hash(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_round_trip_and_reject_look_alikes() {
        let p = manifest_path("s", 42);
        assert_eq!(p, "_manifests/s/00000000000000000042.json");
        assert_eq!(parse_manifest_name("00000000000000000042.json"), Some(42));
        for bad in ["42.json", "0000000000000000004a.json", "00000000000000000042.json.tmp", "x"] {
            assert_eq!(parse_manifest_name(bad), None, "{bad}");
        }
    }
}
