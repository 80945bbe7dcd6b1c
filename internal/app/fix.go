package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/fix"
	"github.com/brokerguard/brokerguard/internal/ingest"
)

// ingestSink hands the FIX acceptor's events to the ingest service, the path of POST /v1/events.
type ingestSink struct{ svc *ingest.Service }

func (s ingestSink) Accept(ctx context.Context, raw []byte) (string, error) {
	res, err := s.svc.Ingest(ctx, [][]byte{raw})
	if err != nil {
		return "", err
	}
	if r := res[0]; r.Status == ingest.StatusRejected && r.Error != nil {
		return r.Error.Error(), nil
	}
	return "", nil
}

// fixListener opens the FIX drop-copy acceptor's listener and returns the function that serves it until
// its context ends; nil without fix.listen. Sequence numbers are kept in the data directory.
func fixListener(cfg config.Config, svc *ingest.Service, log *slog.Logger) (func(ctx context.Context) error, net.Listener, error) {
	f := cfg.FIX
	if f.Listen == "" {
		return nil, nil, nil
	}
	password := f.Password
	if password == "" && f.PasswordFile != "" {
		b, err := config.ReadKeyFile(f.PasswordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("fix.password_file: %w", err)
		}
		password = strings.TrimSpace(string(b))
	}
	a, err := fix.New(fix.Options{CompID: f.CompID, PeerCompID: f.PeerCompID, Username: f.Username, Password: password,
		Mapping: fix.Mapping{AccountTag: f.Tags.Account, SessionTag: f.Tags.Session, IPTag: f.Tags.IP, DeviceTag: f.Tags.Device,
			UserAgentTag: f.Tags.UserAgent, TLSTag: f.Tags.TLS, ChannelTag: f.Tags.Channel, DefaultChannel: f.DefaultChannel},
		Sink: ingestSink{svc}, Seqs: fix.FileSeqs{Dir: cfg.DataDir}, Now: time.Now, Log: log})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("fix.listen: %w", err)
	}
	log.Info("FIX drop-copy acceptor listening", "addr", ln.Addr().String(), "session", a.Name())
	return func(ctx context.Context) error { return a.Serve(ctx, ln) }, ln, nil
}
