//! The one outbound HTTPS client every collector (and the Entra credentials) shares, so
//! that an extra CA bundle (`ca_file`: a TLS-inspecting proxy, or the loopback emulator)
//! applies to all of it.

use std::path::Path;
use std::time::Duration;

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    /// The CA bundle could not be read.
    #[error("cannot read the CA bundle {path}: {source}")]
    ReadCa {
        /// The configured `ca_file`.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA bundle is not PEM certificates.
    #[error("the CA bundle {path} holds no usable PEM certificate: {reason}")]
    BadCa {
        /// The configured `ca_file`.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// reqwest refused the configuration.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// Builds the shared client: TLS through rustls (ring) with the system's roots plus
/// `ca_file`'s certificates, and a per-request timeout.
pub fn client(ca_file: Option<&Path>, timeout: Duration) -> Result<reqwest::Client, HttpSetupError> {
    // reqwest is built without a bundled crypto provider (so aws-lc is not compiled);
    // ring is installed as the process default. A second call finds it installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder =
        reqwest::Client::builder().timeout(timeout).connect_timeout(Duration::from_secs(30)).user_agent(concat!("keytrail/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| HttpSetupError::ReadCa { path: shown.clone(), source })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| HttpSetupError::BadCa { path: shown.clone(), reason: e.to_string() })?;
        if certs.is_empty() {
            return Err(HttpSetupError::BadCa { path: shown, reason: "no BEGIN CERTIFICATE block".into() });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder.build()?)
}
