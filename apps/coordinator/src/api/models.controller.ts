import { Controller, Get, HttpException, HttpStatus, Inject, Param, StreamableFile, UsePipes } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { COORDINATOR_KEY, type CoordinatorKey } from '../auth/coordinator-key.provider';
import { StudentDownload } from '../auth/rest-access.decorators';
import { exportStudent } from '../models/student-export';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { ModelFileParamsDto, ModelParamsDto, ModelVersionDto, type TfjsFileName } from './dto';
import { ApiErrors, ApiResult } from './openapi';
import { ApiValidationPipe } from './validation.pipe';

/** Exports kept in memory (they are deterministic, so a restart only costs recomputing them). */
const CACHED_EXPORTS = 4;
const BINARY = { type: 'string', format: 'binary' } as const;
/** Each TF.js file's type (the document lists the same names: TFJS_FILE_NAMES). */
const TFJS_FILES: Record<TfjsFileName, string> = { 'model.json': 'application/json', 'weights.bin': 'application/octet-stream', 'signature.json': 'application/json' };

/** Published students: read-token holders, and enrolled clients signing their requests (`fedkd client download-model`). */
@Controller('models')
@StudentDownload()
@ApiTags('models')
@UsePipes(ApiValidationPipe)
export class ModelsController {
  private readonly exports = new Map<number, Promise<Record<string, Uint8Array>>>();

  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(COORDINATOR_KEY) private readonly key: CoordinatorKey,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Published students, newest first, without their weights' })
  @ApiResult(200, [ModelVersionDto])
  list() {
    return this.db.models.list();
  }

  /** The weights blob itself (libs/engine format); its SHA-256 is in the header and in GET /models. */
  @Get(':version')
  @ApiOperation({ summary: "A student's weight blob (libs/engine format)" })
  @ApiResponse({ status: 200, description: 'The blob, as an attachment; its SHA-256 is in GET /models.', content: { 'application/octet-stream': { schema: BINARY } } })
  @ApiErrors('bad-param', 404)
  async blob(@Param() { version }: ModelParamsDto): Promise<StreamableFile> {
    const { blob } = await this.stored(version);
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
  @ApiOperation({ summary: 'A student as a TF.js LayersModel: model.json, weights.bin, signature.json' })
  @ApiResponse({
    status: 200,
    description: 'model.json (the LayersModel and its weights manifest) and signature.json (every file\'s SHA-256, signed by the coordinator) as JSON; weights.bin as bytes.',
    content: { 'application/json': { schema: { type: 'object' } }, 'application/octet-stream': { schema: BINARY } },
  })
  @ApiErrors('bad-param', 404)
  async tfjsFile(@Param() { version, file }: ModelFileParamsDto): Promise<StreamableFile> {
    const type = Object.hasOwn(TFJS_FILES, file) ? TFJS_FILES[file as TfjsFileName] : undefined;
    if (!type) throw new HttpException({ code: 'NOT_FOUND', message: `no file ${file} (a version serves ${Object.keys(TFJS_FILES).join(', ')})` }, HttpStatus.NOT_FOUND);
    const files = await this.tfjsExport(version);
    const bytes = files[file];
    return new StreamableFile(Buffer.from(bytes), { type, length: bytes.byteLength });
  }

  private async stored(version: number): Promise<{ version: number; round: number; sha256: string; blob: Uint8Array }> {
    const model = await this.db.models.get(version);
    const blob = model ? await this.db.models.getBlob(version) : null;
    if (!model || !blob) throw new HttpException({ code: 'NOT_FOUND', message: `no model version ${version}` }, HttpStatus.NOT_FOUND);
    return { version, round: model.round, sha256: model.sha256, blob };
  }

  private tfjsExport(version: number): Promise<Record<string, Uint8Array>> {
    let files = this.exports.get(version);
    if (!files) {
      files = this.stored(version).then((stored) => exportStudent(stored, 'tfjs', this.key.secretKey));
      files.catch(() => this.exports.delete(version));
      this.exports.set(version, files);
      if (this.exports.size > CACHED_EXPORTS) this.exports.delete(this.exports.keys().next().value!);
    }
    return files;
  }
}
