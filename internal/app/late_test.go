package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/httpapi"
)

// lateMorning is one customer's events: four quiet days holding 1,000 7203, then on 2025-04-11 (JST) a
// login at 10:00, an order to buy 500 7203 at 10:00:30 and one to sell 1,000 at 10:01, executed at 10:02
// and 10:03, a small buy of a thin stock at 10:03:20, a logout at 10:03:30, a login at 10:04 and a sell
// of 500 7203 at 10:05. inTime is the log in time order; arrived is how the API receives it, with the
// buy's execution and the 10:03:20 buy after the logout.
func lateMorning() (inTime, arrived []string) {
	at := func(day, hh, mm, ss int) string {
		return time.Date(2025, 4, day, hh, mm, ss, 0, time.FixedZone("", 9*3600)).Format(time.RFC3339)
	}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
	var evs []string
	add := func(format string, args ...any) { evs = append(evs, fmt.Sprintf(format, args...)) }
	for d := 7; d <= 11; d++ {
		add(`{"id":"i%d","type":"instrument","time":"%s","symbol":"8012","market":"growth","lot":100,"shares_outstanding":9000000,"prev_close":200,"avg_daily_volume":30000}`, d, at(d, 8, 0, 0))
		add(`{"id":"j%d","type":"instrument","time":"%s","symbol":"7203","market":"prime","lot":100,"shares_outstanding":1500000000,"prev_close":3000,"avg_daily_volume":20000000}`, d, at(d, 8, 0, 0))
		if d == 7 {
			add(`{"id":"snap","type":"snapshot","time":"%s","account":"A","cash":5000000,"holdings":[{"symbol":"7203","quantity":1000,"cost":2500}],"opened":"2012-01-01","mfa":"sms_otp","notifications":true}`, at(7, 8, 30, 0))
		}
		add(`{"id":"l%d","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"s%d","ip":"153.1.4.9","device":"own","user_agent":"%s","country":"JP","channel":"web"}`, d, at(d, 10, 0, 0), d, ua)
	}
	order := func(id, session string, mm, ss int, sym, side string, qty int) string {
		return fmt.Sprintf(`{"id":"%s","type":"order","time":"%s","account":"A","order_id":"%s","session":"%s","ip":"153.1.4.9","device":"own","user_agent":"%s","symbol":"%s","side":"%s","quantity":%d,"account_type":"cash","channel":"web"}`,
			id, at(11, 10, mm, ss), id, session, ua, sym, side, qty)
	}
	exec := func(id, side string, mm, qty int) string {
		return fmt.Sprintf(`{"id":"%sx","type":"execution","time":"%s","account":"A","order_id":"%s","exec_id":"%sx","symbol":"7203","side":"%s","quantity":%d,"price":3000,"fee":0}`,
			id, at(11, 10, mm, 0), id, id, side, qty)
	}
	buy, sell := order("buy", "s11", 0, 30, "7203", "buy", 500), order("sell", "s11", 1, 0, "7203", "sell", 1000)
	buyx, sellx := exec("buy", "buy", 2, 500), exec("sell", "sell", 3, 1000)
	chk := order("chk", "s11", 3, 20, "8012", "buy", 100)
	out := fmt.Sprintf(`{"id":"out","type":"logout","time":"%s","account":"A","session":"s11"}`, at(11, 10, 3, 30))
	login := fmt.Sprintf(`{"id":"l11b","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"s11b","ip":"153.1.4.9","device":"own","user_agent":"%s","country":"JP","channel":"web"}`, at(11, 10, 4, 0), ua)
	next := order("next", "s11b", 5, 0, "7203", "sell", 500)
	inTime = append(append([]string{}, evs...), buy, sell, buyx, sellx, chk, out, login, next)
	arrived = append(append([]string{}, evs...), buy, sell, sellx, out, buyx, chk, login, next)
	return inTime, arrived
}

// TestServePutsLateEventsInTimeOrder sends an account's events to the API with two of them late, stops
// the server, and sends the last one to a server rebuilt from the store. The late order, and the sell
// after the restart (which depends on the late execution's place), are decided as replay decides the
// log in time order.
func TestServePutsLateEventsInTimeOrder(t *testing.T) {
	inTime, arrived := lateMorning()
	dir := t.TempDir()

	// Replay of the log in time order is the reference.
	logPath, decPath := filepath.Join(dir, "in-time.jsonl"), filepath.Join(dir, "decisions.jsonl")
	if err := os.WriteFile(logPath, []byte(strings.Join(inTime, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := run(t, "replay", "--events", logPath, "--decisions", decPath, "--alerts", filepath.Join(dir, "a.jsonl"),
		"--no-store"); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut)
	}
	want := map[string]event.Decision{}
	f, err := os.Open(decPath)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d event.Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		want[d.ID] = d
	}
	f.Close()

	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Server.Listen = "127.0.0.1:0"
	const key = "late-test-key-0123456789"
	start := func() (string, func()) {
		t.Helper()
		quiet := newLogger(io.Discard, cfg)
		p, err := buildEngineWith(cfg, quiet, engineWith{lateness: cfg.Lateness})
		if err != nil {
			t.Fatal(err)
		}
		st, _, err := openStore(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var k config.APIKey
		k.SetKey(key)
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := startServer(ctx, p, st, cfg, []httpapi.Key{{Name: "t", Role: httpapi.RoleAdmin, Hash: k.Hash()}}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return "http://" + srv.addr, func() { cancel(); srv.wait(); st.Close(); p.Close() }
	}
	post := func(url, body string) event.Decision {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Status   string
			Decision *event.Decision
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %v", body[:40], resp.StatusCode, err)
		}
		if r.Decision == nil {
			return event.Decision{}
		}
		return *r.Decision
	}

	url, stop := start()
	got := map[string]event.Decision{}
	for _, line := range arrived[:len(arrived)-1] {
		d := post(url, line)
		got[d.ID] = d
	}
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "brokerguard_late_events_total 2\n") {
		t.Errorf("metrics do not count the two late events:\n%s", grepLines(string(metrics), "late"))
	}
	stop()

	url, stop = start()
	defer stop()
	got["next"] = post(url, arrived[len(arrived)-1])

	for _, id := range []string{"buy", "sell", "chk", "next"} {
		g, w := got[id], want[id]
		if g.Action != w.Action || g.Score != w.Score || !reflect.DeepEqual(g.Reasons, w.Reasons) {
			t.Errorf("%s: served %s %d %v; replay in time order %s %d %v", id, g.Action, g.Score, g.Reasons, w.Action, w.Score, w.Reasons)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
