/**
 * What identifies a patch across Patchflow (the catalog's `kb` field, install requests, policies,
 * reports). One rule, used by the feed schema, the agent and operator schemas, the CSV import and the CLI:
 *
 * - Windows: the Microsoft Knowledge Base number, "KB" and 6 to 8 digits (KB5034441). Exactly as strict
 *   as before Linux patches existed.
 * - Debian and Ubuntu, where the archive names an advisory: DSA-5555-1, DLA-3600-1, USN-6500-1.
 * - Otherwise a Linux package version: "<package>=<version>", e.g. PF-DEMO=1.1, OPENSSL=3.0.11-1~DEB12U2
 *   (the package and version as Debian policy spells them, upper-cased: Patchflow compares patch ids
 *   case-insensitively, as it always has KBs, and Debian package names are lower-case only).
 */

const KB = /^KB\d{6,8}$/;
const ADVISORY = /^(?:DSA|DLA)-\d{3,5}(?:-\d{1,3})?$|^USN-\d{3,5}-\d{1,3}$/;
/** Debian policy 5.6.1 (name) and 5.6.12 (version: [epoch:]upstream[-revision], upstream starting with a digit), upper-cased. */
const PACKAGE_VERSION = /^[A-Z0-9][A-Z0-9+.-]+=(?:\d+:)?\d[A-Z0-9.+~-]*$/;

export const MAX_PATCH_ID_LENGTH = 100;
export const PATCH_ID_HINT = 'must be a KB number (KB5034441), a Debian/Ubuntu advisory (DSA-5555-1, USN-6500-1) or a package version (PF-DEMO=1.1)';

/** Whether `id` is a patch id as stored (upper case). */
export function isPatchId(id: string): boolean {
  return id.length <= MAX_PATCH_ID_LENGTH && (KB.test(id) || ADVISORY.test(id) || PACKAGE_VERSION.test(id));
}

/** "kb890830", " 890830" and "KB890830" are one KB article: an operator's KB as stored; does not check it. */
export function normaliseKb(kb: string): string {
  return kb.trim().toUpperCase().replace(/^(\d)/, 'KB$1');
}

/** An operator's spelling (any case, surrounding blanks) as stored; does not check it. */
export function normalisePatchId(id: string): string {
  return id.trim().toUpperCase();
}

/** The patch id of a Linux package version without an advisory: "pf-demo", "1.1" → "PF-DEMO=1.1". */
export function packagePatchId(name: string, version: string): string {
  return normalisePatchId(`${name}=${version}`);
}

/** Why an (upper-cased) id is not a patch id, in the words the Windows rule always used for KB-looking input; undefined when it is one. */
export function patchIdProblem(id: string): string | undefined {
  if (isPatchId(id)) return undefined;
  return /^KB/.test(id) || /^\d+$/.test(id) ? 'must look like KB5034441' : PATCH_ID_HINT;
}
