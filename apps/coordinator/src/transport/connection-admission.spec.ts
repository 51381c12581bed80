import { describe, expect, it } from 'vitest';
import { ConnectionAdmission } from './connection-admission';

describe('connection admission', () => {
  it('refuses a connection over the per-address cap, counting it, and admits one again once a connection from there closes', () => {
    const admission = new ConnectionAdmission({ maxConnectionsPerAddress: 2, maxUnauthenticatedConnections: 10 });
    admission.opened('a', '10.0.0.1', () => undefined);
    admission.opened('b', '10.0.0.1', () => undefined);
    expect(admission.admit('10.0.0.1')).toBe('too many connections from 10.0.0.1: at most 2 (--max-connections-per-address)');
    expect(admission.admit('10.0.0.2')).toBeNull();
    admission.closed('a');
    expect(admission.admit('10.0.0.1')).toBeNull();
    expect(admission.status()).toEqual({ open: 1, unauthenticated: 1, refused: { perAddress: 1, unauthenticated: 0, preAuthMessageTooLarge: 0, helloTimeout: 0 } });
  });

  it('counts only connections without a hello against the unauthenticated cap, and lifts a connection\'s limit at its hello', () => {
    const admission = new ConnectionAdmission({ maxConnectionsPerAddress: 10, maxUnauthenticatedConnections: 2 });
    const raised: string[] = [];
    admission.opened('a', '10.0.0.1', () => raised.push('a'));
    admission.opened('b', '10.0.0.2', () => raised.push('b'));
    expect(admission.admit('10.0.0.3')).toMatch(/too many connections waiting for their hello: at most 2/);
    admission.authenticated('a');
    admission.authenticated('a');
    expect(raised).toEqual(['a']);
    expect(admission.isAuthenticated('a')).toBe(true);
    expect(admission.admit('10.0.0.3')).toBeNull();
    admission.closed('a');
    admission.closed('a');
    expect(admission.status()).toMatchObject({ open: 1, unauthenticated: 1, refused: { unauthenticated: 1 } });
  });
});
