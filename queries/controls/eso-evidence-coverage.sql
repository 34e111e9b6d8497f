-- Judged: every cluster with ExternalSecrets in a snapshot from 31 days before the period
-- on (as silent-sources judges the scopes seen then), over the whole period. Spans
-- covered: each Kubernetes run's listed window, and each collected KubeEvents window for a
-- cluster that sent KubeEvents rows in the period or the 31 days before it (its Container
-- Insights is on). A stretch is where a span starts beyond everything covered before it; a
-- zero-length span at each end of the period finds the stretches at the edges. One pass
-- over the spans (a single window ordering), so the query holds one sort.
WITH clusters AS (
    -- No window here: the control already holds one sort, and the evidence another.
    SELECT DISTINCT cluster_name FROM eso_externalsecrets
    WHERE snapshot_time >= $period_start - INTERVAL '31 days'
), container_insights AS (
    SELECT DISTINCT COALESCE(cluster_name, regexp_replace(cluster_id, '^.*/', '')) AS cluster_name FROM kube_events
    WHERE event_time >= $period_start - INTERVAL '31 days' AND event_time < $period_end
), spans AS (
    SELECT c.cluster_name, greatest(r.window_start, $period_start) AS span_start, least(r.window_end, $period_end) AS span_end, 'span' AS kind
    FROM clusters c
    JOIN collected_ranges r ON r.source = 'kubernetes' AND r.workspace = c.cluster_name
    WHERE r.window_end > $period_start AND r.window_start < $period_end
    UNION ALL
    SELECT c.cluster_name, greatest(r.window_start, $period_start), least(r.window_end, $period_end), 'span'
    FROM clusters c
    JOIN container_insights k ON k.cluster_name = c.cluster_name
    CROSS JOIN (SELECT window_start, window_end FROM collected_ranges WHERE source = 'log_analytics' AND stream = 'kube_events') AS r
    WHERE r.window_end > $period_start AND r.window_start < $period_end
    UNION ALL
    SELECT cluster_name, $period_start, $period_start, 'start' FROM clusters
    UNION ALL
    SELECT cluster_name, $period_end, $period_end, 'end' FROM clusters
), reached AS (
    SELECT cluster_name, span_start, kind,
           -- Ties broken by kind, so every engine walks the same order.
           max(span_end) OVER (PARTITION BY cluster_name ORDER BY span_start, span_end, kind
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until
    FROM spans
), stretches AS (
    SELECT cluster_name, span_start, kind, covered_until,
           CASE WHEN covered_until IS NOT NULL AND date_part('epoch', span_start) - date_part('epoch', covered_until) >= $min_silent_minutes * 60
                THEN 1 ELSE 0 END AS silent
    FROM reached
), judged AS (
    SELECT *, max(silent) OVER (PARTITION BY cluster_name) AS any_silent FROM stretches
)
SELECT CASE WHEN silent = 1 THEN cluster_name || ' from ' || CAST(covered_until AS VARCHAR) ELSE cluster_name END AS resource,
       CASE WHEN silent = 1 THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN silent = 1
                THEN 'no ESO events on record for '
                     || CAST(CAST((date_part('epoch', span_start) - date_part('epoch', covered_until)) / 60 AS BIGINT) AS VARCHAR)
                     || ' minutes, from ' || CAST(covered_until AS VARCHAR) || ' to ' || CAST(span_start AS VARCHAR)
                     || ': no Kubernetes list held that time (a list holds the event TTL before it) and no KubeEvents of the cluster were collected for it'
            ELSE 'ESO events on record for the whole period (Kubernetes lists or collected KubeEvents)' END AS reason,
       cluster_name,
       CASE WHEN silent = 1 THEN covered_until END AS silent_from,
       CASE WHEN silent = 1 THEN span_start END AS silent_until
FROM judged
WHERE silent = 1 OR (any_silent = 0 AND kind = 'end')
