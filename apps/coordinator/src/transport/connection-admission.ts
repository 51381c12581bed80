/** Injection token of the coordinator's ConnectionAdmission. */
export const CONNECTION_ADMISSION = Symbol('fedkd.coordinator.connection-admission');

export interface AdmissionLimits {
  /** Open connections from one remote address (authenticated or not). */
  maxConnectionsPerAddress: number;
  /** Connections without a valid hello yet, from all addresses together. */
  maxUnauthenticatedConnections: number;
}

/** What GET /health reports about connections: how many are open, and how many were refused and why. */
export interface ConnectionStatus {
  open: number;
  unauthenticated: number;
  refused: {
    /** Connection attempts over --max-connections-per-address. */
    perAddress: number;
    /** Connection attempts while --max-unauthenticated-connections were waiting for their hello. */
    unauthenticated: number;
    /** Connections closed for sending a frame over --pre-auth-max-message-bytes before their hello. */
    preAuthMessageTooLarge: number;
    /** Connections closed for not saying a valid hello within --hello-timeout-ms. */
    helloTimeout: number;
  };
}

export type RefusalKind = keyof ConnectionStatus['refused'];

interface OpenConnection {
  address: string;
  authenticated: boolean;
  /** Lifts the connection's pre-authentication frame cap to the full message limit. */
  raiseLimit: () => void;
}

/**
 * Who may open a connection, before anything is parsed: at most so many connections per remote
 * address and so many without a hello in total. Transport-free bookkeeping: the socket.io adapter
 * asks `admit` for every new connection and reports opens, hellos and closes; GET /health reads
 * `status`. An address behind a shared NAT counts as one: raise the per-address cap there.
 */
export class ConnectionAdmission {
  private readonly connections = new Map<string, OpenConnection>();
  private readonly perAddress = new Map<string, number>();
  private unauthenticated = 0;
  private readonly refused: ConnectionStatus['refused'] = { perAddress: 0, unauthenticated: 0, preAuthMessageTooLarge: 0, helloTimeout: 0 };

  constructor(private readonly limits: AdmissionLimits) {}

  /** Whether a new connection from `address` may open: null, or why not (the refusal is counted). */
  admit(address: string): string | null {
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.maxConnectionsPerAddress) {
      this.refused.perAddress++;
      return `too many connections from ${address}: at most ${this.limits.maxConnectionsPerAddress} (--max-connections-per-address)`;
    }
    if (this.unauthenticated >= this.limits.maxUnauthenticatedConnections) {
      this.refused.unauthenticated++;
      return `too many connections waiting for their hello: at most ${this.limits.maxUnauthenticatedConnections} (--max-unauthenticated-connections)`;
    }
    return null;
  }

  opened(id: string, address: string, raiseLimit: () => void): void {
    if (this.connections.has(id)) return;
    this.connections.set(id, { address, authenticated: false, raiseLimit });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    this.unauthenticated++;
  }

  /** The connection said a valid hello: it no longer counts as unauthenticated and may send full-size messages. */
  authenticated(id: string): void {
    const connection = this.connections.get(id);
    if (!connection || connection.authenticated) return;
    connection.authenticated = true;
    this.unauthenticated--;
    connection.raiseLimit();
  }

  closed(id: string): void {
    const connection = this.connections.get(id);
    if (!connection) return;
    this.connections.delete(id);
    const left = (this.perAddress.get(connection.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(connection.address, left);
    else this.perAddress.delete(connection.address);
    if (!connection.authenticated) this.unauthenticated--;
  }

  /** A connection was closed for something it did before its hello. */
  count(kind: Exclude<RefusalKind, 'perAddress' | 'unauthenticated'>): void {
    this.refused[kind]++;
  }

  isAuthenticated(id: string): boolean {
    return this.connections.get(id)?.authenticated ?? false;
  }

  status(): ConnectionStatus {
    return { open: this.connections.size, unauthenticated: this.unauthenticated, refused: { ...this.refused } };
  }
}
