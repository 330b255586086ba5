// Package wallet holds Solana keys, balances, receipts and settlement.
package wallet
