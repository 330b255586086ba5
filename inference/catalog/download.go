package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Download errors.
var (
	ErrChecksum       = errors.New("checksum mismatch")
	ErrNoSpace        = errors.New("not enough disk space")
	ErrRemoteNotFound = errors.New("file not found on the server")
	ErrDownload       = errors.New("download failed")
	// ErrBusy: another Pull of the same model is running (in this or another process).
	ErrBusy = errors.New("this model is already being downloaded")
	errBusy = ErrBusy
)

// Progress reports a download's state.
type Progress struct {
	Name        string
	Done        int64 // bytes on disk so far
	Total       int64
	Resumed     int64   // bytes kept from an earlier, interrupted download
	BytesPerSec float64 // recent transfer rate
	ETA         time.Duration
	Attempt     int    // 1 for the first try
	Phase       string // "download", "verify", "done"
}

// spaceReserve is kept free beyond the download itself.
const spaceReserve = 16 << 20

// partialMeta is the sidecar of a .partial file: a resume only continues a
// partial file that was started for the same URL, size and hash.
type partialMeta struct {
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Pull downloads a catalog entry into the store and returns its path. It
// resumes an interrupted download from its .partial file with an HTTP Range
// request (hashing the bytes already there), retries network errors, 5xx
// and 429 with exponential backoff, checks free disk space before it
// starts, and verifies size and sha256 (VerifySHA256 entries) before an
// atomic rename into place. A checksum or size mismatch deletes the partial
// file, so nothing is left behind; other failures keep it for the next
// Pull. progress may be nil. An already installed entry returns at once.
func (s *Store) Pull(ctx context.Context, e Entry, progress func(Progress)) (string, error) {
	if err := e.Validate(); err != nil {
		return "", err
	}
	dst := filepath.Join(s.dir, e.FileName())
	if st, err := os.Stat(dst); err == nil {
		if st.Size() != e.Size {
			return "", fmt.Errorf("pull %s: %w: the installed file is %d bytes, the catalog says %d (remove it first)", e.Name, ErrExists, st.Size(), e.Size)
		}
		return dst, nil
	}
	if err := s.ensureDir(); err != nil {
		return "", fmt.Errorf("pull %s: %w", e.Name, err)
	}
	d := &download{s: s, e: e, url: e.URL(s.cfg.BaseURL), dst: dst, partial: dst + partialSuffix, meta: dst + metaSuffix, report: progress}
	if err := d.run(ctx); err != nil {
		return "", fmt.Errorf("pull %s: %w", e.Name, err)
	}
	return dst, nil
}

// download is one Pull in progress.
type download struct {
	s                  *Store
	e                  Entry
	url                string
	dst, partial, meta string
	report             func(Progress)
	f                  *os.File
	h                  hash.Hash
	offset             int64 // bytes in the partial file, all hashed
	resumed            int64
	attempt            int
	lastReport         time.Time
	lastDone           int64
	speed              float64
}

func (d *download) run(ctx context.Context) (err error) {
	have, err := d.resumable()
	if err != nil {
		return err
	}
	if err := d.checkSpace(have); err != nil {
		return err
	}
	if err := d.open(); err != nil {
		return err
	}
	defer func() {
		if d.f != nil {
			d.f.Close()
		}
	}()
	if err := d.transferWithRetries(ctx); err != nil {
		return err
	}
	return d.finish()
}

func (d *download) wantMeta() partialMeta {
	return partialMeta{URL: d.url, Size: d.e.Size, SHA256: d.e.SHA256}
}

// metaMatches reports whether the sidecar says the partial file was started
// for this same URL, size and hash.
func (d *download) metaMatches() bool {
	var have partialMeta
	raw, err := os.ReadFile(d.meta)
	return err == nil && json.Unmarshal(raw, &have) == nil && have == d.wantMeta()
}

// resumable returns how many bytes an earlier Pull of the same file left,
// changing nothing on disk.
func (d *download) resumable() (int64, error) {
	if !d.metaMatches() {
		return 0, nil
	}
	st, err := os.Stat(d.partial)
	if err != nil {
		return 0, nil
	}
	return st.Size(), nil
}

// open creates or reopens the partial file, locks it against a concurrent
// Pull, empties it when it belongs to another download, and hashes the
// bytes already there.
func (d *download) open() error {
	f, err := os.OpenFile(d.partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return d.s.wrapFS("start download", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, ErrBusy) {
			return ErrBusy
		}
		return fmt.Errorf("lock partial download: %w", err)
	}
	d.f, d.h = f, sha256.New()
	if !d.metaMatches() {
		if err := d.restart(); err != nil {
			return err
		}
		raw, _ := json.Marshal(d.wantMeta())
		if err := os.WriteFile(d.meta, raw, 0o644); err != nil {
			return d.s.wrapFS("start download", err)
		}
	}
	n, err := io.Copy(d.h, f)
	if err != nil {
		return fmt.Errorf("hash partial download: %w", err)
	}
	if n > d.e.Size {
		if err := d.restart(); err != nil {
			return err
		}
		n = 0
	}
	d.offset, d.resumed = n, n
	if n > 0 {
		d.s.cfg.Logger.Info("resuming download", "model", d.e.Name, "have", n, "total", d.e.Size)
	}
	return nil
}

// restart empties the partial file.
func (d *download) restart() error {
	if err := d.f.Truncate(0); err != nil {
		return fmt.Errorf("restart download: %w", err)
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("restart download: %w", err)
	}
	d.h.Reset()
	d.offset, d.resumed = 0, 0
	return nil
}

func (d *download) checkSpace(have int64) error {
	need := uint64(max(d.e.Size-have, 0))
	free, err := d.s.cfg.FreeSpace(d.s.dir)
	if err != nil {
		d.s.cfg.Logger.Debug("free disk space unknown; not checked", "err", err)
		return nil
	}
	if free < need+spaceReserve {
		return fmt.Errorf("%w: %s needs %s more in %s, only %s is free", ErrNoSpace, d.e.Name,
			HumanBytes(int64(need)), d.s.dir, HumanBytes(int64(free)))
	}
	return nil
}

// transferWithRetries runs attempts until the file is complete, a
// permanent error occurs, or the retries are spent.
func (d *download) transferWithRetries(ctx context.Context) error {
	var last error
	for d.attempt = 1; d.attempt <= d.s.cfg.Retries+1; d.attempt++ {
		if d.offset == d.e.Size {
			return nil
		}
		err := d.transfer(ctx)
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: %w (%d of %d bytes kept for resume)", ErrDownload, ctx.Err(), d.offset, d.e.Size)
			}
			return perm.err
		}
		last = err
		if d.attempt > d.s.cfg.Retries {
			break
		}
		wait := backoff(d.s.cfg.BackoffBase, d.s.cfg.BackoffMax, d.attempt)
		d.s.cfg.Logger.Warn("download interrupted; retrying", "model", d.e.Name, "attempt", d.attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w (%d of %d bytes kept for resume)", ErrDownload, ctx.Err(), d.offset, d.e.Size)
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("%w after %d attempts: %w (%d of %d bytes kept; pull again to resume)", ErrDownload, d.attempt-1, last, d.offset, d.e.Size)
}

func backoff(base, maxWait time.Duration, attempt int) time.Duration {
	w := base
	for i := 1; i < attempt && w < maxWait; i++ {
		w *= 2
	}
	return min(w, maxWait)
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return &permanentError{err: err} }

// writeErr classifies a failed write to the partial file.
func (d *download) writeErr(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return permanent(fmt.Errorf("%w: the disk filled up after %d of %d bytes (kept; free space and pull again)", ErrNoSpace, d.offset, d.e.Size))
	case errors.Is(err, fs.ErrPermission):
		return permanent(d.s.wrapFS("write download", err))
	}
	return permanent(fmt.Errorf("write %s: %w", d.partial, err))
}

