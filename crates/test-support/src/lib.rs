//! Fixtures shared by keytrail's tests. Owns nothing the product ships: temporary
//! ledgers and input files, and a real Azurite (Azure Blob emulator) or moto (S3) process
//! per test.
//! It must never stand in for keytrail's own code: tests run the real thing against
//! these fixtures.
#![deny(missing_docs)]

mod azurite;
mod moto;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use azurite::{ACCOUNT as AZURITE_ACCOUNT, ACCOUNT_KEY as AZURITE_ACCOUNT_KEY, Azurite};
pub use moto::{S3Server, SECRET_ACCESS_KEY as S3_SECRET_ACCESS_KEY};

/// A test tool's executable: the path in `env`, else `in_workspace` (relative to the
/// repository root) if it exists, else `name` on `PATH`.
pub(crate) fn find_tool(env: &str, in_workspace: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(path.into());
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(in_workspace);
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| PathBuf::from(dir).join(name)).find(|p| p.exists())
}

/// Waits until something listens on the loopback `port`; panics naming `what` after `secs`.
pub(crate) fn wait_until_listening(port: u16, what: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not listen on port {port} within {secs} s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A temporary folder holding a ledger and test inputs; removed on drop.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    /// A new empty workspace.
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("create a temp dir") }
    }

    /// The workspace folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<workspace>/ledger`, the ledger location tests use.
    pub fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger")
    }

    /// Writes `lines` (each followed by a newline) to a file in the workspace.
    pub fn write_lines<L: AsRef<[u8]>>(&self, name: &str, lines: impl IntoIterator<Item = L>) -> PathBuf {
        let path = self.dir.path().join(name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create input file"));
        for l in lines {
            f.write_all(l.as_ref()).unwrap();
            f.write_all(b"\n").unwrap();
        }
        f.flush().unwrap();
        path
    }
}

/// `n` audit-like JSON records starting at `first`, one second apart from
/// 2026-11-01T00:00:00Z, each a distinct line.
pub fn audit_records(first: u64, n: u64) -> Vec<String> {
    (first..first + n)
        .map(|i| {
            let t = chrono::DateTime::from_timestamp(1_793_491_200 + i as i64, 0).unwrap();
            format!(
                r#"{{"timestamp":"{}","action":"get_secret_value","item_name":"/prod/db/password-{}","access_id":"p-{:04}","status":200}}"#,
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                i % 50,
                i % 7
            )
        })
        .collect()
}
