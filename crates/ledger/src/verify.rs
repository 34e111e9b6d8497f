//! `verify`: re-check every row, segment, manifest and checkpoint of a ledger.
//!
//! Each object is judged on its own evidence and blamed precisely:
//! - a **segment** against the manifest that commits it (file hash and size, Parquet
//!   schema, every row's seq, hash and link to the row before it, event-time range,
//!   month partition);
//! - a **manifest** against its segments (counts, Merkle roots, tree state) and against
//!   its successor, which records this manifest's SHA-256 and last row hash: a mismatch
//!   there means this manifest was replaced;
//! - a **checkpoint** against the tree root the ledger had at the checkpoint's size.
//!
//! Tree state is carried from each manifest's *claimed* frontier, which is itself checked,
//! so one bad object does not make every later one look bad too.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use chrono::{DateTime, Datelike};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::manifest::{Manifest, SegmentRef, manifest_path, parse_hash};
use crate::merkle::{CompactRange, Frontier, leaf_hash};
use crate::note::Checkpoint;
use crate::record::{RowView, genesis_hash, row_hash};
use crate::schema::{REJECTED_SUFFIX, StreamSchema};
use crate::segment::{self, BatchRows};
use crate::{Hash, Ledger, LedgerError, Result};

/// Most distinct problems listed for one object; the rest are counted.
const MAX_REASONS: usize = 4;

/// What to verify.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Only these streams (all when `None`). A stream's rejected stream is included with it.
    pub streams: Option<Vec<String>>,
    /// Signed checkpoints (already signature-checked) to hold the stream heads against.
    pub checkpoints: Vec<Checkpoint>,
    /// Segments checked at once (defaults to the number of cores).
    pub parallelism: Option<usize>,
}

/// The kind of object a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A Parquet segment file.
    Segment,
    /// A manifest file.
    Manifest,
    /// A checkpoint checked against the ledger.
    Checkpoint,
    /// A file that no manifest commits.
    Unreferenced,
}

/// The verdict on one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of object.
    pub kind: ObjectKind,
    /// Its path relative to the ledger root (for checkpoints: where it came from).
    pub path: String,
    /// Empty when valid; otherwise why not.
    pub problems: Vec<String>,
}

impl Finding {
    /// Whether the object passed every check. Unreferenced files are reported but are not
    /// part of the ledger (a crashed or losing writer leaves them), so they are valid.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verification result of one stream.
#[derive(Clone, Debug, Serialize)]
pub struct StreamReport {
    /// Stream name.
    pub stream: String,
    /// Committed rows (the tree size the manifests claim).
    pub rows: u64,
    /// Number of the newest manifest.
    pub head_manifest: u64,
    /// Hex tree root the newest manifest claims.
    pub tree_root: String,
    /// One finding per segment, manifest, checkpoint and unreferenced file.
    pub findings: Vec<Finding>,
}

/// Verification result of a ledger.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Per stream, sorted by name.
    pub streams: Vec<StreamReport>,
    /// Findings not tied to a stream in the ledger (a checkpoint for a missing stream).
    pub other: Vec<Finding>,
    /// Bytes of `raw` re-hashed.
    pub raw_bytes: u64,
    /// Segment file bytes re-hashed.
    pub file_bytes: u64,
}

impl VerifyReport {
    /// True when nothing is INVALID.
    pub fn is_valid(&self) -> bool {
        self.findings().all(Finding::is_valid)
    }

    /// All findings, stream by stream.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.streams.iter().flat_map(|s| s.findings.iter()).chain(&self.other)
    }

    /// `(valid, total)` for one kind of object.
    pub fn count(&self, kind: ObjectKind) -> (usize, usize) {
        let of_kind = self.findings().filter(|f| f.kind == kind);
        of_kind.fold((0, 0), |(ok, all), f| (ok + f.is_valid() as usize, all + 1))
    }
}

/// Problems found while reading one segment on its own.
struct SegmentCheck {
    problems: Vec<String>,
    /// `prev_hash` of the first row as stored.
    first_prev: Option<Hash>,
    /// Recomputed hash of the last row.
    last_row: Option<Hash>,
    /// The rows as leaves of the stream's tree, split at the checkpoint sizes inside it.
    stream_parts: Vec<CompactRange>,
    /// The rows as leaves of their commit's own tree.
    commit_part: CompactRange,
    raw_bytes: u64,
    file_bytes: u64,
}

