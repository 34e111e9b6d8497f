-- ESO's sync outcomes per ExternalSecret: one row per Event object, from whichever source
-- recorded it (`eso_observations`: the Kubernetes API, Container Insights, or both, then
-- counted once). `Updated`: the Secret was written from the provider; `UpdateFailed`: a
-- failed sync, with the provider's error in `message`; `count` is how many times it
-- happened, `seen_by` which sources hold it (`kubernetes`, `container_insights`, or
-- `container_insights+kubernetes`).
-- An Event object's key never changes between its states; its count, times and message do,
-- and are taken from the newest state (highest count, then latest time).
SELECT first_value(last_timestamp ORDER BY count DESC, last_timestamp DESC) AS time,
       min(first_timestamp) AS first_timestamp,
       cluster_name, namespace, involved_name AS external_secret, reason, event_type,
       max(count) AS count,
       first_value(message ORDER BY count DESC, last_timestamp DESC) AS message,
       event_key,
       array_to_string(array_sort(array_agg(DISTINCT source)), '+') AS seen_by
FROM eso_observations
WHERE involved_kind = 'ExternalSecret'
GROUP BY event_key, cluster_name, namespace, involved_name, reason, event_type
