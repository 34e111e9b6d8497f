-- Per stream and scope (cluster, or Akeyless sink) that delivered rows in the period or
-- the 31 days before it: every stretch of whole hours without a row, from the period's
-- start (or the first hour of its scope's first row, for a scope new in the period) to the
-- period's end or as far as collection reached (collected_ranges; a stretch beyond that is
-- not silence but not yet collected). A stretch at least as long as the stream's limit is
-- an alarm. A limit of 0 leaves the stream unjudged.
-- Records of the month that reached Log Analytics but no forwarded file
-- (akeyless_unforwarded) show that the Gateway's file sink missed them.
WITH hours AS (
    SELECT stream, COALESCE(scope, '?') AS scope, date_trunc('hour', event_time) AS hour
    FROM activity
    WHERE event_time >= $period_start - INTERVAL '31 days' AND event_time < $period_end
    GROUP BY 1, 2, 3
), limits AS (
    SELECT stream, scope, min(hour) AS first_hour,
           CASE stream WHEN 'aks_audit' THEN $aks_audit_hours WHEN 'aks_audit_admin' THEN $aks_audit_admin_hours
                       WHEN 'kube_events' THEN $kube_events_hours WHEN 'kube_pod_inventory' THEN $kube_pod_inventory_hours
                       WHEN 'container_log_v2' THEN $container_log_v2_hours WHEN 'akeyless_audit' THEN $akeyless_audit_hours
                       WHEN 'eso_events' THEN $eso_events_hours ELSE 0 END AS limit_hours
    FROM hours GROUP BY stream, scope
), horizon AS (
    -- How far collection reached, for the streams whose collector records it.
    SELECT stream, date_trunc('hour', max(window_end)) AS collected_until FROM collected_ranges
    WHERE source = 'log_analytics' GROUP BY stream
), marks AS (
    -- The hours with rows, and each scope's start and end of the judged span as sentinels.
    SELECT stream, scope, hour FROM hours WHERE hour >= $period_start
    UNION ALL
    SELECT l.stream, l.scope, greatest($period_start, l.first_hour) - INTERVAL '1 hour' FROM limits l WHERE l.limit_hours > 0
    UNION ALL
    SELECT l.stream, l.scope, least($period_end, COALESCE(h.collected_until, $period_end))
    FROM limits l LEFT JOIN horizon h ON h.stream = l.stream WHERE l.limit_hours > 0
), stretches AS (
    SELECT stream, scope, previous + INTERVAL '1 hour' AS silent_from, hour AS silent_until,
           CAST((date_part('epoch', hour) - date_part('epoch', previous)) / 3600 AS BIGINT) - 1 AS silent_hours
    FROM (SELECT stream, scope, hour, lag(hour) OVER (PARTITION BY stream, scope ORDER BY hour) AS previous FROM marks) AS m
    WHERE previous IS NOT NULL AND hour > previous + INTERVAL '1 hour'
), judged AS (
    SELECT l.stream, l.scope, l.limit_hours, s.silent_from, s.silent_until, s.silent_hours
    FROM limits l LEFT JOIN stretches s ON s.stream = l.stream AND s.scope = l.scope AND s.silent_hours >= l.limit_hours
    WHERE l.limit_hours > 0
)
SELECT stream || ' ' || scope || COALESCE(' from ' || CAST(silent_from AS VARCHAR), '') AS resource,
       CASE WHEN silent_hours IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN silent_hours IS NULL
                THEN 'no stretch of ' || CAST(limit_hours AS VARCHAR) || ' hours or more without rows in the period'
            ELSE 'no rows for ' || CAST(silent_hours AS VARCHAR) || ' hours, from ' || CAST(silent_from AS VARCHAR) || ' to '
                 || CAST(silent_until AS VARCHAR) || ' (limit ' || CAST(limit_hours AS VARCHAR) || ' hours)' END AS reason,
       stream, scope, silent_from, silent_until, silent_hours, limit_hours
FROM judged
UNION ALL
SELECT 'akeyless_audit files missed ' || day AS resource, 'alarm' AS status,
       CAST(records AS VARCHAR) || ' Akeyless records of ' || day
           || ' reached another sink (Log Analytics) but no forwarded file: the Gateway''s file forwarding missed them' AS reason,
       'akeyless_audit' AS stream, 'akeyless_logs' AS scope, CAST(NULL AS TIMESTAMP) AS silent_from, CAST(NULL AS TIMESTAMP) AS silent_until,
       CAST(NULL AS BIGINT) AS silent_hours, CAST(NULL AS BIGINT) AS limit_hours
FROM (SELECT CAST(CAST(timestamp AS DATE) AS VARCHAR) AS day, count(*) AS records FROM akeyless_unforwarded
      WHERE timestamp >= $period_start AND timestamp < $period_end GROUP BY 1) AS missed
WHERE EXISTS (SELECT 1 FROM akeyless_audit WHERE source = 'akeyless_logs' AND event_time >= $period_start - INTERVAL '31 days' AND event_time < $period_end)
