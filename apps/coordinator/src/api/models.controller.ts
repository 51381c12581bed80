import { Controller, Get, HttpException, HttpStatus, Inject, Param, ParseIntPipe, StreamableFile } from '@nestjs/common';
import { COORDINATOR_KEY, type CoordinatorKey } from '../auth/coordinator-key.provider';
import { StudentDownload } from '../auth/rest-access.decorators';
import { exportStudent } from '../models/student-export';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';

/** Exports kept in memory (they are deterministic, so a restart only costs recomputing them). */
const CACHED_EXPORTS = 4;
const TFJS_FILES: Record<string, string> = { 'model.json': 'application/json', 'weights.bin': 'application/octet-stream', 'signature.json': 'application/json' };

/** Published students: read-token holders, and enrolled clients signing their requests (`fedkd client download-model`). */
@Controller('models')
@StudentDownload()
export class ModelsController {
  private readonly exports = new Map<number, Promise<Record<string, Uint8Array>>>();

  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(COORDINATOR_KEY) private readonly key: CoordinatorKey,
  ) {}

  @Get()
  list() {
    return this.db.models.list();
  }

  /** The weights blob itself (libs/engine format); its SHA-256 is in the header and in GET /models. */
  @Get(':version')
  blob(@Param('version', ParseIntPipe) version: number): StreamableFile {
    const blob = this.stored(version).blob;
    return new StreamableFile(Buffer.from(blob), {
      type: 'application/octet-stream',
      disposition: `attachment; filename="fedkd-student-v${version}.fkdw"`,
      length: blob.byteLength,
    });
  }

  /**
   * The version as a standard TF.js LayersModel: `model.json` (its weights manifest names
   * `weights.bin`, beside it), so that stock `tf.loadLayersModel('http://HOST/models/N/model.json')`
   * loads it; `signature.json` holds every file's SHA-256 signed by the coordinator.
   */
  @Get(':version/:file')
  async tfjsFile(@Param('version', ParseIntPipe) version: number, @Param('file') file: string): Promise<StreamableFile> {
    const type = TFJS_FILES[file];
    if (!type) throw new HttpException({ code: 'NOT_FOUND', message: `no file ${file} (a version serves ${Object.keys(TFJS_FILES).join(', ')})` }, HttpStatus.NOT_FOUND);
    const files = await this.tfjsExport(version);
    const bytes = files[file];
    return new StreamableFile(Buffer.from(bytes), { type, length: bytes.byteLength });
  }

  private stored(version: number): { version: number; round: number; sha256: string; blob: Uint8Array } {
    const model = this.db.models.get(version);
    const blob = this.db.models.getBlob(version);
    if (!model || !blob) throw new HttpException({ code: 'NOT_FOUND', message: `no model version ${version}` }, HttpStatus.NOT_FOUND);
    return { version, round: model.round, sha256: model.sha256, blob };
  }

  private tfjsExport(version: number): Promise<Record<string, Uint8Array>> {
    let files = this.exports.get(version);
    if (!files) {
      files = exportStudent(this.stored(version), 'tfjs', this.key.secretKey);
      files.catch(() => this.exports.delete(version));
      this.exports.set(version, files);
      if (this.exports.size > CACHED_EXPORTS) this.exports.delete(this.exports.keys().next().value!);
    }
    return files;
  }
}