impl Ledger {
    /// Verifies the ledger. Returns `Err` only when the store cannot be listed; every
    /// problem with the ledger's contents is a finding in the report.
    pub async fn verify(&self, opts: &VerifyOptions) -> Result<VerifyReport> {
        let mut names: Vec<String> = self.streams().await?;
        // Streams whose every manifest is gone still have files under streams/.
        for s in self.list_dirs("streams").await? {
            if !names.contains(&s) {
                names.push(s);
            }
        }
        names.sort();
        if let Some(wanted) = &opts.streams {
            if let Some(missing) = wanted.iter().find(|w| !names.contains(w)) {
                return Err(LedgerError::NoSuchStream(missing.clone()));
            }
            names.retain(|n| wanted.iter().any(|w| n == w || n.strip_suffix(REJECTED_SUFFIX) == Some(w.as_str())));
        }
        let mut report = VerifyReport::default();
        for name in &names {
            let checkpoints: Vec<&Checkpoint> = opts.checkpoints.iter().filter(|c| &c.stream == name).collect();
            let s = self.verify_stream(name, &checkpoints, opts.parallelism, &mut report).await?;
            report.streams.push(s);
        }
        if opts.streams.is_none() {
            report.other.extend(self.outside_layout().await?.into_iter().map(|path| Finding { kind: ObjectKind::Unreferenced, path, problems: vec![] }));
        }
        for c in &opts.checkpoints {
            if !names.contains(&c.stream) && opts.streams.as_ref().is_none_or(|w| w.contains(&c.stream)) {
                report.other.push(Finding {
                    kind: ObjectKind::Checkpoint,
                    path: c.source.clone(),
                    problems: vec![format!("stream {} has {} rows in this checkpoint but does not exist in the ledger (removed)", c.stream, c.size)],
                });
            }
        }
        Ok(report)
    }

    /// Objects outside the ledger's layout (`_manifests/<stream>/`, `streams/<stream>/`,
    /// `_checkpoints/<stream>/`): files at the root or directly under one of those folders,
    /// and everything under any other folder. Not part of the ledger; listed so that
    /// nothing in the store goes unmentioned (files in a stream's own folders are listed
    /// with the stream).
    async fn outside_layout(&self) -> Result<Vec<String>> {
        const LAYOUT: [&str; 3] = ["_manifests", "streams", "_checkpoints"];
        let store = self.object_store();
        let root = store.list_with_delimiter(None).await.map_err(|e| LedgerError::store("", e))?;
        let mut out: Vec<String> = root.objects.iter().map(|o| o.location.to_string()).collect();
        for prefix in root.common_prefixes {
            let name = prefix.to_string();
            if LAYOUT.contains(&name.as_str()) {
                let inside = store.list_with_delimiter(Some(&prefix)).await.map_err(|e| LedgerError::store(&name, e))?;
                out.extend(inside.objects.iter().map(|o| o.location.to_string()));
            } else {
                let objects: Vec<_> = store.list(Some(&prefix)).try_collect().await.map_err(|e| LedgerError::store(&name, e))?;
                out.extend(objects.iter().map(|o| o.location.to_string()));
            }
        }
        out.sort();
        Ok(out)
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let listing = self.object_store().list_with_delimiter(Some(&Path::from(prefix))).await.map_err(|e| LedgerError::store(prefix, e))?;
        Ok(listing.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect())
    }

    /// One stream, in named steps: its manifests, every segment checked on its own (in
    /// parallel), one ordered fold that checks the chain and the Merkle trees manifest by
    /// manifest and segment by segment, the files no manifest commits, the checkpoints.
    async fn verify_stream(&self, stream: &str, checkpoints: &[&Checkpoint], parallelism: Option<usize>, totals: &mut VerifyReport) -> Result<StreamReport> {
        let (manifests, strays, last) = self.load_manifests(stream).await?;
        let mut splits: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
        splits.sort_unstable();
        let mut checks = self.segment_checks(stream, &manifests, &splits, parallelism);
        let mut fold = ChainFold::new(stream, splits);
        for (n, (finding, parsed)) in manifests {
            match parsed {
                Some((manifest, sha)) => fold.manifest(n, finding, manifest, sha, &mut checks, totals).await,
                None => fold.unreadable_manifest(n, finding),
            }
        }
        let (rows, head_manifest, tree_root) = match &fold.prev {
            Some((n, m, _)) => (m.tree_size, *n, m.tree_root.clone()),
            None => (0, last, String::new()),
        };
        let checkpoint_roots = std::mem::take(&mut fold.checkpoint_roots);
        let (mut findings, referenced, missing_by_sha) = fold.finish(strays);
        self.unreferenced_files(stream, &referenced, &missing_by_sha, &mut findings).await?;
        findings.extend(checkpoints.iter().map(|c| checkpoint_finding(c, rows, &checkpoint_roots)));
        Ok(StreamReport { stream: stream.to_string(), rows, head_manifest, tree_root, findings })
    }

