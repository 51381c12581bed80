import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { choiceArg, envOption, exitOnError, integerArg } from '@fedkd/command-line';
import { initBackend } from '@fedkd/engine';
import { readSecretKey } from '@fedkd/privacy';
import { EXPORT_FORMATS, exportStudent, type ExportFormat } from './models/student-export';

interface ExportFlags {
  version?: number;
  out: string;
  format: ExportFormat;
  db: string;
  key: string;
}

/**
 * `fedkd export --version N --out DIR [--format tfjs|fkdw]`: a published student as files, the
 * same bytes GET /models/N/model.json, weights.bin and signature.json serve.
 */
export function exportCommand(): Command {
  const command = new Command('export').description('Write a published student version as files: a TF.js LayersModel (model.json + weights.bin) or the .fkdw blob, with signature.json.');
  envOption(command, '--version <n>', 'model version (default: the latest)', 'FEDKD_EXPORT_VERSION', integerArg('--version', 1));
  envOption(command, '--out <dir>', 'directory to write the files into (created if missing)', 'FEDKD_EXPORT_OUT', undefined, './export');
  envOption(command, '--format <format>', 'tfjs (model.json + weights.bin) | fkdw (fedkd weight blob)', 'FEDKD_EXPORT_FORMAT', choiceArg('--format', EXPORT_FORMATS), 'tfjs');
  envOption(command, '--db <path>', 'coordinator SQLite database file', 'FEDKD_DB', undefined, './fedkd.sqlite');
  envOption(command, '--key <file>', 'the coordinator\'s secret key, which signs signature.json', 'FEDKD_KEY', undefined, './keys/coordinator.key');
  return command.action((flags: ExportFlags) =>
    exitOnError('fedkd export', async () => {
      const key = readSecretKey(flags.key);
      if (!key.ok) throw new Error(`coordinator key ${flags.key}: ${key.message}`);
      const { openDatabase } = await import('./persistence/coordinator-database');
      const db = openDatabase(flags.db);
      let stored;
      try {
        const version = flags.version ?? db.models.latest()?.version;
        if (version === undefined) throw new Error(`${flags.db} holds no published model yet`);
        const model = db.models.get(version);
        const blob = db.models.getBlob(version);
        if (!model || !blob) throw new Error(`${flags.db} holds no model version ${version} (latest: ${db.models.latest()?.version ?? 'none'})`);
        stored = { version, round: model.round, sha256: model.sha256, blob };
      } finally {
        db.close();
      }
      await initBackend({ log: () => undefined });
      const files = await exportStudent(stored, flags.format, key.value.secretKey);
      mkdirSync(flags.out, { recursive: true });
      for (const [name, bytes] of Object.entries(files)) {
        writeFileSync(join(flags.out, name), bytes);
        process.stdout.write(`${join(flags.out, name)}\n`);
      }
    }),
  );
}
