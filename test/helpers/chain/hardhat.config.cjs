/* global setInterval */
// The local test chain's Hardhat 2 config, started by ./hardhatNode.ts with --config. Hardhat
// compiles nothing here (the test contracts are compiled in-process with solc-js), so it never
// writes cache or artifact folders.

// Started by the helper, the node exits when the test process that started it is gone (a crashed
// or killed test worker must not leave a node holding a port).
const watchedPid = Number(process.env.ESCROW_TEST_CHAIN_PARENT_PID);
if (watchedPid > 0) {
  setInterval(() => {
    try {
      process.kill(watchedPid, 0);
    } catch {
      process.exit(0);
    }
  }, 1000).unref();
}

// ESCROW_TEST_CHAIN_ID (set by ./hardhatNode.ts from its `chainId` option): a second node with
// another chain id, for tests on two networks at once. Default 31337, Hardhat's own.
const chainId = Number(process.env.ESCROW_TEST_CHAIN_ID) || 31337;

/** @type {import('hardhat/config').HardhatUserConfig} */
module.exports = {
  networks: {
    hardhat: {
      chainId,
      hardfork: 'cancun',
      // Every transaction is mined at once, in its own block; tests move time with hardhat_mine.
      mining: { auto: true },
      // Like a real node: a reverted transaction is mined with status 0, not refused at submission.
      throwOnTransactionFailures: false,
      // The well-known Hardhat test mnemonic; localChain.ts derives the same wallets.
      accounts: { mnemonic: 'test test test test test test test test test test test junk', count: 10 },
      loggingEnabled: false,
    },
  },
};
