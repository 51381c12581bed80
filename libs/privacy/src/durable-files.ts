import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';

/**
 * Writes `text` to a fresh temporary file beside `target`, created with `mode` (O_CREAT|O_EXCL, then
 * fchmod so the umask cannot change it) and fsync'ed; returns its path for the caller to rename or
 * link into place (and to remove afterwards). A failure after creating it removes it.
 */
export function writeSyncedTemporary(target: string, text: string, mode: number): string {
  const temporary = nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = fs.openSync(temporary, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  return temporary;
}

/** fsync a directory so that a rename into it survives a crash (best effort where the platform cannot). */
export function syncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the files themselves are synced.
  }
}
