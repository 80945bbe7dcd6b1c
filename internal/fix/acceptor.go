package fix

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// Sink takes one event of the contract as JSON. rejected is non-empty when the event was refused for
// what it holds (the text says why); err means it could not be taken now (the store is down or the
// server overloaded) and should be sent again later.
type Sink interface {
	Accept(ctx context.Context, event []byte) (rejected string, err error)
}

// Options configure an Acceptor.
type Options struct {
	BeginString string // FIX.4.4 when empty
	CompID      string // brokerguard's CompID: the firm's TargetCompID (required)
	PeerCompID  string // the firm's engine's SenderCompID (required)
	// Username and Password the firm's Logon must carry (553, 554); both empty: none checked.
	Username, Password string
	Mapping            Mapping
	Sink               Sink
	Seqs               SeqStore
	Now                func() time.Time // the wall clock, for SendingTime and heartbeats (required)
	Log                *slog.Logger
	// LogonTimeout bounds the wait for the Logon after a connection opens; 10 s when 0.
	LogonTimeout time.Duration
}

// Acceptor accepts the firm's drop-copy sessions.
type Acceptor struct {
	o Options

	mu     sync.Mutex
	active bool // a session is logged on
}

// New checks the options and returns an Acceptor.
func New(o Options) (*Acceptor, error) {
	if o.BeginString == "" {
		o.BeginString = "FIX.4.4"
	}
	switch {
	case o.CompID == "" || o.PeerCompID == "":
		return nil, errors.New("fix: both CompIDs are required (brokerguard's and the firm's engine's)")
	case o.Sink == nil || o.Seqs == nil || o.Now == nil:
		return nil, errors.New("fix: Sink, Seqs and Now are required")
	case (o.Username == "") != (o.Password == ""):
		return nil, errors.New("fix: give both a username and a password for the Logon, or neither")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.LogonTimeout <= 0 {
		o.LogonTimeout = 10 * time.Second
	}
	o.Mapping = o.Mapping.withDefaults()
	return &Acceptor{o: o}, nil
}

// Name is the session's name, as its sequence numbers are kept.
func (a *Acceptor) Name() string { return a.o.CompID + "-" + a.o.PeerCompID }

// Serve accepts connections on ln until ctx ends, one session at a time; a second connection that
// logs on while a session is active is logged out. It returns nil when ctx ends.
func (a *Acceptor) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("fix: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &session{a: a, conn: conn, w: bufio.NewWriter(conn), log: a.o.Log.With("fix_session", a.Name(), "remote", conn.RemoteAddr().String())}
			s.run(ctx)
		}()
	}
}

// session is one connection of the firm's engine.
type session struct {
	a    *Acceptor
	conn net.Conn
	w    *bufio.Writer
	log  *slog.Logger

	loggedOn     bool
	seqs         Seqs
	hb           time.Duration
	lastIn       time.Time
	lastOut      time.Time
	testReq      string // the TestReqID awaiting its Heartbeat
	testReqs     int
	resendTarget int // while > 0, a ResendRequest is out until the message of this number arrives
	// logonSeq is the number of a Logon that came with a gap, taken already: once the gap before it
	// is filled the session goes on after it, whether or not the peer sends it again.
	logonSeq int
}

type inbound struct {
	raw []byte
	err error
}

// errStop ends a session after a Logout was sent or received.
var errStop = errors.New("session ended")

