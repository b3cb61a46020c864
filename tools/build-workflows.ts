/**
 * `npm run build`: the production worker's workflow bundle (dist/workflows/workflow-bundle.js and its
 * source digest), which worker/main.ts loads instead of bundling at every start.
 */
import { DEFAULT_WORKFLOW_BUNDLE_PATH, writeWorkflowBundle } from '../worker/workflow-bundle';

const started = Date.now();
writeWorkflowBundle(DEFAULT_WORKFLOW_BUNDLE_PATH).then((digest) => {
  console.error(`[build] workflow bundle ${DEFAULT_WORKFLOW_BUNDLE_PATH} (sources ${digest.slice(0, 12)}) in ${Date.now() - started} ms`);
}).catch((err) => {
  console.error(`[build] workflow bundle failed: ${err?.stack ?? err}`);
  process.exit(1);
});
