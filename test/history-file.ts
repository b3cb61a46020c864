import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a recorded workflow history as `<dir>/<name>.json`, and refuses (loudly, naming the file)
 * when that history already exists: a committed history is what running workflows look like, and
 * replacing it would hide a change that breaks them. A new path gets a new name.
 */
export function saveNewHistory(dir: string, name: string, history: unknown): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  try {
    fs.writeFileSync(file, JSON.stringify(history, null, 2), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`refusing to overwrite the recorded history ${file}: histories are never replaced; record the new path under a new name`, { cause: err });
    }
    throw err;
  }
  return file;
}
