-- Secret rotations performed in Akeyless.
SELECT timestamp AS time, item_path AS item, access_id AS actor,
       CASE WHEN is_error THEN 'failed' ELSE 'rotated' END AS result
FROM akeyless_events
WHERE action = 'rotate_item'
