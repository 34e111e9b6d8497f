-- Where each Akeyless item goes: the ExternalSecrets that read it (each cluster's latest
-- snapshot), the Kubernetes Secret each one writes, and the pods that ran in that Secret's
-- namespace. Container Insights does not record which pods mount which Secret, so `pods`
-- is the Secret's reach (the pods that could mount it), not proof that they do.
WITH latest AS (
    SELECT cluster_name, max(snapshot_time) AS snapshot_time FROM eso_externalsecrets GROUP BY cluster_name
), external AS (
    SELECT e.cluster_name, e.namespace, e.name AS external_secret, COALESCE(e.target_name, e.name) AS kubernetes_secret,
           e.store_kind, e.store_name, e.ready_status, e.refresh_interval_secs, e.refresh_time, e.snapshot_time,
           unnest(e.remote_keys) AS akeyless_item
    FROM eso_externalsecrets e JOIN latest l ON e.cluster_name = l.cluster_name AND e.snapshot_time = l.snapshot_time
), pods AS (
    SELECT cluster_name, namespace, array_sort(array_agg(DISTINCT name)) AS pods
    FROM kube_pod_inventory GROUP BY cluster_name, namespace
)
SELECT x.akeyless_item, x.cluster_name, x.namespace, x.external_secret, x.kubernetes_secret, x.store_kind, x.store_name,
       x.ready_status, x.refresh_interval_secs, x.refresh_time, x.snapshot_time, p.pods
FROM external x LEFT JOIN pods p ON p.cluster_name = x.cluster_name AND p.namespace = x.namespace
