-- Every Akeyless secret read of an item of a production environment (the
-- configuration's [environments] item_paths), judged by the environment of the identity
-- that read it (the identities view, of the Akeyless snapshot nearest the period's end).
-- An identity whose environment nothing declares is unknown, never assumed.
WITH ids AS (
    SELECT i.* FROM identities i
    JOIN snapshots l ON l.table_name = 'akeyless_auth_methods' AND l.snapshot_time = i.snapshot_time
     AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
     AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
), reads AS (
    SELECT timestamp AS time, access_id, client_email, item_path, remote_addrs[1] AS client_ip
    FROM akeyless_events
    WHERE action IN ('get_secret_value', 'get_rotated_secret_value', 'get_dynamic_secret_value')
      AND timestamp >= $period_start AND timestamp < $period_end
), paths AS (
    SELECT p.item_path, count(DISTINCT r.environment) AS matches, min(r.environment) AS environment, bool_or(r.production) AS production
    FROM (SELECT DISTINCT item_path FROM reads) AS p
    JOIN environment_rules r ON r.kind = 'item_path' AND p.item_path LIKE r.pattern
    GROUP BY p.item_path
), judged AS (
    SELECT r.time, r.item_path, r.client_ip, p.matches, p.environment AS item_environment, r.access_id,
           COALESCE(i.display_name, r.access_id) || COALESCE(' ' || r.client_email, '') AS actor,
           i.access_id IS NOT NULL AS known, i.environment, i.production, i.environment_basis
    FROM reads r
    JOIN paths p ON p.item_path = r.item_path AND p.production
    LEFT JOIN ids i ON i.access_id = r.access_id
)
SELECT actor || ' read ' || item_path AS resource,
       CASE WHEN matches > 1 OR NOT known OR environment IS NULL THEN 'unknown'
            WHEN production THEN 'ok'
            ELSE 'alarm' END AS status,
       CASE WHEN matches > 1 THEN 'item ' || item_path || ' matches the item_paths of several [environments]: whether it is production is unknown'
            WHEN NOT known THEN 'read by access ID ' || access_id || ', which is not in the Akeyless configuration snapshot: its environment is unknown'
            WHEN environment IS NULL THEN 'read by ' || actor || ', whose environment is unknown: ' || environment_basis
            WHEN production THEN 'production item read by ' || actor || ' of [environments.' || environment || ']'
            ELSE 'non-production identity ' || actor || ' (of [environments.' || environment || ']: ' || environment_basis || ') read production item '
                 || item_path || ' of [environments.' || item_environment || '] at ' || CAST(time AS VARCHAR) END AS reason,
       time, actor, environment, item_path, item_environment, client_ip
FROM judged
UNION ALL
SELECT 'production item paths' AS resource, 'unknown' AS status,
       'no [environments] entry with production = true lists item_paths: which reads are of production secrets is unknown' AS reason,
       CAST(NULL AS TIMESTAMP) AS time, CAST(NULL AS VARCHAR) AS actor, CAST(NULL AS VARCHAR) AS environment,
       CAST(NULL AS VARCHAR) AS item_path, CAST(NULL AS VARCHAR) AS item_environment, CAST(NULL AS VARCHAR) AS client_ip
FROM (SELECT 1 AS one) AS always
WHERE NOT EXISTS (SELECT 1 FROM environment_rules WHERE kind = 'item_path' AND production)
