-- When each source delivered rows: one row per collected log row, with its stream, its
-- scope (the cluster; for Akeyless records, the sink they came through) and its event
-- time. A filter on event_time reaches every stream's Parquet statistics, so a period's
-- activity reads only that period's segments. The silent-sources control groups it by
-- hour.
SELECT 'aks_audit' AS stream, cluster_name AS scope, event_time FROM aks_audit
UNION ALL
SELECT 'aks_audit_admin', cluster_name, event_time FROM aks_audit_admin
UNION ALL
SELECT 'kube_events', cluster_name, event_time FROM kube_events
UNION ALL
SELECT 'kube_pod_inventory', cluster_name, event_time FROM kube_pod_inventory
UNION ALL
SELECT 'container_log_v2', cluster_name, event_time FROM container_log_v2
UNION ALL
SELECT 'akeyless_audit', source, event_time FROM akeyless_audit
UNION ALL
SELECT 'eso_events', cluster_name, event_time FROM eso_events