// finish verifies the complete file and renames it into place.
func (d *download) finish() error {
	d.emit("verify", true)
	if d.offset != d.e.Size {
		d.discard()
		return fmt.Errorf("%w: got %d bytes, want %d", ErrChecksum, d.offset, d.e.Size)
	}
	if d.e.Verify == VerifySHA256 {
		if got := hex.EncodeToString(d.h.Sum(nil)); got != d.e.SHA256 {
			d.discard()
			return fmt.Errorf("%w: sha256 %s, want %s (the file was deleted)", ErrChecksum, got, d.e.SHA256)
		}
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("sync download: %w", err)
	}
	if err := d.f.Close(); err != nil {
		return fmt.Errorf("close download: %w", err)
	}
	d.f = nil
	if _, err := ReadInfo(d.partial); err != nil {
		d.discard()
		return fmt.Errorf("downloaded file: %w (the file was deleted)", err)
	}
	if err := os.Rename(d.partial, d.dst); err != nil {
		return d.s.wrapFS("install download", err)
	}
	_ = os.Remove(d.meta)
	syncDir(d.s.dir)
	d.emit("done", true)
	return nil
}

// discard deletes the partial file and its sidecar.
func (d *download) discard() {
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
	_ = os.Remove(d.partial)
	_ = os.Remove(d.meta)
}

// emit reports progress, at most every ProgressEvery unless force.
func (d *download) emit(phase string, force bool) {
	now := time.Now()
	if d.report == nil || (!force && now.Sub(d.lastReport) < d.s.cfg.ProgressEvery) {
		return
	}
	if !d.lastReport.IsZero() {
		if dt := now.Sub(d.lastReport).Seconds(); dt > 0 && d.offset >= d.lastDone {
			inst := float64(d.offset-d.lastDone) / dt
			if d.speed == 0 {
				d.speed = inst
			} else {
				d.speed = 0.7*d.speed + 0.3*inst
			}
		}
	}
	d.lastReport, d.lastDone = now, d.offset
	p := Progress{Name: d.e.Name, Done: d.offset, Total: d.e.Size, Resumed: d.resumed, BytesPerSec: d.speed, Attempt: d.attempt, Phase: phase}
	if d.speed > 0 {
		p.ETA = time.Duration(float64(d.e.Size-d.offset) / d.speed * float64(time.Second))
	}
	d.report(p)
}

// syncDir makes a rename durable; failure only weakens crash safety.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}
