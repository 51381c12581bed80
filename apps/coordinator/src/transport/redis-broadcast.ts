import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { redactedRedisUrl } from './redis-url';

/** socket.io's adapter over Redis Streams, with the connection it owns. */
export interface RedisBroadcast {
  /** The `adapter` option of the socket.io server: broadcasts reach the sockets of every replica on the same Redis. */
  adapter: ReturnType<typeof createAdapter>;
  /** Closes the Redis connection (once; later calls do nothing). */
  close(): Promise<void>;
}

/**
 * Connects to Redis for the Redis Streams adapter (websocket-only transport, so no sticky sessions
 * are needed; the adapter also supports socket.io's connection-state recovery, which the classic
 * Redis adapter does not). The first connection must succeed, or this fails naming the server;
 * later losses are retried with backoff (up to 5 s between tries) and reported through `warn`.
 */
export async function connectRedisBroadcast(url: string, warn: (message: string) => void): Promise<RedisBroadcast> {
  let ready = false;
  const client = createClient({
    url,
    socket: { reconnectStrategy: (retries: number, cause: Error) => (ready ? Math.min(200 * 2 ** Math.min(retries, 5), 5_000) : cause) },
  });
  client.on('error', (error: Error) => {
    if (ready) warn(`Redis at ${redactedRedisUrl(url)}: ${error.message}`);
  });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`--redis-url: cannot reach Redis at ${redactedRedisUrl(url)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  ready = true;
  let closing: Promise<void> | null = null;
  return {
    adapter: createAdapter(client),
    close: () =>
      (closing ??= client.quit().then(
        () => undefined,
        () => undefined,
      )),
  };
}
