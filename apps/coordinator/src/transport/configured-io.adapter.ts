import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { ServerOptions } from 'socket.io';

/**
 * socket.io closes a connection whose message exceeds maxHttpBufferSize (default 1e6 bytes, smaller
 * than a float32 MLP blob), so the limit comes from config rather than the decorator.
 */
export class ConfiguredIoAdapter extends IoAdapter {
  constructor(app: INestApplicationContext, private readonly maxMessageBytes: number) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): unknown {
    return super.createIOServer(port, { ...options, maxHttpBufferSize: this.maxMessageBytes });
  }
}
