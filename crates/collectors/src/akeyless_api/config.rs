//! `[akeyless_api]`: where the Akeyless API is and which identity reads it.

use std::path::PathBuf;

use serde::Deserialize;

use crate::settings::HttpUrl;

/// `[akeyless_api]` in `keytrail.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AkeylessApiConfig {
    /// API base URL.
    #[serde(default = "default_endpoint")]
    pub endpoint: HttpUrl,
    /// The auth method's access ID.
    pub access_id: String,
    /// `access_key`, `k8s` or `azure_ad`.
    #[serde(default = "default_access_type")]
    pub access_type: AccessType,
    /// Where the access key is (`access_key`): `"env:VAR"` or `"file:PATH"`; shorthand
    /// for `access_key_env` / `access_key_file`.
    #[serde(default)]
    pub access_key: Option<crate::credential::SecretRef>,
    /// Environment variable holding the access key (`access_key`).
    pub access_key_env: Option<String>,
    /// File holding the access key (`access_key`).
    pub access_key_file: Option<PathBuf>,
    /// Kubernetes auth config name in the Gateway (`k8s`).
    pub k8s_auth_config_name: Option<String>,
    /// Service-account token file (`k8s`); default the pod's projected token.
    pub k8s_service_account_token_file: Option<PathBuf>,
    /// File holding the cloud ID (`azure_ad`), as the Akeyless CLI generates it.
    pub azure_ad_cloud_id_file: Option<PathBuf>,
    /// Seconds per request.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Attempts per request (429, 5xx, timeouts are retried).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First back-off in milliseconds.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
}

fn default_endpoint() -> HttpUrl {
    HttpUrl::parse("https://api.akeyless.io").expect("a valid URL")
}
fn default_access_type() -> AccessType {
    AccessType::AccessKey
}

/// The Akeyless authentication types keytrail can log in with (`access-type` of `/auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessType {
    /// An API key: `access_key_env` / `access_key_file`.
    AccessKey,
    /// Kubernetes auth: the pod's service-account token and `k8s_auth_config_name`.
    K8s,
    /// Azure AD auth: the cloud ID from `azure_ad_cloud_id_file`.
    AzureAd,
}

impl AkeylessApiConfig {
    /// What the section's values cannot say alone. The snapshot and `keytrail config
    /// check` both call it.
    pub fn validate(&self) -> Result<(), String> {
        if self.access_type == AccessType::K8s && self.k8s_auth_config_name.is_none() {
            return Err("akeyless_api: access_type = \"k8s\" needs k8s_auth_config_name".into());
        }
        if self.max_attempts == 0 || self.timeout_secs == 0 {
            return Err("akeyless_api.max_attempts and timeout_secs must be at least 1".into());
        }
        Ok(())
    }
}
fn default_timeout_secs() -> u64 {
    60
}
fn default_max_attempts() -> u32 {
    5
}
fn default_initial_backoff_ms() -> u64 {
    500
}
