package chat

import (
	"strings"
	"unicode/utf8"
)

// StopMatcher watches streamed model output for stop strings. Push text as
// it is generated and show what Push returns: text that might be the start
// of a stop string (a reply ending in "<|im_" while "<|im_end|>" is a stop)
// is held back until the next piece decides it, and an incomplete UTF-8
// sequence at the end is held back until it completes. Nothing is lost or
// repeated: the concatenation of everything returned equals the generated
// text up to (not including) the first stop string, or all of it when no
// stop string occurs and Flush is called at the end.
//
// A StopMatcher is not safe for concurrent use.
type StopMatcher struct {
	stops   []string
	held    string // text received but not yet returned
	stopped bool
}

// NewStopMatcher returns a matcher for stops (empty strings are ignored).
func NewStopMatcher(stops []string) *StopMatcher {
	m := &StopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// Push adds generated text and returns the part that is safe to show.
// stopped reports that a stop string has been found: the text before it has
// been returned, the rest is discarded, and later calls return nothing.
// "First" means the earliest-starting occurrence: when a longer stop string
// may still begin before a complete shorter one, Push waits for more text.
func (m *StopMatcher) Push(text string) (emit string, stopped bool) {
	if m.stopped {
		return "", true
	}
	buf := m.held + text
	partial := len(buf) - m.partialStopSuffix(buf) // where an unfinished stop may start
	if i := m.firstStop(buf); i >= 0 && i <= partial {
		m.held, m.stopped = "", true
		return buf[:i], true
	}
	keep := len(buf) - partial
	keep += incompleteUTF8Suffix(buf[:partial])
	m.held = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}

// Flush ends the reply and returns the held-back text: all of it, or the
// part before a stop string it completes (then Stopped reports true).
func (m *StopMatcher) Flush() string {
	if m.stopped {
		return ""
	}
	out := m.held
	m.held = ""
	if i := m.firstStop(out); i >= 0 {
		m.stopped = true
		return out[:i]
	}
	return out
}

// Stopped reports whether a stop string has been seen.
func (m *StopMatcher) Stopped() bool { return m.stopped }

// Held is the text currently held back.
func (m *StopMatcher) Held() string { return m.held }

// Reset clears the matcher for a new reply.
func (m *StopMatcher) Reset() { m.held, m.stopped = "", false }

// firstStop is the byte offset of the earliest stop string in s, or -1.
func (m *StopMatcher) firstStop(s string) int {
	best := -1
	for _, stop := range m.stops {
		if i := strings.Index(s, stop); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// partialStopSuffix is the length of the longest suffix of s that is a
// proper prefix of some stop string.
func (m *StopMatcher) partialStopSuffix(s string) int {
	longest := 0
	for _, stop := range m.stops {
		for n := min(len(stop)-1, len(s)); n > longest; n-- {
			if strings.HasSuffix(s, stop[:n]) {
				longest = n
				break
			}
		}
	}
	return longest
}

// incompleteUTF8Suffix is the length of a trailing UTF-8 sequence that has
// its lead byte but is missing continuation bytes (0 when s ends cleanly or
// with bytes that can never become valid).
func incompleteUTF8Suffix(s string) int {
	for n := 1; n <= utf8.UTFMax-1 && n <= len(s); n++ {
		c := s[len(s)-n]
		if utf8.RuneStart(c) {
			if c >= utf8.RuneSelf && !utf8.FullRuneInString(s[len(s)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}
