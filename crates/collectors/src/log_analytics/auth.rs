//! Microsoft Entra credentials for the query API, through `azure_identity`. The crate has
//! no default chain, so the mode is chosen explicitly in the configuration. Tokens are
//! cached by the credential and refreshed before they expire.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::CollectError;
use super::config::{AuthMode, LogAnalyticsConfig};

/// The scope of the Log Analytics query API.
pub const SCOPE: &str = "https://api.loganalytics.io/.default";

/// Builds the credential the configuration asks for. The secret is read here, from the
/// environment or a file, and lives only inside the credential.
pub fn credential(config: &LogAnalyticsConfig, http: &reqwest::Client) -> Result<Arc<dyn TokenCredential>, CollectError> {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = config.authority_host.to_string();
    let client_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        // The query client retries token requests itself, saying why as it goes; the SDK's
        // own retries are silent (a minute and a half against an unreachable endpoint).
        // Managed identity keeps the IMDS retry schedule azure_identity applies on its own.
        retry: RetryOptions::none(),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        ..Default::default()
    };

    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let config_error = |message: String| CollectError::Config(message);
    let tenant = || {
        config
            .tenant_id
            .clone()
            .or_else(|| env("AZURE_TENANT_ID"))
            .ok_or_else(|| config_error("log_analytics.tenant_id is not set and AZURE_TENANT_ID is empty: set one of them".into()))
    };
    let client_id = || {
        config
            .client_id
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| env("AZURE_CLIENT_ID"))
            .ok_or_else(|| config_error("log_analytics.client_id is not set and AZURE_CLIENT_ID is empty: set one of them".into()))
    };
    let azure = |e: azure_core::Error| CollectError::Auth(e.to_string());
    Ok(match config.auth {
        AuthMode::ClientSecret => {
            let secret = crate::credential::read(
                "log_analytics",
                "client_secret",
                "client secret",
                config.client_secret_env.as_deref(),
                config.client_secret_file.as_deref(),
            )
            .map_err(config_error)?;
            let options = ClientSecretCredentialOptions { client_options };
            ClientSecretCredential::new(&tenant()?, client_id()?, Secret::new(secret), Some(options)).map_err(azure)?
        }
        AuthMode::WorkloadIdentity => {
            let options = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions { client_options },
                client_id: Some(client_id()?),
                tenant_id: Some(tenant()?),
                token_file_path: config.federated_token_file.clone(),
            };
            WorkloadIdentityCredential::new(Some(options)).map_err(azure)?
        }
        AuthMode::ManagedIdentity => {
            let user_assigned_id = config.client_id.as_ref().map(|id| UserAssignedId::ClientId(id.to_string()));
            let options = ManagedIdentityCredentialOptions { user_assigned_id, client_options };
            ManagedIdentityCredential::new(Some(options)).map_err(azure)?
        }
    })
}
