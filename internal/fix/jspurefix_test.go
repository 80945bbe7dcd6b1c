package fix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// envJspurefix names a directory whose node_modules holds jspurefix (npm install jspurefix@5.11.4 there;
// .ci/run does). Without it the test skips, except in CI, where it fails.
const envJspurefix = "BROKERGUARD_JSPUREFIX"

// failOnce is a Sink that takes events like recorder but cannot take the n-th call once: the store went
// away for a moment.
type failOnce struct {
	recorder
	mu    sync.Mutex
	calls int
	n     int
}

func (f *failOnce) Accept(ctx context.Context, ev []byte) (string, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls == f.n
	f.mu.Unlock()
	if fail {
		return "", fmt.Errorf("store unavailable")
	}
	return f.recorder.Accept(ctx, ev)
}

// TestIndependentInitiator: jspurefix, an independent FIX engine, plays the firm's order system. It
// sends a day of orders, fills and cancels; in the middle of it brokerguard cannot store one message and
// ends the session. jspurefix reconnects, brokerguard asks for the gap, jspurefix sends it again, and in
// the end every event is taken once, in order.
func TestIndependentInitiator(t *testing.T) {
	dir := os.Getenv(envJspurefix)
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not set; CI installs jspurefix for this test", envJspurefix)
		}
		t.Skipf("%s not set (a directory with jspurefix in node_modules)", envJspurefix)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s is set but node is not installed: %v", envJspurefix, err)
	}

	var msgs []map[string]any
	var wantIDs []string
	t0 := time.Date(2025, 4, 10, 0, 0, 0, 0, time.UTC)
	for i := range 15 {
		at := t0.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("o%02d", i)
		side := []string{"1", "2"}[i%2]
		msgs = append(msgs, map[string]any{"type": "D", "body": map[string]any{"ClOrdID": id, "Account": fmt.Sprintf("A%d", i%4),
			"Instrument": map[string]any{"Symbol": "1556"}, "Side": side, "TransactTime": at.Format(time.RFC3339Nano), "OrderQtyData": map[string]any{"OrderQty": 100 * (i + 1)}, "OrdType": "2", "Price": 1000 + i, "CashMargin": "1"}})
		wantIDs = append(wantIDs, "fix-FIRM-"+id)
		switch {
		case i%3 == 0:
			msgs = append(msgs, map[string]any{"type": "8", "body": map[string]any{"OrderID": "X" + id, "ClOrdID": id, "ExecID": "x" + id,
				"ExecType": "F", "OrdStatus": "2", "Account": fmt.Sprintf("A%d", i%4), "Instrument": map[string]any{"Symbol": "1556"}, "Side": side, "LastQty": 100 * (i + 1),
				"LastPx": 1000 + i, "LeavesQty": 0, "CumQty": 100 * (i + 1), "AvgPx": 1000 + i, "TransactTime": at.Add(time.Second).Format(time.RFC3339Nano)}})
			wantIDs = append(wantIDs, "fix-FIRM-exec-x"+id)
		case i%5 == 1:
			msgs = append(msgs, map[string]any{"type": "F", "body": map[string]any{"ClOrdID": "c" + id, "OrigClOrdID": id, "Account": fmt.Sprintf("A%d", i%4),
				"Instrument": map[string]any{"Symbol": "1556"}, "Side": side, "TransactTime": at.Add(30 * time.Second).Format(time.RFC3339Nano)}})
			wantIDs = append(wantIDs, "fix-FIRM-cancel-c"+id)
		}
	}
	tmp := t.TempDir()
	file := filepath.Join(tmp, "messages.json")
	b, _ := json.Marshal(msgs)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}

	sink := &failOnce{n: 12}
	a, err := New(Options{CompID: "BROKERGUARD", PeerCompID: "FIRM", Username: "dropcopy", Password: "s3cret",
		Sink: sink, Seqs: FileSeqs{Dir: tmp}, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	script, _ := filepath.Abs("testdata/jspurefix/initiator.js")
	cctx, ccancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer ccancel()
	cmd := exec.CommandContext(cctx, node, script, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), file)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("jspurefix initiator: %v\n%s", err, tail(out.String(), 4000))
	}
	log := out.String()
	if !strings.Contains(log, "\x0135=2\x01") && !strings.Contains(log, "|35=2|") && !strings.Contains(log, "35=2") {
		t.Errorf("brokerguard never asked jspurefix for a resend:\n%s", tail(log, 4000))
	}
	got := sink.got()
	var ids []string
	for _, e := range got {
		ids = append(ids, e["id"].(string))
	}
	if strings.Join(ids, " ") != strings.Join(wantIDs, " ") {
		t.Fatalf("events taken:\n %v\nwant\n %v\ninitiator log:\n%s", ids, wantIDs, tail(log, 4000))
	}
	if sink.calls <= len(wantIDs) {
		t.Errorf("%d calls for %d events: the failed one was not sent again", sink.calls, len(wantIDs))
	}
	first, _ := json.Marshal(got[0])
	if want := `{"account":"A0","account_type":"cash","id":"fix-FIRM-o00","order_id":"o00","price":1000,"quantity":100,"side":"buy","symbol":"1556","time":"2025-04-10T09:00:00+09:00","type":"order"}`; string(first) != want {
		t.Errorf("first event\n got %s\nwant %s", first, want)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
