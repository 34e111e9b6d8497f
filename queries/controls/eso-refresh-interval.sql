-- Judges each cluster's snapshot taken nearest the period's end (docs/CONTROLS.md), in the
-- clusters [environments] declares production. A cluster no environment names is unknown:
-- its environment is never guessed from its name.
WITH nearest AS (
    SELECT e.*
    FROM eso_externalsecrets e
    JOIN snapshots l ON l.table_name = 'eso_externalsecrets' AND l.cluster_name = e.cluster_name AND l.snapshot_time = e.snapshot_time
      AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
      AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
), declared AS (
    SELECT c.cluster_name, bool_or(r.production) AS production
    FROM (SELECT DISTINCT cluster_name FROM nearest) AS c
    JOIN environment_rules r ON r.kind = 'cluster' AND c.cluster_name LIKE r.pattern
    GROUP BY c.cluster_name
)
SELECT e.cluster_name || '/' || e.namespace || '/' || e.name AS resource,
       CASE WHEN COALESCE(e.refresh_interval_secs, 3600) = 0 OR COALESCE(e.refresh_interval_secs, 3600) > $max_refresh_secs THEN 'alarm'
            ELSE 'ok' END AS status,
       CASE WHEN COALESCE(e.refresh_interval_secs, 3600) = 0 THEN 'refresh turned off (refreshInterval 0): a rotated secret never reaches the cluster'
            WHEN COALESCE(e.refresh_interval_secs, 3600) > $max_refresh_secs
                THEN 'refreshes every ' || COALESCE(e.refresh_interval, '?') || ' (limit ' || CAST($max_refresh_secs AS VARCHAR) || ' s)'
            ELSE 'refreshes every ' || COALESCE(e.refresh_interval, '1h (ESO default)') END AS reason,
       e.cluster_name, e.namespace, e.name, e.refresh_interval, e.refresh_interval_secs, e.snapshot_time
FROM nearest e
JOIN declared d ON d.cluster_name = e.cluster_name AND d.production
UNION ALL
SELECT c.cluster_name AS resource, 'unknown' AS status,
       'cluster ' || c.cluster_name || ' is in no [environments] entry: whether its ExternalSecrets must refresh within '
           || CAST($max_refresh_secs AS VARCHAR) || ' s is unknown (declare it under [environments.<name>] clusters)' AS reason,
       c.cluster_name, CAST(NULL AS VARCHAR) AS namespace, CAST(NULL AS VARCHAR) AS name, CAST(NULL AS VARCHAR) AS refresh_interval,
       CAST(NULL AS BIGINT) AS refresh_interval_secs, c.snapshot_time
FROM (SELECT cluster_name, max(snapshot_time) AS snapshot_time FROM nearest GROUP BY cluster_name) AS c
WHERE NOT EXISTS (SELECT 1 FROM declared d WHERE d.cluster_name = c.cluster_name)
