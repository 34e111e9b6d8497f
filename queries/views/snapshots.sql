-- Every configuration snapshot, one row per source table, cluster ('' for the Akeyless
-- account) and snapshot time, with the span of time it is the nearest snapshot to, in
-- epoch seconds: from halfway to the snapshot before (`nearest_from`) to halfway to the
-- one after (`nearest_until`), null where there is none. A period is judged by the
-- snapshot whose span holds its end, a rotation by the one whose span holds the rotation
-- (docs/CONTROLS.md): `(nearest_from IS NULL OR t >= nearest_from) AND (nearest_until IS
-- NULL OR t < nearest_until)` with `t = date_part('epoch', …)`. Halfway belongs to the later.
-- Each table's snapshots are ordered on their own, and the account's without a PARTITION
-- BY: a window over the UNION of all of them, or partitioned by a constant, does not run on
-- Ballista (DataFusion 55: "Expects PARTITION BY expression to be ordered").
WITH neighbours AS (
SELECT 'eso_externalsecrets' AS table_name, cluster_name, snapshot_time, date_part('epoch', snapshot_time) AS taken_at,
       lag(date_part('epoch', snapshot_time)) OVER (PARTITION BY cluster_name ORDER BY snapshot_time) AS before,
       lead(date_part('epoch', snapshot_time)) OVER (PARTITION BY cluster_name ORDER BY snapshot_time) AS after
FROM (SELECT DISTINCT cluster_name, snapshot_time FROM eso_externalsecrets) AS taken
UNION ALL
SELECT 'eso_secretstores' AS table_name, cluster_name, snapshot_time, date_part('epoch', snapshot_time) AS taken_at,
       lag(date_part('epoch', snapshot_time)) OVER (PARTITION BY cluster_name ORDER BY snapshot_time) AS before,
       lead(date_part('epoch', snapshot_time)) OVER (PARTITION BY cluster_name ORDER BY snapshot_time) AS after
FROM (SELECT DISTINCT cluster_name, snapshot_time FROM eso_secretstores) AS taken
UNION ALL
SELECT 'k8s_rbac' AS table_name, cluster_name, snapshot_time, date_part('epoch', snapshot_time) AS taken_at,
       lag(date_part('epoch', snapshot_time)) OVER (PARTITION BY cluster_name ORDER BY snapshot_time) AS before,
       lead(date_part('epoch', snapshot_time)) OVER (PARTITION BY cluster_name ORDER BY snapshot_time) AS after
FROM (SELECT DISTINCT cluster_name, snapshot_time FROM k8s_rbac) AS taken
UNION ALL
SELECT 'akeyless_items' AS table_name, cluster_name, snapshot_time, date_part('epoch', snapshot_time) AS taken_at,
       lag(date_part('epoch', snapshot_time)) OVER (ORDER BY snapshot_time) AS before,
       lead(date_part('epoch', snapshot_time)) OVER (ORDER BY snapshot_time) AS after
FROM (SELECT DISTINCT '' AS cluster_name, snapshot_time FROM akeyless_items) AS taken
UNION ALL
SELECT 'akeyless_roles' AS table_name, cluster_name, snapshot_time, date_part('epoch', snapshot_time) AS taken_at,
       lag(date_part('epoch', snapshot_time)) OVER (ORDER BY snapshot_time) AS before,
       lead(date_part('epoch', snapshot_time)) OVER (ORDER BY snapshot_time) AS after
FROM (SELECT DISTINCT '' AS cluster_name, snapshot_time FROM akeyless_roles) AS taken
UNION ALL
SELECT 'akeyless_auth_methods' AS table_name, cluster_name, snapshot_time, date_part('epoch', snapshot_time) AS taken_at,
       lag(date_part('epoch', snapshot_time)) OVER (ORDER BY snapshot_time) AS before,
       lead(date_part('epoch', snapshot_time)) OVER (ORDER BY snapshot_time) AS after
FROM (SELECT DISTINCT '' AS cluster_name, snapshot_time FROM akeyless_auth_methods) AS taken
)
SELECT table_name, cluster_name, snapshot_time, (before + taken_at) / 2 AS nearest_from, (taken_at + after) / 2 AS nearest_until
FROM neighbours
