//! Where the ledger lives, and what it needs from the store.
//!
//! # Storage contract
//!
//! The ledger runs on any [`ObjectStore`] that guarantees:
//! 1. **Atomic visibility**: an object is either absent or complete (never partially
//!    readable). All `object_store` backends provide this for `put`.
//! 2. **One winner per name**: `put` with [`PutMode::Create`] fails with `AlreadyExists` (or
//!    `Precondition`) when the object exists, so exactly one writer commits each manifest
//!    number. Local files (hard link), Azure Blob (`If-None-Match: *`) and S3 (conditional
//!    put) provide this.
//! 3. **Consistent listing**: after a successful `put`, listing shows the object. Azure
//!    Blob, S3 and local files are strongly consistent.
//!
//! The ledger writes every object with `PutMode::Create` and never deletes or overwrites a
//! committed object, so it runs unchanged on immutable (WORM) containers. The only deletes
//! are best-effort removals of a writer's own uncommitted segment files after it lost a
//! race; a store that refuses them leaves harmless unreferenced files.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::manifest::{Manifest, ManifestSegments, manifest_dir, manifest_path, parse_manifest_name};
use crate::{LedgerError, Result};

/// Manifests fetched at once by readers that need every one of a stream.
const MANIFEST_FETCHES: usize = 16;

/// Whether [`Ledger::open`] may create a missing local ledger folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Fail with [`LedgerError::NotFound`] when a local ledger folder does not exist.
    ReadOnly,
    /// Create a missing local ledger folder.
    ReadWrite,
}

/// A ledger at a location: a local folder, `file://…`, `az://container/path`
/// (`azure://`, `abfs://`, `https://<account>.blob.core.windows.net/…` too) or
/// `s3://bucket/path`. Cloud credentials come from the environment (`AZURE_STORAGE_*`,
/// `AWS_*`), never from the URL.
#[derive(Clone, Debug)]
pub struct Ledger {
    store: Arc<dyn ObjectStore>,
    /// `store` without the path prefix of a cloud ledger, and that prefix (`""` or ending
    /// in `/`): see [`Ledger::unprefixed_store`].
    root: (Arc<dyn ObjectStore>, String),
    location: String,
    /// The ledger's root as a URL any process resolves by scheme and container alone
    /// (`file:///…/`, `az://container/…/`, `s3://bucket/…/`), when it has one.
    shared_url: Option<String>,
}

impl Ledger {
    /// Checks, without touching it, that `url` names a location a ledger can live at: a
    /// path, `file://`, `az://` (`azure://`, `abfs(s)://`, `https://`) with a container,
    /// or `s3://` (`s3a://`) with a bucket.
    pub fn check_location(url: &str) -> Result<()> {
        let invalid = |reason: &str| LedgerError::InvalidLocation { url: redact(url), reason: reason.into() };
        if url.trim().is_empty() {
            return Err(invalid("empty; give a folder or an az:// or s3:// URL"));
        }
        let Some(u) = url::Url::parse(url).ok().filter(|u| u.scheme().len() > 1) else { return Ok(()) };
        match u.scheme() {
            "file" => u.to_file_path().map(drop).map_err(|()| invalid("not a local file path")),
            "az" | "azure" | "abfs" | "abfss" | "https" | "s3" | "s3a" if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            "az" | "azure" | "abfs" | "abfss" | "https" | "s3" | "s3a" => Err(invalid("names no container or bucket")),
            _ => Err(invalid(&format!("unsupported scheme {:?}; use a path, file://, az:// or s3://", u.scheme()))),
        }
    }

