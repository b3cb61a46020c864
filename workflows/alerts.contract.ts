/** The contract of alertsWorkflow: id scheme, input and result. api/ and activities/ import this file. */
import type { DeliveryPolicy } from '../domain/alert-rules';

export const ALERTS_WORKFLOW_TYPE = 'alertsWorkflow';

/** `alerts/evaluate`: one evaluation at a time (a Schedule's runs add `-<time>`). */
export const ALERTS_WORKFLOW_ID = 'alerts/evaluate';

/** The Temporal Schedule that evaluates the rules every ALERTS_INTERVAL_MINUTES. */
export const ALERTS_SCHEDULE_ID = 'patchflow-alerts';

export interface AlertsInput {
  /** "schedule", or the operator who asked for an evaluation now */
  requestedBy: string;
  /** written out in full at start, so a changed default never reaches a running evaluation */
  delivery: DeliveryPolicy;
}

export interface EvaluateResult {
  rules: number;
  opened: number;
  closed: number;
}

export interface DeliverResult {
  delivered: number;
  /** failed this time, to be tried again later */
  retrying: number;
  deadLettered: number;
  /** still owed after this round (waiting for their next try, or behind an earlier one) */
  pending: number;
}

export interface AlertsResult extends EvaluateResult, DeliverResult {}
