SELECT actor || ' read ' || item_path AS resource,
       CASE WHEN actor_context LIKE $nonprod_pattern THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN actor_context LIKE $nonprod_pattern
            THEN 'non-production identity ' || actor || ' read production item ' || item_path || ' at ' || CAST(time AS VARCHAR)
            ELSE 'production item read by ' || actor END AS reason,
       time, actor, item_path, client_ip
FROM (
  SELECT timestamp AS time,
         COALESCE(client_email, access_id) AS actor,
         item_path, remote_addrs[1] AS client_ip,
         access_id || ' ' || COALESCE(client_email, '') || ' ' || COALESCE(sub_claims, '') AS actor_context
  FROM akeyless_events
  WHERE action IN ('get_secret_value', 'get_rotated_secret_value', 'get_dynamic_secret_value')
    AND item_path LIKE $prod_prefix || '%'
    AND timestamp >= $period_start AND timestamp < $period_end
) AS reads
