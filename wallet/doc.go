// Package wallet is Hearth's built-in Solana wallet, the facade the CLI and
// the GUI call: create, import or open the encrypted keystore, read balances
// and history, send SOL and SPL tokens, and see earnings from the receipts
// ledger. Subpackages do the work: keys (BIP39 + SLIP-0010), keystore
// (argon2id + XChaCha20-Poly1305), solana (RPC), receipt (signed metering
// receipts), ledger (bbolt) and settle (payments and their confirmation).
package wallet
