// Package catalog lists recommended models, downloads them and keeps the local model store.
//
// Catalog. Builtin is the embedded catalog.json: Hugging Face repository,
// pinned revision, file, size, sha256 (or "verify": "size-only" where no
// published hash was found; see catalog_sources.md), quantisation,
// parameters, licence, chat-template family and the architecture numbers
// the RAM estimate needs. Entry.URL builds <base>/<repo>/resolve/<rev>/<file>
// for any base URL (a mirror, a test server).
//
// Store. Open(Config) manages <data dir>/models: List (name, size, quant,
// arch, params read from each GGUF header), Import (validates the header,
// then hard-links, or copies across filesystems), Remove, Resolve (file
// path, installed name or catalog name → path) and DiskUsage. DefaultDataDir
// is the OS data directory.
//
//	st, _ := catalog.Open(catalog.Default(dataDir))
//	e, _ := st.Catalog().Lookup("qwen2.5-0.5b-instruct-q4_k_m")
//	est, _ := catalog.EstimateRAM(e.Shape(), 4096, nil) // will it fit?
//	path, err := st.Pull(ctx, e, func(p catalog.Progress) { … })
//
// Pull resumes from a .partial file with HTTP Range, retries network errors
// and 5xx with exponential backoff, checks free disk space first, verifies
// size and sha256, and renames atomically into place; a checksum failure
// leaves nothing behind.
//
// Shards. FetchLayers range-fetches a remote model's header and only the
// tensors of a layer range [from,to), and writes them as a standalone GGUF
// with hearth.shard.from/to/total_layers, so a provider holds just its shard.
package catalog
