/**
 * Errors a client sees never name an internal address: an upstream's text (SHKeeper's, a node's,
 * a socket error's) can carry URLs, host names, IPs and ports of machines behind this service.
 * Logs keep the original; what leaves in a response goes through `redactAddresses`.
 */
const HIDDEN = '[address hidden]';

const PATTERNS: RegExp[] = [
  // Any URL with a scheme: http://user:pass@host:port/path?query
  /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>()]+/gi,
  // Python's requests/urllib3 ("HTTPConnectionPool(host='btc-node', port=8332)").
  /\bhost=(['"])[^'"]*\1/gi,
  /\bport=\d+/gi,
  // Bracketed IPv6, with or without a port.
  /\[[0-9a-f:.]*:[0-9a-f:.]*\](?::\d{1,5})?/gi,
  // IPv4, with or without a port.
  /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g,
  // host:port where the host starts with a letter ("shkeeper:5000", "rpc.internal:8545").
  /(?<![\w.:/@-])[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*:\d{2,5}\b(?![:\d])/gi,
  // getaddrinfo's "ENOTFOUND some-host" / "EAI_AGAIN some-host" name the host without a port.
  /(?<=\b(?:ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ECONNREFUSED|ETIMEDOUT) )(?!\[address hidden\])[^\s,;)]+/g,
];

export function redactAddresses(text: string): string {
  let out = text;
  for (const re of PATTERNS) out = out.replace(re, HIDDEN);
  return out;
}
