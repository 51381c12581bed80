import { SetMetadata } from '@nestjs/common';

/**
 * Who may call a REST route. Every route states one (the guard refuses a route that states none):
 *   - public: anyone (health checks);
 *   - read: a read or admin token (`Authorization: Bearer ...`), or anyone with --public-read;
 *     with `signedClients`, also an enrolled, unrevoked client signing the request with its key;
 *   - admin: an admin token.
 */
export type RestAccess = { kind: 'public' } | { kind: 'read'; signedClients: boolean } | { kind: 'admin' };

export const REST_ACCESS = 'fedkd.rest-access';

/** Open to anyone. */
export const Public = () => SetMetadata(REST_ACCESS, { kind: 'public' } satisfies RestAccess);

/** A read token (or admin), or nobody at all with --public-read. */
export const ReadAccess = () => SetMetadata(REST_ACCESS, { kind: 'read', signedClients: false } satisfies RestAccess);

/** A published student: read-token holders, and enrolled clients that sign the request. */
export const StudentDownload = () => SetMetadata(REST_ACCESS, { kind: 'read', signedClients: true } satisfies RestAccess);

/** An admin token. */
export const AdminAccess = () => SetMetadata(REST_ACCESS, { kind: 'admin' } satisfies RestAccess);
