-- Every range a run could not collect in the period, and, when none is left open, one ok
-- row. coverage_gaps is read once (its windows hold sorts, and each reference would plan
-- them again): a sentinel row carries the ok row when there is no gap at all.
WITH ranges AS (
    SELECT table_name, window_start, window_end, reason, run_id, collected_by, 1 AS is_gap
    FROM coverage_gaps
    WHERE window_start < $period_end AND window_end > $period_start
    UNION ALL
    SELECT 'aks_audit', $period_start, $period_end, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 0
), judged AS (
    SELECT *, sum(CASE WHEN is_gap = 1 AND collected_by IS NULL THEN 1 ELSE 0 END) OVER () AS open_gaps FROM ranges
)
SELECT CASE WHEN is_gap = 1 THEN table_name || ' ' || CAST(window_start AS VARCHAR) || '..' || CAST(window_end AS VARCHAR) ELSE 'aks_audit' END AS resource,
       CASE WHEN is_gap = 1 AND collected_by IS NULL THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN is_gap = 0 THEN 'no range left uncollected in the period'
            WHEN collected_by IS NULL THEN 'not collected: ' || reason
            ELSE 'not collected by run ' || run_id || ', collected by run ' || collected_by || ' (' || reason || ')' END AS reason,
       table_name, window_start, window_end, run_id, collected_by
FROM judged
WHERE is_gap = 1 OR open_gaps = 0
