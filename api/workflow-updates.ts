import type { WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

/**
 * Sends an update, retrying the one transient refusal the server gives when the update lands while
 * a workflow task is being completed ("unexpected workflow task failure", an UnhandledCommand race):
 * the workflow is fine and the next attempt is admitted. Any other error is the caller's.
 */
export async function executeUpdateRetrying<R, A extends [unknown, ...unknown[]]>(
  handle: WorkflowHandle,
  def: UpdateDefinition<R, A>,
  args: A,
  attempts = 5,
): Promise<R> {
  for (let i = 1; ; i++) {
    try {
      return await handle.executeUpdate(def, { args });
    } catch (err) {
      const transient = err instanceof Error && /unexpected workflow task failure/i.test(`${err.message} ${(err.cause as Error | undefined)?.message ?? ''}`);
      if (!transient || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}
