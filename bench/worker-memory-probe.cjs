/* global require, process, setInterval */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload: `node -r` is what reaches worker threads */
/**
 * Bench only (bench/open-workflows-bench.ts): preloaded into the worker process with `node -r`, which
 * runs it in every thread (`--import` preloads skip worker threads), so the SDK's workflow thread
 * reports its own V8 heap beside the main thread's. With PATCHFLOW_MEMORY_PROBE_DIR set, each thread
 * writes `<pid>-<threadId>.json` there every 2 s; when a file named `heap-snapshot` appears there, each
 * thread writes one heap snapshot (`heap-<threadId>.heapsnapshot`) for Chrome DevTools. Plain
 * JavaScript: the workflow thread has no TypeScript loader.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');
const { isMainThread, threadId } = require('node:worker_threads');

const dir = process.env.PATCHFLOW_MEMORY_PROBE_DIR;
if (dir) {
  const file = path.join(dir, `${process.pid}-${threadId}.json`);
  let snapshotTaken = false;
  const write = () => {
    try {
      const m = process.memoryUsage();
      const h = v8.getHeapStatistics();
      const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
      fs.writeFileSync(`${file}.tmp`, JSON.stringify({
        threadId, main: isMainThread,
        // the SDK's workflow thread, not Node's own (the ESM loader's hooks thread of --import tsx)
        workflowThread: Object.keys(require.cache).some((k) => k.includes('workflow-worker-thread')), at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal,
        external: m.external, arrayBuffers: m.arrayBuffers, heapLimit: h.heap_size_limit, malloced: h.malloced_memory,
        contexts: h.number_of_native_contexts, spaces,
      }));
      fs.renameSync(`${file}.tmp`, file);
      if (!snapshotTaken && fs.existsSync(path.join(dir, 'heap-snapshot'))) {
        snapshotTaken = true;
        v8.writeHeapSnapshot(path.join(dir, `heap-${threadId}.heapsnapshot`));
      }
    } catch {
      // the bench removed the folder: nothing to report to
    }
  };
  setInterval(write, 2000).unref();
  write();
}
