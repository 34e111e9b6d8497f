SELECT table_name || ' ' || CAST(window_start AS VARCHAR) || '..' || CAST(window_end AS VARCHAR) AS resource,
       'alarm' AS status,
       'not collected: ' || reason AS reason,
       table_name, window_start, window_end
FROM coverage_gaps
WHERE window_start < $period_end AND window_end > $period_start
UNION ALL
SELECT 'aks_audit' AS resource, 'ok' AS status, 'no collection gap recorded in the period' AS reason,
       'aks_audit' AS table_name, $period_start AS window_start, $period_end AS window_end
FROM (SELECT 1 AS one) AS always
WHERE NOT EXISTS (SELECT 1 FROM coverage_gaps WHERE window_start < $period_end AND window_end > $period_start)
