package app

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fix"
)

// TestFIXDecisionsEqualJSON sends a morning's orders, cancels and fills over the FIX drop copy and the
// rest of its events over HTTP, to serve on a SQLite store, and checks that every decision equals the
// decision replay gives the same events as JSON.
func TestFIXDecisionsEqualJSON(t *testing.T) {
	inTime, _ := lateMorning()
	dir := t.TempDir()
	// The reference log carries the ids the drop copy gives its events.
	var ref []string
	for _, line := range inTime {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		switch m["type"] {
		case "order":
			m["id"] = "fix-FIRM-" + m["order_id"].(string)
		case "execution":
			m["id"] = "fix-FIRM-exec-" + m["exec_id"].(string)
		}
		b, _ := json.Marshal(m)
		ref = append(ref, string(b))
	}
	logPath, decPath := filepath.Join(dir, "in-time.jsonl"), filepath.Join(dir, "decisions.jsonl")
	if err := os.WriteFile(logPath, []byte(strings.Join(ref, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := run(t, "replay", "--events", logPath, "--decisions", decPath, "--alerts", filepath.Join(dir, "a.jsonl"), "--no-store"); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut)
	}
	want := map[string]event.Decision{}
	b, err := os.ReadFile(decPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var d event.Decision
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		want[d.ID] = d
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fixAddr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.FIX = config.FIX{Listen: fixAddr, CompID: "BG", PeerCompID: "FIRM", Username: "dc", Password: "pw",
		Tags: config.FIXTags{Session: 20001, IP: 20002, Device: 20003, UserAgent: 20004, Channel: 20006}}
	srv := startTestServer(t, cfg)
	if srv.fixAddr != fixAddr {
		t.Fatalf("FIX acceptor at %q, want %q", srv.fixAddr, fixAddr)
	}
	call := func(method, path, body string) []byte {
		t.Helper()
		return srv.mustCall(method, path, body)
	}

	conn, err := net.Dial("tcp", fixAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	seq := 1
	send := func(fields ...fix.Field) {
		t.Helper()
		hdr := []fix.Field{fields[0], {Tag: 49, Value: "FIRM"}, {Tag: 56, Value: "BG"}, {Tag: 34, Value: strconv.Itoa(seq)},
			{Tag: 52, Value: time.Now().UTC().Format("20060102-15:04:05.000")}}
		seq++
		if _, err := conn.Write(fix.Encode("FIX.4.4", append(hdr, fields[1:]...))); err != nil {
			t.Fatal(err)
		}
	}
	// await reads brokerguard's messages until one of msgType with tag = value.
	await := func(msgType string, tag int, value string) {
		t.Helper()
		for {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			raw, err := fix.ReadMessage(r)
			if err != nil {
				t.Fatalf("waiting for %s: %v", msgType, err)
			}
			m, _ := fix.Parse(raw)
			if m.Type() == "3" || m.Type() == "j" {
				t.Fatalf("brokerguard rejected a message: %v", m.Fields)
			}
			if m.Type() == msgType && (tag == 0 || m.Value(tag) == value) {
				return
			}
		}
	}
	send(fix.Field{Tag: 35, Value: "A"}, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"}, fix.Field{Tag: 141, Value: "Y"},
		fix.Field{Tag: 553, Value: "dc"}, fix.Field{Tag: 554, Value: "pw"})
	await("A", 0, "")
	fixTime := func(s string) string {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC().Format("20060102-15:04:05.000")
	}
	side := map[string]string{"buy": "1", "sell": "2"}
	var fixOrders []string
	for i, line := range inTime {
		var e map[string]any
		json.Unmarshal([]byte(line), &e)
		str := func(k string) string { s, _ := e[k].(string); return s }
		num := func(k string) string { return strconv.FormatFloat(e[k].(float64), 'f', -1, 64) }
		switch str("type") {
		case "order":
			f := []fix.Field{{Tag: 35, Value: "D"}, {Tag: 11, Value: str("order_id")}, {Tag: 1, Value: str("account")}, {Tag: 55, Value: str("symbol")},
				{Tag: 54, Value: side[str("side")]}, {Tag: 60, Value: fixTime(str("time"))}, {Tag: 38, Value: num("quantity")}, {Tag: 40, Value: "1"},
				{Tag: 544, Value: "1"}, {Tag: 20001, Value: str("session")}, {Tag: 20002, Value: str("ip")}, {Tag: 20003, Value: str("device")},
				{Tag: 20004, Value: str("user_agent")}, {Tag: 20006, Value: str("channel")}}
			send(f...)
			fixOrders = append(fixOrders, "fix-FIRM-"+str("order_id"))
		case "execution":
			send(fix.Field{Tag: 35, Value: "8"}, fix.Field{Tag: 37, Value: "X" + str("order_id")}, fix.Field{Tag: 11, Value: str("order_id")},
				fix.Field{Tag: 17, Value: str("exec_id")}, fix.Field{Tag: 150, Value: "F"}, fix.Field{Tag: 39, Value: "2"}, fix.Field{Tag: 1, Value: str("account")},
				fix.Field{Tag: 55, Value: str("symbol")}, fix.Field{Tag: 54, Value: side[str("side")]}, fix.Field{Tag: 32, Value: num("quantity")},
				fix.Field{Tag: 31, Value: num("price")}, fix.Field{Tag: 12, Value: num("fee")}, fix.Field{Tag: 60, Value: fixTime(str("time"))})
		default:
			call("POST", "/v1/events", line)
			continue
		}
		// The session takes messages in order: the answer to a TestRequest sent after a message means
		// the message was taken.
		id := "sync-" + strconv.Itoa(i)
		send(fix.Field{Tag: 35, Value: "1"}, fix.Field{Tag: 112, Value: id})
		await("0", 112, id)
	}
	if len(fixOrders) != 4 {
		t.Fatalf("%d orders sent over FIX, want 4", len(fixOrders))
	}
	for _, id := range fixOrders {
		var got event.Decision
		if err := json.Unmarshal(call("GET", "/v1/decisions/"+id, ""), &got); err != nil {
			t.Fatal(err)
		}
		w, ok := want[id]
		if !ok {
			t.Fatalf("replay has no decision for %s", id)
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("decision of %s over FIX:\n got %s\nwant %s", id, gb, wb)
		}
	}
}
