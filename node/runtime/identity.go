package runtime

import (
	"encoding/hex"
	"fmt"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// ModelIdentity is the content hash peers know lm's model by: the sha256 of
// its GGUF file, or, for a shard file cut by `hearth models pull --layers`,
// the sha256 of the whole file it was cut from (recorded in its metadata),
// so that shard holders and whole-file holders announce the same model.
func ModelIdentity(lm *LocalModel, cacheDir string) ([32]byte, error) {
	var id [32]byte
	if v, ok := lm.Model.File.Get(catalog.KeyShardSource); ok {
		s, _ := v.Str()
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != len(id) {
			return id, fmt.Errorf("model identity: %s is %q, not a sha256", catalog.KeyShardSource, s)
		}
		copy(id[:], b)
		return id, nil
	}
	return ModelHash(lm.Path, cacheDir)
}
