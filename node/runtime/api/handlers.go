package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/node/runtime"
)

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !s.decode(w, r, &req) || !s.checkModel(w, req.Model) {
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_messages", "messages must not be empty")
		return
	}
	msgs := make([]chat.Message, 0, len(req.Messages))
	for i, m := range req.Messages {
		text, err := m.text()
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_messages", fmt.Sprintf("messages[%d]: %v", i, err))
			return
		}
		switch m.Role {
		case "system", "developer":
			m.Role = chat.RoleSystem
		case chat.RoleUser, chat.RoleAssistant:
		default:
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_messages", fmt.Sprintf("messages[%d]: role %q is not supported", i, m.Role))
			return
		}
		msgs = append(msgs, chat.Message{Role: m.Role, Content: text})
	}
	p, err := params(req.samplingFields)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_parameter", err.Error())
		return
	}
	maxTokens := 0
	for _, v := range []*int{req.MaxTokens, req.MaxCompletionTokens} {
		if v != nil {
			if *v < 1 {
				writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_parameter", "max_tokens must be at least 1")
				return
			}
			maxTokens = *v
		}
	}
	creq := runtime.ChatRequest{Session: sessionKey(req.User), Messages: msgs, Sampling: p, MaxTokens: maxTokens, Stop: req.Stop}
	id, created := newID("chatcmpl-"), time.Now().Unix()
	if !req.Stream {
		reply, err := s.engine.Complete(r.Context(), creq, nil)
		if err != nil {
			status, typ, code := statusFor(err)
			writeError(w, status, typ, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, chatResponse{
			ID: id, Object: "chat.completion", Created: created, Model: s.cfg.ModelName,
			Choices: []chatChoice{{Message: outMessage{Role: chat.RoleAssistant, Content: reply.Text}, FinishReason: finishReason(reply)}},
			Usage:   usageOf(reply),
		})
		return
	}
	sse := newSSE(w)
	chunk := func(d delta, finish *string, u *usage) chatChunk {
		c := chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: s.cfg.ModelName, Usage: u}
		if u == nil {
			c.Choices = []chunkChoice{{Delta: d, FinishReason: finish}}
		} else {
			c.Choices = []chunkChoice{}
		}
		return c
	}
	empty := ""
	sse.send(chunk(delta{Role: chat.RoleAssistant, Content: &empty}, nil, nil))
	reply, err := s.engine.Complete(r.Context(), creq, func(text string) {
		sse.send(chunk(delta{Content: &text}, nil, nil))
	})
	if err != nil {
		s.streamError(sse, err)
		return
	}
	fr := finishReason(reply)
	sse.send(chunk(delta{}, &fr, nil))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := usageOf(reply)
		sse.send(chunk(delta{}, nil, &u))
	}
	sse.done()
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if !s.decode(w, r, &req) || !s.checkModel(w, req.Model) {
		return
	}
	if req.Prompt == nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_prompt", "prompt is required")
		return
	}
	p, err := params(req.samplingFields)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_parameter", err.Error())
		return
	}
	maxTokens := s.cfg.DefaultMaxTokens
	if req.MaxTokens != nil {
		if *req.MaxTokens < 1 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_parameter", "max_tokens must be at least 1")
			return
		}
		maxTokens = *req.MaxTokens
	}
	treq := runtime.TextRequest{Session: sessionKey(req.User), Prompt: string(*req.Prompt), Sampling: p, MaxTokens: maxTokens, Stop: req.Stop}
	id, created := newID("cmpl-"), time.Now().Unix()
	resp := func(text string, finish *string, u *usage) completionResponse {
		return completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.cfg.ModelName,
			Choices: []textChoice{{Text: text, FinishReason: finish}}, Usage: u}
	}
	if !req.Stream {
		reply, err := s.engine.CompleteText(r.Context(), treq, nil)
		if err != nil {
			status, typ, code := statusFor(err)
			writeError(w, status, typ, code, err.Error())
			return
		}
		fr, u := finishReason(reply), usageOf(reply)
		writeJSON(w, http.StatusOK, resp(reply.Text, &fr, &u))
		return
	}
	sse := newSSE(w)
	reply, err := s.engine.CompleteText(r.Context(), treq, func(text string) { sse.send(resp(text, nil, nil)) })
	if err != nil {
		s.streamError(sse, err)
		return
	}
	fr := finishReason(reply)
	final := resp("", &fr, nil)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := usageOf(reply)
		final.Usage = &u
	}
	sse.send(final)
	sse.done()
}

// streamError reports an error after the stream has started: the status is
// already sent, so it goes out as an error event (unless the client left).
func (s *Server) streamError(sse *sseWriter, err error) {
	status, typ, code := statusFor(err)
	if status == 499 {
		s.log.Info("client went away; generation cancelled")
		return
	}
	sse.send(apiError{Error: errorBody{Message: err.Error(), Type: typ, Code: &code}})
	sse.done()
}

// sessionKey picks the KV cache a request reuses: requests of one "user"
// share one, the rest share the anonymous one. A cache only ever speeds up
// a request (reuse is decided by comparing tokens), it never changes output.
func sessionKey(user string) string { return "api:" + user }

func usageOf(r *runtime.ChatReply) usage {
	return usage{PromptTokens: r.PromptTokens, CompletionTokens: r.Completion, TotalTokens: r.PromptTokens + r.Completion}
}

// sseWriter writes server-sent events.
type sseWriter struct {
	w       http.ResponseWriter
	flusher http.Flusher
}

func newSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sseWriter{w: w, flusher: f}
}

func (s *sseWriter) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	if s.flusher != nil {
		s.flusher.Flush()
	}
}

func (s *sseWriter) done() {
	fmt.Fprint(s.w, "data: [DONE]\n\n")
	if s.flusher != nil {
		s.flusher.Flush()
	}
}
