import type { DashboardConfig } from '../../../api/dashboard-schemas';
export function SchedulesPage(_props: { temporal?: DashboardConfig }) { return null; }
