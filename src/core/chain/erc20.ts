import { dataLength, getAddress, Interface, zeroPadValue } from 'ethers';

/** The part of ERC-20 the service uses. */
export const ERC20_ABI = [
  'function transfer(address to, uint256 amount) returns (bool)',
  'function balanceOf(address owner) view returns (uint256)',
  'function decimals() view returns (uint8)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
] as const;

export const erc20Interface = new Interface(ERC20_ABI);

/** keccak256("Transfer(address,address,uint256)"). */
export const TRANSFER_TOPIC = erc20Interface.getEvent('Transfer')!.topicHash;

/** The fields of a log that decoding needs; ethers' `Log` has them all. */
export interface RawLog {
  address: string;
  topics: readonly string[];
  data: string;
  index: number;
  blockNumber: number;
  transactionHash: string;
  removed?: boolean;
}

export interface DecodedTransfer {
  /** The contract that emitted the event. */
  token: string;
  from: string;
  to: string;
  amount: bigint;
  logIndex: number;
  blockNumber: number;
  txHash: string;
}

/**
 * An ERC-20 Transfer log, or undefined for anything else. ERC-721 emits an event with the same
 * signature but the token id indexed (4 topics, empty data); that is not a token amount.
 */
export function decodeTransferLog(log: RawLog): DecodedTransfer | undefined {
  if (log.removed) return undefined;
  if (log.topics.length !== 3 || log.topics[0]?.toLowerCase() !== TRANSFER_TOPIC) return undefined;
  if (dataLength(log.data) !== 32) return undefined;
  return {
    token: getAddress(log.address),
    from: topicAddress(log.topics[1]!),
    to: topicAddress(log.topics[2]!),
    amount: BigInt(log.data),
    logIndex: log.index,
    blockNumber: log.blockNumber,
    txHash: log.transactionHash,
  };
}

/** Transfer calldata: `transfer(to, amount)`. */
export function encodeTransfer(to: string, amount: bigint): string {
  return erc20Interface.encodeFunctionData('transfer', [to, amount]);
}

/** `transfer(to, amount)` read back from calldata, or undefined when it is something else. */
export function decodeTransferCall(data: string): { to: string; amount: bigint } | undefined {
  try {
    const parsed = erc20Interface.parseTransaction({ data });
    if (parsed?.name !== 'transfer') return undefined;
    return { to: getAddress(parsed.args[0] as string), amount: parsed.args[1] as bigint };
  } catch {
    return undefined;
  }
}

/** The indexed-address topic that `eth_getLogs` filters on. */
export function addressTopic(address: string): string {
  return zeroPadValue(getAddress(address), 32).toLowerCase();
}

export function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function topicAddress(topic: string): string {
  return getAddress(`0x${topic.slice(-40)}`);
}
