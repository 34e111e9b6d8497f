-- Every state of an ESO Event object that either source recorded:
-- - `eso_events`, the Kubernetes API's lists: a row per Event object and resourceVersion
--   seen, but the API server drops an Event an hour after its last change (`--event-ttl`),
--   so a daily list sees about an hour of a day;
-- - `kube_events`, Container Insights' `KubeEvents`: a row for each minute in which an
--   Event changed, kept for the workspace's retention (Normal events only where
--   `collect_all_kube_events` is on; see docs/SOURCES.md).
-- A KubeEvents row's cluster is its ClusterName, else the last part of its ClusterId (the
-- AKS resource ID). The same Event object in both has the same cluster, namespace, involved kind and name,
-- reason, type and firstTimestamp (to the second): `event_key`. Container Insights has no
-- uid, and a repeat after the TTL is a new object with a new firstTimestamp, so the key
-- tells objects apart as the uid does. `count` is the object's count in that state;
-- `event_time` the row's in its stream (when the state was seen).
SELECT event_time, cluster_name, namespace, involved_kind, involved_name, reason, event_type, message, count,
       first_timestamp, last_timestamp, 'kubernetes' AS source,
       concat_ws('/', cluster_name, namespace, involved_kind, involved_name, reason, event_type,
                 CAST(date_trunc('second', first_timestamp) AS VARCHAR)) AS event_key
FROM eso_events
UNION ALL
SELECT event_time, cluster_of, namespace, object_kind, name, reason, event_type, message, count,
       first_seen, last_seen, 'container_insights',
       concat_ws('/', cluster_of, namespace, object_kind, name, reason, event_type,
                 CAST(date_trunc('second', first_seen) AS VARCHAR))
FROM (SELECT *, COALESCE(cluster_name, regexp_replace(cluster_id, '^.*/', '')) AS cluster_of FROM kube_events) AS k
WHERE object_kind IN ('ExternalSecret', 'SecretStore', 'ClusterSecretStore', 'PushSecret')
  AND first_seen IS NOT NULL
