package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

func TestPullFullDownload(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	s := testStore(t, fs, e)
	var reports []Progress
	got, err := s.Pull(context.Background(), e, func(p Progress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sharedModel(t, testmodels.Stories260K)
	data, err := os.ReadFile(got)
	if err != nil || !bytes.Equal(data, want) {
		t.Fatalf("installed file differs from the served one (err %v)", err)
	}
	if names := dirNames(t, s.Dir()); len(names) != 1 || names[0] != "stories260k.gguf" {
		t.Errorf("models dir holds %v, want only the model", names)
	}
	if len(reports) < 2 {
		t.Fatalf("%d progress reports", len(reports))
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Done < reports[i-1].Done {
			t.Errorf("progress went backwards: %+v then %+v", reports[i-1], reports[i])
		}
	}
	last := reports[len(reports)-1]
	if last.Phase != "done" || last.Done != e.Size || last.Total != e.Size || last.Resumed != 0 {
		t.Errorf("last report %+v", last)
	}
	if r := fs.log(); len(r) != 1 || !strings.HasSuffix(r[0], "range=") {
		t.Errorf("requests %v, want one plain GET", r)
	}
	// Pulling again is a no-op.
	if _, err := s.Pull(context.Background(), e, nil); err != nil || len(fs.log()) != 1 {
		t.Errorf("second pull: %v, %d requests", err, len(fs.log()))
	}
}

func TestPullResumesAfterDroppedConnection(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	fs.cutAfter = []int64{300_000, 200_000} // two drops, then a clean finish
	s := testStore(t, fs, e)
	got, err := s.Pull(context.Background(), e, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sharedModel(t, testmodels.Stories260K)
	if data, _ := os.ReadFile(got); !bytes.Equal(data, want) {
		t.Fatal("resumed download differs from the original")
	}
	if r := rangesOf(fs.log()); r != ",bytes=300000-,bytes=500000-" {
		t.Errorf("range headers %q, want resumes at 300000 then 500000", r)
	}
}

func TestPullResumesAcrossCalls(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	fs.cutAfter = []int64{400_000}
	s := testStore(t, fs, e)
	s.cfg.Retries = 0
	if _, err := s.Pull(context.Background(), e, nil); !errors.Is(err, ErrDownload) {
		t.Fatalf("first pull: %v, want ErrDownload", err)
	}
	partial := filepath.Join(s.Dir(), e.FileName()+partialSuffix)
	if st, err := os.Stat(partial); err != nil || st.Size() != 400_000 {
		t.Fatalf("partial file after the drop: %v (%v)", st, err)
	}
	var first Progress
	got, err := s.Pull(context.Background(), e, func(p Progress) {
		if first.Phase == "" {
			first = p
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.Resumed != 400_000 {
		t.Errorf("resumed %d bytes, want 400000", first.Resumed)
	}
	want, _ := sharedModel(t, testmodels.Stories260K)
	if data, _ := os.ReadFile(got); !bytes.Equal(data, want) {
		t.Fatal("file differs after resuming in a second pull")
	}
	if r := rangesOf(fs.log()); r != ",bytes=400000-" {
		t.Errorf("ranges %q", r)
	}
}

func TestPullServerIgnoresRange(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	fs.cutAfter = []int64{250_000}
	fs.ignoreRange = true
	s := testStore(t, fs, e)
	got, err := s.Pull(context.Background(), e, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sharedModel(t, testmodels.Stories260K)
	if data, _ := os.ReadFile(got); !bytes.Equal(data, want) {
		t.Fatal("file differs after a 200 answer to a range request")
	}
	if r := rangesOf(fs.log()); r != ",bytes=250000-" {
		t.Errorf("ranges %q: the second request should still ask to resume", r)
	}
}

func TestPullStalledTransferRetries(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	fs.stallAfter = 100_000
	s := testStore(t, fs, e)
	s.cfg.StallTimeout = 150 * time.Millisecond
	if _, err := s.Pull(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if r := rangesOf(fs.log()); r != ",bytes=100000-" {
		t.Errorf("ranges %q", r)
	}
}

func TestPullRetriesServerErrors(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	fs.statusFirst = []int{503, 500}
	s := testStore(t, fs, e)
	if _, err := s.Pull(context.Background(), e, nil); err != nil {
		t.Fatalf("pull after two 5xx: %v", err)
	}

	fs2 := newFileServer(t)
	e2 := storiesEntry(t, fs2)
	fs2.statusFirst = []int{503, 503, 503}
	s2 := testStore(t, fs2, e2)
	s2.cfg.Retries = 1
	_, err := s2.Pull(context.Background(), e2, nil)
	if !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "503") {
		t.Errorf("pull with retries spent: %v", err)
	}
	if n := len(fs2.log()); n != 2 {
		t.Errorf("%d requests, want 2 (1 + 1 retry)", n)
	}
}

func TestPullFailuresLeaveNothingBehind(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *Entry, fs *fileServer)
		want  error
	}{
		{"wrong checksum", func(e *Entry, _ *fileServer) { e.SHA256 = strings.Repeat("ab", 32) }, ErrChecksum},
		{"not found", func(e *Entry, _ *fileServer) { e.File = "missing.gguf" }, ErrRemoteNotFound},
		{"server file has another size", func(e *Entry, _ *fileServer) { e.Size-- }, ErrChecksum},
		{"not a gguf (size-only)", func(e *Entry, fs *fileServer) {
			e.File, e.Verify, e.SHA256 = "junk.gguf", VerifySizeOnly, ""
			fs.add(e.Repo, e.Revision, e.File, bytes.Repeat([]byte("junk"), int(e.Size)/4))
			e.Size = e.Size / 4 * 4
		}, ErrBadModel},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFileServer(t)
			e := storiesEntry(t, fs)
			tc.setup(&e, fs)
			s := testStore(t, fs, e)
			_, err := s.Pull(context.Background(), e, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if names := dirNames(t, s.Dir()); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
}

func TestPullSizeOnlyEntry(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	e.SHA256, e.Verify = "", VerifySizeOnly
	s := testStore(t, fs, e)
	if _, err := s.Pull(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPullRefusesWhenDiskIsFull(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	s := testStore(t, fs, e)
	var asked string
	s.cfg.FreeSpace = func(dir string) (uint64, error) { asked = dir; return 10 << 20, nil }
	_, err := s.Pull(context.Background(), e, nil)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("err = %v, want ErrNoSpace", err)
	}
	if !strings.Contains(err.Error(), "only 10.0 MiB is free") || asked != s.Dir() {
		t.Errorf("message %q (asked about %q)", err, asked)
	}
	if n := len(fs.log()); n != 0 {
		t.Errorf("%d requests made before refusing", n)
	}
	if names := dirNames(t, s.Dir()); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
	// An unknown free space does not block the download.
	s.cfg.FreeSpace = func(string) (uint64, error) { return 0, errors.New("no statfs here") }
	if _, err := s.Pull(context.Background(), e, nil); err != nil {
		t.Errorf("pull with unknown free space: %v", err)
	}
}

// unwritableDataDir returns a data directory whose models directory cannot
// be created: a read-only directory for ordinary users; for root (who
// ignores modes) a path under /sys, where mkdir fails with EPERM.
func unwritableDataDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	dir := fmt.Sprintf("/sys/hearth-test-%d", os.Getpid())
	if err := os.Mkdir(dir, 0o755); err == nil {
		os.Remove(dir)
		t.Skip("running as root with a writable /sys: no way to make an unwritable directory")
	} else if !errors.Is(err, os.ErrPermission) {
		t.Skipf("running as root and /sys gives %v, not a permission error", err)
	}
	return dir
}

func TestPullPermissionDenied(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	s := testStore(t, fs, e)
	dataDir := unwritableDataDir(t)
	s2, err := Open(Config{DataDir: dataDir, BaseURL: fs.URL, Catalog: s.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Pull(context.Background(), e, nil)
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("err = %v, want ErrPermission", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dataDir, ModelsDir)) || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("message %q should name the directory and the way out", err)
	}
	if n := len(fs.log()); n != 0 {
		t.Errorf("%d requests made", n)
	}
}

func TestPullCancelled(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	fs.stallAfter = 50_000
	s := testStore(t, fs, e)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Pull(ctx, e, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "kept for resume") {
		t.Fatalf("err = %v", err)
	}
	if st, err := os.Stat(filepath.Join(s.Dir(), e.FileName()+partialSuffix)); err != nil || st.Size() != 50_000 {
		t.Errorf("partial download not kept: %v %v", st, err)
	}
}

func TestPullStalePartialIsDiscarded(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	s := testStore(t, fs, e)
	if err := os.MkdirAll(s.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	// A partial file from another download (no matching sidecar) must not be resumed.
	if err := os.WriteFile(filepath.Join(s.Dir(), e.FileName()+partialSuffix), []byte("stale bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if r := rangesOf(fs.log()); r != "" {
		t.Errorf("ranges %q: the stale partial was resumed", r)
	}
}

func TestBackoff(t *testing.T) {
	base, maxWait := 100*time.Millisecond, time.Second
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := backoff(base, maxWait, i+1); got != w*time.Millisecond {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 5-9/*", "bytes -1-2/3", "bytes 1-2", "", "bytes 9223372036854775807-1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, total, err := parseContentRange(v)
		if err == nil && (start < 0 || total < -1) {
			t.Fatalf("%q parsed to start %d total %d", v, start, total)
		}
	})
}

func TestPullRefusesConcurrentDownload(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	s := testStore(t, fs, e)
	if err := os.MkdirAll(s.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	// Another Pull of the same model holds the partial file.
	held, err := os.OpenFile(filepath.Join(s.Dir(), e.FileName()+partialSuffix), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := lockFile(held); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Write([]byte("in progress")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Pull(context.Background(), e, nil)
	if runtimeHasFlock && !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if got, _ := os.ReadFile(held.Name()); runtimeHasFlock && string(got) != "in progress" {
		t.Errorf("the other download's partial file was changed: %q", got)
	}
}
