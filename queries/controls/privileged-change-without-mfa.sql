-- Judges the Akeyless snapshot taken nearest the period's end (docs/CONTROLS.md).
-- Akeyless reports no MFA flag for most auth method types: MFA is evidenced by what it does
-- report (an email/password login's mfa_type) or by the configuration (types whose identity
-- provider enforces MFA, auth methods known to require it). Machine identities are judged
-- against the declared automation identities instead. Anything else is unknown.
WITH ids AS (
    SELECT i.* FROM identities i
    JOIN snapshots l ON l.table_name = 'akeyless_auth_methods' AND l.snapshot_time = i.snapshot_time
     AND (l.nearest_from IS NULL OR date_part('epoch', $period_end) >= l.nearest_from)
     AND (l.nearest_until IS NULL OR date_part('epoch', $period_end) < l.nearest_until)
), ops AS (
    SELECT o.time, o.actor AS access_id, o.action, o.target, o.result, i.snapshot_time AS auth_methods_snapshot_time,
           COALESCE(i.display_name, o.actor) AS actor, i.auth_method_name, lower(i.method_type) AS method_type, i.mfa_type,
           i.access_id IS NOT NULL AS known,
           array_has(string_to_array($automation_identities, ','), i.auth_method_name)
               OR array_has(string_to_array($automation_identities, ','), o.actor) AS automation,
           array_has(string_to_array($mfa_auth_methods, ','), i.auth_method_name)
               OR array_has(string_to_array($mfa_auth_methods, ','), o.actor) AS declared_mfa,
           array_has(string_to_array(lower($machine_types), ','), lower(i.method_type)) AS machine,
           array_has(string_to_array(lower($mfa_enforced_types), ','), lower(i.method_type)) AS idp_mfa
    FROM privileged_ops o
    LEFT JOIN ids i ON i.access_id = o.actor
    WHERE o.source = 'akeyless' AND o.time >= $period_start AND o.time < $period_end
)
SELECT actor || ' ' || action || ' ' || COALESCE(target, '') AS resource,
       CASE WHEN NOT known THEN 'unknown'
            WHEN automation THEN 'ok'
            WHEN method_type IS NULL THEN 'unknown'
            WHEN machine THEN 'alarm'
            WHEN declared_mfa OR idp_mfa OR (mfa_type IS NOT NULL AND mfa_type <> '') THEN 'ok'
            ELSE 'unknown' END AS status,
       action || ' of ' || COALESCE(target, '?') || ' by ' || actor || ': ' ||
       CASE WHEN NOT known THEN 'this access ID is not in the Akeyless configuration snapshot, so who it is and whether it needs MFA are unknown'
            WHEN automation THEN 'a declared automation identity'
            WHEN method_type IS NULL THEN 'the snapshot does not say which type of auth method it is, so whether it needs MFA is unknown'
            WHEN machine THEN 'a machine identity (' || method_type || ') that is not a declared automation identity (automation_identities)'
            WHEN declared_mfa THEN 'MFA is declared for this auth method in the configuration (mfa_auth_methods)'
            WHEN idp_mfa THEN 'it signs in through ' || method_type || ', whose identity provider enforces MFA (mfa_enforced_types)'
            WHEN mfa_type IS NOT NULL AND mfa_type <> '' THEN 'Akeyless reports MFA (' || mfa_type || ') for it'
            ELSE 'MFA not evidenced: Akeyless reports no MFA type for this ' || method_type || ' auth method and the configuration declares none' END
       || ' (' || result || ', ' || CAST(time AS VARCHAR) || ')' AS reason,
       time, actor, action, target, method_type, mfa_type, auth_methods_snapshot_time
FROM ops
