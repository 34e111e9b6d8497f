SELECT table_name || ' ' || CAST(window_start AS VARCHAR) || '..' || CAST(window_end AS VARCHAR) AS resource,
       CASE WHEN collected_by IS NULL THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN collected_by IS NULL THEN 'not collected: ' || reason
            ELSE 'not collected by run ' || run_id || ', collected by run ' || collected_by || ' (' || reason || ')' END AS reason,
       table_name, window_start, window_end, run_id, collected_by
FROM coverage_gaps
WHERE window_start < $period_end AND window_end > $period_start
UNION ALL
SELECT 'aks_audit' AS resource, 'ok' AS status, 'no range left uncollected in the period' AS reason,
       'aks_audit' AS table_name, $period_start AS window_start, $period_end AS window_end,
       CAST(NULL AS VARCHAR) AS run_id, CAST(NULL AS VARCHAR) AS collected_by
FROM (SELECT 1 AS one) AS always
WHERE NOT EXISTS (SELECT 1 FROM coverage_gaps WHERE window_start < $period_end AND window_end > $period_start AND collected_by IS NULL)
