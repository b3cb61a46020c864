import { canTransition, PatchStatus } from '../../domain/patch-status';

describe('patch status transitions', () => {
  test.each([
    [PatchStatus.Missing, PatchStatus.Pending, true],
    [PatchStatus.Pending, PatchStatus.Installing, true],
    [PatchStatus.Installing, PatchStatus.Installed, true],
    [PatchStatus.Installing, PatchStatus.RebootRequired, true],
    [PatchStatus.Installing, PatchStatus.Failed, true],
    [PatchStatus.RebootRequired, PatchStatus.Installed, true],
    [PatchStatus.Failed, PatchStatus.Pending, true],
    // an Installed patch is not installed again: only a rescan may find it missing
    [PatchStatus.Installed, PatchStatus.Installing, false],
    [PatchStatus.Installed, PatchStatus.Missing, true],
    // the post-scan may find a reportedly installed patch still missing
    [PatchStatus.Installed, PatchStatus.Failed, true],
    // Ignored patches install by no method
    [PatchStatus.Ignored, PatchStatus.Installing, false],
  ])('%s → %s allowed: %s', (from, to, expected) => {
    expect(canTransition(from, to)).toBe(expected);
  });
});
