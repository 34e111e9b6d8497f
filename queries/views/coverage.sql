-- Per source stream and UTC day: rows collected and time ranges a collection run recorded
-- as not collected that no later run collected (a day with rows but gaps is partly
-- covered; a day with neither is silent and shows as no row).
SELECT stream, day, sum(rows) AS rows, sum(gaps) AS gaps
FROM (
  SELECT 'aks_audit' AS stream, date_trunc('day', event_time) AS day, count(*) AS rows, 0 AS gaps FROM aks_audit GROUP BY 2
  UNION ALL
  SELECT 'aks_audit_admin', date_trunc('day', event_time), count(*), 0 FROM aks_audit_admin GROUP BY 2
  UNION ALL
  SELECT 'kube_events', date_trunc('day', event_time), count(*), 0 FROM kube_events GROUP BY 2
  UNION ALL
  SELECT 'kube_pod_inventory', date_trunc('day', event_time), count(*), 0 FROM kube_pod_inventory GROUP BY 2
  UNION ALL
  SELECT 'container_log_v2', date_trunc('day', event_time), count(*), 0 FROM container_log_v2 GROUP BY 2
  UNION ALL
  SELECT 'akeyless_audit', date_trunc('day', event_time), count(*), 0 FROM akeyless_audit GROUP BY 2
  UNION ALL
  SELECT stream, date_trunc('day', window_start), 0, count(*) FROM coverage_gaps WHERE collected_by IS NULL GROUP BY 1, 2
) AS per_day
GROUP BY stream, day