    /// Every manifest number from 1 to the newest, each with its finding so far and, when
    /// it could be read, the manifest and the SHA-256 of its bytes; the objects in the
    /// manifest folder that are not manifests; the newest number.
    async fn load_manifests(&self, stream: &str) -> Result<(BTreeMap<u64, LoadedManifest>, Vec<String>, u64)> {
        let (numbers, strays) = self.manifest_numbers(stream).await?;
        let mut manifests = BTreeMap::new();
        let last = numbers.last().copied().unwrap_or(0);
        let present: HashSet<u64> = numbers.iter().copied().collect();
        for n in 1..=last {
            let path = manifest_path(stream, n);
            let mut finding = Finding { kind: ObjectKind::Manifest, path: path.clone(), problems: vec![] };
            let parsed = if !present.contains(&n) {
                finding.problems.push("missing (manifest removed)".into());
                None
            } else {
                match self.get(&path).await.map(|bytes| (Manifest::from_bytes(&path, &bytes), bytes)) {
                    Ok((Ok(m), bytes)) => {
                        if m.stream != stream || m.number != n {
                            finding.problems.push(format!("names stream {} number {} but is stored as {stream} number {n} (moved)", m.stream, m.number));
                        }
                        Some((m, crate::manifest::sha256_hex(&bytes)))
                    }
                    Ok((Err(e), _)) => {
                        finding.problems.push(corrupt_reason(e));
                        None
                    }
                    Err(e) => {
                        finding.problems.push(format!("unreadable: {e}"));
                        None
                    }
                }
            };
            manifests.insert(n, (finding, parsed));
        }
        Ok((manifests, strays, last))
    }

    /// Every segment of every readable manifest, checked on its own as a task of its own
    /// (so checks go on while the fold runs), at most `parallelism` at once, yielded in
    /// manifest and segment order: exactly one per listed segment, so the fold stays
    /// aligned.
    fn segment_checks(&self, stream: &str, manifests: &BTreeMap<u64, LoadedManifest>, splits: &[u64], parallelism: Option<usize>) -> SegmentChecks {
        let jobs: Vec<(SegmentRef, Option<StreamSchema>, u64)> = manifests
            .values()
            .filter_map(|(_, m)| m.as_ref().map(|(m, _)| m))
            .flat_map(|m| {
                let schema = StreamSchema::from_parts(stream, m.raw_kind, m.columns.clone()).ok();
                let commit_start = m.tree_size.saturating_sub(m.rows);
                m.segments.iter().map(move |s| (s.clone(), schema.clone(), s.first_seq.saturating_sub(commit_start)))
            })
            .collect();
        let parallelism = parallelism.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let (ledger, splits) = (self.clone(), splits.to_vec());
        futures::stream::iter(jobs.into_iter().map(move |(seg, schema, commit_offset)| {
            let (ledger, splits) = (ledger.clone(), splits.clone());
            tokio::spawn(async move {
                match &schema {
                    Some(schema) => ledger.check_segment(&seg, schema, commit_offset, &splits).await,
                    None => Err(Unreadable::Columns),
                }
            })
        }))
        .buffered(parallelism)
        .boxed()
    }

