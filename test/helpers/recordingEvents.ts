import {
  targetList,
  type EventTarget,
  type EventTargets,
  type PaymentEventName,
  type PaymentEventPayloads,
  type PaymentEvents,
} from '../../src/core/events/paymentEvents.js';

/**
 * Keeps every emission in order so a test can assert what was announced, to whom, how often.
 * `emitted` has one entry per target (an emission to a list of rooms appears once per room, in
 * order); `calls` has one per `emit` call, as made.
 */
export class RecordingEvents implements PaymentEvents {
  readonly emitted: { target: EventTarget; event: PaymentEventName; payload: unknown }[] = [];
  readonly calls: { targets: readonly EventTarget[]; event: PaymentEventName; payload: unknown }[] = [];

  emit<E extends PaymentEventName>(target: EventTargets, event: E, payload: PaymentEventPayloads[E]): void {
    const targets = targetList(target);
    this.calls.push({ targets, event, payload });
    for (const t of targets) this.emitted.push({ target: t, event, payload });
  }

  named(event: PaymentEventName) {
    return this.emitted.filter((e) => e.event === event);
  }

  /** The emissions (calls) of one event. */
  callsNamed(event: PaymentEventName) {
    return this.calls.filter((e) => e.event === event);
  }
}
