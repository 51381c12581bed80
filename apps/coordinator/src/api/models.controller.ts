import { Controller, Get, HttpException, HttpStatus, Inject, Param, ParseIntPipe, StreamableFile } from '@nestjs/common';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';

@Controller('models')
export class ModelsController {
  constructor(@Inject(DATABASE) private readonly db: CoordinatorDatabase) {}

  @Get()
  list() {
    return this.db.models.list();
  }

  /** The weights blob itself (libs/engine format); its SHA-256 is in the header and in GET /models. */
  @Get(':version')
  blob(@Param('version', ParseIntPipe) version: number): StreamableFile {
    const model = this.db.models.get(version);
    const blob = this.db.models.getBlob(version);
    if (!model || !blob) throw new HttpException({ code: 'NOT_FOUND', message: `no model version ${version}` }, HttpStatus.NOT_FOUND);
    return new StreamableFile(Buffer.from(blob), {
      type: 'application/octet-stream',
      disposition: `attachment; filename="fedkd-student-v${version}.fkdw"`,
      length: blob.byteLength,
    });
  }
}
