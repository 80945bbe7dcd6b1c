package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// buildBinary builds brokerguard once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "brokerguard")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	return bin
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
}

func startServe(t *testing.T, bin, dir, keyFile string) *proc {
	t.Helper()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("api_keys:\n  - {name: t, role: admin, key_file: %s}\n", keyFile)), 0o600)
	addrFile := filepath.Join(dir, "addr")
	os.Remove(addrFile)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--addr-file", addrFile)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			return &proc{cmd: cmd, addr: "http://" + string(b), logs: &logs}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("serve did not start:\n%s", logs.String())
	return nil
}

const crashKey = "crash-test-key-0123456789"

func post(addr string, body []byte) (int, map[string]any, error) {
	req, _ := http.NewRequest("POST", addr+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+crashKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	err = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, err
}

// TestKill9LosesNothingAcknowledged kills the real server with SIGKILL while clients send events, restarts
// it on the same data directory, and checks that every acknowledged event and decision is there exactly
// once and that profiles were rebuilt.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(crashKey), 0o600)
	p := startServe(t, bin, dir, keyFile)

	base := time.Date(2025, 3, 3, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	var clock atomic.Int64
	next := func() string {
		return base.Add(time.Duration(clock.Add(1)) * time.Millisecond).Format(time.RFC3339Nano)
	}
	var mu sync.Mutex
	acked := map[string]bool{}   // every acknowledged event id
	decided := map[string]bool{} // acknowledged ids that got a decision
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				acct := fmt.Sprintf("W%d-%d", w, k)
				evs := []string{
					fmt.Sprintf(`{"id":"%s-s","type":"snapshot","time":"%s","account":"%s","cash":100000,"mfa":"sms_otp"}`, acct, next(), acct),
					fmt.Sprintf(`{"id":"%s-l1","type":"login","time":"%s","account":"%s","result":"success","method":"password_otp","session":"%s-1","ip":"153.156.%d.%d","device":"dev-%s"}`, acct, next(), acct, acct, w, k%250, acct),
					fmt.Sprintf(`{"id":"%s-o1","type":"order","time":"%s","account":"%s","order_id":"%s-o1","session":"%s-1","ip":"153.156.%d.%d","device":"dev-%s","symbol":"7203","side":"buy","quantity":100}`, acct, next(), acct, acct, acct, w, k%250, acct),
				}
				code, m, err := post(p.addr, []byte("["+strings.Join(evs, ",")+"]"))
				if err != nil || code != 200 {
					return // the server is gone
				}
				mu.Lock()
				for _, r := range m["results"].([]any) {
					r := r.(map[string]any)
					acked[r["id"].(string)] = true
					if r["status"] == "decided" {
						decided[r["id"].(string)] = true
					}
				}
				mu.Unlock()
			}
		}(w)
	}
	// Let load build up, then kill -9 in the middle of it.
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 3000 {
			break
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	t.Logf("acknowledged %d events (%d decisions) before SIGKILL", len(acked), len(decided))

	// Restart: everything acknowledged is there, once; profiles are rebuilt.
	p2 := startServe(t, bin, dir, keyFile)
	defer func() { p2.cmd.Process.Signal(syscall.SIGTERM); p2.cmd.Wait() }()
	// Pick an account whose login was acknowledged: a new login from the same device and network is familiar.
	var acct string
	for id := range decided {
		if strings.HasSuffix(id, "-l1") {
			acct = strings.TrimSuffix(id, "-l1")
			break
		}
	}
	var w, k int
	fmt.Sscanf(acct, "W%d-%d", &w, &k)
	login := fmt.Sprintf(`{"id":"%s-l2","type":"login","time":"%s","account":"%s","result":"success","method":"password_otp","session":"%s-2","ip":"153.156.%d.%d","device":"dev-%s"}`,
		acct, next(), acct, acct, w, k%250, acct)
	code, m, err := post(p2.addr, []byte(login))
	if err != nil || code != 200 {
		t.Fatalf("login after restart: %d %v %v\n%s", code, m, err, p2.logs)
	}
	for _, r := range m["decision"].(map[string]any)["reasons"].([]any) {
		if c := r.(map[string]any)["code"]; c == "NEW_DEVICE" || c == "NEW_ASN" {
			t.Errorf("after restart the account's device and network are unknown (%v): profiles were not rebuilt", c)
		}
	}
	// Re-sending acknowledged events yields duplicates, not new records.
	code, m, _ = post(p2.addr, []byte(`[`+fmt.Sprintf(`{"id":"%s-s","type":"snapshot","time":"%s","account":"%s","cash":1}`, acct, next(), acct)+`]`))
	if code != 200 || m["results"].([]any)[0].(map[string]any)["status"] != "duplicate" {
		t.Errorf("re-sent acknowledged event: %d %v, want duplicate", code, m)
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	p2.cmd.Wait()

	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "brokerguard.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	stored := map[string]int{}
	err = st.ScanEvents(ctx, 0, func(seq int64, rec store.EventRecord) error {
		stored[rec.ID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if stored[id] != 1 {
			t.Fatalf("acknowledged event %s stored %d times, want once", id, stored[id])
		}
	}
	for id := range decided {
		if _, err := st.Decision(ctx, id); err != nil {
			t.Fatalf("decision of acknowledged event %s: %v", id, err)
		}
	}
	c, _ := st.Counts(ctx)
	if c.Events != int64(len(stored)) {
		t.Errorf("stored %d events but %d distinct ids", c.Events, len(stored))
	}
}