func (s *session) run(ctx context.Context) {
	defer s.conn.Close()
	in := make(chan inbound)
	done := make(chan struct{})
	defer close(done)
	go func() {
		r := bufio.NewReaderSize(s.conn, 64<<10)
		for {
			raw, err := readMessage(r)
			select {
			case in <- inbound{raw, err}:
			case <-done:
				return
			}
			var g *GarbledError
			if err != nil && !errors.As(err, &g) {
				return
			}
		}
	}()
	logonBy := time.NewTimer(s.a.o.LogonTimeout)
	defer logonBy.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	defer s.release()
	for {
		select {
		case <-ctx.Done():
			if s.loggedOn {
				s.release()
				_ = s.send(msgLogout("brokerguard is shutting down"))
			}
			return
		case <-logonBy.C:
			if !s.loggedOn {
				s.log.Warn("fix: no Logon in time; connection closed", "timeout", s.a.o.LogonTimeout)
				return
			}
		case <-tick.C:
			if s.loggedOn && s.heartbeat() != nil {
				return
			}
		case m := <-in:
			var g *GarbledError
			if errors.As(m.err, &g) {
				s.log.Warn("fix: garbled message ignored", "reason", g.Reason)
				continue
			}
			if m.err != nil {
				if s.loggedOn {
					s.log.Info("fix: connection closed by the peer", "err", m.err, "next_in", s.seqs.In)
				}
				return
			}
			s.lastIn = s.a.o.Now()
			msg, err := Parse(m.raw)
			if err != nil {
				s.log.Warn("fix: garbled message ignored", "reason", err.Error())
				continue
			}
			if err := s.handle(ctx, &msg); err != nil {
				if !errors.Is(err, errStop) {
					s.log.Warn("fix: session ended", "err", err)
				}
				return
			}
		}
	}
}

// heartbeat sends a Heartbeat when nothing was sent for the interval, a TestRequest when nothing was
// received for it and a little more, and gives up after a second silent interval.
func (s *session) heartbeat() error {
	now := s.a.o.Now()
	if now.Sub(s.lastIn) > s.hb+s.hb/5 {
		if s.testReq != "" && now.Sub(s.lastIn) > 2*s.hb+s.hb/5 {
			s.release()
			_ = s.send(msgLogout("no answer to TestRequest " + s.testReq))
			s.log.Warn("fix: peer silent; session ended", "silent_for", now.Sub(s.lastIn))
			return errStop
		}
		if s.testReq == "" {
			s.testReqs++
			s.testReq = "TEST-" + strconv.Itoa(s.testReqs)
			return s.send([]Field{{tagMsgType, "1"}, {tagTestReqID, s.testReq}})
		}
	}
	if now.Sub(s.lastOut) >= s.hb {
		return s.send([]Field{{tagMsgType, "0"}})
	}
	return nil
}

func msgLogout(text string) []Field {
	return []Field{{tagMsgType, "5"}, {tagText, text}}
}

// send writes a message with the next outgoing number, kept before it is written.
func (s *session) send(fields []Field) error {
	seq := s.seqs.Out
	s.seqs.Out++
	if err := s.a.o.Seqs.Save(s.a.Name(), s.seqs); err != nil {
		return err
	}
	return s.write(seq, fields, false)
}

// write writes one message with number seq; possDup marks a message sent again (a gap fill).
func (s *session) write(seq int, fields []Field, possDup bool) error {
	now := s.a.o.Now()
	hdr := []Field{fields[0], {tagSenderCompID, s.a.o.CompID}, {tagTargetCompID, s.a.o.PeerCompID}, {tagMsgSeqNum, strconv.Itoa(seq)}}
	if possDup {
		hdr = append(hdr, Field{tagPossDupFlag, "Y"})
	}
	hdr = append(hdr, Field{tagSendingTime, utcTimestamp(now)})
	if possDup {
		hdr = append(hdr, Field{tagOrigSendingTime, utcTimestamp(now)})
	}
	all := append(hdr, fields[1:]...)
	_ = s.conn.SetWriteDeadline(now.Add(10 * time.Second))
	if _, err := s.w.Write(encode(s.a.o.BeginString, all)); err != nil {
		return err
	}
	s.lastOut = now
	return s.w.Flush()
}