    /// Files under the stream's folder that no manifest commits, listed as unreferenced;
    /// a missing segment whose bytes turn up under another name is said to have moved.
    async fn unreferenced_files(
        &self,
        stream: &str,
        referenced: &HashSet<String>,
        missing_by_sha: &HashMap<String, usize>,
        findings: &mut Vec<Finding>,
    ) -> Result<()> {
        let prefix = format!("streams/{stream}");
        let objects: Vec<_> = self.object_store().list(Some(&Path::from(prefix.as_str()))).try_collect().await.map_err(|e| LedgerError::store(&prefix, e))?;
        let mut unreferenced: Vec<_> = objects.into_iter().filter(|o| !referenced.contains(o.location.as_ref())).collect();
        unreferenced.sort_by(|a, b| a.location.cmp(&b.location));
        for o in unreferenced {
            let path = o.location.to_string();
            if !missing_by_sha.is_empty()
                && let Ok(bytes) = self.get(&path).await
                && let Some(&i) = missing_by_sha.get(&hex::encode(Sha256::digest(&bytes)))
            {
                findings[i].problems = vec![format!("missing: moved to {path}")];
            }
            findings.push(Finding { kind: ObjectKind::Unreferenced, path, problems: vec![] });
        }
        Ok(())
    }

    /// Reads one segment and checks everything that needs no other object. `Err` when the
    /// file is missing or cannot be fetched.
    async fn check_segment(&self, seg: &SegmentRef, schema: &StreamSchema, commit_offset: u64, splits: &[u64]) -> Result<SegmentCheck, Unreadable> {
        let bytes = match self.get(&seg.path).await {
            Ok(b) => b,
            Err(LedgerError::Store { source: object_store::Error::NotFound { .. }, .. }) => return Err(Unreadable::Missing),
            Err(e) => return Err(Unreadable::Fetch(e.to_string())),
        };
        let (seg, schema, splits) = (seg.clone(), schema.clone(), splits.to_vec());
        tokio::task::spawn_blocking(move || Ok(check_segment_bytes(bytes, &seg, &schema, commit_offset, &splits))).await.expect("segment check does not panic")
    }
}

/// A manifest's finding so far and, when it could be read, the manifest and its SHA-256.
type LoadedManifest = (Finding, Option<(Manifest, String)>);

/// The segment checks, in order.
type SegmentChecks = futures::stream::BoxStream<'static, std::result::Result<std::result::Result<SegmentCheck, Unreadable>, tokio::task::JoinError>>;

/// Why a segment's rows could not be read at all.
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    /// The file is gone.
    #[error("missing (segment removed)")]
    Missing,
    /// The store would not give it.
    #[error("unreadable: {0}")]
    Fetch(String),
    /// Its manifest's column list is not a valid schema.
    #[error("cannot be read: its manifest's columns are invalid")]
    Columns,
}

/// The ordered fold over a stream's manifests and their segments' checks: the hash chain
/// across every row, each commit's Merkle tree, the stream's tree (and its roots at the
/// checkpoint sizes), and each manifest's links to the one before it.
struct ChainFold<'a> {
    stream: &'a str,
    /// Checkpoint sizes, sorted.
    splits: Vec<u64>,
    /// The previous readable manifest (number, manifest, SHA-256), if it came just before.
    prev: Option<(u64, Manifest, String)>,
    /// The stream's tree root at each checkpoint size reached.
    checkpoint_roots: HashMap<u64, Hash>,
    segment_findings: Vec<Finding>,
    manifest_findings: BTreeMap<u64, Finding>,
    /// Segment paths some manifest commits.
    referenced: HashSet<String>,
    /// Missing segments by their SHA-256, to find them if they were moved.
    missing_by_sha: HashMap<String, usize>,
}

/// The state one manifest's segments are folded into.
struct CommitFold {
    /// The stream's tree so far, while every row before is known.
    frontier: Option<Frontier>,
    /// Whether every row of the commit was recomputed.
    complete: bool,
    commit_tree: Frontier,
    /// The hash of the row before the next one, when known.
    chain: Option<Hash>,
    expected_seq: u64,
    rows: u64,
}

impl<'a> ChainFold<'a> {
    fn new(stream: &'a str, splits: Vec<u64>) -> Self {
        let mut checkpoint_roots = HashMap::new();
        if splits.first() == Some(&0) {
            checkpoint_roots.insert(0, crate::merkle::empty_root());
        }
        Self {
            stream,
            splits,
            prev: None,
            checkpoint_roots,
            segment_findings: Vec::new(),
            manifest_findings: BTreeMap::new(),
            referenced: HashSet::new(),
            missing_by_sha: HashMap::new(),
        }
    }

    /// A manifest that could not be read: what follows is judged on its own claims.
    fn unreadable_manifest(&mut self, n: u64, finding: Finding) {
        self.manifest_findings.insert(n, finding);
        self.prev = None;
    }

