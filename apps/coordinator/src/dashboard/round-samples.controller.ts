import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Controller, Get, HttpException, HttpStatus, Inject, Param, ParseIntPipe, StreamableFile } from '@nestjs/common';
import { generateSyntheticImages, proxyInputsSha256, PROXY_GENERATORS } from '@fedkd/data';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ReadAccess } from '../auth/rest-access.decorators';
import { ApiErrors } from '../api/openapi';
import { ErrorDto } from '../api/dto';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { FEDERATION, type FederationSetup } from '../federation/federation-setup';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { roundSamplesPng } from '../rounds/round-samples';

/** Pictures kept in memory (a stored round's inputs never change). */
const CACHED_PICTURES = 16;
/** Generators whose inputs anyone can regenerate from the stored seed and size. */
const SEEDED_GENERATORS: readonly string[] = ['strokes', 'noise'];

/**
 * GET /rounds/:id/samples.png: a data-free round's synthetic inputs as the PNG grid that
 * --samples-dir writes (one row per class, or rows of consecutive inputs). Read access. The file
 * --samples-dir wrote if there is one; otherwise regenerated on demand from the stored round (seed
 * and size, checked against the stored digest of its inputs), which works for the seeded
 * generators (strokes, noise). The learned and student-guided generators' inputs are not stored:
 * their pictures exist only with --samples-dir. A public-proxy round has none (404).
 */
@ApiTags('rounds')
@Controller('rounds')
@ReadAccess()
export class RoundSamplesController {
  private readonly pictures = new Map<number, Promise<Buffer>>();

  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(FEDERATION) private readonly federation: FederationSetup,
  ) {}

  @Get(':id/samples.png')
  @ApiOperation({ summary: "A data-free round's synthetic inputs as a PNG grid" })
  @ApiResponse({ status: 200, description: 'The picture', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } })
  @ApiErrors('bad-param', 404)
  @ApiResponse({ status: 409, description: 'CONFLICT: the regenerated inputs differ from the ones the round asked about.', type: ErrorDto })
  async samples(@Param('id', ParseIntPipe) id: number): Promise<StreamableFile> {
    let picture = this.pictures.get(id);
    if (!picture) {
      picture = this.draw(id);
      picture.catch(() => this.pictures.delete(id));
      this.pictures.set(id, picture);
      if (this.pictures.size > CACHED_PICTURES) this.pictures.delete(this.pictures.keys().next().value!);
    }
    const png = await picture;
    return new StreamableFile(png, { type: 'image/png', length: png.byteLength, disposition: `inline; filename="round-${id}-samples.png"` });
  }

  private async draw(id: number): Promise<Buffer> {
    const round = await this.db.rounds.get(id);
    if (!round) throw notFound(`no round ${id}`);
    const proxy = (round.config.proxy ?? {}) as { kind?: unknown; generator?: unknown; seed?: unknown; size?: unknown; inputsSha256?: unknown };
    if (proxy.kind !== 'synthetic') throw notFound(`round ${id} asked about public proxy inputs: it has no synthetic inputs to draw`);
    const written = this.config.samplesDir ? join(this.config.samplesDir, `round-${id}.png`) : null;
    if (written && existsSync(written)) return readFile(written);
    const generator = String(proxy.generator);
    if (!SEEDED_GENERATORS.includes(generator)) {
      const known = (PROXY_GENERATORS as readonly string[]).includes(generator) ? `the ${generator} generator's inputs are not stored` : `unknown generator ${generator.slice(0, 32)}`;
      throw notFound(`round ${id}: ${known}; start the coordinator with --samples-dir to keep a picture of every synthetic round`);
    }
    if (typeof proxy.seed !== 'number' || typeof proxy.size !== 'number' || proxy.size < 1) throw notFound(`round ${id} did not store its inputs' seed and size`);
    const inputs = generateSyntheticImages(generator as 'strokes' | 'noise', proxy.seed, proxy.size);
    if (typeof proxy.inputsSha256 === 'string' && proxyInputsSha256(inputs) !== proxy.inputsSha256) {
      throw new HttpException({ code: 'CONFLICT', message: `round ${id}: its regenerated inputs differ from the ones it asked about (another generator version?)` }, HttpStatus.CONFLICT);
    }
    return roundSamplesPng(generator, inputs, null, this.federation.task.classes.length);
  }
}

function notFound(message: string): HttpException {
  return new HttpException({ code: 'NOT_FOUND', message }, HttpStatus.NOT_FOUND);
}
