-- Each ExternalSecret is judged against its own refresh interval (plus a grace for the
-- reconcile to run), with an absolute ceiling: a Secret that stayed stale three times its
-- ExternalSecret's refreshInterval is late even within the ceiling.
WITH limits AS (
    SELECT s.*,
           least(CASE WHEN refresh_interval_secs IS NULL THEN 3600               -- ESO's default refreshInterval
                      WHEN refresh_interval_secs = 0 THEN $max_latency_hours * 3600  -- no periodic refresh: only the ceiling
                      ELSE refresh_interval_secs END + $grace_minutes * 60,
                 $max_latency_hours * 3600) AS limit_secs,
           CASE WHEN refresh_interval_secs IS NULL THEN 'refreshInterval 1h (ESO default)'
                WHEN refresh_interval_secs = 0 THEN 'no periodic refresh'
                ELSE 'refreshInterval ' || CAST(refresh_interval_secs AS VARCHAR) || ' s' END AS interval_text,
           c.seen_until
    FROM rotation_syncs s
    LEFT JOIN (SELECT cluster_name, max(last_timestamp) AS seen_until FROM eso_observations GROUP BY cluster_name) AS c
      ON c.cluster_name = s.cluster_name
    WHERE s.rotated_at >= $period_start AND s.rotated_at < $period_end
)
SELECT akeyless_item || ' -> ' || cluster_name || '/' || namespace || '/' || external_secret || ' at ' || CAST(rotated_at AS VARCHAR) AS resource,
       CASE WHEN latency_secs IS NOT NULL AND latency_secs <= limit_secs THEN 'ok'
            WHEN latency_secs IS NOT NULL THEN 'alarm'
            -- No update yet: late only once the evidence reaches past the limit.
            WHEN seen_until IS NOT NULL AND date_part('epoch', seen_until) - date_part('epoch', rotated_at) > limit_secs THEN 'alarm'
            ELSE 'unknown' END AS status,
       'rotated at ' || CAST(rotated_at AS VARCHAR) || ', ' ||
       CASE WHEN latency_secs IS NOT NULL
                THEN 'Secret updated ' || CAST(CAST(round(latency_secs / 60.0) AS BIGINT) AS VARCHAR) || ' min later; limit '
                     || CAST(CAST(round(limit_secs / 60.0) AS BIGINT) AS VARCHAR) || ' min (' || interval_text || ' + ' || CAST($grace_minutes AS VARCHAR)
                     || ' min grace, at most ' || CAST($max_latency_hours AS VARCHAR) || ' h)'
            WHEN seen_until IS NOT NULL AND date_part('epoch', seen_until) - date_part('epoch', rotated_at) > limit_secs
                THEN 'no Updated event for the Secret in the ' || CAST(CAST(round((date_part('epoch', seen_until) - date_part('epoch', rotated_at)) / 60.0) AS BIGINT) AS VARCHAR)
                     || ' min of ESO events collected since; limit ' || CAST(CAST(round(limit_secs / 60.0) AS BIGINT) AS VARCHAR) || ' min (' || interval_text || ')'
            ELSE 'no Updated event yet, and the ESO events collected for ' || cluster_name || ' end '
                 || COALESCE(CAST(seen_until AS VARCHAR), 'before it') || ', within the limit of ' || CAST(CAST(round(limit_secs / 60.0) AS BIGINT) AS VARCHAR) || ' min' END AS reason,
       akeyless_item, cluster_name, namespace, external_secret, refresh_interval_secs, rotated_at, synced_at, latency_secs, limit_secs
FROM limits
