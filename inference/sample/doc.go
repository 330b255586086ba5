// Package sample picks the next token from logits: greedy, temperature, top-k/p, min-p and repetition penalties.
package sample
