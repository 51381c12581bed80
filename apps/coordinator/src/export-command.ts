import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { choiceArg, envOption, exitOnError, integerArg } from '@fedkd/command-line';
import { initBackend } from '@fedkd/engine';
import { readSecretKey } from '@fedkd/privacy';
import { EXPORT_FORMATS, exportStudent, type ExportFormat } from './models/student-export';
import { DATABASE_HELP, withDatabase } from './persistence/with-database';

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
  envOption(command, '--db <location>', DATABASE_HELP, 'FEDKD_DB', undefined, './fedkd.sqlite');
  envOption(command, '--key <file>', 'the coordinator\'s secret key, which signs signature.json', 'FEDKD_KEY', undefined, './keys/coordinator.key');
  return command.action((flags: ExportFlags) =>
    exitOnError('fedkd export', async () => {
      const key = readSecretKey(flags.key);
      if (!key.ok) throw new Error(`coordinator key ${flags.key}: ${key.message}`);
      const stored = await withDatabase(flags.db, async (db) => {
        const latest = (await db.models.latest())?.version;
        const version = flags.version ?? latest;
        if (version === undefined) throw new Error(`${db.path} holds no published model yet`);
        const model = await db.models.get(version);
        const blob = model ? await db.models.getBlob(version) : null;
        if (!model || !blob) throw new Error(`${db.path} holds no model version ${version} (latest: ${latest ?? 'none'})`);
        return { version, round: model.round, sha256: model.sha256, blob };
      });
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
