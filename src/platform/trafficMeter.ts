/**
 * Counts the requests this process has received (a plain counter, bumped by the app's first
 * middleware). Background work that shares the event loop with the API reads it to tell whether
 * traffic is arriving — a burst of webhook deliveries, say — and gives way while it is: see
 * `DurableQueue`'s `traffic` option.
 */
export class TrafficMeter {
  private count = 0;

  /** One request arrived. */
  arrived(): void {
    this.count++;
  }

  /** Requests received since the process started: compare two readings to see whether any arrived between them. */
  get arrivals(): number {
    return this.count;
  }
}
