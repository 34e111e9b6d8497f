-- Judges each cluster's snapshot taken nearest the period's end (docs/CONTROLS.md).
SELECT e.cluster_name || '/' || e.namespace || '/' || e.name AS resource,
       CASE WHEN COALESCE(e.refresh_interval_secs, 3600) = 0 OR COALESCE(e.refresh_interval_secs, 3600) > $max_refresh_secs THEN 'alarm'
            ELSE 'ok' END AS status,
       CASE WHEN COALESCE(e.refresh_interval_secs, 3600) = 0 THEN 'refresh turned off (refreshInterval 0): a rotated secret never reaches the cluster'
            WHEN COALESCE(e.refresh_interval_secs, 3600) > $max_refresh_secs
                THEN 'refreshes every ' || COALESCE(e.refresh_interval, '?') || ' (limit ' || CAST($max_refresh_secs AS VARCHAR) || ' s)'
            ELSE 'refreshes every ' || COALESCE(e.refresh_interval, '1h (ESO default)') END AS reason,
       e.cluster_name, e.namespace, e.name, e.refresh_interval, e.refresh_interval_secs, e.snapshot_time
FROM eso_externalsecrets e
JOIN snapshots l ON l.table_name = 'eso_externalsecrets' AND l.cluster_name = e.cluster_name AND l.snapshot_time = e.snapshot_time
  AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
  AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
WHERE e.cluster_name LIKE $prod_cluster_pattern
