//! `[kubernetes]` as a [`Source`]: one part per cluster.

use std::path::Path;

use keytrail_ledger::{LedgerError, StreamSchema};

use super::{KubernetesConfig, collect};
use crate::source::{Collected, Part, Run, Source, missing, resolve};

#[async_trait::async_trait]
impl Source for KubernetesConfig {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn streams() -> Result<Vec<StreamSchema>, LedgerError> {
        super::stream_schemas()
    }

    fn describe(&self) -> String {
        format!("clusters {}", self.clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "))
    }

    fn prepare(&mut self, base: &Path) -> Result<(), String> {
        resolve(base, &mut self.kubeconfig);
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        KubernetesConfig::validate(self)
    }

    fn check_environment(&self) -> Vec<String> {
        missing(&[("kubernetes.kubeconfig", self.kubeconfig.as_deref())], &[])
    }

    async fn collect(&self, run: &Run<'_>) -> Result<Collected, LedgerError> {
        let mut parts = Vec::new();
        // Each cluster that fails is already on record in `collection_gaps`.
        for (cluster, outcome) in collect(run.ledger, self, run.run_id).await? {
            let r = match outcome {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(cluster = %cluster, "Kubernetes collection failed: {e}");
                    parts.push(Part {
                        line: format!("kubernetes {cluster}: NOT COLLECTED: {e}"),
                        not_collected: Some(e.to_string()),
                        details: serde_json::json!({"cluster": cluster}).as_object().cloned().unwrap_or_default(),
                        name: cluster,
                        ..Part::default()
                    });
                    continue;
                }
            };
            let snapshot: Vec<String> = r.snapshots.iter().map(|(stream, n)| format!("{n} {stream}")).collect();
            let written = if r.snapshot_written { "" } else { " (unchanged today: not written again)" };
            let snapshots: serde_json::Map<String, serde_json::Value> = r.snapshots.iter().map(|(s, n)| (s.clone(), (*n).into())).collect();
            let details = serde_json::json!({"cluster": r.cluster, "server_version": r.server_version, "events_listed": r.events_listed,
                "expired_continue_tokens": r.expired_continue_tokens, "snapshot": snapshots, "snapshot_written": r.snapshot_written});
            parts.push(Part {
                name: r.cluster.clone(),
                appended: r.events_appended,
                rejected: r.events_rejected,
                line: format!(
                    "kubernetes {} ({}): {} events listed, {} new observations, {} rejected, {} expired continue tokens; snapshot of {}{written}",
                    r.cluster,
                    r.server_version,
                    r.events_listed,
                    r.events_appended,
                    r.events_rejected,
                    r.expired_continue_tokens,
                    snapshot.join(", ")
                ),
                not_collected: None,
                details: details.as_object().cloned().unwrap_or_default(),
            });
        }
        Ok(Collected { header: None, parts })
    }
}