func (s *session) reject(ref *Message, r *appReject) error {
	if r.session {
		f := []Field{{tagMsgType, "3"}, {tagRefSeqNum, strconv.Itoa(ref.Seq())}}
		if r.tag != 0 {
			f = append(f, Field{tagRefTagID, strconv.Itoa(r.tag)})
		}
		f = append(f, Field{tagRefMsgType, ref.Type()}, Field{tagSessionRejectReason, strconv.Itoa(r.reason)}, Field{tagText, r.text})
		return s.send(f)
	}
	f := []Field{{tagMsgType, "j"}, {tagRefSeqNum, strconv.Itoa(ref.Seq())}, {tagRefMsgType, ref.Type()}}
	if id := ref.Value(tagClOrdID); id != "" {
		f = append(f, Field{tagBusinessRejectRefID, id})
	}
	return s.send(append(f, Field{tagBusinessRejectReas, strconv.Itoa(r.reason)}, Field{tagText, r.text}))
}

// release lets another connection log on to the session, before the last message of this one is sent:
// the peer may reconnect as soon as it reads it.
func (s *session) release() {
	if s.loggedOn {
		s.a.mu.Lock()
		s.a.active = false
		s.a.mu.Unlock()
		s.loggedOn = false
	}
}

// logout sends a Logout naming why and ends the session.
func (s *session) logout(text string) error {
	s.log.Warn("fix: logging the session out", "reason", text)
	if !s.loggedOn {
		// A refused Logon does not move the session's numbers.
		_ = s.write(s.seqs.Out, msgLogout(text), false)
		return errStop
	}
	s.release()
	_ = s.send(msgLogout(text))
	return errStop
}

// advance takes the current message's number as received.
func (s *session) advance() error {
	s.seqs.In++
	return s.settle()
}

// settle steps over a Logon already taken, ends a resend that is complete, and keeps the numbers.
func (s *session) settle() error {
	if s.logonSeq > 0 && s.seqs.In >= s.logonSeq {
		if s.seqs.In == s.logonSeq {
			s.seqs.In++
		}
		s.logonSeq = 0
	}
	if s.resendTarget > 0 && s.seqs.In > s.resendTarget {
		s.resendTarget = 0
	}
	return s.a.o.Seqs.Save(s.a.Name(), s.seqs)
}

func (s *session) handle(ctx context.Context, m *Message) error {
	if !s.loggedOn {
		return s.logon(m)
	}
	if m.Value(tagBeginString) != s.a.o.BeginString {
		return s.logout(fmt.Sprintf("BeginString %q, want %q", m.Value(tagBeginString), s.a.o.BeginString))
	}
	if m.Value(tagSenderCompID) != s.a.o.PeerCompID || m.Value(tagTargetCompID) != s.a.o.CompID {
		_ = s.reject(m, &appReject{session: true, reason: rejCompIDProblem, text: "CompID problem"})
		return s.logout(fmt.Sprintf("CompIDs %s->%s, want %s->%s", m.Value(tagSenderCompID), m.Value(tagTargetCompID), s.a.o.PeerCompID, s.a.o.CompID))
	}
	seq := m.Seq()
	if seq == 0 {
		return s.logout("MsgSeqNum (34) missing or not a number")
	}
	t := m.Type()
	if t == "4" && m.Value(tagGapFillFlag) != "Y" {
		return s.sequenceReset(m)
	}
	switch {
	case seq > s.seqs.In:
		if s.resendTarget == 0 {
			s.resendTarget = seq
			s.log.Info("fix: gap in the peer's numbers; asking for a resend", "expected", s.seqs.In, "received", seq)
			return s.send([]Field{{tagMsgType, "2"}, {tagBeginSeqNo, strconv.Itoa(s.seqs.In)}, {tagEndSeqNo, "0"}})
		}
		return nil
	case seq < s.seqs.In:
		if m.Value(tagPossDupFlag) == "Y" {
			return nil // sent again, already taken
		}
		return s.logout(fmt.Sprintf("MsgSeqNum too low, expecting %d but received %d", s.seqs.In, seq))
	}
	switch t {
	case "0": // Heartbeat
		if id := m.Value(tagTestReqID); id != "" && id == s.testReq {
			s.testReq = ""
		}
	case "1": // TestRequest
		if err := s.send([]Field{{tagMsgType, "0"}, {tagTestReqID, m.Value(tagTestReqID)}}); err != nil {
			return err
		}
	case "2": // ResendRequest
		if err := s.gapFill(m); err != nil {
			return err
		}
	case "3": // Reject of one of ours
		s.log.Warn("fix: the peer rejected a message", "ref_seq", m.Value(tagRefSeqNum), "text", m.Value(tagText))
	case "4": // SequenceReset-GapFill
		n, err := strconv.Atoi(m.Value(tagNewSeqNo))
		if err != nil || n <= seq {
			if err := s.reject(m, &appReject{session: true, reason: rejValueIncorrect, tag: tagNewSeqNo,
				text: fmt.Sprintf("NewSeqNo (36) %q is not after MsgSeqNum %d", m.Value(tagNewSeqNo), seq)}); err != nil {
				return err
			}
			break
		}
		s.seqs.In = n
		return s.settle()
	case "5": // Logout
		_ = s.advance()
		s.release()
		_ = s.send(msgLogout("logout confirmed"))
		s.log.Info("fix: session logged out by the peer", "text", m.Value(tagText), "next_in", s.seqs.In)
		return errStop
	case "A":
		return s.logout("Logon received on a session already logged on")
	default:
		if err := s.application(ctx, m); err != nil {
			return err
		}
	}
	return s.advance()
}

