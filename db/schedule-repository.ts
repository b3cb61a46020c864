import { randomUUID } from 'node:crypto';
import type { HealthCheckSettings } from '../domain/health-check';
import type { MaintenanceWindow } from '../domain/maintenance-window';
import type { RebootActionConfig } from '../domain/reboot-actions';
import type { ScheduleTiming } from '../domain/schedule-spec';
import type { Queryable } from './database';

/** An operator's schedule, as stored: Postgres is the truth, Temporal Schedules are reconciled to it. */
export interface ScheduleRow {
  id: string;
  name: string;
  kind: 'scan' | 'automatic_update';
  scopeType: 'all' | 'policy' | 'client' | 'site' | 'device_type';
  scopeId: string;
  timing: ScheduleTiming;
  distributionWindowMinutes: number;
  maintenanceWindow: MaintenanceWindow | null;
  rebootAction: RebootActionConfig;
  /**
   * A device offline at the run: `skip` it until the next run; `run_on_check_in` when it next talks to
   * the gateway; `run_asap` the same, and a run the Schedule itself missed (Temporal or the workers down)
   * is caught up for up to 7 days instead of 1 (N-able's "If schedule missed: Run ASAP").
   */
  missedRun: 'skip' | 'run_on_check_in' | 'run_asap';
  /** whether a late (missed) run may restart the device; false leaves it Reboot Required (N-able's "Include Reboot") */
  missedRunReboot: boolean;
  maxConcurrentDevices: number;
  paused: boolean;
  /** a per-patch schedule: only these KBs (an explicit install); null: what the policy approves */
  kbs?: string[] | null;
  /** the health check each install runs after its post-scan (a failure rolls back); null: none */
  healthCheck?: HealthCheckSettings | null;
  createdAt: string;
  updatedAt: string;
}

export type ScheduleFields = Omit<ScheduleRow, 'id' | 'createdAt' | 'updatedAt'>;

const toRow = (r: Record<string, any>): ScheduleRow => ({
  id: r.id, name: r.name, kind: r.kind, scopeType: r.scope_type, scopeId: r.scope_id, timing: r.timing,
  distributionWindowMinutes: r.distribution_window_minutes, maintenanceWindow: r.maintenance_window,
  rebootAction: r.reboot_action, missedRun: r.missed_run, missedRunReboot: r.missed_run_reboot, maxConcurrentDevices: r.max_concurrent_devices,
  paused: r.paused, kbs: r.kbs ?? null, healthCheck: r.health_check ?? null, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(),
});

export async function insertSchedule(db: Queryable, f: ScheduleFields): Promise<ScheduleRow> {
  const { rows } = await db.query(
    `INSERT INTO update_schedules (id, name, kind, scope_type, scope_id, timing, distribution_window_minutes,
       maintenance_window, reboot_action, missed_run, max_concurrent_devices, paused, missed_run_reboot, kbs, health_check)
     VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::jsonb, $7::int, $8::jsonb, $9::jsonb, $10::text, $11::int, $12::bool, $13::bool, $14::text[], $15::jsonb)
     RETURNING *`,
    [randomUUID(), f.name, f.kind, f.scopeType, f.scopeId, JSON.stringify(f.timing), f.distributionWindowMinutes,
      f.maintenanceWindow ? JSON.stringify(f.maintenanceWindow) : null, JSON.stringify(f.rebootAction), f.missedRun,
      f.maxConcurrentDevices, f.paused, f.missedRunReboot, f.kbs ?? null, f.healthCheck ? JSON.stringify(f.healthCheck) : null],
  );
  return toRow(rows[0]);
}

export async function updateSchedule(db: Queryable, id: string, f: ScheduleFields): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query(
    `UPDATE update_schedules SET name = $2::text, kind = $3::text, scope_type = $4::text, scope_id = $5::text,
       timing = $6::jsonb, distribution_window_minutes = $7::int, maintenance_window = $8::jsonb, reboot_action = $9::jsonb,
       missed_run = $10::text, max_concurrent_devices = $11::int, paused = $12::bool, missed_run_reboot = $13::bool, kbs = $14::text[], health_check = $15::jsonb, updated_at = now()
     WHERE id = $1::uuid RETURNING *`,
    [id, f.name, f.kind, f.scopeType, f.scopeId, JSON.stringify(f.timing), f.distributionWindowMinutes,
      f.maintenanceWindow ? JSON.stringify(f.maintenanceWindow) : null, JSON.stringify(f.rebootAction), f.missedRun,
      f.maxConcurrentDevices, f.paused, f.missedRunReboot, f.kbs ?? null, f.healthCheck ? JSON.stringify(f.healthCheck) : null],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

export async function findSchedule(db: Queryable, id: string): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query('SELECT * FROM update_schedules WHERE id = $1::uuid', [id]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

export async function listSchedules(db: Queryable): Promise<ScheduleRow[]> {
  const { rows } = await db.query('SELECT * FROM update_schedules ORDER BY name');
  return rows.map(toRow);
}

export async function deleteSchedule(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM update_schedules WHERE id = $1::uuid', [id]);
  return (rowCount ?? 0) === 1;
}
