-- Time ranges a collection run could not collect, per source table. `collected_by` is set
-- once later runs have collected the whole range (`collected_ranges`: Log Analytics keeps
-- its logs and the Gateway's forwarded files stay where they were written, so retries fill
-- a gap, maybe over several runs; a cluster's Events stay listed for the event TTL, so its
-- next lists cover the hour before them): the latest of the runs whose ranges cover it;
-- null while part of it is still uncollected. Akeyless snapshots missed while the API was
-- down cannot be fetched later: their gaps stay open.
WITH ranges AS (
    -- How far the ranges before each one (by start) reached: a range starting beyond that
    -- begins a new stretch of contiguous collection.
    SELECT source, workspace, table_name, window_start, window_end, run_id,
           max(window_end) OVER (PARTITION BY source, workspace, table_name ORDER BY window_start, window_end, run_id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached
    FROM collected_ranges
), stretches AS (
    SELECT source, workspace, table_name, window_start, window_end, run_id,
           sum(CASE WHEN reached IS NULL OR window_start > reached THEN 1 ELSE 0 END)
               OVER (PARTITION BY source, workspace, table_name ORDER BY window_start, window_end, run_id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS stretch
    FROM ranges
), merged AS (
    SELECT source, workspace, table_name, stretch, min(window_start) AS stretch_start, max(window_end) AS stretch_end
    FROM stretches
    GROUP BY source, workspace, table_name, stretch
), filled AS (
    SELECT g.source, g.workspace, g.table_name, g.window_start, g.window_end, max(s.run_id) AS collected_by
    FROM (SELECT DISTINCT source, workspace, table_name, window_start, window_end FROM collection_gaps) AS g
    JOIN merged m
      ON m.source = g.source AND m.workspace = g.workspace AND m.table_name = g.table_name
     AND m.stretch_start <= g.window_start AND m.stretch_end >= g.window_end
    JOIN stretches s
      ON s.source = m.source AND s.workspace = m.workspace AND s.table_name = m.table_name AND s.stretch = m.stretch
     AND s.window_start < g.window_end AND s.window_end > g.window_start
    GROUP BY g.source, g.workspace, g.table_name, g.window_start, g.window_end
)
SELECT g.source, g.workspace, g.table_name, g.stream, g.window_start, g.window_end, g.reason, g.run_id, f.collected_by
FROM collection_gaps g
LEFT JOIN filled f
  ON f.source = g.source AND f.workspace = g.workspace AND f.table_name = g.table_name
 AND f.window_start = g.window_start AND f.window_end = g.window_end