    /// One readable manifest: its links to the previous one, then its segments' checks in
    /// order, then its own claims against what they add up to.
    async fn manifest(&mut self, n: u64, mut mf: Finding, m: Manifest, sha: String, checks: &mut SegmentChecks, totals: &mut VerifyReport) {
        let (start_frontier, start_hash) = self.link(n, &m, &mut mf);
        if let Some(h) = &start_hash
            && &m.prev_row_hash != h
        {
            mf.problems.push("prev_row_hash does not continue the previous manifest's chain".into());
        }
        let mut commit = CommitFold {
            frontier: start_frontier,
            complete: true,
            commit_tree: Frontier::new(),
            chain: parse_hash(&m.prev_row_hash),
            expected_seq: m.tree_size.saturating_sub(m.rows),
            rows: 0,
        };
        for seg in &m.segments {
            let check = checks.next().await.expect("one check per segment").expect("segment checks do not panic");
            self.segment(seg, check, &mut commit, totals);
        }
        judge_manifest(&m, &commit, &mut mf);
        self.manifest_findings.insert(n, mf);
        self.prev = Some((n, m, sha));
    }

    /// Where manifest `n` starts the stream's tree and chain, checking its links to the
    /// previous manifest. A broken link blames the previous one, the object whose bytes no
    /// longer match what its successor recorded.
    fn link(&mut self, n: u64, m: &Manifest, mf: &mut Finding) -> (Option<Frontier>, Option<String>) {
        match &self.prev {
            Some((pn, pm, psha)) if *pn + 1 == n => {
                let mut link = Vec::new();
                if m.prev_manifest_sha256.as_deref() != Some(psha.as_str()) {
                    link.push(format!("its SHA-256 differs from the one manifest {n} records (this manifest was replaced or changed, or manifest {n} was)"));
                }
                if m.prev_row_hash != pm.last_row_hash || m.first_seq.unwrap_or(m.tree_size) != pm.tree_size {
                    link.push(format!("its last row or size differs from where manifest {n} continues the chain"));
                }
                let ok = link.is_empty();
                if let Some(f) = self.manifest_findings.get_mut(pn) {
                    f.problems.extend(link);
                }
                // When the link is broken, which side changed is unknowable here: judge
                // this manifest on its own claims rather than blame it for its predecessor.
                if ok { (pm.frontier().ok(), Some(pm.last_row_hash.clone())) } else { (None, None) }
            }
            _ if n == 1 => {
                if m.prev_manifest_sha256.is_some() || m.first_seq.unwrap_or(m.tree_size) != 0 {
                    mf.problems.push("is number 1 but links to an earlier manifest".into());
                }
                (Some(Frontier::new()), Some(hex::encode(genesis_hash(self.stream))))
            }
            // The previous manifest is missing or unreadable (already reported): carry on
            // from this manifest's own claims.
            _ => (None, None),
        }
    }

    /// One segment's check folded into its commit: its place in the chain, its rows in the
    /// commit's and the stream's trees.
    fn segment(&mut self, seg: &SegmentRef, check: std::result::Result<SegmentCheck, Unreadable>, commit: &mut CommitFold, totals: &mut VerifyReport) {
        self.referenced.insert(seg.path.clone());
        let mut sf = Finding { kind: ObjectKind::Segment, path: seg.path.clone(), problems: vec![] };
        match check {
            Err(unreadable) => {
                if matches!(unreadable, Unreadable::Missing) {
                    self.missing_by_sha.insert(seg.sha256.clone(), self.segment_findings.len());
                }
                sf.problems.push(unreadable.to_string());
                // Rows cannot be recomputed; continue the chain from the claims.
                commit.complete = false;
                commit.chain = None;
                commit.frontier = None;
            }
            Ok(mut c) => {
                totals.raw_bytes += c.raw_bytes;
                totals.file_bytes += c.file_bytes;
                sf.problems.append(&mut c.problems);
                // The manifest cannot be judged against rows that are themselves wrong;
                // the segment carries the blame.
                if !sf.problems.is_empty() {
                    commit.complete = false;
                }
                if seg.first_seq != commit.expected_seq {
                    sf.problems.push(format!("starts at seq {} but the previous segment ends at {}", seg.first_seq, commit.expected_seq.wrapping_sub(1)));
                }
                if let (Some(link), Some(first)) = (commit.chain, c.first_prev)
                    && link != first
                {
                    sf.problems.push(format!("first row's prev_hash does not link to the row before it (seq {})", seg.first_seq.wrapping_sub(1)));
                }
                let part = &c.commit_part;
                if part.end() - part.start() == seg.rows && commit.commit_tree.size() == part.start() {
                    c.commit_part.append_to(&mut commit.commit_tree);
                } else {
                    commit.complete = false;
                }
                for part in &c.stream_parts {
                    match commit.frontier.as_mut() {
                        Some(f) if f.size() == part.start() && commit.complete => {
                            part.append_to(f);
                            if self.splits.binary_search(&f.size()).is_ok() {
                                self.checkpoint_roots.insert(f.size(), f.root());
                            }
                        }
                        _ => commit.frontier = None,
                    }
                }
                commit.chain = c.last_row.or(commit.chain);
            }
        }
        commit.expected_seq = seg.last_seq.wrapping_add(1);
        commit.rows += seg.rows;
        self.segment_findings.push(sf);
    }