// application hands an application message to the Sink. A message the Sink could not take now drops
// the connection without taking its number, so that the firm's engine reconnects and sends it again.
func (s *session) application(ctx context.Context, m *Message) error {
	raw, skip, rej := s.a.o.Mapping.toEvent(m, s.a.o.PeerCompID)
	if skip {
		return nil
	}
	if rej != nil {
		s.log.Warn("fix: message refused", "msg_type", m.Type(), "seq", m.Seq(), "reason", rej.text)
		return s.reject(m, rej)
	}
	refused, err := s.a.o.Sink.Accept(ctx, raw)
	if err != nil {
		// The connection is dropped without a Logout: an engine takes a Logout as the end of its
		// session for the day, and a lost connection as something to recover from by reconnecting.
		s.log.Error("fix: event not taken; connection dropped so that the peer reconnects and sends it again", "seq", m.Seq(), "err", err)
		return errStop
	}
	if refused != "" {
		s.log.Warn("fix: event refused", "msg_type", m.Type(), "seq", m.Seq(), "reason", refused)
		return s.reject(m, &appReject{reason: bizOther, text: refused})
	}
	return nil
}

// gapFill answers a ResendRequest. brokerguard sends only session messages and rejects, none worth
// sending again, so one SequenceReset-GapFill covers the whole range.
func (s *session) gapFill(m *Message) error {
	begin, err := strconv.Atoi(m.Value(tagBeginSeqNo))
	if err != nil || begin < 1 {
		return s.reject(m, &appReject{session: true, reason: rejValueIncorrect, tag: tagBeginSeqNo, text: fmt.Sprintf("BeginSeqNo (7) %q", m.Value(tagBeginSeqNo))})
	}
	if begin >= s.seqs.Out {
		s.log.Warn("fix: ResendRequest for messages not sent yet", "begin", begin, "next_out", s.seqs.Out)
		return nil
	}
	return s.write(begin, []Field{{tagMsgType, "4"}, {tagGapFillFlag, "Y"}, {tagNewSeqNo, strconv.Itoa(s.seqs.Out)}}, true)
}

