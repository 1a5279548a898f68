import type { EventTarget, PaymentEventName, PaymentEventPayloads, PaymentEvents } from '../../src/events/paymentEvents.js';

/** Keeps every emission in order so a test can assert what was announced, to whom, how often. */
export class RecordingEvents implements PaymentEvents {
  readonly emitted: { target: EventTarget; event: PaymentEventName; payload: unknown }[] = [];

  emit<E extends PaymentEventName>(target: EventTarget, event: E, payload: PaymentEventPayloads[E]): void {
    this.emitted.push({ target, event, payload });
  }

  named(event: PaymentEventName) {
    return this.emitted.filter((e) => e.event === event);
  }
}
