/**
 * The contract of patchTestWorkflow (the Patch Test, Kaseya; seed 003): id scheme, input, progress and
 * result. api/ and cli/ import this file, never the workflow body.
 */
import { defineQuery } from '@temporalio/workflow';
import type { CleanupResult } from '../domain/device-protocol';
import type { PatchTestCheckResult } from '../domain/patch-test';
import type { InstallTimingInput } from './install.contract';

export const PATCH_TEST_WORKFLOW_TYPE = 'patchTestWorkflow';

/** `patch-test/<deviceId>/<key>`: readable in the Web UI's list, beside the device's installs. */
export function patchTestWorkflowId(deviceId: string, key: string): string {
  return `patch-test/${deviceId}/${key}`;
}

export interface PatchTestInput {
  deviceId: string;
  deviceName: string;
  clientName: string;
  siteName: string;
  workingFolder: string;
  installFolder: string;
  /** who asked: "api-key:admin" */
  requestedBy: string;
  /** the install's step pacing (scan, cleanup, retries); the patch-test step takes `patchTestTimeoutSeconds` */
  timing?: InstallTimingInput & { patchTestTimeoutSeconds?: number };
}

/** Default per-attempt limit of the patch-test step: every file source is asked for its file and hashed. */
export const DEFAULT_PATCH_TEST_TIMEOUT_SECONDS = 1800;

export type PatchTestStep = 'claim' | 'pre-scan' | 'patch-test' | 'cleanup' | 'done';

export interface PatchTestProgress {
  step: PatchTestStep;
  /** the approved missing patches whose files the test checks */
  kbs: string[];
}

export interface PatchTestWorkflowResult extends PatchTestProgress {
  passed: boolean;
  checks: PatchTestCheckResult[];
  /** workflow time of the evaluation (the stored result's `testedAt`) */
  testedAt: string;
  cleanup: CleanupResult | null;
  /** why cleanup did not run (the working folder resolves to a protected folder) */
  cleanupSkipped?: string;
  /** cleanup did not reach the device in time: it is queued for its next check-in */
  cleanupPending?: string;
}

export const patchTestProgressQuery = defineQuery<PatchTestProgress>('progress');
