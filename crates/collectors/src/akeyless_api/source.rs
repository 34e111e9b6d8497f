//! `[akeyless_api]` as a [`Source`]: one part, the snapshot.

use std::path::Path;
use std::time::Duration;

use keytrail_ledger::{LedgerError, StreamSchema};

use super::{AkeylessApiConfig, ApiError, record_failure, snapshot};
use crate::source::{Collected, Part, Run, Source, missing, resolve};

#[async_trait::async_trait]
impl Source for AkeylessApiConfig {
    fn name(&self) -> &'static str {
        "akeyless_api"
    }

    fn streams() -> Result<Vec<StreamSchema>, LedgerError> {
        super::stream_schemas()
    }

    fn describe(&self) -> String {
        format!("{} as access ID {}", self.endpoint, self.access_id)
    }

    fn prepare(&mut self, base: &Path) -> Result<(), String> {
        if let Some(r) = self.access_key.take() {
            r.assign("akeyless_api.access_key", &mut self.access_key_env, &mut self.access_key_file)?;
        }
        resolve(base, &mut self.access_key_file);
        resolve(base, &mut self.k8s_service_account_token_file);
        resolve(base, &mut self.azure_ad_cloud_id_file);
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        AkeylessApiConfig::validate(self)
    }

    fn check_environment(&self) -> Vec<String> {
        missing(
            &[
                ("akeyless_api.access_key_file", self.access_key_file.as_deref()),
                ("akeyless_api.k8s_service_account_token_file", self.k8s_service_account_token_file.as_deref()),
                ("akeyless_api.azure_ad_cloud_id_file", self.azure_ad_cloud_id_file.as_deref()),
            ],
            &[("akeyless_api.access_key_env", self.access_key_env.as_deref())],
        )
    }

    async fn collect(&self, run: &Run<'_>) -> Result<Collected, LedgerError> {
        let outcome = match crate::http::client(run.ca_file, Duration::from_secs(self.timeout_secs)) {
            Ok(http) => snapshot(run.ledger, self, http, run.run_id).await,
            Err(e) => Err(ApiError::Config(e.to_string())),
        };
        let part = match outcome {
            Ok(report) => {
                let details = serde_json::json!({"items": report.items, "roles": report.roles, "auth_methods": report.auth_methods, "retries": report.retries});
                Part {
                    name: "snapshot".into(),
                    appended: report.items + report.roles + report.auth_methods,
                    line: format!(
                        "akeyless api: snapshot of {} items, {} roles, {} auth methods ({} retries)",
                        report.items, report.roles, report.auth_methods, report.retries
                    ),
                    details: details.as_object().cloned().unwrap_or_default(),
                    ..Part::default()
                }
            }
            Err(ApiError::Ledger(e)) => return Err(e),
            // A refused identity, an API that does not answer, a key that cannot be read: a
            // hole in the evidence, on record like any other.
            Err(e) => {
                tracing::error!("Akeyless API snapshot failed: {e}");
                record_failure(run.ledger, self, &e, run.run_id).await?;
                Part { name: "snapshot".into(), line: format!("akeyless api: NOT COLLECTED: {e}"), not_collected: Some(e.to_string()), ..Part::default() }
            }
        };
        Ok(Collected { header: None, parts: vec![part] })
    }
}
