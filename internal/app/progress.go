package app

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows the running step of a long command as a progress bar when its writer is a terminal,
// and only the finished steps' summaries otherwise (a log file or a pipe gets no bar).
type progress struct {
	w    io.Writer
	tty  bool
	step string
	bar  *progressbar.ProgressBar
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		p.tty = term.IsTerminal(int(f.Fd()))
	}
	return p
}

// permille is the resolution of a bar shown as a fraction.
const permille = 1000

// start begins a bar for step; max is its total (-1: unknown, a spinner with the count), unit names what
// is counted (shown with its rate), bytes shows the count as a size.
func (p *progress) start(step string, max int64, unit string, bytes bool) {
	if !p.tty || p.step == step {
		return
	}
	p.clear()
	p.step = step
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("%-11s", step)),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(max > 0),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	}
	switch {
	case bytes:
		opts = append(opts, progressbar.OptionShowBytes(true))
	case unit != "":
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	p.bar = progressbar.NewOptions64(max, opts...)
}

// show sets the fraction of step done.
func (p *progress) show(step string, frac float64) {
	if !p.tty {
		return
	}
	p.start(step, permille, "", false)
	_ = p.bar.Set64(int64(min(1, max(0, frac)) * permille))
}

// count sets how many units of step are done, of an unknown total.
func (p *progress) count(step string, n int64, unit string) {
	if !p.tty {
		return
	}
	p.start(step, -1, unit, false)
	_ = p.bar.Set64(n)
}

// read sets how many bytes of a total of step's input are read.
func (p *progress) read(step string, n, total int64) {
	if !p.tty {
		return
	}
	p.start(step, total, "", true)
	_ = p.bar.Set64(n)
}

// clear removes the current bar from the terminal.
func (p *progress) clear() {
	if p.bar != nil {
		_ = p.bar.Clear()
		fmt.Fprint(p.w, "\r\033[K")
		p.bar, p.step = nil, ""
	}
}

// done ends the current step with its summary, on a terminal and elsewhere.
func (p *progress) done(msg string) {
	p.clear()
	fmt.Fprintln(p.w, "✓ "+msg)
}
