import type { Clock } from '../../src/platform/clock.js';

/** A clock a test moves by hand: starts at 2025-01-01T00:00:00Z unless told otherwise. */
export class ManualClock implements Clock {
  constructor(private t = Date.parse('2025-01-01T00:00:00Z')) {}
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
}
