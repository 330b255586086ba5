package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// ParseKeypairJSON reads a Solana CLI keypair file (`solana-keygen new`): a
// JSON array of the 64 bytes of the secret key followed by the public key.
// The error never contains the file's contents.
func ParseKeypairJSON(data []byte) (Key, error) {
	var nums []json.Number
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&nums); err != nil {
		return Key{}, fmt.Errorf("%w: not a JSON array of numbers", ErrInvalidKeypair)
	}
	if dec.More() {
		return Key{}, fmt.Errorf("%w: trailing data after the array", ErrInvalidKeypair)
	}
	if len(nums) != 64 {
		return Key{}, fmt.Errorf("%w: %d numbers, want 64", ErrInvalidKeypair, len(nums))
	}
	b := make([]byte, 64)
	defer clear(b)
	for i, n := range nums {
		v, err := strconv.ParseUint(n.String(), 10, 8)
		if err != nil {
			return Key{}, fmt.Errorf("%w: element %d is not a byte", ErrInvalidKeypair, i)
		}
		b[i] = byte(v)
	}
	return FromPrivateKey(b)
}

// MarshalKeypairJSON writes k in the Solana CLI keypair format.
func MarshalKeypairJSON(k Key) ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("%w: zero key", ErrInvalidKeypair)
	}
	ints := make([]int, 64)
	for i, c := range k.priv {
		ints[i] = int(c)
	}
	return json.Marshal(ints)
}
