-- Every Akeyless auth method of each configuration snapshot as people know it: its name,
-- type and MFA type, the clusters whose SecretStores authenticate with its access ID, and
-- the environment it belongs to. The environment comes from the configuration's
-- [environments] (the environment_rules view), never from what an ID happens to contain:
-- first a rule naming the auth method (its name or access ID), else the environment of
-- the clusters its SecretStores are in (any cluster snapshot: a store's access ID names
-- an auth method, not a point in time). Several environments matching is no answer:
-- `environment` stays null and `environment_basis` says why. Controls take the snapshot
-- nearest the period's end, as for every configuration (docs/CONTROLS.md).
WITH stores AS (
    SELECT DISTINCT akeyless_access_id AS access_id, cluster_name
    FROM eso_secretstores
    WHERE akeyless_access_id IS NOT NULL
), clusters AS (
    SELECT access_id, array_sort(array_agg(cluster_name)) AS clusters FROM stores GROUP BY access_id
), by_name AS (
    SELECT m.snapshot_time, m.access_id, count(DISTINCT r.environment) AS matches, min(r.environment) AS environment,
           bool_or(r.production) AS production
    FROM akeyless_auth_methods m
    JOIN environment_rules r ON r.kind = 'auth_method' AND (m.auth_method_name LIKE r.pattern OR m.access_id LIKE r.pattern)
    GROUP BY m.snapshot_time, m.access_id
), by_cluster AS (
    SELECT m.snapshot_time, m.access_id, count(DISTINCT r.environment) AS matches, min(r.environment) AS environment,
           bool_or(r.production) AS production
    FROM akeyless_auth_methods m
    JOIN stores s ON s.access_id = m.access_id
    JOIN environment_rules r ON r.kind = 'cluster' AND s.cluster_name LIKE r.pattern
    GROUP BY m.snapshot_time, m.access_id
)
SELECT m.snapshot_time, m.access_id, m.auth_method_name, m.method_type, m.mfa_type, m.bound_namespaces, m.bound_service_accounts,
       c.clusters,
       CASE WHEN n.matches = 1 THEN n.environment WHEN n.matches IS NULL AND k.matches = 1 THEN k.environment END AS environment,
       CASE WHEN n.matches = 1 THEN n.production WHEN n.matches IS NULL AND k.matches = 1 THEN k.production END AS production,
       CASE WHEN n.matches = 1 THEN 'its name matches [environments.' || n.environment || ']'
            WHEN n.matches > 1 THEN 'its name matches several [environments]'
            WHEN k.matches = 1 THEN 'its SecretStores are in ' || array_to_string(c.clusters, ', ') || ', clusters of [environments.' || k.environment || ']'
            WHEN k.matches > 1 THEN 'its SecretStores are in clusters of several [environments]: ' || array_to_string(c.clusters, ', ')
            WHEN c.clusters IS NOT NULL THEN 'its SecretStores are in ' || array_to_string(c.clusters, ', ') || ', which no [environments] rule names'
            ELSE 'no [environments] rule names it and no SecretStore uses it' END AS environment_basis,
       COALESCE(m.auth_method_name, '?') || ' (' || m.access_id || ')' AS display_name
FROM akeyless_auth_methods m
LEFT JOIN clusters c ON c.access_id = m.access_id
LEFT JOIN by_name n ON n.snapshot_time = m.snapshot_time AND n.access_id = m.access_id
LEFT JOIN by_cluster k ON k.snapshot_time = m.snapshot_time AND k.access_id = m.access_id