    /// The findings (segments, then manifests, then strays in the manifest folder), the
    /// referenced segment paths, and the missing segments by SHA-256.
    fn finish(self, strays: Vec<String>) -> (Vec<Finding>, HashSet<String>, HashMap<String, usize>) {
        let mut findings = self.segment_findings;
        findings.extend(self.manifest_findings.into_values());
        findings.extend(strays.into_iter().map(|path| Finding {
            kind: ObjectKind::Manifest,
            path,
            problems: vec!["unexpected object in the manifest folder (not a manifest name)".into()],
        }));
        (findings, self.referenced, self.missing_by_sha)
    }
}

/// A manifest's claims against what its segments add up to.
fn judge_manifest(m: &Manifest, commit: &CommitFold, mf: &mut Finding) {
    if commit.rows != m.rows {
        mf.problems.push(format!("claims {} rows but its segments hold {}", m.rows, commit.rows));
    }
    if commit.complete && hex::encode(commit.commit_tree.root()) != m.merkle_root {
        mf.problems.push("merkle_root does not match its rows".into());
    }
    if let (true, Some(f)) = (commit.complete, &commit.frontier)
        && (f.size() != m.tree_size || hex::encode(f.root()) != m.tree_root)
    {
        mf.problems.push("tree_root or tree_size does not match the rows it adds to the previous tree".into());
    }
    match m.frontier() {
        Ok(claimed) if hex::encode(claimed.root()) == m.tree_root => {}
        Ok(_) => mf.problems.push("tree_frontier does not hash to tree_root".into()),
        Err(e) => mf.problems.push(corrupt_reason(e)),
    }
    if let (true, Some(h)) = (commit.complete, commit.chain)
        && hex::encode(h) != m.last_row_hash
    {
        mf.problems.push("last_row_hash is not the hash of its last row".into());
    }
}

/// A checkpoint against the stream's tree root at its size.
fn checkpoint_finding(c: &Checkpoint, rows: u64, roots: &HashMap<u64, Hash>) -> Finding {
    let mut f = Finding { kind: ObjectKind::Checkpoint, path: c.source.clone(), problems: vec![] };
    if c.size > rows {
        f.problems.push(format!("checkpoint covers {} rows but the ledger holds {rows}: the newest data was removed (truncated)", c.size));
    } else {
        match roots.get(&c.size) {
            Some(root) if *root == c.root => {}
            Some(_) => f.problems.push(format!("tree root at size {} differs from the checkpoint: rows up to there were changed", c.size)),
            None => f.problems.push(format!("tree root at size {} cannot be recomputed because earlier objects are INVALID", c.size)),
        }
    }
    f
}

