import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { IncomingMessage } from 'node:http';
import type { ServerOptions } from 'socket.io';
import { federationParser } from '@fedkd/protocol';

export interface TransportLimits {
  maxMessageBytes: number;
  allowedOrigins: readonly string[];
}

/**
 * Transport settings that come from config rather than the decorator: socket.io closes a
 * connection whose message exceeds maxHttpBufferSize (default 1e6 bytes, smaller than a float32
 * MLP blob), and browsers may only connect from allowed origins. Requests without an Origin
 * header come from non-browser clients (edge clients), which authenticate by signature instead.
 */
export class ConfiguredIoAdapter extends IoAdapter {
  constructor(app: INestApplicationContext, private readonly limits: TransportLimits) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): unknown {
    return super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: this.limits.maxMessageBytes,
      // Secure-aggregation steps carry a binary part per neighbour: more than socket.io's default 10.
      parser: federationParser,
      allowRequest: (request: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
        const origin = request.headers.origin;
        const allowed = origin === undefined || this.limits.allowedOrigins.includes(origin);
        callback(allowed ? null : `origin ${origin} is not allowed`, allowed);
      },
    });
  }
}
