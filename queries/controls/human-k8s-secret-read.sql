SELECT actor || ' ' || action || ' ' || secret_path || ' on ' || COALESCE(cluster_name, '?') AS resource,
       CASE WHEN actor LIKE 'system:%' THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN actor LIKE 'system:%' THEN 'read by ' || actor
            ELSE 'human user ' || actor || ' read Secret ' || secret_path || ' at ' || CAST(time AS VARCHAR) END AS reason,
       time, actor, secret_path, cluster_name
FROM secret_access
WHERE source = 'kubernetes' AND time >= $period_start AND time < $period_end
