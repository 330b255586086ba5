package chat

import "fmt"

// Window is the outcome of fitting a conversation into a context window.
type Window struct {
	// Messages are the messages to render, in order: every system message,
	// then the newest turns that fit.
	Messages []Message
	// Dropped is how many of the oldest messages were left out.
	Dropped int
	// Tokens is the token count of Messages.
	Tokens int
	// Notice is a sentence to show the user when Dropped > 0
	// ("dropped 3 oldest messages to fit 4096 tokens"), else "".
	Notice string
}

// FitWindow decides which messages of a conversation fit in limit tokens
// (the model's context minus what is reserved for the reply). count gives a
// message's token count as rendered, template markup included; nil means
// Message.Tokens.
//
// System messages and the newest user message (with anything after it)
// are always kept; the oldest other messages are dropped first, and a
// dropped user message takes its assistant reply with it so the kept turns
// still alternate user/assistant, as strict templates require. When even the
// kept minimum does not fit, the error wraps ErrContextExceeded.
func FitWindow(msgs []Message, limit int, count func(Message) int) (Window, error) {
	if count == nil {
		count = func(m Message) int { return m.Tokens }
	}
	if len(msgs) == 0 {
		return Window{}, ErrNoMessages
	}
	lastUser := len(msgs) - 1
	for lastUser > 0 && msgs[lastUser].Role != RoleUser {
		lastUser--
	}
	// Protected: system messages anywhere, and everything from the newest
	// user message on. Candidates for dropping: the rest, oldest first.
	total, protected := 0, 0
	for i, m := range msgs {
		n := count(m)
		total += n
		if m.Role == RoleSystem || i >= lastUser {
			protected += n
		}
	}
	if protected > limit {
		return Window{}, fmt.Errorf("%w: the system prompt and newest message need %d tokens, the window holds %d",
			ErrContextExceeded, protected, limit)
	}
	drop := make([]bool, len(msgs))
	dropped := 0
	for i := 0; i < lastUser && total > limit; i++ {
		if msgs[i].Role == RoleSystem {
			continue
		}
		drop[i] = true
		dropped++
		total -= count(msgs[i])
	}
	// Keep alternation: the first kept turn after the system prompt must be
	// a user turn.
	for i := 0; i < lastUser; i++ {
		if msgs[i].Role == RoleSystem || drop[i] {
			continue
		}
		if msgs[i].Role == RoleUser || dropped == 0 {
			break
		}
		drop[i] = true
		dropped++
		total -= count(msgs[i])
	}
	w := Window{Dropped: dropped, Tokens: total, Messages: make([]Message, 0, len(msgs)-dropped)}
	for i, m := range msgs {
		if !drop[i] {
			w.Messages = append(w.Messages, m)
		}
	}
	if dropped > 0 {
		noun := "messages"
		if dropped == 1 {
			noun = "message"
		}
		w.Notice = fmt.Sprintf("dropped %d oldest %s to fit %d tokens", dropped, noun, limit)
	}
	return w, nil
}
