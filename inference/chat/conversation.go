package chat

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Conversation is one chat thread with its settings.
type Conversation struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Model names the model (catalog or installed name) the chat runs on.
	Model string `json:"model"`
	// System is the system prompt; it is rendered as the first message.
	System   string    `json:"system,omitempty"`
	Messages []Message `json:"messages"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// Sampling names the sampling preset ("balanced", "precise", …).
	Sampling string  `json:"sampling,omitempty"`
	Offload  Offload `json:"offload"`
}

// Offload says whether layers of this conversation's model may run on
// peers. Chat is local-only unless the user opts in per conversation.
type Offload struct {
	// LocalOnly keeps every layer on this machine. NewConversation sets it.
	LocalOnly bool `json:"local_only"`
	// Peers limits offloading to these peer ids (e.g. the user's own
	// devices); empty means any peer the router picks.
	Peers []string `json:"peers,omitempty"`
}

// NewConversation returns a conversation with the private defaults: no id
// yet (Store.Create assigns one), local-only.
func NewConversation(model, system string) *Conversation {
	return &Conversation{Model: model, System: system, Offload: Offload{LocalOnly: true}}
}

// Prompt returns the messages to render: the system prompt (when set)
// followed by the conversation's messages.
func (c *Conversation) Prompt() []Message {
	out := make([]Message, 0, len(c.Messages)+1)
	if strings.TrimSpace(c.System) != "" {
		out = append(out, Message{Role: RoleSystem, Content: c.System})
	}
	return append(out, c.Messages...)
}

// Summary is a conversation as listed: no messages.
type Summary struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Model    string    `json:"model"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Messages int       `json:"messages"`
}

// maxTitleRunes bounds titles made from the first user message.
const maxTitleRunes = 60

// TitleFrom makes a short title from a message: its first line, cut at a
// word boundary to at most 60 characters, with an ellipsis when cut.
func TitleFrom(content string) string {
	s := strings.TrimSpace(content)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= maxTitleRunes {
		return s
	}
	r := []rune(s)[:maxTitleRunes]
	cut := len(r)
	for i := len(r) - 1; i > maxTitleRunes/2; i-- {
		if unicode.IsSpace(r[i]) {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), unicode.IsSpace) + "…"
}

// newID returns a fresh conversation id: a time prefix, so ids sort by
// creation, and random bytes.
func newID(now time.Time) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:]), nil
}