    /// Opens the ledger at `url`.
    pub async fn open(url: &str, mode: OpenMode) -> Result<Self> {
        Self::check_location(url)?;
        let shown = redact(url);
        let invalid = |reason: String| LedgerError::InvalidLocation { url: shown.clone(), reason };
        let parsed = url::Url::parse(url).ok().filter(|u| u.scheme().len() > 1);
        match parsed {
            None => Self::local(std::path::Path::new(url), mode, url),
            Some(u) if u.scheme() == "file" => {
                let path = u.to_file_path().map_err(|()| invalid("not a local file path".into()))?;
                Self::local(&path, mode, url)
            }
            Some(u) => {
                let store: Arc<dyn ObjectStore> = match u.scheme() {
                    "az" | "azure" | "abfs" | "abfss" | "https" => {
                        Arc::new(object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url).build().map_err(|e| invalid(e.to_string()))?)
                    }
                    "s3" | "s3a" => Arc::new(object_store::aws::AmazonS3Builder::from_env().with_url(url).build().map_err(|e| invalid(e.to_string()))?),
                    other => return Err(invalid(format!("unsupported scheme {other:?}; use a path, file://, az:// or s3://"))),
                };
                let prefix = cloud_prefix(&u);
                let shared_url = match (u.scheme(), u.host_str()) {
                    ("az" | "azure", Some(container)) => Some(format!("az://{container}/{}", folder(&prefix))),
                    ("s3" | "s3a", Some(bucket)) => Some(format!("s3://{bucket}/{}", folder(&prefix))),
                    _ => None,
                };
                let root = (store.clone(), folder(&prefix));
                let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() { store } else { Arc::new(PrefixStore::new(store, prefix)) };
                Ok(Self { store, root, location: shown, shared_url })
            }
        }
    }

    fn local(path: &std::path::Path, mode: OpenMode, url: &str) -> Result<Self> {
        if !path.exists() {
            if mode == OpenMode::ReadOnly {
                return Err(LedgerError::NotFound(redact(url)));
            }
            std::fs::create_dir_all(path).map_err(|source| LedgerError::Io { path: path.into(), source })?;
        }
        let invalid = |reason: String| LedgerError::InvalidLocation { url: url.to_string(), reason };
        let store = object_store::local::LocalFileSystem::new_with_prefix(path).map_err(|e| invalid(e.to_string()))?;
        let absolute = path.canonicalize().map_err(|source| LedgerError::Io { path: path.into(), source })?;
        let shared_url = url::Url::from_directory_path(&absolute).map_err(|()| invalid("not an absolute path".into()))?;
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        Ok(Self { root: (store.clone(), String::new()), store, location: path.display().to_string(), shared_url: Some(shared_url.to_string()) })
    }

    /// The object store at `url`, found and authenticated by the same rules as a ledger's
    /// (for reading source files stored beside it; keytrail writes nothing through it).
    pub async fn object_store_at(url: &str) -> Result<Arc<dyn ObjectStore>> {
        Ok(Self::open(url, OpenMode::ReadOnly).await?.store)
    }

    /// A ledger over an existing store (tests, embedding).
    pub fn from_store(store: Arc<dyn ObjectStore>, location: impl Into<String>) -> Self {
        Self { root: (store.clone(), String::new()), store, location: location.into(), shared_url: None }
    }

    /// The ledger's root as a URL that other processes (a query cluster's scheduler and
    /// executors) resolve to the same objects by scheme and container alone, ending in
    /// `/`: `file:///…/` for a local folder, `az://container/…/`, `s3://bucket/…/`. None
    /// for a ledger named by an `https://` or `abfs://` URL, or built over a store.
    pub fn shared_url(&self) -> Option<&str> {
        self.shared_url.as_deref()
    }

    /// The location this ledger was opened from.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The underlying store, rooted at the ledger.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The store a cloud ledger lives in, not rooted at the ledger, and the folder inside
    /// it that holds the ledger (`""` or ending in `/`). For readers that look objects up
    /// by the location in their metadata, as DataFusion's listing tables do: behind
    /// `object_store`'s `PrefixStore`, `head` reports the location with the prefix, so a
    /// table over the rooted store would find no files.
    pub fn unprefixed_store(&self) -> (Arc<dyn ObjectStore>, &str) {
        (self.root.0.clone(), &self.root.1)
    }

    /// Names of all streams that have at least one manifest, sorted.
    pub async fn streams(&self) -> Result<Vec<String>> {
        let listing = self.store.list_with_delimiter(Some(&Path::from("_manifests"))).await.map_err(|e| LedgerError::store("_manifests", e))?;
        let mut names: Vec<String> = listing.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect();
        names.sort();
        Ok(names)
    }

    /// Manifest numbers present for a stream, sorted ascending, with any object in the
    /// manifest folder whose name is not a manifest name.
    pub(crate) async fn manifest_numbers(&self, stream: &str) -> Result<(Vec<u64>, Vec<String>)> {
        let dir = manifest_dir(stream);
        let objects: Vec<_> = self.store.list(Some(&Path::from(dir.as_str()))).try_collect().await.map_err(|e| LedgerError::store(&dir, e))?;
        let mut numbers = Vec::new();
        let mut strays = Vec::new();
        for meta in objects {
            match meta.location.filename().and_then(parse_manifest_name) {
                Some(n) => numbers.push(n),
                None => strays.push(meta.location.to_string()),
            }
        }
        numbers.sort_unstable();
        Ok((numbers, strays))
    }

    /// All manifests of a stream in number order, as parsed. Fails on the first unreadable
    /// one; `verify` is the tolerant reader.
    pub async fn manifests(&self, stream: &str) -> Result<Vec<Manifest>> {
        self.each_manifest(stream, Manifest::from_bytes).await
    }

    /// The segments of `manifests` (a stream's, from [`segment_lists`](Self::segment_lists))
    /// that are not in the store as committed: missing, or of another size than their
    /// manifest records, each with why. One listing of the stream's folder, not a request
    /// per file: a reader calls it before it trusts a table of the segments, since a query
    /// engine reading a folder of files skips a missing file and reads an empty one as no
    /// rows. (Changed bytes of the same size are `verify`'s to find.)
    pub async fn damaged_segments(&self, stream: &str, manifests: &[ManifestSegments]) -> Result<Vec<(String, String)>> {
        let dir = format!("streams/{stream}");
        let sizes: HashMap<String, u64> = self
            .store
            .list(Some(&Path::from(dir.as_str())))
            .map_ok(|meta| (meta.location.to_string(), meta.size))
            .try_collect()
            .await
            .map_err(|e| LedgerError::store(&dir, e))?;
        Ok(manifests
            .iter()
            .flat_map(|m| &m.segments)
            .filter_map(|s| match sizes.get(&s.path) {
                None => Some((s.path.clone(), "missing: the file its manifest commits is not in the ledger".to_string())),
                Some(&size) if size != s.bytes => Some((s.path.clone(), format!("{size} bytes, but its manifest commits {}", s.bytes))),
                Some(_) => None,
            })
            .collect())
    }

    /// The segment lists of a stream's manifests in number order: for readers of the data.
    pub async fn segment_lists(&self, stream: &str) -> Result<Vec<ManifestSegments>> {
        self.each_manifest(stream, ManifestSegments::from_bytes).await
    }

    /// Every manifest of a stream, in number order, through `parse`; fetched
    /// [`MANIFEST_FETCHES`] at a time, since a cloud ledger answers each in a round trip.
    async fn each_manifest<T>(&self, stream: &str, parse: fn(&str, &[u8]) -> Result<T>) -> Result<Vec<T>> {
        let (numbers, _) = self.manifest_numbers(stream).await?;
        futures::stream::iter(numbers)
            .map(|n| async move {
                let path = manifest_path(stream, n);
                parse(&path, &self.get(&path).await?)
            })
            .buffered(MANIFEST_FETCHES)
            .try_collect()
            .await
    }

    /// The newest manifest of a stream and the SHA-256 of its bytes, if any.
    pub(crate) async fn head(&self, stream: &str) -> Result<Option<(Manifest, String)>> {
        let (numbers, _) = self.manifest_numbers(stream).await?;
        let Some(&last) = numbers.last() else { return Ok(None) };
        let path = manifest_path(stream, last);
        let bytes = self.get(&path).await?;
        let manifest = Manifest::from_bytes(&path, &bytes)?;
        if manifest.number != last || manifest.stream != stream {
            return Err(LedgerError::corrupt("manifest", &path, "its stream or number differs from its name"));
        }
        Ok(Some((manifest, crate::manifest::sha256_hex(&bytes))))
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Bytes> {
        let result = self.store.get(&Path::from(path)).await.map_err(|e| LedgerError::store(path, e))?;
        result.bytes().await.map_err(|e| LedgerError::store(path, e))
    }

    /// Writes a new object; `Ok(false)` when an object already exists at `path`.
    pub(crate) async fn put_new(&self, path: &str, bytes: Vec<u8>) -> Result<bool> {
        let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.store.put_opts(&Path::from(path), PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(LedgerError::store(path, e)),
        }
    }

    pub(crate) async fn delete_uncommitted(&self, path: &str) {
        if let Err(e) = self.store.delete(&Path::from(path)).await {
            tracing::debug!(path, error = %e, "could not remove an uncommitted segment; it stays unreferenced");
        }
    }
}

