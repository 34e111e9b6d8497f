//! The emulator's TLS identity: a CA made at start and a loopback server certificate it
//! signs. `azure_identity` refuses a non-HTTPS authority host, so even on loopback the
//! emulator speaks TLS; clients trust it through the CA PEM (keytrail's `ca_file`).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::EmulatorError;

/// A server TLS configuration and the PEM of the CA that clients must trust.
pub(crate) struct TlsIdentity {
    pub server_config: Arc<rustls::ServerConfig>,
    pub ca_pem: String,
}

pub(crate) fn generate() -> Result<TlsIdentity, EmulatorError> {
    let tls = |e: rcgen::Error| EmulatorError::Tls(e.to_string());
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params.distinguished_name.push(DnType::CommonName, "keytrail emulator CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(tls)?;
    let mut server_params = CertificateParams::new(vec!["localhost".to_string()]).map_err(tls)?;
    server_params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    server_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let server_cert = server_params.signed_by(&server_key, &issuer).map_err(tls)?;

    let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EmulatorError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| EmulatorError::Tls(e.to_string()))?;
    Ok(TlsIdentity { server_config: Arc::new(server_config), ca_pem: ca_cert.pem() })
}
