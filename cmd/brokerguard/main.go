// Command brokerguard decides on a securities firm's logins, account changes, orders and withdrawals to
// stop account takeover and the unauthorized trading that follows. See `brokerguard help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/brokerguard/brokerguard/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.Run(ctx, os.Args[1:], app.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
	if err != nil {
		if !errors.Is(err, app.ErrUsage) {
			fmt.Fprintln(os.Stderr, "brokerguard:", err)
		}
		os.Exit(app.ExitCode(err))
	}
}
