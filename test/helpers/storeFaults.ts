import type { Store } from '../../src/core/store/store.js';

/**
 * The store as the app sees it, with `hook(op)` run before every call to a payments-collection
 * method: it may throw (the call fails as an outage would) or return a promise to wait for (a
 * stalled server). Every other collection, and `world.store` itself, are untouched.
 */
export function withPaymentsHook(store: Store, hook: (op: string) => void | Promise<unknown>): Store {
  return new Proxy(store, {
    get(target, key) {
      const v = Reflect.get(target, key) as unknown;
      if (key !== 'payments') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return new Proxy(v as object, {
        get(c, op) {
          const f = Reflect.get(c, op) as unknown;
          if (typeof f !== 'function') return f;
          return (...args: unknown[]) => {
            let wait: void | Promise<unknown>;
            try {
              wait = hook(String(op));
            } catch (err) {
              return Promise.reject(err);
            }
            const call = () => (f as (...a: unknown[]) => unknown).apply(c, args);
            return wait ? wait.then(call) : call();
          };
        },
      });
    },
  });
}

/** A store wrapper (`wrap`, for `startTestWorld({ wrapStore })`) whose next `n` payment updates fail, once `arm(n)` is called. */
export function failingPaymentWrites() {
  let left = 0;
  const wrap = (store: Store): Store =>
    withPaymentsHook(store, (op) => {
      if (op === 'updateOne' && left > 0) {
        left--;
        throw new Error('store unavailable (injected)');
      }
    });
  return { wrap, arm: (n: number) => void (left = n) };
}
