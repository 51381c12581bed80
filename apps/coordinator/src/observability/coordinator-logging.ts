import type { LoggerService } from '@nestjs/common';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import type { FederationEvents } from '../events/federation-events';

/** The coordinator's log levels (pino's), most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * One line of the coordinator's JSON log, as written to its standard output:
 * `{"level":"info","time":"2026-...Z","context":"Rounds","round":3,"msg":"round 3: 2/2 answered"}`.
 * `round` is there on every line logged while a round runs; `event` names what a line reports
 * when a reader may want to pick it out (e.g. 'client.connected', one line per joining client).
 */
export interface CoordinatorLogLine {
  level: LogLevel;
  time: string;
  msg: string;
  /** The Nest logger's context: Rounds, Gateway, RoutesResolver... */
  context?: string;
  round?: number;
  event?: string;
  [field: string]: unknown;
}

/** What the round context of the logs follows: the round in progress (RoundsService runs one at a time), or none. */
export class RoundInProgress {
  private current: number | null = null;

  get round(): number | null {
    return this.current;
  }

  /** Follows the event bus: a round is in progress from its first phase until it ended. Returns the unsubscribe function. */
  follow(events: FederationEvents): () => void {
    return events.subscribe((event) => {
      if (event.type === 'round.phase') this.current = event.round;
      else if (event.type === 'round.ended' && this.current === event.round) this.current = null;
    });
  }
}

/**
 * nestjs-pino's PinoLogger reads a module-wide logger (the first one ever made in the process);
 * this one always writes to its own coordinator's, so that several coordinators in one process
 * (the tests) each log where they were told to, with their own round.
 */
class CoordinatorPinoLogger extends PinoLogger {
  constructor(private readonly root: pino.Logger) {
    super({ pinoHttp: { logger: root } });
  }

  override get logger(): pino.Logger {
    return this.root;
  }
}

export interface CoordinatorLogging {
  /** The pino logger every line goes through. */
  pino: pino.Logger;
  /** The Nest logger (nestjs-pino's) over it: what NestFactory.create is given. */
  nest: LoggerService;
  /** Express middleware logging each HTTP request at debug (nothing at the default level). */
  http: HttpLogger;
  /** The round the lines carry. */
  round: RoundInProgress;
}

/**
 * The coordinator's structured log: JSON lines (level, time, context, msg, and round while a round
 * runs) to `destination` (standard output by default), at `level` and above. HTTP requests are
 * logged at debug only: a scraper or dashboard polling every few seconds would otherwise drown
 * the rounds.
 */
export function createCoordinatorLogging(level: LogLevel, destination?: DestinationStream): CoordinatorLogging {
  const round = new RoundInProgress();
  const logger = pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => (round.round === null ? {} : { round: round.round }),
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
  const http = pinoHttp({
    logger,
    quietReqLogger: true,
    customLogLevel: () => 'debug',
    // The id, method, URL and status; never the headers (they carry bearer tokens).
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
  return { pino: logger, nest: new NestPinoLogger(new CoordinatorPinoLogger(logger), {}), http, round };
}
