package app

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/httpapi"
)

// testServer runs serve's server on cfg (its store, engine and listeners) with one admin key, until
// the returned stop is called (or the test ends).
type testServer struct {
	*server
	t    *testing.T
	key  string
	stop func()
}

func startTestServer(t *testing.T, cfg config.Config) *testServer {
	t.Helper()
	const key = "test-server-key-0123456789"
	quiet := newLogger(io.Discard, cfg)
	p, err := buildEngineWith(cfg, quiet, engineWith{lateness: cfg.Lateness})
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := openStore(context.Background(), cfg)
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	var k config.APIKey
	k.SetKey(key)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := startServer(ctx, p, st, cfg, []httpapi.Key{{Name: "t", Role: httpapi.RoleAdmin, Hash: k.Hash()}}, quiet)
	if err != nil {
		cancel()
		st.Close()
		p.Close()
		t.Fatal(err)
	}
	ts := &testServer{server: srv, t: t, key: key}
	stopped := false
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		srv.wait()
		st.Close()
		p.Close()
	}
	t.Cleanup(ts.stop)
	return ts
}

// call makes an API request with the server's key and returns the status and body.
func (ts *testServer) call(method, path, body string) (int, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, "http://"+ts.addr+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mustCall is call that fails the test on a status other than 200.
func (ts *testServer) mustCall(method, path, body string) []byte {
	ts.t.Helper()
	status, b := ts.call(method, path, body)
	if status != http.StatusOK {
		ts.t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	return b
}
