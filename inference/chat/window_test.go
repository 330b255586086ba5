package chat

import (
	"errors"
	"strings"
	"testing"
)

func msgs(spec string) []Message {
	// spec: "s10 u5 a7 …": role letter then token count.
	var out []Message
	roles := map[byte]string{'s': RoleSystem, 'u': RoleUser, 'a': RoleAssistant}
	for i, f := range strings.Fields(spec) {
		n := 0
		for _, c := range f[1:] {
			n = n*10 + int(c-'0')
		}
		out = append(out, Message{Role: roles[f[0]], Content: string(rune('A' + i)), Tokens: n})
	}
	return out
}

func contents(ms []Message) string {
	var sb strings.Builder
	for _, m := range ms {
		sb.WriteString(m.Content)
	}
	return sb.String()
}

func TestFitWindow(t *testing.T) {
	cases := []struct {
		name    string
		spec    string
		limit   int
		kept    string // contents of kept messages (A, B, … by position)
		dropped int
		notice  string
		err     error
	}{
		{"everything fits", "s10 u5 a5 u5", 100, "ABCD", 0, "", nil},
		{"drop one exchange", "s10 u20 a20 u5 a5 u5", 50, "ADEF", 2, "dropped 2 oldest messages to fit 50 tokens", nil},
		{"drop all history", "s10 u20 a20 u20 a20 u5", 20, "AF", 4, "dropped 4 oldest messages to fit 20 tokens", nil},
		{"dropped user takes its reply", "u10 a10 u10 a10 u10", 35, "CDE", 2, "dropped 2 oldest messages to fit 35 tokens", nil},
		{"odd cut keeps alternation", "u5 a30 u5 a5 u5", 20, "CDE", 2, "dropped 2 oldest messages to fit 20 tokens", nil},
		{"single message notice", "s5 a10 u5", 10, "AC", 1, "dropped 1 oldest message to fit 10 tokens", nil},
		{"system in the middle is kept", "u10 s5 a10 u5", 12, "BD", 2, "dropped 2 oldest messages to fit 12 tokens", nil},
		{"newest user message plus reply kept", "u50 a50 u5 a5", 10, "CD", 2, "dropped 2 oldest messages to fit 10 tokens", nil},
		{"newest message too big", "s10 u5 a5 u100", 50, "", 0, "", ErrContextExceeded},
		{"system too big", "s60 u5", 50, "", 0, "", ErrContextExceeded},
		{"exactly full", "s10 u20 a20", 50, "ABC", 0, "", nil},
		{"no messages", "", 10, "", 0, "", ErrNoMessages},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := FitWindow(msgs(tc.spec), tc.limit, nil)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := contents(w.Messages); got != tc.kept {
				t.Errorf("kept %q, want %q", got, tc.kept)
			}
			if w.Dropped != tc.dropped || w.Notice != tc.notice {
				t.Errorf("dropped %d notice %q, want %d %q", w.Dropped, w.Notice, tc.dropped, tc.notice)
			}
			sum := 0
			for _, m := range w.Messages {
				sum += m.Tokens
			}
			if w.Tokens != sum || sum > tc.limit {
				t.Errorf("tokens %d (sum %d) for limit %d", w.Tokens, sum, tc.limit)
			}
		})
	}
}

func TestFitWindowCounter(t *testing.T) {
	ms := []Message{{Role: RoleUser, Content: "aaaa"}, {Role: RoleAssistant, Content: "bb"}, {Role: RoleUser, Content: "c"}}
	w, err := FitWindow(ms, 4, func(m Message) int { return len(m.Content) + 1 })
	if err != nil {
		t.Fatal(err)
	}
	if contents(w.Messages) != "c" || w.Tokens != 2 {
		t.Errorf("kept %q (%d tokens)", contents(w.Messages), w.Tokens)
	}
}
