/** Base for business outcomes that callers branch on by `type` and operators read by `message`. */
export abstract class PatchflowError extends Error {
  abstract readonly type: string;
}

/** Thrown when a device already runs an install operation and another one is asked for. */
export class DeviceBusyError extends PatchflowError {
  readonly type = 'DeviceBusy';
  constructor(readonly deviceId: string, readonly runningWorkflowId: string) {
    super(`device ${deviceId} is busy with ${runningWorkflowId}; one install operation per device at a time`);
  }
}

/** Thrown when a named record (device, client, site, operation, command) does not exist. */
export class NotFoundError extends PatchflowError {
  readonly type = 'NotFound';
  constructor(readonly what: string, readonly id: string) {
    super(`${what} ${id} not found`);
  }
}

/** Thrown when a request is well-formed but conflicts with current state (duplicate name, used token). */
export class ConflictError extends PatchflowError {
  readonly type = 'Conflict';
  constructor(message: string) {
    super(message);
  }
}

/** Thrown when a value passed its schema but is wrong for what it applies to (a folder checked against the device's OS). */
export class BadRequestError extends PatchflowError {
  readonly type = 'BadRequest';
  constructor(message: string, readonly field?: string) {
    super(message);
  }
}

/** Thrown when a request names something that cannot be done as asked (e.g. an unsafe folder). */
export class UnprocessableError extends PatchflowError {
  readonly type = 'Unprocessable';
  constructor(message: string, readonly field?: string) {
    super(message);
  }
}

/** Thrown when a device's stored working or install folder breaks a folder rule, so nothing may start on it. */
export class UnsafeFolderError extends PatchflowError {
  readonly type = 'UnsafeFolder';
  constructor(readonly deviceId: string, readonly field: 'workingFolder' | 'installFolder', readonly rule: string, problem: string) {
    super(`device ${deviceId}: ${field}: ${problem}; change it with PATCH /api/v1/devices/${deviceId}`);
  }
}
