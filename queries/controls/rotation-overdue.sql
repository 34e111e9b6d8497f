-- Judges the Akeyless snapshot taken nearest the period's end (docs/CONTROLS.md).
SELECT item_name AS resource,
       CASE WHEN item_type = 'ROTATED_SECRET' AND (last_rotation_date IS NULL OR last_rotation_date < $period_end - INTERVAL '$max_age_days days') THEN 'alarm'
            WHEN item_type = 'STATIC_SECRET' AND item_name LIKE $prod_prefix || '%' AND creation_date < $period_end - INTERVAL '$max_age_days days' THEN 'alarm'
            WHEN item_type IN ('ROTATED_SECRET', 'STATIC_SECRET') THEN 'ok'
            ELSE 'skip' END AS status,
       CASE WHEN item_type = 'ROTATED_SECRET' THEN 'rotated secret, last rotated ' || COALESCE(CAST(last_rotation_date AS VARCHAR), 'never')
            WHEN item_type = 'STATIC_SECRET' AND item_name LIKE $prod_prefix || '%' THEN 'production static secret created ' || COALESCE(CAST(creation_date AS VARCHAR), '?') || ', never rotated'
            WHEN item_type = 'STATIC_SECRET' THEN 'non-production static secret'
            ELSE 'item type ' || COALESCE(item_type, '?') || ' is not rotated by keytrail''s rules' END AS reason,
       item_name, item_type, last_rotation_date, creation_date, snapshot_time
FROM akeyless_items
WHERE snapshot_time = (SELECT snapshot_time FROM snapshots l WHERE l.table_name = 'akeyless_items'
                         AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
                         AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until))