fn check_segment_bytes(bytes: Bytes, seg: &SegmentRef, schema: &StreamSchema, commit_offset: u64, splits: &[u64]) -> SegmentCheck {
    let mut problems = Problems::default();
    let file_bytes = bytes.len() as u64;
    if hex::encode(Sha256::digest(&bytes)) != seg.sha256 {
        problems.push("SHA-256 of the file differs from its manifest (file changed)".into());
    }
    if file_bytes != seg.bytes {
        problems.push(format!("size {file_bytes} differs from its manifest's {}", seg.bytes));
    }
    let mut check = SegmentCheck {
        problems: vec![],
        first_prev: None,
        last_row: None,
        stream_parts: vec![CompactRange::new(seg.first_seq)],
        commit_part: CompactRange::new(commit_offset),
        raw_bytes: 0,
        file_bytes,
    };
    let mut n = 0u64;
    let batches = match segment::decode(bytes, schema) {
        Ok(b) => b,
        Err(e) => {
            problems.push(e);
            check.problems = problems.finish();
            return check;
        }
    };
    let month = segment_month(&seg.path);
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();
    let mut typed = Vec::new();
    let mut scratch = Vec::new();
    let mut expected_seq = seg.first_seq;
    let mut last_stored: Option<Hash> = None;
    let (lo, hi) = (seg.event_time_min.timestamp_micros(), seg.event_time_max.timestamp_micros());
    for batch in batches {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                problems.push(e);
                break;
            }
        };
        let rows = BatchRows::new(&batch, schema);
        for i in 0..rows.len() {
            let seq = rows.seq(i);
            let prev_hash = rows.prev_hash(i);
            if check.first_prev.is_none() {
                check.first_prev = Some(prev_hash);
            }
            if seq != expected_seq {
                problems.push(format!("row {n} has seq {seq}, expected {expected_seq} (rows removed, inserted or reordered)"));
            }
            if let Some(last) = last_stored
                && prev_hash != last
            {
                problems.push(format!("seq {seq}: prev_hash does not link to the row before it (rows removed, inserted or reordered)"));
            }
            let raw = rows.raw(i);
            if rows.has_typed() {
                rows.typed_encoded(i, &mut typed);
            }
            let event_time = rows.event_time(i);
            let view = RowView { seq, event_time, ingest_time: rows.ingest_time(i), raw, names: &names, typed: &typed };
            let computed = row_hash(&prev_hash, &view, &mut scratch);
            let stored = rows.row_hash(i);
            if computed != stored {
                problems.push(format!("seq {seq}: row_hash does not match the row's contents (row changed)"));
            }
            if event_time < lo || event_time > hi {
                problems.push(format!("seq {seq}: event_time outside the manifest's range for this file"));
            }
            if let (Some(m), Some(t)) = (month, DateTime::from_timestamp_micros(event_time))
                && (t.year(), t.month()) != m
            {
                problems.push(format!("seq {seq}: event_time is not in the file's month partition"));
            }
            check.raw_bytes += raw.len() as u64;
            let leaf = leaf_hash(&computed);
            let part = check.stream_parts.last_mut().expect("at least one part");
            part.push_leaf(leaf);
            let end = part.end();
            if splits.binary_search(&end).is_ok() {
                check.stream_parts.push(CompactRange::new(end));
            }
            check.commit_part.push_leaf(leaf);
            check.last_row = Some(computed);
            n += 1;
            last_stored = Some(stored);
            expected_seq = seq.wrapping_add(1);
        }
    }
    if n != seg.rows {
        problems.push_first(format!("holds {n} rows but its manifest records {} (rows removed or added)", seg.rows));
    } else if n > 0 && expected_seq.wrapping_sub(1) != seg.last_seq {
        problems.push(format!("ends at seq {} but its manifest records {}", expected_seq.wrapping_sub(1), seg.last_seq));
    }
    check.problems = problems.finish();
    check
}

/// `(year, month)` of a `…/month=YYYY-MM/…` path.
fn segment_month(path: &str) -> Option<(i32, u32)> {
    let part = path.split('/').find_map(|p| p.strip_prefix("month="))?;
    let (y, m) = part.split_once('-')?;
    Some((y.parse().ok()?, m.parse().ok()?))
}

fn corrupt_reason(e: LedgerError) -> String {
    match e {
        LedgerError::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Collects distinct problems, keeping the first few of each kind of message.
#[derive(Default)]
struct Problems {
    list: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, p: String) {
        if self.list.len() < MAX_REASONS {
            self.list.push(p);
        } else {
            self.more += 1;
        }
    }
    /// Puts the most telling problem first, whatever the limit.
    fn push_first(&mut self, p: String) {
        self.list.insert(0, p);
        if self.list.len() > MAX_REASONS {
            self.list.pop();
            self.more += 1;
        }
    }
    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.list.push(format!("and {} more problems", self.more));
        }
        self.list
    }
}
