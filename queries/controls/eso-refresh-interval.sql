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
JOIN (SELECT cluster_name, snapshot_time FROM (
      SELECT cluster_name, snapshot_time,
             row_number() OVER (PARTITION BY cluster_name ORDER BY abs(date_part('epoch', snapshot_time) - date_part('epoch', $period_end)), snapshot_time DESC) AS nearness
      FROM (SELECT DISTINCT cluster_name, snapshot_time FROM eso_externalsecrets) AS taken) AS ranked
  WHERE nearness = 1) AS l
  ON e.cluster_name = l.cluster_name AND e.snapshot_time = l.snapshot_time
WHERE e.cluster_name LIKE $prod_cluster_pattern
