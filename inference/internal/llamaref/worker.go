package llamaref

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// worker is one `node llamaref.mjs --serve` process. It answers one request
// at a time and keeps llama.cpp and its models loaded between requests, so a
// call costs milliseconds instead of a node start (about a second).
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	outR   *os.File // stdout's read end; ours, so Wait does not close it mid-read
	stderr *tailWriter
	exited chan struct{} // closed once the process is reaped
	err    error         // how it exited; read after exited is closed
}

// startWorker starts a worker. It is not tied to any request's context: a
// request that is cancelled kills its worker instead.
func startWorker(t tools) (*worker, error) {
	cmd := exec.Command(t.node, t.script, "--serve")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("llamaref: stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("llamaref: stdout pipe: %w", err)
	}
	w := &worker{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(outR, 1<<20), outR: outR,
		stderr: &tailWriter{max: 8 << 10}, exited: make(chan struct{})}
	cmd.Stdout = outW
	cmd.Stderr = w.stderr
	err = cmd.Start()
	_ = outW.Close() // the child holds its own copy; closing ours cannot lose data
	if err != nil {
		_ = outR.Close() // nothing was read from it
		return nil, fmt.Errorf("llamaref: start node: %w", err)
	}
	go func() {
		w.err = cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

// kill stops the process and waits until it is reaped.
func (w *worker) kill() {
	_ = w.cmd.Process.Kill() // fails only when it already exited
	<-w.exited
	_ = w.outR.Close() // may already be closed by an earlier kill
}

// close ends the process by closing its stdin, as a finished caller would.
func (w *worker) close() {
	_ = w.stdin.Close() // the process then exits; nothing to report
	<-w.exited
	_ = w.outR.Close() // may already be closed by an earlier kill
}

// reply is one answer line of the --serve protocol.
type reply struct {
	Result *Result `json:"result"`
	Error  *string `json:"error"`
}

// do sends one request. healthy reports whether the worker can take another.
func (w *worker) do(ctx context.Context, args []string) (res *Result, healthy bool, err error) {
	req, err := json.Marshal(struct {
		Args []string `json:"args"`
	}{args})
	if err != nil {
		return nil, true, fmt.Errorf("llamaref: request: %w", err)
	}
	var (
		killed bool
		wg     sync.WaitGroup
	)
	done := make(chan struct{})
	wg.Go(func() {
		select {
		case <-ctx.Done():
			killed = true
			w.kill()
		case <-done:
		}
	})
	line, ioErr := w.send(append(req, '\n'))
	close(done)
	wg.Wait()
	switch {
	case killed:
		return nil, false, fmt.Errorf("llamaref %s: %w", strings.Join(args, " "), ctx.Err())
	case ioErr != nil:
		w.kill()
		return nil, false, fmt.Errorf("llamaref %s: node stopped: %w (%v): %s",
			strings.Join(args, " "), ioErr, w.err, tail(w.stderr.String(), 2000))
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		w.kill()
		return nil, false, fmt.Errorf("llamaref %s: bad reply: %w (starts %q)", strings.Join(args, " "), err, head(string(line), 200))
	}
	if r.Error != nil {
		return nil, true, fmt.Errorf("llamaref %s: %s", strings.Join(args, " "), *r.Error)
	}
	if r.Result == nil {
		return nil, true, fmt.Errorf("llamaref %s: reply has no result", strings.Join(args, " "))
	}
	return r.Result, true, nil
}

// send writes a request line and reads the answer line.
func (w *worker) send(req []byte) ([]byte, error) {
	if _, err := w.stdin.Write(req); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	line, err := w.stdout.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return line, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex // guards buf
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
