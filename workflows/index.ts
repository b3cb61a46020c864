/** Every workflow type the worker registers (this file is the bundle's entry point). */
export { deviceInstallWorkflow } from './device-install';
export { patchScanWorkflow } from './patch-scan';
export { initialUpdateWorkflow } from './initial-update';
export { automaticUpdateWorkflow } from './automatic-update';
export { trustKeysWorkflow } from './trust-keys';
export { catalogSyncWorkflow } from './catalog-sync';
export { patchOverviewReportWorkflow } from './patch-overview-report';
export { alertsWorkflow } from './alerts';
export { approvalRequestWorkflow } from './approval-request';
export { releaseWorkflow } from './release';
export { patchTestWorkflow } from './patch-test';
export { scopeScanWorkflow } from './scope-scan';
