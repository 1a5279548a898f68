// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// Looks like an ERC-20 from the outside — same `transfer` selector, same `Transfer` event — but
/// moves nothing. A verifier that trusts input or any Transfer event would be fooled by it.
contract FakeTransferEmitter {
    event Transfer(address indexed from, address indexed to, uint256 value);

    function transfer(address to, uint256 amount) external returns (bool) {
        emit Transfer(msg.sender, to, amount);
        return true;
    }
}
