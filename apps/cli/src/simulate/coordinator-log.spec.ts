import { describe, expect, it } from 'vitest';
import { createCoordinatorLogging } from '../../../coordinator/src/observability/coordinator-logging';
import { FederationEvents } from '../../../coordinator/src/events/federation-events';
import { coordinatorLinePrinter, coordinatorLogPrinter, formatCoordinatorOutput, parseCoordinatorLogLine } from './coordinator-log';

describe("fedkd simulate's reading of the coordinator's JSON log", () => {
  it('shortens JSON lines to `Context: message`, naming levels other than info, and leaves other lines as they are', () => {
    const quiet = { quietJoins: false };
    expect(formatCoordinatorOutput('{"level":"info","time":"2026-12-02T10:00:00.000Z","context":"Rounds","round":1,"msg":"round 1: 2/2 answered"}', quiet)).toBe('Rounds: round 1: 2/2 answered');
    expect(formatCoordinatorOutput('{"level":"warn","time":"2026-12-02T10:00:00.000Z","context":"Rounds","round":2,"msg":"round 2 failed: no answers"}', quiet)).toBe('Rounds warn: round 2 failed: no answers');
    expect(formatCoordinatorOutput('{"level":"error","time":"2026-12-02T10:00:00.000Z","msg":"boom","err":{"message":"boom"}}', quiet)).toBe('Coordinator error: boom');
    expect(formatCoordinatorOutput('fedkd coordinator listening on http://127.0.0.1:8080', quiet)).toBe('fedkd coordinator listening on http://127.0.0.1:8080');
    // Not a log line: braces alone, JSON without level and msg.
    expect(formatCoordinatorOutput('{ not json', quiet)).toBe('{ not json');
    expect(parseCoordinatorLogLine('{"event":"ready"}')).toBeNull();
    expect(parseCoordinatorLogLine('[1,2]')).toBeNull();
  });

  it('drops the per-client join lines by their event, not by their text, when asked', () => {
    const join = '{"level":"info","time":"2026-12-02T10:00:00.000Z","context":"Gateway","msg":"client client-7 (c-0123456789ab) joined; 8 connected","event":"client.connected","clientId":"c-0123456789ab","connected":8}';
    expect(formatCoordinatorOutput(join, { quietJoins: true })).toBeNull();
    expect(formatCoordinatorOutput(join, { quietJoins: false })).toBe('Gateway: client client-7 (c-0123456789ab) joined; 8 connected');
    // The same words without the event stay.
    expect(formatCoordinatorOutput('{"level":"info","context":"Gateway","msg":"client x joined; 8 connected"}', { quietJoins: true })).toBe('Gateway: client x joined; 8 connected');
  });

  it("prints the in-process coordinator's log as the coordinator process's, from the same JSON lines", () => {
    const printed: string[] = [];
    const logging = createCoordinatorLogging('info', coordinatorLogPrinter((line) => printed.push(line), { quietJoins: true }));
    const events = new FederationEvents();
    logging.round.follow(events);
    logging.nest.log('waiting for 2 clients (0 connected)', 'Rounds');
    logging.nest.log({ msg: 'client client-0 (c-000000000000) joined; 1 connected', event: 'client.connected', clientId: 'c-000000000000', connected: 1 }, 'Gateway');
    events.emit({ type: 'round.phase', round: 1, phase: 'open', reason: null });
    logging.nest.log('round 1: 2/2 answered', 'Rounds');
    logging.nest.warn('round 1: reputation flagged c-1', 'Rounds');
    logging.nest.debug!('round 1: not at info', 'Rounds');
    expect(printed).toEqual(['  Rounds: waiting for 2 clients (0 connected)', '  Rounds: round 1: 2/2 answered', '  Rounds warn: round 1: reputation flagged c-1']);

    // A child process's stdout, line by line: the same text.
    const lines: string[] = [];
    const captured = createCoordinatorLogging('info', { write: (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)) });
    captured.round.follow(events);
    events.emit({ type: 'round.phase', round: 1, phase: 'collecting', reason: null });
    captured.nest.log('round 1: 2/2 answered', 'Rounds');
    const fromProcess: string[] = [];
    lines.forEach(coordinatorLinePrinter((line) => fromProcess.push(line), { quietJoins: true }));
    expect(fromProcess).toEqual(['  Rounds: round 1: 2/2 answered']);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'info', context: 'Rounds', round: 1, msg: 'round 1: 2/2 answered' });
  });
});
