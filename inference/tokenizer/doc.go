// Package tokenizer turns text into token ids and back with the tokenizer stored in a GGUF file.
package tokenizer
