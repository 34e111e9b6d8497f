SELECT e.cluster_name || '/' || e.namespace || '/' || e.name AS resource,
       CASE WHEN COALESCE(e.refresh_interval_secs, 3600) = 0 OR COALESCE(e.refresh_interval_secs, 3600) > $max_refresh_secs THEN 'alarm'
            ELSE 'ok' END AS status,
       CASE WHEN COALESCE(e.refresh_interval_secs, 3600) = 0 THEN 'refresh turned off (refreshInterval 0): a rotated secret never reaches the cluster'
            WHEN COALESCE(e.refresh_interval_secs, 3600) > $max_refresh_secs
                THEN 'refreshes every ' || COALESCE(e.refresh_interval, '?') || ' (limit ' || CAST($max_refresh_secs AS VARCHAR) || ' s)'
            ELSE 'refreshes every ' || COALESCE(e.refresh_interval, '1h (ESO default)') END AS reason,
       e.cluster_name, e.namespace, e.name, e.refresh_interval, e.refresh_interval_secs
FROM eso_externalsecrets e
JOIN (SELECT cluster_name, max(snapshot_time) AS snapshot_time FROM eso_externalsecrets GROUP BY cluster_name) AS l
  ON e.cluster_name = l.cluster_name AND e.snapshot_time = l.snapshot_time
WHERE e.cluster_name LIKE $prod_cluster_pattern
