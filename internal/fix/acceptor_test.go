package fix

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Sink that keeps the events it takes, refuses those whose order id starts with "bad",
// and fails while down is set.
type recorder struct {
	mu     sync.Mutex
	events []map[string]any
	ids    map[string]bool
	down   bool
}

func (r *recorder) Accept(_ context.Context, ev []byte) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return "", errors.New("store unavailable")
	}
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		return "", err
	}
	if strings.HasPrefix(m["order_id"].(string), "bad") {
		return "field \"order_id\": not allowed", nil
	}
	if r.ids == nil {
		r.ids = map[string]bool{}
	}
	if !r.ids[m["id"].(string)] { // duplicates by id are ignored, as ingest does
		r.ids[m["id"].(string)] = true
		r.events = append(r.events, m)
	}
	return "", nil
}

func (r *recorder) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.events...)
}

func (r *recorder) setDown(v bool) {
	r.mu.Lock()
	r.down = v
	r.mu.Unlock()
}

type fixture struct {
	t    *testing.T
	addr string
	sink *recorder
	seqs FileSeqs
}

func start(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, sink: &recorder{}, seqs: FileSeqs{Dir: t.TempDir()}}
	a, err := New(Options{CompID: "BROKERGUARD", PeerCompID: "FIRM", Username: "dropcopy", Password: "s3cret",
		Mapping: Mapping{SessionTag: 20001, IPTag: 20002, DeviceTag: 20003, DefaultChannel: "web"},
		Sink:    f.sink, Seqs: f.seqs, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

// peer is the firm's engine, written by hand so that each test can break the protocol on purpose.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	seq  int
}

func (f *fixture) dial() *peer {
	f.t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return &peer{t: f.t, conn: c, r: bufio.NewReader(c), seq: 1}
}

// sendAt sends a message with number seq and the given body fields (MsgType first).
func (p *peer) sendAt(seq int, fields ...Field) {
	p.t.Helper()
	hdr := []Field{fields[0], {tagSenderCompID, "FIRM"}, {tagTargetCompID, "BROKERGUARD"}, {tagMsgSeqNum, strconv.Itoa(seq)},
		{tagSendingTime, utcTimestamp(time.Now())}}
	if _, err := p.conn.Write(encode("FIX.4.4", append(hdr, fields[1:]...))); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) send(fields ...Field) {
	p.t.Helper()
	p.sendAt(p.seq, fields...)
	p.seq++
}

// next returns the next message brokerguard sends, skipping heartbeats.
func (p *peer) next() Message {
	p.t.Helper()
	for {
		p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		raw, err := readMessage(p.r)
		if err != nil {
			p.t.Fatalf("reading brokerguard's next message: %v", err)
		}
		m, err := Parse(raw)
		if err != nil {
			p.t.Fatal(err)
		}
		if m.Type() != "0" {
			return m
		}
	}
}

func (p *peer) expect(msgType string) Message {
	p.t.Helper()
	m := p.next()
	if m.Type() != msgType {
		p.t.Fatalf("got %s (%v), want MsgType %s", m.Type(), m.Fields, msgType)
	}
	return m
}

func (p *peer) logon(extra ...Field) Message {
	p.t.Helper()
	p.send(append([]Field{{tagMsgType, "A"}, {tagEncryptMethod, "0"}, {tagHeartBtInt, "30"}, {tagUsername, "dropcopy"}, {tagPassword, "s3cret"}}, extra...)...)
	return p.expect("A")
}

func order(id, account, side, qty, price string) []Field {
	return []Field{{tagMsgType, "D"}, {tagClOrdID, id}, {tagAccount, account}, {tagSymbol, "1556"}, {tagSide, side},
		{tagTransactTime, "20250410-00:15:02.250"}, {tagOrderQty, qty}, {tagOrdType, "2"}, {tagPrice, price}, {tagCashMargin, "2"},
		{20001, "s-1"}, {20002, "203.0.113.9"}, {20003, "d-9"}}
}

func fill(execID, clOrdID, qty, px string) []Field {
	return []Field{{tagMsgType, "8"}, {37, "X" + clOrdID}, {tagClOrdID, clOrdID}, {tagExecID, execID}, {tagExecType, "F"}, {39, "2"},
		{tagAccount, "A1"}, {tagSymbol, "1556"}, {tagSide, "1"}, {tagLastQty, qty}, {tagLastPx, px}, {tagCommission, "0"},
		{tagTransactTime, "20250410-00:15:03"}}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestOrdersAndFillsBecomeEvents(t *testing.T) {
	f := start(t)
	p := f.dial()
	p.logon(Field{tagResetSeqNumFlag, "Y"})
	p.send(order("o1", "A1", "1", "300", "1234.5")...)
	p.send(fill("x1", "o1", "100", "1234.5")...)
	p.send(Field{tagMsgType, "8"}, Field{tagClOrdID, "o1"}, Field{tagExecID, "x0"}, Field{tagExecType, "0"}, Field{tagAccount, "A1"}) // New: no event
	p.send(Field{tagMsgType, "F"}, Field{tagClOrdID, "c1"}, Field{tagOrigClOrdID, "o1"}, Field{tagAccount, "A1"}, Field{tagSymbol, "1556"},
		Field{tagSide, "1"}, Field{tagTransactTime, "20250410-00:16:00"}, Field{20001, "s-1"})
	waitFor(t, func() bool { return len(f.sink.got()) == 3 }, "3 events")
	got := f.sink.got()
	want := []string{
		`{"account":"A1","account_type":"margin","channel":"web","device":"d-9","id":"fix-FIRM-o1","ip":"203.0.113.9","order_id":"o1","price":1234.5,"quantity":300,"session":"s-1","side":"buy","symbol":"1556","time":"2025-04-10T09:15:02.25+09:00","type":"order"}`,
		`{"account":"A1","exec_id":"x1","fee":0,"id":"fix-FIRM-exec-x1","order_id":"o1","price":1234.5,"quantity":100,"side":"buy","symbol":"1556","time":"2025-04-10T09:15:03+09:00","type":"execution"}`,
		`{"account":"A1","id":"fix-FIRM-cancel-c1","order_id":"o1","session":"s-1","time":"2025-04-10T09:16:00+09:00","type":"cancel"}`,
	}
	for i, w := range want {
		b, _ := json.Marshal(got[i])
		if string(b) != w {
			t.Errorf("event %d:\n got %s\nwant %s", i, b, w)
		}
	}
	p.send(Field{tagMsgType, "5"})
	p.expect("5")
	s, err := f.seqs.Load("BROKERGUARD-FIRM")
	if err != nil || s.In != 7 {
		t.Fatalf("kept numbers %+v (%v), want next_in 7 after 6 messages", s, err)
	}
}

func TestLogonRefused(t *testing.T) {
	f := start(t)
	p := f.dial()
	p.send(Field{tagMsgType, "A"}, Field{tagEncryptMethod, "0"}, Field{tagHeartBtInt, "30"}, Field{tagUsername, "dropcopy"}, Field{tagPassword, "guess"})
	if m := p.expect("5"); !strings.Contains(m.Value(tagText), "wrong username or password") {
		t.Fatalf("Logout text %q", m.Value(tagText))
	}
	p = f.dial()
	p.send(Field{tagMsgType, "A"}, Field{tagEncryptMethod, "0"}, Field{tagUsername, "dropcopy"}, Field{tagPassword, "s3cret"})
	if m := p.expect("5"); !strings.Contains(m.Value(tagText), "HeartBtInt") {
		t.Fatalf("Logout text %q", m.Value(tagText))
	}
}

func TestBadMessagesAreRejectedAndNothingElseIsLost(t *testing.T) {
	f := start(t)
	p := f.dial()
	p.logon(Field{tagResetSeqNumFlag, "Y"})
	noSymbol := order("o2", "A1", "1", "100", "10")
	noSymbol = append(noSymbol[:3], noSymbol[4:]...)
	p.send(noSymbol...)
	if m := p.expect("3"); m.Value(tagRefTagID) != "55" || m.Value(tagSessionRejectReason) != "1" || m.Value(tagRefSeqNum) != "2" {
		t.Fatalf("Reject %v, want tag 55 missing for seq 2", m.Fields)
	}
	p.send(Field{tagMsgType, "ZZ"}, Field{tagClOrdID, "z"})
	if m := p.expect("j"); m.Value(tagBusinessRejectReas) != "3" || !strings.Contains(m.Value(tagText), `"ZZ"`) {
		t.Fatalf("BusinessMessageReject %v", m.Fields)
	}
	p.send(order("bad1", "A1", "1", "100", "10")...)
	if m := p.expect("j"); !strings.Contains(m.Value(tagText), "order_id") || m.Value(tagBusinessRejectRefID) != "bad1" {
		t.Fatalf("BusinessMessageReject %v", m.Fields)
	}
	p.send(order("o3", "A1", "7", "100", "10")...) // side 7
	if m := p.expect("3"); m.Value(tagRefTagID) != "54" {
		t.Fatalf("Reject %v, want Side", m.Fields)
	}
	// A garbled message (checksum wrong) is ignored; the next good one shows the gap, which is asked
	// for again and filled.
	raw := encode("FIX.4.4", []Field{{tagMsgType, "D"}, {tagSenderCompID, "FIRM"}, {tagTargetCompID, "BROKERGUARD"}, {tagMsgSeqNum, strconv.Itoa(p.seq)}})
	raw[len(raw)-2] = '9'
	raw[len(raw)-3] = '9'
	p.conn.Write(raw)
	garbledSeq := p.seq
	p.seq++
	p.send(order("o4", "A1", "1", "100", "10")...)
	rr := p.expect("2")
	if rr.Value(tagBeginSeqNo) != strconv.Itoa(garbledSeq) || rr.Value(tagEndSeqNo) != "0" {
		t.Fatalf("ResendRequest %v, want from %d", rr.Fields, garbledSeq)
	}
	p.sendAt(garbledSeq, append(order("o5", "A1", "1", "100", "10"), Field{tagPossDupFlag, "Y"})...)
	p.sendAt(garbledSeq+1, append(order("o4", "A1", "1", "100", "10"), Field{tagPossDupFlag, "Y"})...)
	waitFor(t, func() bool { return len(f.sink.got()) == 2 }, "o5 and o4")
	if got := f.sink.got(); got[0]["order_id"] != "o5" || got[1]["order_id"] != "o4" {
		t.Fatalf("events %v, want o5 then o4", got)
	}
	// Too low without PossDup ends the session.
	p.sendAt(3, order("o6", "A1", "1", "100", "10")...)
	if m := p.expect("5"); !strings.Contains(m.Value(tagText), "MsgSeqNum too low") {
		t.Fatalf("Logout %v", m.Fields)
	}
}

// TestStoreDownThenResend: an order the Sink cannot take drops the connection without taking its number;
// after reconnecting the acceptor asks for it, and it is taken.
func TestStoreDownThenResend(t *testing.T) {
	f := start(t)
	p := f.dial()
	p.logon(Field{tagResetSeqNumFlag, "Y"})
	p.send(order("o1", "A1", "1", "100", "10")...)
	waitFor(t, func() bool { return len(f.sink.got()) == 1 }, "o1")
	f.sink.setDown(true)
	p.send(order("o2", "A1", "1", "100", "10")...) // seq 3
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if raw, err := readMessage(p.r); err == nil {
		t.Fatalf("got %q, want the connection dropped", raw)
	}
	p.conn.Close()
	f.sink.setDown(false)

	q := f.dial()
	q.seq = 4 // the engine goes on from its own numbers
	q.logon()
	rr := q.expect("2")
	if rr.Value(tagBeginSeqNo) != "3" {
		t.Fatalf("ResendRequest %v, want from 3", rr.Fields)
	}
	q.sendAt(3, append(order("o2", "A1", "1", "100", "10"), Field{tagPossDupFlag, "Y"})...)
	q.sendAt(4, Field{tagMsgType, "4"}, Field{tagPossDupFlag, "Y"}, Field{tagGapFillFlag, "Y"}, Field{tagNewSeqNo, "5"}) // the Logon, filled
	q.seq = 5
	q.send(order("o3", "A1", "2", "100", "10")...)
	waitFor(t, func() bool { return len(f.sink.got()) == 3 }, "o2 and o3")
	// brokerguard's own numbers went on across the connection: a ResendRequest gets one gap fill.
	q.send(Field{tagMsgType, "2"}, Field{tagBeginSeqNo, "1"}, Field{tagEndSeqNo, "0"})
	gf := q.expect("4")
	if gf.Value(tagGapFillFlag) != "Y" || gf.Value(tagPossDupFlag) != "Y" || gf.Value(tagMsgSeqNum) != "1" {
		t.Fatalf("gap fill %v", gf.Fields)
	}
	// Sent so far: the Logon answers of both connections and the ResendRequest.
	if n, _ := strconv.Atoi(gf.Value(tagNewSeqNo)); n != 4 {
		t.Fatalf("gap fill to %d, want 4, past the three messages sent", n)
	}
	// TestRequest is answered.
	q.send(Field{tagMsgType, "1"}, Field{tagTestReqID, "ping-1"})
	for {
		q.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		raw, err := readMessage(q.r)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := Parse(raw)
		if m.Type() == "0" && m.Value(tagTestReqID) == "ping-1" {
			break
		}
	}
}

func TestReadMessageGarbled(t *testing.T) {
	good := encode("FIX.4.4", []Field{{tagMsgType, "0"}, {tagSenderCompID, "A"}, {tagTargetCompID, "B"}, {tagMsgSeqNum, "1"}})
	cases := map[string]string{
		"checksum":    strings.Replace(string(good), "10=", "10=0", 1)[:len(good)],
		"body length": shortBody(string(good)),
		"no length":   "8=FIX.4.4\x0135=0\x01",
	}
	for name, raw := range cases {
		_, err := readMessage(bufio.NewReader(strings.NewReader(raw)))
		var g *GarbledError
		if !errors.As(err, &g) {
			t.Errorf("%s: got %v, want a GarbledError", name, err)
		}
	}
	if _, err := readMessage(bufio.NewReader(strings.NewReader("junk" + string(good)))); err != nil {
		t.Errorf("a good message after junk: %v", err)
	}
}

// shortBody returns raw with a BodyLength 3 bytes short.
func shortBody(raw string) string {
	i := strings.Index(raw, "\x019=") + 3
	j := i + strings.IndexByte(raw[i:], '\x01')
	n, _ := strconv.Atoi(raw[i:j])
	return raw[:i] + strconv.Itoa(n-3) + raw[j:]
}
