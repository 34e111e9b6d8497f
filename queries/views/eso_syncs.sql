-- ESO's sync outcomes per ExternalSecret: one row per event in its newest observation (the
-- API server merges repeats into one event whose count grows; see docs/SOURCES.md).
-- `Updated`: the Secret was written from the provider; `UpdateFailed`: a failed sync, with
-- the provider's error in `message`; `count` is how many times it happened.
SELECT last_timestamp AS time, first_timestamp, cluster_name, namespace, involved_name AS external_secret,
       reason, event_type, count, message, event_uid
FROM (SELECT *, row_number() OVER (PARTITION BY event_uid ORDER BY count DESC, last_timestamp DESC) AS observation
      FROM eso_events
      WHERE involved_kind = 'ExternalSecret')
WHERE observation = 1
