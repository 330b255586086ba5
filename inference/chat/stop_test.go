package chat

import (
	"strings"
	"testing"
)

func TestStopMatcher(t *testing.T) {
	cases := []struct {
		name      string
		stops     []string
		chunks    []string
		wantEmits []string
		stopped   bool
		flush     string
	}{
		{"no stop", []string{"<|im_end|>"}, []string{"Hello", " world"}, []string{"Hello", " world"}, false, ""},
		{"stop in one chunk", []string{"<|im_end|>"}, []string{"Hi<|im_end|>junk"}, []string{"Hi"}, true, ""},
		{"partial held then resolved as stop", []string{"<|im_end|>"}, []string{"Hi <|im_", "end|> more"}, []string{"Hi ", ""}, true, ""},
		{"partial held then released", []string{"<|im_end|>"}, []string{"a <|im_", "start|>"}, []string{"a ", "<|im_start|>"}, false, ""},
		{"partial held until flush", []string{"</s>"}, []string{"end </"}, []string{"end "}, false, "</"},
		{"earliest of several stops", []string{"[INST]", "</s>"}, []string{"x</s>y[INST]"}, []string{"x"}, true, ""},
		{"stop split over three chunks", []string{"<|eot_id|>"}, []string{"ok<|e", "ot_", "id|>"}, []string{"ok", "", ""}, true, ""},
		{"after stop nothing", []string{"#"}, []string{"a#b", "c"}, []string{"a", ""}, true, ""},
		{"split utf-8 is held", nil, []string{"caf\xc3", "\xa9!"}, []string{"caf", "é!"}, false, ""},
		{"empty stop ignored", []string{""}, []string{"abc"}, []string{"abc"}, false, ""},
		{"longer stop starting earlier wins", []string{"NST]", "S"}, []string{"000[INST", "]x"}, []string{"000[I", ""}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewStopMatcher(tc.stops)
			var stopped bool
			for i, c := range tc.chunks {
				var emit string
				emit, stopped = m.Push(c)
				if emit != tc.wantEmits[i] {
					t.Errorf("push %d (%q): emitted %q, want %q (held %q)", i, c, emit, tc.wantEmits[i], m.Held())
				}
			}
			if stopped != tc.stopped || m.Stopped() != tc.stopped {
				t.Errorf("stopped = %v, want %v", stopped, tc.stopped)
			}
			if got := m.Flush(); got != tc.flush {
				t.Errorf("flush = %q, want %q", got, tc.flush)
			}
			m.Reset()
			if m.Stopped() || m.Held() != "" {
				t.Error("Reset left state behind")
			}
		})
	}
}

// FuzzStopMatcher checks the matcher's contract on arbitrary text and
// chunking: what it emits is exactly the text before the first stop string
// (or all of it), never more, never less, never out of order, and it never
// shows text that could still turn out to be a stop string.
func FuzzStopMatcher(f *testing.F) {
	f.Add("Hello <|im_end|> trailing", "<|im_end|>", "</s>", []byte{3, 5, 1})
	f.Add("a</s", "</s>", "[INST]", []byte{1, 1, 1})
	f.Add("[IN[INST]", "[INST]", "", []byte{2})
	f.Add("aaab", "aab", "b", []byte{1, 1, 1, 1})
	f.Add("caf\xc3\xa9 \xe2\x82", "\xa9", "", []byte{4, 1})
	f.Fuzz(func(t *testing.T, text, stop1, stop2 string, cuts []byte) {
		stops := []string{stop1, stop2}
		want := text
		first := -1
		for _, s := range stops {
			if s == "" {
				continue
			}
			if i := strings.Index(text, s); i >= 0 && (first < 0 || i < first) {
				first = i
			}
		}
		if first >= 0 {
			want = text[:first]
		}
		m := NewStopMatcher(stops)
		var got strings.Builder
		rest, stopped := text, false
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(n, int(cuts[i])%8+1)
			}
			var emit string
			emit, stopped = m.Push(rest[:n])
			got.WriteString(emit)
			rest = rest[n:]
			if !strings.HasPrefix(want, got.String()) {
				t.Fatalf("emitted %q, which is not a prefix of %q", got.String(), want)
			}
			for _, s := range stops {
				if s != "" && strings.Contains(got.String(), s) {
					t.Fatalf("emitted text %q contains stop %q", got.String(), s)
				}
			}
		}
		got.WriteString(m.Flush())
		if got.String() != want {
			t.Fatalf("total %q, want %q (stops %q)", got.String(), want, stops)
		}
		if m.Stopped() != (first >= 0) {
			t.Fatalf("stopped = %v, want %v", m.Stopped(), first >= 0)
		}
		if stopped && !m.Stopped() {
			t.Fatal("Push reported a stop that Stopped denies")
		}
	})
}
