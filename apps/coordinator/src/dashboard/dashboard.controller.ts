import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, HttpException, HttpStatus, Param, Res, StreamableFile } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/rest-access.decorators';
import { ErrorDto } from '../api/dto';

/** The files of the dashboard's bundle (scripts/build-dashboard.mjs writes them to dist/dashboard/). */
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/**
 * Where the built dashboard is: dist/dashboard/ under the package root (found from this file, in
 * dist/ or, under the tests, in apps/), or FEDKD_DASHBOARD_DIR.
 */
export function dashboardDir(): string {
  if (process.env.FEDKD_DASHBOARD_DIR) return process.env.FEDKD_DASHBOARD_DIR;
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'dashboard');
}

type Response = { setHeader(name: string, value: string): void };

/**
 * The dashboard's page and script: public, since they hold no data (everything the page shows
 * comes over the `/dashboard` namespace or read routes, with a read token). Served from the
 * build's files, never from a CDN; only the listed files.
 */
const NOT_BUILT = { status: 503, description: 'DASHBOARD_NOT_BUILT: the coordinator runs from sources whose dashboard bundle was not built (`npm run build`).', type: ErrorDto };

@ApiTags('dashboard')
@Controller('dashboard')
@Public()
export class DashboardController {
  private readonly dir = dashboardDir();

  @Get()
  @Header('Cache-Control', 'no-cache')
  @ApiOperation({ summary: 'The live dashboard page (no data: it reads over the /dashboard socket.io namespace with a read token)' })
  @ApiResponse({ status: 200, description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } })
  @ApiResponse(NOT_BUILT)
  page(@Res({ passthrough: true }) response: Response): StreamableFile {
    return this.asset('index.html', response);
  }

  @Get(':file')
  @Header('Cache-Control', 'no-cache')
  @ApiOperation({ summary: "The dashboard page's script and style" })
  @ApiParam({ name: 'file', enum: Object.keys(ASSETS) })
  @ApiResponse({ status: 200, description: 'The file', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } } })
  @ApiResponse({ status: 404, description: 'NOT_FOUND: not a file of the dashboard.', type: ErrorDto })
  @ApiResponse(NOT_BUILT)
  file(@Param('file') file: string, @Res({ passthrough: true }) response: Response): StreamableFile {
    return this.asset(file, response);
  }

  private asset(file: string, response: Response): StreamableFile {
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) throw new HttpException({ code: 'NOT_FOUND', message: `no dashboard file ${file.slice(0, 64)}` }, HttpStatus.NOT_FOUND);
    const path = join(this.dir, file);
    if (!existsSync(path)) {
      throw new HttpException({ code: 'DASHBOARD_NOT_BUILT', message: `the dashboard is not built (no ${path}): run \`npm run build\`` }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    // The page loads only its own script and style and talks only to this origin.
    response.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    response.setHeader('X-Content-Type-Options', 'nosniff');
    const bytes = readFileSync(path);
    return new StreamableFile(bytes, { type, length: bytes.byteLength });
  }
}
