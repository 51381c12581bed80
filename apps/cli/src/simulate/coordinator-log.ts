import type { DestinationStream } from 'pino';

/** What `fedkd simulate` reads of a line of the coordinator's JSON log (see apps/coordinator/src/observability/coordinator-logging.ts). */
export interface CoordinatorLogEntry {
  level: string;
  msg: string;
  context?: string;
  round?: number;
  event?: string;
}

export interface CoordinatorLogOptions {
  /** Drop the per-client join lines (a thousand clients joining need not be a thousand lines). */
  quietJoins: boolean;
}

/** A line of the coordinator's JSON log, or null when the line is not one (plain text: start-up notes, a crash's stack). */
export function parseCoordinatorLogLine(line: string): CoordinatorLogEntry | null {
  if (!line.startsWith('{')) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const entry = value as Record<string, unknown>;
  if (typeof entry.level !== 'string' || typeof entry.msg !== 'string') return null;
  return {
    level: entry.level,
    msg: entry.msg,
    ...(typeof entry.context === 'string' ? { context: entry.context } : {}),
    ...(typeof entry.round === 'number' ? { round: entry.round } : {}),
    ...(typeof entry.event === 'string' ? { event: entry.event } : {}),
  };
}

/**
 * The short human line `fedkd simulate` prints for a coordinator log entry: `Context: message`, or
 * `Context warn: message` above or below info; null for a line it leaves out.
 */
export function formatCoordinatorLogEntry(entry: CoordinatorLogEntry, options: CoordinatorLogOptions): string | null {
  if (options.quietJoins && entry.event === 'client.connected') return null;
  const context = entry.context ?? 'Coordinator';
  return entry.level === 'info' ? `${context}: ${entry.msg}` : `${context} ${entry.level}: ${entry.msg}`;
}

/** A line of the coordinator process's output as simulate prints it: JSON log lines shortened, any other line as it is. */
export function formatCoordinatorOutput(line: string, options: CoordinatorLogOptions): string | null {
  const entry = parseCoordinatorLogLine(line);
  return entry ? formatCoordinatorLogEntry(entry, options) : line;
}

/** Prints each line of the coordinator's output (a process's stdout/stderr line, or a JSON log line written in this process) through `say`. */
export function coordinatorLinePrinter(say: (line: string) => void, options: CoordinatorLogOptions): (line: string) => void {
  return (line) => {
    const text = formatCoordinatorOutput(line, options);
    if (text !== null) say(`  ${text}`);
  };
}

/** The in-process coordinator's log destination: its JSON lines, printed as the coordinator process's are. */
export function coordinatorLogPrinter(say: (line: string) => void, options: CoordinatorLogOptions): DestinationStream {
  const print = coordinatorLinePrinter(say, options);
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) print(line);
    },
  };
}
