//! The pack on disk: its files, fingerprint, signed manifest and archive, and the check
//! of a pack by someone who holds only the pack and the public key.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use keytrail_ledger::{Signer, Verifier};
use keytrail_query::LedgerSession;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::evidence::{EvidenceFiles, csv_bytes};
use crate::gather::Facts;
use crate::outcome::outcomes;
use crate::{PackSummary, ReportError, ReportOptions, html, oscal};

/// `format` of `manifest.json`.
const FORMAT: &str = "keytrail-evidence-pack/1";

/// One file of the pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FileEntry {
    path: String,
    size: u64,
    sha256: String,
}

/// A stream head the pack's evidence was drawn from, as signed in `checkpoints/`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StreamHead {
    stream: String,
    size: u64,
    root: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackManifest {
    format: String,
    period: String,
    period_start: String,
    period_end: String,
    generated_at: String,
    keytrail_version: String,
    fingerprint: String,
    ledger: Vec<StreamHead>,
    files: Vec<FileEntry>,
}

/// The text `manifest.sig` signs (a C2SP signed note over it).
fn signed_text(label: &str, manifest_sha256: &str) -> String {
    format!("keytrail-evidence-{label}\n{manifest_sha256}\n")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Files written so far, by path relative to the pack root.
struct Files {
    root: PathBuf,
    entries: BTreeMap<String, FileEntry>,
}

impl Files {
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), ReportError> {
        let file = self.root.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(ReportError::io(parent))?;
        }
        std::fs::write(&file, bytes).map_err(ReportError::io(&file))?;
        self.entries.insert(path.to_string(), FileEntry { path: path.to_string(), size: bytes.len() as u64, sha256: sha256_hex(bytes) });
        Ok(())
    }

    /// Notes a file written elsewhere: (size, SHA-256 hex).
    fn record(&mut self, path: &str, (size, sha256): (u64, String)) {
        self.entries.insert(path.to_string(), FileEntry { path: path.to_string(), size, sha256 });
    }

    /// SHA-256 over `<sha256>  <path>\n` of every file so far, in path order.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for e in self.entries.values() {
            h.update(format!("{}  {}\n", e.sha256, e.path));
        }
        hex::encode(h.finalize())
    }
}

