import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeBase64Exact, isSignedRestAuthorization, parseSignedRestAuthorization, PUBLIC_KEY_BYTES, SeenRequestNonces, verifySignedRestRequest } from '@fedkd/privacy';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { authenticateApiToken, scopeAllows } from './api-tokens';
import { COORDINATOR_KEY, type CoordinatorKey } from './coordinator-key.provider';
import { REST_ACCESS, type RestAccess } from './rest-access.decorators';

/** What the guard reads of Express's request (it adds originalUrl: the path and query as sent). */
type Request = IncomingMessage & { method: string; originalUrl: string };
type Response = ServerResponse;

/**
 * The REST API's access decision, for every route (a global guard): deny by default, so a route
 * without @Public / @ReadAccess / @StudentDownload / @AdminAccess is refused. Refusals are
 * 401 { code: 'UNAUTHENTICATED' } (no, unknown or revoked credentials) or 403 { code: 'FORBIDDEN' }
 * (valid credentials without the scope). Socket.io messages are not REST: the gateway authenticates
 * them itself (ClientAuthService).
 */
@Injectable()
export class RestAuthGuard implements CanActivate {
  private readonly signedNonces = new SeenRequestNonces();

  constructor(
    private readonly reflector: Reflector,
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(COORDINATOR_KEY) private readonly key: CoordinatorKey,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const access = this.reflector.getAllAndOverride<RestAccess | undefined>(REST_ACCESS, [context.getHandler(), context.getClass()]);
    if (!access) throw forbidden(`${context.getClass().name}.${context.getHandler().name} declares no access rule, so it is refused (deny by default)`);
    if (access.kind === 'public') return true;
    if (access.kind === 'read' && this.config.publicRead) return true;

    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    const header = request.headers.authorization;
    const needs = access.kind === 'admin' ? 'an admin token' : access.signedClients ? 'a read or admin token, or a request signed by an enrolled client' : 'a read or admin token';
    if (!header) throw unauthenticated(http.getResponse<Response>(), `this route needs ${needs}: send Authorization: Bearer <token> (create one with \`fedkd admin token create\`)`);

    if (isSignedRestAuthorization(header)) {
      const clientName = await this.verifySignedClient(request, http.getResponse<Response>());
      if (access.kind === 'read' && access.signedClients) return true;
      throw forbidden(`client ${clientName} is enrolled, but enrolled clients may only download students here: this route needs ${needs}`);
    }
    const bearer = /^Bearer ([^\s]+)$/.exec(header);
    if (!bearer) throw unauthenticated(http.getResponse<Response>(), 'the Authorization header must be Bearer <token> (or a signed client request)');
    const token = await authenticateApiToken(this.db, bearer[1]);
    if (!token.ok) throw unauthenticated(http.getResponse<Response>(), token.message);
    const needed = access.kind === 'admin' ? 'admin' : 'read';
    if (!scopeAllows(token.value.scope, needed)) throw forbidden(`API token ${token.value.name} has the ${token.value.scope} scope; this route needs ${needs}`);
    return true;
  }

  /** The enrolled client that signed this request, or a 401 saying why not. */
  private async verifySignedClient(request: Request, response: Response): Promise<string> {
    const fields = parseSignedRestAuthorization(request.headers.authorization!);
    if (!fields.ok) throw unauthenticated(response, fields.message);
    const { clientName } = fields.value;
    const identity = await this.db.identities.get(clientName);
    const publicKey = identity ? decodeBase64Exact(identity.publicKey, PUBLIC_KEY_BYTES) : null;
    if (!identity || !publicKey) throw unauthenticated(response, `client ${JSON.stringify(clientName.slice(0, 64))} is not enrolled`);
    if (identity.revokedAt !== null) throw unauthenticated(response, `client ${clientName} is revoked`);
    const verified = verifySignedRestRequest({ method: request.method, path: request.originalUrl }, fields.value, {
      publicKey,
      coordinatorPublicKey: this.key.publicKey,
      now: Date.now(),
      maxSkewMs: this.config.handshakeMaxSkewMs,
      nonces: this.signedNonces,
    });
    if (!verified.ok) throw unauthenticated(response, `signed request refused: ${verified.code}: ${verified.message}`);
    return clientName;
  }
}

function unauthenticated(response: Response, message: string): HttpException {
  response.setHeader('WWW-Authenticate', 'Bearer realm="fedkd"');
  return new HttpException({ code: 'UNAUTHENTICATED', message }, HttpStatus.UNAUTHORIZED);
}

function forbidden(message: string): HttpException {
  return new HttpException({ code: 'FORBIDDEN', message }, HttpStatus.FORBIDDEN);
}
