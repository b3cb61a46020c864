-- Up Migration
-- Issue 17 part 1 (Kaseya "File Source", seed 003): where a site's devices get their patch files.
-- 'internet' (the catalog's URL) is the default, so every existing site downloads as before.
-- fallback: a failed primary source falls back along domain/file-source.ts `sourceOrder`
-- (LAN share → Patchflow cache → internet); without it only the primary source is tried.
ALTER TABLE sites ADD COLUMN file_source text NOT NULL DEFAULT 'internet'
  CHECK (file_source IN ('internet', 'cache', 'lan-share', 'temp-most-free-drive'));
ALTER TABLE sites ADD COLUMN file_source_fallback boolean NOT NULL DEFAULT true;

-- Down Migration
ALTER TABLE sites DROP COLUMN file_source_fallback;
ALTER TABLE sites DROP COLUMN file_source;
