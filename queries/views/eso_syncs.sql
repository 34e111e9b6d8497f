-- ESO's sync outcomes per ExternalSecret: one row per event in its newest observation (the
-- API server merges repeats into one event whose count grows; see docs/SOURCES.md).
-- `Updated`: the Secret was written from the provider; `UpdateFailed`: a failed sync, with
-- the provider's error in `message`; `count` is how many times it happened.
-- An Event object's uid, cluster, namespace, involved object, reason and type never change
-- between observations; its count, times and message do, and are taken from the newest
-- observation (highest count, then latest time): an aggregate per event, several times
-- cheaper than numbering every observation with a window over a sort (BENCHMARKS.md).
SELECT first_value(last_timestamp ORDER BY count DESC, last_timestamp DESC) AS time,
       first_value(first_timestamp ORDER BY count DESC, last_timestamp DESC) AS first_timestamp,
       cluster_name, namespace, involved_name AS external_secret, reason, event_type,
       first_value(count ORDER BY count DESC, last_timestamp DESC) AS count,
       first_value(message ORDER BY count DESC, last_timestamp DESC) AS message,
       event_uid
FROM eso_events
WHERE involved_kind = 'ExternalSecret'
GROUP BY event_uid, cluster_name, namespace, involved_name, reason, event_type
