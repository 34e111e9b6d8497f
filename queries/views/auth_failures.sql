-- Failed authentications: Akeyless logins that failed, and Kubernetes API requests refused
-- with 401 or 403.
SELECT timestamp AS time, 'akeyless' AS source, access_id AS actor, remote_addrs[1] AS client_ip,
       status, action
FROM akeyless_events
WHERE is_error AND action = 'Authentication'
UNION ALL
SELECT stage_received_time AS time, 'kubernetes' AS source, username AS actor, source_ips[1] AS client_ip,
       response_code AS status, verb AS action
FROM aks_audit
WHERE response_code IN (401, 403)
