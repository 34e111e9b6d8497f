-- Judges each cluster's snapshot taken nearest the period's end (docs/CONTROLS.md).
WITH nearest AS (
    SELECT cluster_name, snapshot_time FROM snapshots l
    WHERE l.table_name = 'eso_externalsecrets'
      AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
      AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
), failures AS (
    SELECT cluster_name, namespace, external_secret, sum(count) AS failures, max(time) AS last_failure, min(message) AS example
    FROM eso_syncs
    WHERE reason = 'UpdateFailed' AND time >= $period_start AND time < $period_end
    GROUP BY cluster_name, namespace, external_secret
)
SELECT e.cluster_name || '/' || e.namespace || '/' || e.name AS resource,
       CASE WHEN (e.ready_status IS DISTINCT FROM 'True') OR COALESCE(f.failures, 0) > 0 THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN e.ready_status IS DISTINCT FROM 'True'
                THEN 'not synced: ' || COALESCE(e.ready_reason, 'no Ready condition') || COALESCE(' (' || e.ready_message || ')', '')
            WHEN f.failures > 0
                THEN CAST(f.failures AS VARCHAR) || ' failed syncs in the period, the last at ' || CAST(f.last_failure AS VARCHAR) || ': ' || f.example
            ELSE 'Ready; no failed sync in the period' END AS reason,
       e.cluster_name, e.namespace, e.name, e.store_kind, e.store_name, e.ready_status, e.ready_reason, f.failures, f.last_failure, e.snapshot_time
FROM eso_externalsecrets e
JOIN nearest l ON e.cluster_name = l.cluster_name AND e.snapshot_time = l.snapshot_time
LEFT JOIN failures f ON f.cluster_name = e.cluster_name AND f.namespace = e.namespace AND f.external_secret = e.name
