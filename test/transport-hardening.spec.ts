import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type Ack } from '@fedkd/protocol';
import { connectRawClient, startTestClient, startTestCoordinator, testWorkspace, until, type TestCoordinator } from './support/federation-harness';

describe('transport hardening', () => {
  const workspace = testWorkspace('fedkd-transport-');

  it('serves HTTPS and WSS with a certificate made at test time; a client trusting it joins, one that does not is refused', async () => {
    const key = join(workspace.dir, 'tls.key');
    const cert = join(workspace.dir, 'tls.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const coordinator = await startTestCoordinator({ databasePath: join(workspace.dir, 'tls/fedkd.sqlite'), tlsKeyPath: key, tlsCertPath: cert });
    workspace.defer(() => coordinator.stop());
    expect(coordinator.url.startsWith('https://')).toBe(true);
    const ca = readFileSync(cert, 'utf8');
    const health = await new Promise<number>((resolve, reject) => get(`${coordinator.url}/health`, { ca }, (res) => resolve(res.statusCode ?? 0)).on('error', reject));
    expect(health).toBe(200);

    const trusting = startTestClient(coordinator, 0, { tlsCa: ca });
    workspace.defer(() => trusting.client.stop());
    await trusting.waitFor((e) => e.event === 'connected', 60_000);

    const untrusting = io(coordinator.url, { auth: { protocolVersion: PROTOCOL_VERSION, clientName: 'x' }, transports: ['websocket'], forceNew: true, reconnection: false });
    const error = await new Promise<Error>((resolve) => untrusting.once('connect_error', resolve));
    expect(error.message).toMatch(/websocket error|certificate/i);
    untrusting.disconnect();
  });

  describe('on plain HTTP', () => {
    let coordinator: TestCoordinator;

    it('refuses a browser origin that is not allowed, and admits an allowed one', async () => {
      coordinator = await startTestCoordinator({
        databasePath: join(workspace.dir, 'plain/fedkd.sqlite'),
        allowedOrigins: ['https://dashboard.example'],
        rateLimitPerSecond: 5,
        rateLimitBurst: 5,
      });
      workspace.defer(() => coordinator.stop());
      const connect = (origin: string) =>
        new Promise<string>((resolve) => {
          const socket = io(coordinator.url, {
            auth: { protocolVersion: PROTOCOL_VERSION, clientName: 'browser' },
            transports: ['websocket'],
            forceNew: true,
            reconnection: false,
            extraHeaders: { origin },
          });
          socket.once('connect', () => (socket.disconnect(), resolve('connected')));
          socket.once('connect_error', (e) => (socket.disconnect(), resolve(`refused: ${e.message}`)));
        });
      expect(await connect('https://evil.example')).toMatch(/^refused/);
      expect(await connect('https://dashboard.example')).toBe('connected');
    });

    it('answers a flood from one socket with RATE_LIMITED instead of processing it', async () => {
      const client = await connectRawClient(coordinator, 'flooder');
      const acks = (await Promise.all(
        Array.from({ length: 30 }, () => client.socket.timeout(5_000).emitWithAck('round.declined', { round: 1, reason: 'x' })),
      )) as Ack[];
      const limited = acks.filter((a) => !a.ok && a.code === 'RATE_LIMITED').length;
      expect(limited).toBeGreaterThanOrEqual(20);
      expect(limited).toBeLessThan(30);
      client.socket.disconnect();
    });
  });
});
