import type { Queryable } from './database';

/**
 * A synthetic fleet for benchmarks, written by PostgreSQL itself (generate_series, one statement
 * per table): `devices` devices spread over 10 clients × 3 sites, `patches` catalog patches, and a
 * status row for every (device, patch) — a mix of statuses, exit codes and errors like a real
 * fleet's — or, with `applicablePercent`, for that share of the pairs (a real device sees a few dozen
 * of a catalog's thousands). Millions of rows take seconds; nothing goes through the API. For an
 * empty database only.
 */
export async function seedSyntheticFleet(db: Queryable, o: { devices: number; patches: number; applicablePercent?: number }): Promise<{ rows: number }> {
  await db.query(`INSERT INTO clients (id, name) SELECT gen_random_uuid(), 'Bench Client ' || lpad(g::text, 2, '0') FROM generate_series(1, 10) g`);
  await db.query(`INSERT INTO sites (id, client_id, name) SELECT gen_random_uuid(), c.id, s FROM clients c, unnest(ARRAY['HQ', 'Branch', 'Lab']) s`);
  await db.query(
    `INSERT INTO devices (id, site_id, name, device_type, os, working_folder, install_folder)
     SELECT gen_random_uuid(), s.id, 'BENCH-' || lpad(g::text, 6, '0'),
            CASE WHEN g % 5 = 0 THEN 'server' ELSE 'workstation' END, 'win11',
            'C:\\ProgramData\\Patchflow\\Working', 'C:\\Windows\\Patches'
     FROM generate_series(1, $1::int) g
     JOIN LATERAL (SELECT id FROM sites ORDER BY id OFFSET (g % 30) LIMIT 1) s ON true`,
    [o.devices],
  );
  await db.query(
    `INSERT INTO patches (update_id, revision, kb, title, product, classification, severity, published_at, size_bytes,
                          sha256, download_url, file_name, reboot_behavior)
     SELECT md5('bench-' || g), 1, 'KB' || (5000000 + g), 'Bench update ' || g || ' for Windows, "quoted" & <marked>',
            (ARRAY['Windows 11', 'Windows Server 2022', 'Office 2016'])[1 + g % 3],
            (ARRAY['Security Updates', 'Critical Updates', 'Updates', 'Update Rollups'])[1 + g % 4],
            (ARRAY['Critical', 'Important', 'Moderate', 'Unrated'])[1 + g % 4],
            now() - (g || ' days')::interval, 1000000 + g, md5('file-' || g) || md5('more-' || g),
            'https://catalog.example/' || g || '.msu', 'kb' || (5000000 + g) || '.msu', 'can_request'
     FROM generate_series(1, $1::int) g`,
    [o.patches],
  );
  const { rowCount } = await db.query(
    `INSERT INTO device_patches (device_id, update_id, status, installed_at, last_exit_code, last_error, failed_attempts)
     SELECT d.id, p.update_id, st.status,
            CASE WHEN st.status = 'installed' AND h % 2 = 0 THEN now() - interval '3 days' END,
            CASE st.status WHEN 'failed' THEN 2147944003 WHEN 'reboot_required' THEN 3010 WHEN 'installed' THEN 0 END,
            CASE WHEN st.status = 'failed' THEN 'Fatal error during installation (0x80070643), see CBS.log' END,
            CASE WHEN st.status = 'failed' THEN 5 ELSE 0 END
     FROM devices d CROSS JOIN patches p
     CROSS JOIN LATERAL (SELECT abs(hashtext(d.id::text || p.update_id)) % 100 AS h) x
     CROSS JOIN LATERAL (SELECT CASE WHEN h < 60 THEN 'installed' WHEN h < 80 THEN 'missing' WHEN h < 88 THEN 'pending'
                                     WHEN h < 93 THEN 'failed' WHEN h < 97 THEN 'reboot_required' ELSE 'ignored' END AS status) st
     WHERE $1::numeric >= 100 OR abs(hashtext(p.update_id || d.id::text)) % 10000 < $1::numeric * 100`,
    [o.applicablePercent ?? 100],
  );
  await db.query(
    `INSERT INTO device_scans (device_id, digest, last_scanned_at, last_changed_at, updates_reported)
     SELECT id, md5(id::text), now() - interval '1 hour', now() - interval '1 day', $1::int FROM devices`,
    [o.patches],
  );
  await db.query('ANALYZE');
  return { rows: rowCount ?? 0 };
}
