package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// transfer runs one HTTP request, appending what arrives to the partial
// file. A nil error means the file is complete.
func (d *download) transfer(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return permanent(fmt.Errorf("%w: %w", ErrDownload, err))
	}
	if d.offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.offset))
	}
	req.Header.Set("User-Agent", "hearth")
	resp, err := d.s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("request %s: %w", d.url, err)
	}
	defer resp.Body.Close()
	if err := d.accept(resp); err != nil {
		return err
	}
	if d.offset == d.e.Size { // 416 on a complete file
		return nil
	}
	body := newStallReader(resp.Body, d.s.cfg.StallTimeout, cancel)
	defer body.stop()
	return d.copyBody(body)
}

// accept checks the response status and where its body starts, truncating
// the partial file when the server sends the whole file again.
func (d *download) accept(resp *http.Response) error {
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		start, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return fmt.Errorf("bad Content-Range: %w", err)
		}
		if total >= 0 && total != d.e.Size {
			d.discard()
			return permanent(fmt.Errorf("%w: the server's file is %d bytes, the catalog expects %d", ErrChecksum, total, d.e.Size))
		}
		if start != d.offset {
			// A confused server or proxy: start over without Range.
			if err := d.restart(); err != nil {
				return permanent(err)
			}
			return fmt.Errorf("server resumed at byte %d instead of %d", start, d.offset)
		}
		return nil
	case resp.StatusCode == http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != d.e.Size {
			d.discard()
			return permanent(fmt.Errorf("%w: the server's file is %d bytes, the catalog expects %d", ErrChecksum, resp.ContentLength, d.e.Size))
		}
		if d.offset > 0 { // Range ignored: the body is the whole file
			d.s.cfg.Logger.Info("server ignored the range request; restarting", "model", d.e.Name)
			if err := d.restart(); err != nil {
				return permanent(err)
			}
		}
		return nil
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		if d.offset == d.e.Size {
			return nil
		}
		if err := d.restart(); err != nil {
			return permanent(err)
		}
		return fmt.Errorf("server refused the range request (%s)", resp.Status)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		d.discard()
		return permanent(fmt.Errorf("%w: %s answered %s", ErrRemoteNotFound, d.url, resp.Status))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return permanent(fmt.Errorf("%w: %s answered %s (the repository may be gated)", ErrDownload, d.url, resp.Status))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("server error %s", resp.Status)
	}
	return permanent(fmt.Errorf("%w: %s answered %s", ErrDownload, d.url, resp.Status))
}

// copyBody appends the body to the partial file, hashing as it goes, and
// refuses bytes past the expected size.
func (d *download) copyBody(body io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if d.offset+int64(n) > d.e.Size {
				d.discard()
				return permanent(fmt.Errorf("%w: the server sent more than %d bytes (the file was deleted)", ErrChecksum, d.e.Size))
			}
			w, werr := d.f.Write(buf[:n])
			d.h.Write(buf[:w])
			d.offset += int64(w)
			if werr != nil {
				return d.writeErr(werr)
			}
			d.emit("download", false)
		}
		if errors.Is(rerr, io.EOF) {
			if d.offset < d.e.Size {
				return fmt.Errorf("connection closed after %d of %d bytes", d.offset, d.e.Size)
			}
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read body: %w", rerr)
		}
	}
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*", -1).
func parseContentRange(v string) (start, total int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("%q", v)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q", v)
	}
	first, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q", v)
	}
	if start, err = strconv.ParseInt(first, 10, 64); err != nil || start < 0 {
		return 0, 0, fmt.Errorf("%q", v)
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%q", v)
		}
	}
	return start, total, nil
}

// stallReader cancels the request when no byte arrives for timeout.
type stallReader struct {
	r       io.Reader
	timeout time.Duration
	mu      sync.Mutex // guards timer
	timer   *time.Timer
}

func newStallReader(r io.Reader, timeout time.Duration, cancel func()) *stallReader {
	s := &stallReader{r: r, timeout: timeout}
	if timeout > 0 {
		s.timer = time.AfterFunc(timeout, cancel)
	}
	return s
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 && s.timer != nil {
		s.mu.Lock()
		s.timer.Reset(s.timeout)
		s.mu.Unlock()
	}
	return n, err
}

func (s *stallReader) stop() {
	if s.timer != nil {
		s.mu.Lock()
		s.timer.Stop()
		s.mu.Unlock()
	}
}
