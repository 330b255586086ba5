package chat

import (
	"errors"
	"time"
)

// Roles of a chat message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Errors returned by this package. Returned errors wrap one of these.
var (
	// ErrBadTemplate: a chat template could not be parsed.
	ErrBadTemplate = errors.New("invalid chat template")
	// ErrRender: a template failed while rendering (a feature the Jinja
	// engine lacks, a type error, output too large).
	ErrRender = errors.New("chat template render failed")
	// ErrTemplateRaised: the template itself rejected the conversation with
	// raise_exception (e.g. "roles must alternate"); the message says why.
	ErrTemplateRaised = errors.New("chat template rejected the conversation")
	// ErrUnknownTemplate: Builtin was given a name it does not know.
	ErrUnknownTemplate = errors.New("unknown built-in chat template")
	// ErrNoMessages: there is nothing to render.
	ErrNoMessages = errors.New("no messages to render")
	// ErrContextExceeded: even the newest message does not fit the context window.
	ErrContextExceeded = errors.New("message does not fit the context window")
	// ErrNotFound: no conversation has that id.
	ErrNotFound = errors.New("conversation not found")
)

// Message is one turn of a conversation.
type Message struct {
	Role    string    `json:"role"`
	Content string    `json:"content"`
	Time    time.Time `json:"time,omitzero"`
	// Tokens is the number of tokens of Content as the model tokenized it
	// (0 when not yet known). Generated replies record it for the
	// context-window policy and for statistics.
	Tokens int `json:"tokens,omitempty"`
	// Reply statistics, stored with a generated reply (zero otherwise):
	// why it ended ("stop", "length", "cancelled"), its decode speed and
	// how many peers ran layers of it.
	Finish       string  `json:"finish,omitempty"`
	TokensPerSec float64 `json:"tok_s,omitempty"`
	Peers        int     `json:"peers,omitempty"`
}
