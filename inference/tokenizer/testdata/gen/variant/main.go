// Command variant writes a copy of a GGUF vocabulary with some tokenizer
// metadata replaced, so that gen.mjs can ask llama.cpp how it tokenizes with,
// say, another pre-tokenizer. Only metadata is copied (no tensors): llama.cpp
// loads such files with vocab_only. Usage:
//
//	go run ./inference/tokenizer/testdata/gen/variant -in base.gguf -out variant.gguf -set '{"tokenizer.ggml.pre":"qwen2"}'
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/hearth-p2p/hearth/inference/gguf"
)

func main() {
	in := flag.String("in", "", "base GGUF file")
	out := flag.String("out", "", "output GGUF file")
	set := flag.String("set", "{}", "JSON object of metadata to replace (strings and bools)")
	flag.Parse()
	if err := run(*in, *out, *set); err != nil {
		fmt.Fprintln(os.Stderr, "variant:", err)
		os.Exit(1)
	}
}

func run(in, out, set string) error {
	var overrides map[string]any
	if err := json.Unmarshal([]byte(set), &overrides); err != nil {
		return fmt.Errorf("parse -set: %w", err)
	}
	f, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	w := gguf.NewWriter()
	w.CopyKV(f.Header)
	for k, v := range overrides {
		switch v := v.(type) {
		case string, bool:
			w.Set(k, v)
		default:
			return fmt.Errorf("value of %s is %T, want string or bool", k, v)
		}
	}
	return w.WriteFile(out)
}
