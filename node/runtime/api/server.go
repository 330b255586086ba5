// Package api serves a local model over an OpenAI-compatible HTTP API:
// /v1/chat/completions, /v1/completions (streaming with server-sent events
// or not), /v1/models and /health. Requests queue on the model; a client
// that disconnects cancels its generation.
package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/inference/sample"
	"github.com/hearth-p2p/hearth/node/runtime"
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address; loopback by default.
	Addr string
	// APIKey, when set, is required as "Authorization: Bearer <key>".
	// Binding to a non-loopback address requires one.
	APIKey string
	// ModelName is the id clients use in "model" and see in /v1/models.
	ModelName string
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// DefaultMaxTokens applies to /v1/completions without max_tokens.
	DefaultMaxTokens int
}

// Default returns the loopback defaults.
func Default() Config {
	return Config{Addr: "127.0.0.1:8080", MaxBodyBytes: 8 << 20, DefaultMaxTokens: 16}
}

// ErrNeedAPIKey reports a non-loopback bind without an API key.
var ErrNeedAPIKey = errors.New("an API key is required to listen beyond loopback")

// Validate checks the configuration.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("api: listen address %q: %w", c.Addr, err)
	}
	if c.APIKey == "" && !isLoopback(host) {
		return fmt.Errorf("api: %s: %w (set --api-key)", c.Addr, ErrNeedAPIKey)
	}
	if c.ModelName == "" {
		return errors.New("api: empty model name")
	}
	if c.MaxBodyBytes <= 0 || c.DefaultMaxTokens <= 0 {
		return errors.New("api: limits must be positive")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server answers the API for one chat engine.
type Server struct {
	cfg    Config
	engine *runtime.ChatEngine
	log    *slog.Logger
	start  time.Time
}

// New returns a Server for engine.
func New(cfg Config, engine *runtime.ChatEngine, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, engine: engine, log: log.With("sub", "api"), start: time.Now()}, nil
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /v1/models/{id}", s.model)
	mux.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	mux.HandleFunc("POST /v1/completions", s.completions)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return s.auth(mux)
}

// Serve listens on the configured address and serves until ctx ends. ready,
// if not nil, receives the bound address once listening.
func (s *Server) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		return nil
	}
}

func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.APIKey == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "missing or wrong API key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "model": s.cfg.ModelName, "uptime_s": int(time.Since(s.start).Seconds())})
}

func (s *Server) entry() modelEntry {
	return modelEntry{ID: s.cfg.ModelName, Object: "model", Created: s.start.Unix(), OwnedBy: "hearth"}
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, modelList{Object: "list", Data: []modelEntry{s.entry()}})
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != s.cfg.ModelName {
		writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", fmt.Sprintf("the model %q does not exist", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.entry())
}

// decode reads a JSON body into v, answering errors itself.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "could not parse the JSON body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "unexpected data after the JSON body")
		return false
	}
	return true
}

func (s *Server) checkModel(w http.ResponseWriter, name string) bool {
	if name != "" && name != s.cfg.ModelName {
		writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", fmt.Sprintf("the model %q does not exist (this server has %q)", name, s.cfg.ModelName))
		return false
	}
	return true
}

// params turns request fields into sampler parameters (OpenAI defaults:
// temperature 1, top_p 1, no penalties).
func params(f samplingFields) (sample.Params, error) {
	p := sample.Params{Temperature: 1, TopP: 1, RepeatPenalty: 1, RepeatLastN: 64}
	if f.N != nil && *f.N != 1 {
		return p, errors.New("n: only 1 choice is supported")
	}
	set := func(dst *float32, src *float32) {
		if src != nil {
			*dst = *src
		}
	}
	set(&p.Temperature, f.Temperature)
	set(&p.TopP, f.TopP)
	set(&p.MinP, f.MinP)
	set(&p.RepeatPenalty, f.RepeatPenalty)
	set(&p.PresencePenalty, f.PresencePenalty)
	set(&p.FrequencyPenalty, f.FrequencyPenalty)
	if f.TopK != nil {
		p.TopK = *f.TopK
	}
	if f.Seed != nil {
		p.Seed = *f.Seed
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, c := range b {
			p.Seed = p.Seed<<8 | uint64(c)
		}
	}
	if p.Temperature < 0 || p.Temperature > 2 {
		return p, errors.New("temperature must be between 0 and 2")
	}
	return p, p.Validate()
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// finishReason maps the engine's stop reasons to OpenAI's.
func finishReason(r *runtime.ChatReply) string {
	if r.Finish == "length" {
		return "length"
	}
	return "stop"
}

// statusFor maps a generation error to an HTTP status and OpenAI code.
func statusFor(err error) (int, string, string) {
	switch {
	case errors.Is(err, chat.ErrContextExceeded):
		return http.StatusBadRequest, "invalid_request_error", "context_length_exceeded"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return 499, "cancelled", "cancelled"
	default:
		return http.StatusInternalServerError, "server_error", "internal_error"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	body := apiError{Error: errorBody{Message: msg, Type: typ}}
	if code != "" {
		body.Error.Code = &code
	}
	writeJSON(w, status, body)
}
