import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Command } from 'commander';
import { addSchemaOptions, checkedString, exitOnError, parseOptions } from '@fedkd/command-line';
import { z } from 'zod';
import { clientFlagsSchema } from './client-options';
import { loadClientIdentity, loadPinnedKey, signRestRequest, verifyExport, type Ed25519KeyPair, type SignedExport } from '@fedkd/privacy';

/** The files of a published student as the coordinator serves them (GET /models/:version/:file). */
export const STUDENT_FILES = ['model.json', 'weights.bin', 'signature.json'] as const;

export interface StudentDownloadOptions {
  /** e.g. http://127.0.0.1:8080 */
  coordinatorUrl: string;
  clientName: string;
  /** The client's enrolled Ed25519 key pair: every request is signed with it. */
  identity: Ed25519KeyPair;
  /** The coordinator's pinned public key: requests are signed for it, and the files must carry its signature. */
  coordinatorPublicKey: Uint8Array;
  /** A version number, or 'latest' (the newest in GET /models). */
  version: number | 'latest';
  /** PEM certificate to trust for an https:// coordinator. */
  tlsCa?: string;
}

/**
 * An enrolled client downloads a published student (TF.js model.json + weights.bin) with requests
 * signed by its identity key, no API token needed, and checks the files against signature.json
 * and the pinned coordinator key before returning them.
 */
export async function downloadStudent(options: StudentDownloadOptions): Promise<{ version: number; manifest: SignedExport; files: Record<(typeof STUDENT_FILES)[number], Uint8Array> }> {
  const get = (path: string) => signedGet(options, path);
  let version = options.version;
  if (version === 'latest') {
    const listed = JSON.parse((await get('/models')).toString('utf8')) as { version: number }[];
    if (listed.length === 0) throw new Error(`${options.coordinatorUrl} has published no student yet`);
    version = Math.max(...listed.map((m) => m.version));
  }
  const files = {} as Record<(typeof STUDENT_FILES)[number], Uint8Array>;
  for (const name of STUDENT_FILES) files[name] = new Uint8Array(await get(`/models/${version}/${name}`));
  let manifest: unknown;
  try {
    manifest = JSON.parse(Buffer.from(files['signature.json']).toString('utf8'));
  } catch {
    throw new Error(`signature.json of model version ${version} is not JSON`);
  }
  const checked = verifyExport(manifest, { 'model.json': files['model.json'], 'weights.bin': files['weights.bin'] }, options.coordinatorPublicKey);
  if (!checked.ok) throw new Error(`model version ${version} refused: ${checked.code}: ${checked.message}`);
  if (checked.value.version !== version) throw new Error(`signature.json is for model version ${checked.value.version}, not the requested ${version}`);
  return { version, manifest: checked.value, files };
}

/** GET `path` signed by the client; the body, or an error naming the status and the coordinator's reason. */
function signedGet(options: StudentDownloadOptions, path: string): Promise<Buffer> {
  const url = new URL(path, options.coordinatorUrl);
  const target = `${url.pathname}${url.search}`;
  const authorization = signRestRequest(
    { method: 'GET', path: target },
    { clientName: options.clientName, secretKey: options.identity.secretKey, coordinatorPublicKey: options.coordinatorPublicKey },
  );
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'GET', headers: { authorization }, ...(options.tlsCa ? { ca: options.tlsCa } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode === 200) return resolve(body);
        let reason = body.toString('utf8').slice(0, 300);
        try {
          const parsed = JSON.parse(reason) as { code?: string; message?: string };
          if (parsed.message) reason = `${parsed.code ?? ''} ${parsed.message}`.trim();
        } catch {
          // Not JSON: the raw text is the reason.
        }
        reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}: ${reason}`));
      });
    });
    req.on('error', (error) => reject(new Error(`GET ${url.href}: ${error.message}`)));
    req.end();
  });
}

/** `fedkd client download-model`'s options: the client's own where they mean the same, and what to fetch. */
export const downloadFlagsSchema = clientFlagsSchema
  .pick({ coordinator: true, key: true, coordinatorKey: true, coordinatorPublicKey: true, tlsCa: true })
  .extend({
    name: z.string().min(1).meta({ arg: 'name', env: 'CLIENT_NAME', description: "this client's enrolled name (required)" }),
    version: checkedString((v) => {
      if (v !== 'latest' && !/^[1-9]\d*$/.test(v)) throw new Error(`must be a positive integer or latest, got '${v}'`);
    })
      .default('latest')
      .meta({ arg: 'n', env: 'MODEL_VERSION', description: 'model version, or latest' }),
    out: z.string().min(1).default('./student').meta({ arg: 'dir', env: 'MODEL_OUT', description: 'directory to write the files into (created if missing)' }),
  });

/** `fedkd client download-model`: a published student, fetched with signed requests and checked, written to --out. */
export function downloadModelCommand(): Command {
  const command = new Command('download-model').description(
    'Download a published student (TF.js model.json + weights.bin + signature.json) as an enrolled client: requests signed with the client key, files checked against the pinned coordinator key.',
  );
  addSchemaOptions(command, downloadFlagsSchema);
  return command.action(() =>
    exitOnError('fedkd client download-model', async () => {
      const flags = parseOptions(downloadFlagsSchema, command.opts());
      const downloaded = await downloadStudent({
        coordinatorUrl: flags.coordinator,
        clientName: flags.name,
        identity: loadClientIdentity(flags.key ?? join('keys', `${flags.name}.key`), flags.name, false),
        coordinatorPublicKey: loadPinnedKey(flags.coordinatorKey, flags.coordinatorPublicKey),
        version: flags.version === 'latest' ? 'latest' : Number(flags.version),
        tlsCa: flags.tlsCa ? readFileSync(flags.tlsCa, 'utf8') : undefined,
      });
      mkdirSync(flags.out, { recursive: true });
      for (const [name, bytes] of Object.entries(downloaded.files)) writeFileSync(join(flags.out, name), bytes);
      process.stdout.write(`${JSON.stringify({ version: downloaded.version, round: downloaded.manifest.round, sha256: downloaded.manifest.sha256, out: flags.out })}\n`);
    }),
  );
}