// sequenceReset applies a SequenceReset in reset mode: the peer's next number is NewSeqNo, whatever
// the message's own number.
func (s *session) sequenceReset(m *Message) error {
	n, err := strconv.Atoi(m.Value(tagNewSeqNo))
	if err != nil || n < 1 {
		return s.reject(m, &appReject{session: true, reason: rejRequiredTagMissing, tag: tagNewSeqNo, text: "SequenceReset without a NewSeqNo (36)"})
	}
	if n < s.seqs.In {
		return s.reject(m, &appReject{session: true, reason: rejValueIncorrect, tag: tagNewSeqNo,
			text: fmt.Sprintf("NewSeqNo %d would move the sequence back from %d", n, s.seqs.In)})
	}
	s.log.Info("fix: sequence reset by the peer", "from", s.seqs.In, "to", n)
	s.seqs.In, s.resendTarget, s.logonSeq = n, 0, 0
	return s.a.o.Seqs.Save(s.a.Name(), s.seqs)
}

// logon checks the first message of a connection and answers it.
func (s *session) logon(m *Message) error {
	o := s.a.o
	if m.Type() != "A" {
		s.log.Warn("fix: first message is not a Logon; connection closed", "msg_type", m.Type())
		return errStop
	}
	if m.Value(tagBeginString) != o.BeginString || m.Value(tagSenderCompID) != o.PeerCompID || m.Value(tagTargetCompID) != o.CompID {
		s.log.Warn("fix: Logon for another session refused", "begin", m.Value(tagBeginString), "sender", m.Value(tagSenderCompID), "target", m.Value(tagTargetCompID))
		return errStop // unknown session: no answer, as engines do
	}
	var err error
	if s.seqs, err = o.Seqs.Load(s.a.Name()); err != nil {
		return err
	}
	hb, err := strconv.Atoi(m.Value(tagHeartBtInt))
	if err != nil || hb < 1 || hb > 3600 {
		return s.logout(fmt.Sprintf("Logon needs HeartBtInt (108) between 1 and 3600 seconds, got %q", m.Value(tagHeartBtInt)))
	}
	if o.Username != "" {
		u, p := m.Value(tagUsername), m.Value(tagPassword)
		if subtle.ConstantTimeCompare([]byte(u), []byte(o.Username))&subtle.ConstantTimeCompare([]byte(p), []byte(o.Password)) != 1 {
			return s.logout("Logon refused: wrong username or password")
		}
	}
	s.a.mu.Lock()
	if s.a.active {
		s.a.mu.Unlock()
		s.log.Warn("fix: second Logon while the session is active refused")
		return errStop
	}
	s.a.active = true
	s.a.mu.Unlock()
	s.loggedOn = true
	s.hb = time.Duration(hb) * time.Second
	seq := m.Seq()
	reset := m.Value(tagResetSeqNumFlag) == "Y"
	if reset {
		s.seqs = Seqs{In: 1, Out: 1}
	}
	reply := []Field{{tagMsgType, "A"}, {tagEncryptMethod, "0"}, {tagHeartBtInt, strconv.Itoa(hb)}}
	if reset {
		reply = append(reply, Field{tagResetSeqNumFlag, "Y"})
	}
	switch {
	case seq == 0:
		return s.logout("Logon without MsgSeqNum (34)")
	case seq < s.seqs.In:
		return s.logout(fmt.Sprintf("MsgSeqNum too low, expecting %d but received %d", s.seqs.In, seq))
	}
	if err := s.send(reply); err != nil {
		return err
	}
	s.log.Info("fix: session logged on", "next_in", s.seqs.In, "next_out", s.seqs.Out, "heartbeat", s.hb, "reset", reset)
	if seq > s.seqs.In {
		s.resendTarget, s.logonSeq = seq, seq
		s.log.Info("fix: gap at logon; asking for a resend", "expected", s.seqs.In, "received", seq)
		return s.send([]Field{{tagMsgType, "2"}, {tagBeginSeqNo, strconv.Itoa(s.seqs.In)}, {tagEndSeqNo, "0"}})
	}
	return s.advance()
}
