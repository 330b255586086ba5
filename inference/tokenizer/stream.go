package tokenizer

import "unicode/utf8"

// StreamDecoder turns generated tokens into text chunks for display as they
// arrive. A token may end in the middle of a UTF-8 sequence (byte tokens,
// byte-level BPE), so the decoder holds back an incomplete trailing sequence
// until the bytes that complete it arrive; every chunk it returns is valid
// UTF-8. Bytes that can never form a character come out as U+FFFD.
//
// The chunks concatenate to the tokens' pieces (Piece), as llama.cpp's
// streaming front ends print them: control tokens give nothing, and there is
// none of Decode's whole-text tidying (dropping the first token's leading
// space, gpt2 space clean-up). A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	pending []byte // bytes not yet returned: at most an incomplete sequence
	out     []byte
}

// NewStreamDecoder returns a decoder for tokens of t.
func NewStreamDecoder(t *Tokenizer) *StreamDecoder {
	return &StreamDecoder{t: t}
}

// Token adds the piece of one token and returns the text now complete.
func (d *StreamDecoder) Token(id int32) string {
	return d.Write([]byte(d.t.piece(id, false)))
}

// Write adds raw bytes and returns the text now complete.
func (d *StreamDecoder) Write(p []byte) string {
	d.pending = append(d.pending, p...)
	d.out = d.out[:0]
	i := 0
	for i < len(d.pending) {
		r, n := utf8.DecodeRune(d.pending[i:])
		if r == utf8.RuneError && n <= 1 {
			if !utf8.FullRune(d.pending[i:]) {
				break // a valid prefix: wait for the rest
			}
			d.out = utf8.AppendRune(d.out, utf8.RuneError)
			i++
			continue
		}
		d.out = append(d.out, d.pending[i:i+n]...)
		i += n
	}
	d.pending = append(d.pending[:0], d.pending[i:]...)
	return string(d.out)
}

// Flush ends the stream: it returns U+FFFD for a held-back sequence that
// was never completed (or "" when nothing is held back) and leaves the
// decoder empty, ready for a new stream.
func (d *StreamDecoder) Flush() string {
	if len(d.pending) == 0 {
		return ""
	}
	d.pending = d.pending[:0]
	return string(utf8.RuneError)
}

// Pending reports how many bytes are held back.
func (d *StreamDecoder) Pending() int { return len(d.pending) }
