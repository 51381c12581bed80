import * as fs from 'node:fs';

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
