/**
 * The one SQL predicate for "device d is in the scope ($1 type, $2 id)", over `devices d JOIN sites s`:
 * all, client, site, device, device type, or an approval policy's members. Schedules' rollouts, the
 * two-person rule's count and anything else that resolves a scope use it, so they always agree.
 */
export const DEVICE_IN_SCOPE = `(
       $1::text = 'all'
       OR ($1::text = 'client' AND s.client_id::text = $2::text)
       OR ($1::text = 'site' AND d.site_id::text = $2::text)
       OR ($1::text = 'device' AND d.id::text = $2::text)
       OR ($1::text = 'device_type' AND d.device_type = $2::text)
       OR ($1::text = 'policy' AND EXISTS (
         SELECT 1 FROM policy_members m WHERE m.policy_id::text = $2::text AND (
           m.scope_type = 'all'
           OR (m.scope_type = 'device' AND m.scope_id = d.id::text)
           OR (m.scope_type = 'site' AND m.scope_id = d.site_id::text)
           OR (m.scope_type = 'client' AND m.scope_id = s.client_id::text)
           OR (m.scope_type = 'device_type' AND m.scope_id = d.device_type)))))`;
