import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** A child process of the simulation, with its output read line by line. */
export interface FleetProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Starts `node <cliMain> ...args`; every stdout/stderr line goes to the callbacks. */
export function startProcess(
  name: string,
  cliMain: string,
  args: string[],
  onStdout: (line: string) => void,
  onStderr: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): FleetProcess {
  const child = spawn(process.execPath, [cliMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  createInterface({ input: child.stdout! }).on('line', onStdout);
  createInterface({ input: child.stderr! }).on('line', onStderr);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, exited };
}

/** Stops processes politely, then firmly after `graceMs`. */
export async function stopAll(processes: readonly FleetProcess[], graceMs = 3_000): Promise<void> {
  await Promise.all(
    processes.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }),
  );
}

/** A TCP port that was free a moment ago on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
