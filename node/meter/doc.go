// Package meter meters the work of shard sessions and checks the signed,
// cumulative receipts that pay for it.
//
// The unit of work is the token-layer: a forward of n tokens through the
// layers [from,to) is n × (to−from) units. A provider's price is base units
// (lamports, or an SPL token's) per 1,000 units, and a receipt for u units
// must carry at least receipt.Price.Amount(u) = ceil(u × price / 1000).
// Receipts are cumulative, so rounding never accumulates.
//
// The consumer side (Consumer) adds the units each result reports and signs
// receipts with increasing Seq; the provider side (Provider) counts the units
// it served, verifies each receipt (signature, the session's terms, the
// consumer key agreed at open, monotonic Seq/Units/Amount, price) and records
// it through a Ledger it declares. A provider pauses a session whose
// unreceipted credit exceeds its limit. Price zero is free mode: no receipts
// are needed and the credit limit never applies.
package meter
