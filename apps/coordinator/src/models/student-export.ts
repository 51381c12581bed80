import { decodeWeights, exportTfjsModel, instantiateModel, setModelWeights } from '@fedkd/engine';
import { signExport } from '@fedkd/privacy';

export type ExportFormat = 'tfjs' | 'fkdw';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['tfjs', 'fkdw'];

/** A published version as stored: what an export is made of. */
export interface StoredVersion {
  version: number;
  round: number;
  sha256: string;
  blob: Uint8Array;
}

/**
 * A published student as files, with `signature.json` (the coordinator's signature over every
 * file's SHA-256): `tfjs` -> `model.json` + `weights.bin`, a standard TF.js LayersModel that
 * outputs class probabilities (softmax of the student's logits), loadable by stock
 * `tf.loadLayersModel`; `fkdw` -> fedkd's own weight blob. Deterministic: the same version gives
 * the same bytes (REST and `fedkd export` serve identical files).
 */
export async function exportStudent(stored: StoredVersion, format: ExportFormat, coordinatorSecretKey: Uint8Array): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = format === 'fkdw' ? { [`fedkd-student-v${stored.version}.fkdw`]: stored.blob } : await tfjsFiles(stored);
  const signature = signExport(stored, files, coordinatorSecretKey);
  return { ...files, 'signature.json': new TextEncoder().encode(`${JSON.stringify(signature, null, 2)}\n`) };
}

async function tfjsFiles(stored: StoredVersion): Promise<Record<string, Uint8Array>> {
  const decoded = decodeWeights(stored.blob);
  const model = await instantiateModel(decoded.spec, 0);
  try {
    setModelWeights(model, decoded.weights);
    const exported = await exportTfjsModel(model, {
      probabilities: true,
      metadata: { fedkd: { version: stored.version, round: stored.round, sha256: stored.sha256, outputs: 'class probabilities (softmax of the student logits)' } },
    });
    return { 'model.json': exported.modelJson, 'weights.bin': exported.weights };
  } finally {
    model.dispose();
  }
}
