-- Judges each cluster's snapshot taken nearest the period's end (docs/CONTROLS.md), in the
-- clusters [environments] declares production. An ExternalSecret of a cluster no
-- environment names is unknown: its environment is never guessed from the cluster's name.
-- (`nearest` is read once: the snapshots view it reads holds a sort, and each reference
-- would plan another.)
WITH nearest AS (
    SELECT e.*
    FROM eso_externalsecrets e
    JOIN snapshots l ON l.table_name = 'eso_externalsecrets' AND l.cluster_name = e.cluster_name AND l.snapshot_time = e.snapshot_time
      AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
      AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
), judged AS (
    -- No rule names the cluster: production is null.
    SELECT e.cluster_name, e.namespace, e.name, e.refresh_interval, e.refresh_interval_secs, e.snapshot_time,
           COALESCE(e.refresh_interval_secs, 3600) AS every_secs, bool_or(r.production) AS production
    FROM nearest e
    LEFT JOIN environment_rules r ON r.kind = 'cluster' AND e.cluster_name LIKE r.pattern
    GROUP BY e.cluster_name, e.namespace, e.name, e.refresh_interval, e.refresh_interval_secs, e.snapshot_time
)
SELECT cluster_name || '/' || namespace || '/' || name AS resource,
       CASE WHEN production IS NULL THEN 'unknown'
            WHEN every_secs = 0 OR every_secs > $max_refresh_secs THEN 'alarm'
            ELSE 'ok' END AS status,
       CASE WHEN production IS NULL
                THEN 'cluster ' || cluster_name || ' is in no [environments] entry: whether this ExternalSecret must refresh within '
                     || CAST($max_refresh_secs AS VARCHAR) || ' s is unknown (declare the cluster under [environments.<name>] clusters)'
            WHEN every_secs = 0 THEN 'refresh turned off (refreshInterval 0): a rotated secret never reaches the cluster'
            WHEN every_secs > $max_refresh_secs
                THEN 'refreshes every ' || COALESCE(refresh_interval, '?') || ' (limit ' || CAST($max_refresh_secs AS VARCHAR) || ' s)'
            ELSE 'refreshes every ' || COALESCE(refresh_interval, '1h (ESO default)') END AS reason,
       cluster_name, namespace, name, refresh_interval, refresh_interval_secs, snapshot_time
FROM judged
WHERE production IS DISTINCT FROM false