pub(crate) async fn write(session: &LedgerSession, mut facts: Facts, signer: &Signer, options: &ReportOptions, out: &Path) -> Result<PackSummary, ReportError> {
    let name = format!("keytrail-evidence-{}", options.label);
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
    // Written aside and renamed into place, so a failed run leaves the previous pack.
    let partial = out.join(format!(".{name}.partial-{}", std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(ReportError::io(&partial))?;
    }
    let mut files = Files { root: partial.clone(), entries: BTreeMap::new() };

    for control in &options.controls {
        let (csv, parquet) = (format!("evidence/{}.csv", control.id), format!("evidence/{}.parquet", control.id));
        let mut sink = EvidenceFiles::create(&partial.join(&csv), &partial.join(&parquet), options.sample_rows, html::MAX_CELL_CHARS)?;
        let e = session.evaluate(control.clone(), options.period, &options.exceptions, &facts.integrity, &mut sink).await?;
        let (csv_file, parquet_file, sample) = sink.finish()?;
        files.record(&csv, csv_file);
        files.record(&parquet, parquet_file);
        if !e.sql.is_empty() {
            files.put(&format!("queries/{}.sql", e.control.id), e.sql.as_bytes())?;
        }
        facts.samples.insert(control.id.clone(), sample);
        facts.evaluations.push(e);
    }
    let facts = &facts;
    for (view, sql) in keytrail_query::VIEWS {
        files.put(&format!("queries/views/{view}.sql"), sql.as_bytes())?;
    }
    files.put("data/coverage.csv", &csv_bytes(&facts.coverage)?)?;
    files.put("data/collection-gaps.csv", &csv_bytes(&facts.gaps)?)?;
    for note in &facts.checkpoints {
        files.put(&format!("checkpoints/{}.note", note.checkpoint.stream), note.text.as_bytes())?;
    }
    let integrity = match &facts.integrity {
        Ok(report) => serde_json::to_vec_pretty(report),
        Err(e) => serde_json::to_vec_pretty(&serde_json::json!({"error": e})),
    }
    .expect("serialisable");
    files.put("integrity.json", &integrity)?;

    let framework_outcomes = outcomes(&options.frameworks, &facts.evaluations);
    files.put("controls.json", &html::controls_json(options, &facts.evaluations, &framework_outcomes))?;
    let fingerprint = files.fingerprint();

    let evidence_hashes: BTreeMap<String, String> = files.entries.values().map(|e| (e.path.clone(), e.sha256.clone())).collect();
    files.put("oscal/assessment-results.json", &oscal::assessment_results(options, facts, &framework_outcomes, &fingerprint, &evidence_hashes))?;
    files.put("index.html", html::render(options, facts, &framework_outcomes, &fingerprint)?.as_bytes())?;

    let manifest = PackManifest {
        format: FORMAT.into(),
        period: options.label.clone(),
        period_start: options.period.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        period_end: options.period.1.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        generated_at: options.generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        keytrail_version: options.version.clone(),
        fingerprint: fingerprint.clone(),
        ledger: facts
            .checkpoints
            .iter()
            .map(|n| StreamHead { stream: n.checkpoint.stream.clone(), size: n.checkpoint.size, root: hex::encode(n.checkpoint.root) })
            .collect(),
        files: files.entries.values().cloned().collect(),
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("serialisable");
    manifest_bytes.push(b'\n');
    let file_count = manifest.files.len();
    std::fs::write(partial.join("manifest.json"), &manifest_bytes).map_err(ReportError::io(partial.join("manifest.json")))?;
    let signature = signer.sign(&signed_text(&options.label, &sha256_hex(&manifest_bytes)));
    std::fs::write(partial.join("manifest.sig"), signature).map_err(ReportError::io(partial.join("manifest.sig")))?;

    let (dir, archive) = destination(out, &name, options.replace)?;
    if options.replace && dir.exists() {
        remove_written_pack(&dir)?;
    }
    std::fs::rename(&partial, &dir).map_err(ReportError::io(&dir))?;
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or(&name).to_string();
    write_archive(&dir, &folder, &archive, options.period.1.timestamp().max(0) as u64)?;

    let mut controls = BTreeMap::new();
    for e in &facts.evaluations {
        *controls.entry(e.verdict.status.as_str().to_string()).or_insert(0) += 1;
    }
    let requirements = framework_outcomes
        .iter()
        .map(|f| (f.framework.id.clone(), f.counts().into_iter().filter(|(_, n)| *n > 0).map(|(s, n)| (s.as_str().to_string(), n)).collect()))
        .collect();
    Ok(PackSummary {
        dir,
        archive,
        fingerprint,
        files: file_count,
        controls,
        requirements,
        ledger_valid: facts.integrity.as_ref().is_ok_and(|r| r.is_valid()),
        damaged_verdicts: crate::damaged_verdicts(&facts.evaluations),
    })
}

/// Every file under `dir`, relative, `/`-separated, sorted.
fn list_files(dir: &Path) -> Result<Vec<String>, ReportError> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).map_err(ReportError::io(&d))? {
            let path = entry.map_err(ReportError::io(&d))?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir").components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A `.tar.gz` of the pack with fixed owners, modes and times, so equal packs give equal
/// archives.
/// Where a pack named `name` goes in `out`: its own folder and archive when `replace`, else
/// the first of `name`, `name.2`, `name.3`, … whose folder and archive are both free, so
/// that a pack once written, which is evidence, is never replaced unasked.
fn destination(out: &Path, name: &str, replace: bool) -> Result<(PathBuf, PathBuf), ReportError> {
    let at = |folder: &str| (out.join(folder), out.join(format!("{folder}.tar.gz")));
    if replace {
        return Ok(at(name));
    }
    (1..10_000)
        .map(|n| if n == 1 { name.to_string() } else { format!("{name}.{n}") })
        .map(|folder| at(&folder))
        .find(|(dir, archive)| !dir.exists() && !archive.exists())
        .ok_or_else(|| ReportError::NoFreeName { out: out.to_path_buf(), name: name.to_string() })
}

/// Removes the files a previous pack in `dir` consists of (those its manifest lists, and
/// the manifest and signature) and the folders they leave empty; refuses to replace a
/// folder that is not a pack or that holds files keytrail did not write.
fn remove_written_pack(dir: &Path) -> Result<(), ReportError> {
    let manifest_path = dir.join("manifest.json");
    let manifest: PackManifest = std::fs::read(&manifest_path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).ok_or_else(|| {
        ReportError::ReplaceRefused { dir: dir.to_path_buf(), reason: "it holds no readable manifest.json, so it is not a keytrail pack".into() }
    })?;
    let written: std::collections::HashSet<String> =
        manifest.files.iter().map(|f| f.path.clone()).chain(["manifest.json".to_string(), "manifest.sig".to_string()]).collect();
    let others: Vec<String> = list_files(dir)?.into_iter().filter(|f| !written.contains(f)).collect();
    if !others.is_empty() {
        return Err(ReportError::ReplaceRefused {
            dir: dir.to_path_buf(),
            reason: format!("it holds files its pack did not write ({}): move them away, or write the pack without --replace", others.join(", ")),
        });
    }
    std::fs::remove_dir_all(dir).map_err(ReportError::io(dir))
}

fn write_archive(dir: &Path, name: &str, archive: &Path, mtime: u64) -> Result<(), ReportError> {
    let partial = archive.with_extension(format!("partial-{}", std::process::id()));
    let file = std::fs::File::create(&partial).map_err(ReportError::io(&partial))?;
    let gz = flate2::GzBuilder::new().mtime(0).write(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for rel in list_files(dir)? {
        // Streamed: an evidence file of a large month is hundreds of MB.
        let path = dir.join(&rel);
        let file = std::fs::File::open(&path).map_err(ReportError::io(&path))?;
        let size = file.metadata().map_err(ReportError::io(&path))?.len();
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{name}/{rel}"), file).map_err(ReportError::io(&partial))?;
    }
    let gz = tar.into_inner().map_err(ReportError::io(&partial))?;
    gz.finish().map_err(ReportError::io(&partial))?.flush().map_err(ReportError::io(&partial))?;
    std::fs::rename(&partial, archive).map_err(ReportError::io(archive))
}

/// The outcome of checking a pack.
#[derive(Clone, Debug)]
pub struct PackCheck {
    /// The period the manifest names.
    pub period: String,
    /// The fingerprint the manifest names.
    pub fingerprint: String,
    /// Files the manifest lists.
    pub files: usize,
    /// What differs from the signed manifest; empty when the pack is intact.
    pub problems: Vec<String>,
}

impl PackCheck {
    /// Whether the signature holds and every file is exactly as listed.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a pack folder or its `.tar.gz` against its signed manifest: the signature, then
/// every listed file's size and SHA-256, then files the manifest does not list.
pub fn verify_pack(path: &Path, verifier: &Verifier) -> Result<PackCheck, ReportError> {
    let not_a_pack = |reason: String| ReportError::NotAPack { path: path.to_path_buf(), reason };
    // Path → (size, sha256), plus the manifest and signature bytes.
    let mut found: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut special: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    let mut take = |rel: String, mut reader: &mut dyn Read| -> Result<(), ReportError> {
        let slot = match rel.as_str() {
            "manifest.json" => Some("manifest.json"),
            "manifest.sig" => Some("manifest.sig"),
            _ => None,
        };
        if let Some(slot) = slot {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).map_err(ReportError::io(path))?;
            special.insert(slot, bytes);
        } else {
            let mut hasher = Sha256::new();
            let size = std::io::copy(&mut reader, &mut hasher).map_err(ReportError::io(path))?;
            found.insert(rel, (size, hex::encode(hasher.finalize())));
        }
        Ok(())
    };
    if path.is_dir() {
        for rel in list_files(path)? {
            let mut file = std::fs::File::open(path.join(&rel)).map_err(ReportError::io(path.join(&rel)))?;
            take(rel, &mut file)?;
        }
    } else {
        let file = std::fs::File::open(path).map_err(ReportError::io(path))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let entries = archive.entries().map_err(|e| not_a_pack(format!("not a .tar.gz evidence pack: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| not_a_pack(format!("unreadable archive entry: {e}")))?;
            if entry.header().entry_type().is_dir() {
                continue;
            }
            let name = entry.path().map_err(|e| not_a_pack(e.to_string()))?.to_string_lossy().into_owned();
            // Entries sit under the pack's folder name.
            let rel = name.split_once('/').map_or(name.clone(), |(_, rest)| rest.to_string());
            take(rel, &mut entry)?;
        }
    }
    let manifest_bytes = special.remove("manifest.json").ok_or_else(|| not_a_pack("no manifest.json: not a keytrail evidence pack".into()))?;
    let manifest: PackManifest = serde_json::from_slice(&manifest_bytes).map_err(|e| not_a_pack(format!("manifest.json is not a {FORMAT} manifest: {e}")))?;
    let mut problems = Vec::new();
    match special.remove("manifest.sig") {
        None => problems.push("manifest.sig is missing: the pack is not signed".to_string()),
        Some(sig) => {
            let expected = signed_text(&manifest.period, &sha256_hex(&manifest_bytes));
            match verifier.open(&String::from_utf8_lossy(&sig), "manifest.sig") {
                Ok(text) if text == expected => {}
                Ok(_) => problems.push("manifest.sig is a valid signature of another manifest: manifest.json was changed".to_string()),
                Err(e) => problems.push(format!("signature: {e}")),
            }
        }
    }
    for entry in &manifest.files {
        match found.remove(&entry.path) {
            None => problems.push(format!("missing: {}", entry.path)),
            Some((size, sha256)) if size != entry.size || sha256 != entry.sha256 => problems
                .push(format!("changed: {} ({size} bytes, sha256 {sha256}; the manifest says {} bytes, sha256 {})", entry.path, entry.size, entry.sha256)),
            Some(_) => {}
        }
    }
    problems.extend(found.keys().map(|extra| format!("extra: {extra} (not in the manifest)")));
    Ok(PackCheck { period: manifest.period, fingerprint: manifest.fingerprint, files: manifest.files.len(), problems })
}
