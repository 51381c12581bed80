import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ClientEvent } from './federation/edge-client';

/** The client's state as a small JSON file, written atomically, for a container health check. */
export class ClientStatusFile {
  private state = { connected: false, clientId: null as string | null, studentVersion: null as number | null, updatedAt: 0 };

  constructor(private readonly path: string) {}

  update(event: ClientEvent): void {
    if (event.event === 'connected') Object.assign(this.state, { connected: true, clientId: event.clientId });
    else if (event.event === 'disconnected') this.state.connected = false;
    else if (event.event === 'model' && event.ok) this.state.studentVersion = event.version;
    else return;
    this.state.updatedAt = Date.now();
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(`${this.path}.tmp`, JSON.stringify(this.state));
    renameSync(`${this.path}.tmp`, this.path);
  }
}
