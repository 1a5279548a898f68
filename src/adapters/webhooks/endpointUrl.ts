import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which URLs events may be sent to. A webhook endpoint is a request this service makes on an
 * admin's word, so it must not reach what only the service can reach (server-side request
 * forgery): loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT,
 * multicast and reserved ranges are refused unless WEBHOOK_ENDPOINTS_ALLOW_PRIVATE is set, both
 * when the endpoint is saved (its literal host) and on every send (every address its name
 * resolves to; the connection uses only checked addresses, so a name re-pointed after the check
 * cannot slip through). Ranges: IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890).
 */
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['2001:2::', 48],
  ['2001:10::', 28],
  ['3fff::', 20],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC.addSubnet(net, bits, 'ipv6');
}

/** True for an address on the public internet; false for the ranges above (IPv4-mapped IPv6 is read as its IPv4). */
export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPublicAddress(mapped[1]!);
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface UrlPolicy {
  /** https only (NODE_ENV=production). */
  httpsOnly: boolean;
  /** WEBHOOK_ENDPOINTS_ALLOW_PRIVATE: loopback and private addresses allowed (tests, a private network). */
  allowPrivate: boolean;
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Checks an endpoint URL as saved: http(s) only (https only when `httpsOnly`), no user or
 * password in it, no fragment, at most 2,048 characters, and (unless `allowPrivate`) no host that
 * names a non-public address literally (`localhost`, `127.0.0.1`, `[::1]`, `10.…`). Names are
 * resolved on every send, not here: see `publicLookup`.
 */
export function checkEndpointUrl(raw: string, policy: UrlPolicy): UrlVerdict {
  if (raw.length > 2048) return { ok: false, reason: 'the URL is longer than 2048 characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'only http and https URLs are accepted' };
  if (policy.httpsOnly && url.protocol !== 'https:') return { ok: false, reason: 'https is required in production' };
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL are not accepted (use the signing secret)' };
  if (url.hash) return { ok: false, reason: 'a fragment is never sent; remove it' };
  if (!policy.allowPrivate && !hostMayBePublic(url.hostname)) {
    return { ok: false, reason: 'the host is a loopback, private, link-local or reserved address' };
  }
  return { ok: true, url };
}

/** False for a literal non-public address or a name that is always local. */
function hostMayBePublic(hostname: string): boolean {
  // `localhost.` is `localhost`: one trailing dot names the same host (the DNS root).
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) return false;
  return isIP(host) === 0 || isPublicAddress(host);
}

/**
 * The DNS lookup a send uses (axios' `lookup`): every address of the name, refused as a whole
 * when any is not public (unless `allowPrivate`), so the connection can only go to checked
 * addresses. Throws `Error` with a reason the delivery log shows.
 */
export function publicLookup(allowPrivate: boolean) {
  return async (hostname: string): Promise<[Array<{ address: string; family: 4 | 6 }>]> => {
    const addresses = await lookup(hostname, { all: true, verbatim: true });
    if (addresses.length === 0) throw new Error(`${hostname} has no address`);
    if (!allowPrivate && addresses.some((a) => !isPublicAddress(a.address))) {
      throw new Error(`${hostname} resolves to a loopback, private, link-local or reserved address`);
    }
    return [addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))];
  };
}
