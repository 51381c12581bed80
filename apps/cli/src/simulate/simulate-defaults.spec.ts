import { describe, expect, it } from 'vitest';
import { confidentSigma1, confidentThreshold, roundDeadlineMs } from './simulate-command';

describe('fedkd simulate defaults for private rounds', () => {
  it('gives private runs a 30-minute round deadline (teachers train within the first private round), others 5 minutes, and keeps an explicit one', () => {
    expect(roundDeadlineMs({ dp: 'confident-gnmax' })).toBe(1_800_000);
    expect(roundDeadlineMs({})).toBe(300_000);
    expect(roundDeadlineMs({ dp: 'gnmax', roundDeadlineMs: 1000 })).toBe(1000);
  });

  it('scales Confident-GNMax to the teachers answering a round as PATE 2018 (200 and 150 for 250), unless given', () => {
    expect(confidentThreshold({ teachersPerClient: 50 }, 5)).toBe(200);
    expect(confidentSigma1({ teachersPerClient: 50 }, 5)).toBe(150);
    expect(confidentThreshold({ teachersPerClient: 50, dpThreshold: 7 }, 5)).toBe(7);
    expect(confidentSigma1({ teachersPerClient: 50, dpSigma1: 9 }, 5)).toBe(9);
  });
});
