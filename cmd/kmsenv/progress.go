package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressMin is the input size from which a progress bar is shown:
// smaller files finish before a bar would say anything.
const progressMin = 8 << 20

// progressOn reports whether progress bars go to stderr: only when it is a
// terminal and --quiet is not set. Redirected or piped stderr (CI logs,
// scripts) stays silent.
func (a *app) progressOn(quiet bool) bool {
	if quiet {
		return false
	}
	f, ok := a.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// withProgress wraps src in a progress bar of size bytes (-1 when unknown,
// such as stdin) that shows bytes done, rate and ETA; it returns src
// unchanged when progress is off or the input is small. finish clears the
// bar.
func (a *app) withProgress(src io.Reader, size int64, name string, quiet bool) (r io.Reader, finish func()) {
	if !a.progressOn(quiet) || (size >= 0 && size < progressMin) {
		return src, func() {}
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)
	pr := progressbar.NewReader(src, bar)
	return &pr, func() {
		_ = bar.Finish()
		_ = bar.Clear()
		fmt.Fprint(a.stderr, "\r")
	}
}
