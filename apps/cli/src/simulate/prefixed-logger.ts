import type { LoggerService } from '@nestjs/common';

/**
 * The in-process coordinator's log, as `fedkd simulate` prints the coordinator process's: one line
 * per message, `Context: message` (warnings and errors say so), through `say`. `quiet` drops
 * matching lines (a thousand clients joining need not be a thousand lines).
 */
export class PrefixedLogger implements LoggerService {
  constructor(
    private readonly say: (line: string) => void,
    private readonly quiet: RegExp | null = null,
  ) {}

  log(message: unknown, context?: string): void {
    this.write('', message, context);
  }

  warn(message: unknown, context?: string): void {
    this.write(' warn', message, context);
  }

  error(message: unknown, context?: string): void {
    this.write(' error', message, context);
  }

  private write(level: string, message: unknown, context?: string): void {
    const text = String(message);
    if (this.quiet?.test(text)) return;
    this.say(`  ${context ?? 'Coordinator'}${level}: ${text}`);
  }
}