/// A ledger URL as it may be shown: without a query string (SAS tokens) or password.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.scheme().len() > 1 => {
            if u.query().is_some() {
                u.set_query(Some("REDACTED"));
            }
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `prefix` as a folder of a URL: empty, or ending in `/`.
fn folder(prefix: &Path) -> String {
    if prefix.as_ref().is_empty() { String::new() } else { format!("{prefix}/") }
}

/// The path inside the container/bucket that a cloud URL points at.
fn cloud_prefix(u: &url::Url) -> Path {
    let path = u.path().trim_matches('/');
    // For https://account.blob.core.windows.net/container/path the container is the first
    // segment, which the Azure builder consumes; az://container/path has it as the host.
    let path = if u.scheme() == "https" { path.split_once('/').map_or("", |(_, rest)| rest) } else { path };
    // abfs://container@account.dfs.core.windows.net/path has the container in the user part.
    Path::from(path)
}

#[cfg(test)]
mod tests {
    use super::{Ledger, OpenMode, redact};

    #[test]
    fn urls_lose_their_secrets_when_shown() {
        assert_eq!(redact("https://acct.blob.core.windows.net/c/p?sv=2024&sig=SECRET"), "https://acct.blob.core.windows.net/c/p?REDACTED");
        assert_eq!(redact("s3://user:SECRET@bucket/p"), "s3://user:REDACTED@bucket/p");
        assert_eq!(redact("./evidence"), "./evidence");
        assert_eq!(redact("az://evidence/prod"), "az://evidence/prod");
    }

    #[tokio::test]
    async fn shared_urls_name_the_ledger_root_by_scheme_and_container() {
        let dir = tempfile::tempdir().unwrap();
        let local = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadOnly).await.unwrap();
        let expected = url::Url::from_directory_path(dir.path().canonicalize().unwrap()).unwrap();
        assert_eq!(local.shared_url(), Some(expected.as_str()));
        assert!(local.shared_url().unwrap().starts_with("file:///") && local.shared_url().unwrap().ends_with('/'));
        // SAFETY: no other test of this crate reads the Azure variables.
        unsafe { std::env::set_var("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1") };
        let az = Ledger::open("az://evidence/ledgers/prod", OpenMode::ReadOnly).await.unwrap();
        assert_eq!(az.shared_url(), Some("az://evidence/ledgers/prod/"));
        let root = Ledger::open("az://evidence", OpenMode::ReadOnly).await.unwrap();
        assert_eq!(root.shared_url(), Some("az://evidence/"));
        let https = Ledger::open("https://devstoreaccount1.blob.core.windows.net/evidence/prod", OpenMode::ReadOnly).await.unwrap();
        assert_eq!(https.shared_url(), None);
    }
}
