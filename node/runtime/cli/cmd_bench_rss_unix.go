//go:build unix

package cli

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// rssParts returns the resident memory now, split into anonymous memory
// (heap, stacks: what the process allocated) and file pages (the mapped
// model, the executable), from /proc/self/status on Linux.
func rssParts() (anon, file int64, ok bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		for key, dst := range map[string]*int64{"RssAnon:": &anon, "RssFile:": &file} {
			if rest, found := strings.CutPrefix(sc.Text(), key); found {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					*dst = kb << 10
					n++
				}
			}
		}
	}
	return anon, file, n == 2
}

// peakRSS returns the process's peak resident set size in bytes: VmHWM
// from /proc/self/status on Linux (mapped model pages included), else
// getrusage's maxrss.
func peakRSS() (int64, bool) {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb << 10, true
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return ru.Maxrss, true // bytes
	}
	return ru.Maxrss << 10, true // kilobytes elsewhere
}
