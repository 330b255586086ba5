package catalog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Config configures a Store and its downloads.
type Config struct {
	// DataDir is the data directory; models live in DataDir/models.
	DataDir string
	// BaseURL is the download host (DefaultBaseURL, a mirror, a test server).
	BaseURL string
	// Catalog lists the downloadable models (Builtin() when nil).
	Catalog *Catalog
	// Client makes the HTTP requests (a client with no overall timeout,
	// since downloads are long; stalls are caught by StallTimeout).
	Client *http.Client
	// Retries is how many times a failed transfer is retried (network
	// errors, 5xx, 429) with exponential backoff from BackoffBase to BackoffMax.
	Retries     int
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// StallTimeout aborts (and then retries) a transfer that receives no
	// bytes for this long.
	StallTimeout time.Duration
	// ProgressEvery is the least time between two progress reports.
	ProgressEvery time.Duration
	// FreeSpace reports the bytes available to an unprivileged user on the
	// filesystem holding dir (the platform's statfs by default; tests inject
	// a full disk). An error means "unknown": the check is skipped.
	FreeSpace func(dir string) (uint64, error)
	// Logger receives download events (retries, resumes); nil discards them.
	Logger *slog.Logger
}

// Default returns the configuration for dataDir with the usual settings.
func Default(dataDir string) Config {
	return Config{
		DataDir:       dataDir,
		BaseURL:       DefaultBaseURL,
		Retries:       5,
		BackoffBase:   time.Second,
		BackoffMax:    30 * time.Second,
		StallTimeout:  60 * time.Second,
		ProgressEvery: 200 * time.Millisecond,
		FreeSpace:     freeSpace,
	}
}

// Validate checks the configuration and fills unset optional fields.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("catalog config: DataDir is empty")
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("catalog config: base URL %q is not an http(s) URL", c.BaseURL)
	}
	if c.Retries < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 || c.StallTimeout < 0 || c.ProgressEvery < 0 {
		return errors.New("catalog config: negative retry, backoff or timeout setting")
	}
	if c.Catalog == nil {
		c.Catalog = Builtin()
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.FreeSpace == nil {
		c.FreeSpace = freeSpace
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}
