// Package fix is brokerguard's FIX 4.4 drop-copy acceptor: the session layer (logon with credentials,
// heartbeats and test requests, sequence numbers kept on disk, resend requests and gap fills, sequence
// resets, logout; body length and checksum verified) and the mapping of NewOrderSingle,
// OrderCancelRequest and ExecutionReport to the event contract's order, cancel and execution events.
// Each application message is handed to a Sink (the same ingest path as the HTTP API) and its sequence
// number is kept only once the Sink has accepted it, so that a message the store did not take is sent
// again by the firm's engine after a reconnect.
package fix

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// soh separates fields.
const soh = '\x01'

// Field is one tag=value pair.
type Field struct {
	Tag   int
	Value string
}

// Message is a FIX message: its fields in order, header and trailer included.
type Message struct {
	Fields []Field
}

// Get returns the value of the first field with tag.
func (m *Message) Get(tag int) (string, bool) {
	for _, f := range m.Fields {
		if f.Tag == tag {
			return f.Value, true
		}
	}
	return "", false
}

// Value returns the value of tag, or "".
func (m *Message) Value(tag int) string {
	v, _ := m.Get(tag)
	return v
}

// Type returns MsgType (35).
func (m *Message) Type() string { return m.Value(tagMsgType) }

// Seq returns MsgSeqNum (34), 0 when missing or not a number.
func (m *Message) Seq() int {
	n, err := strconv.Atoi(m.Value(tagMsgSeqNum))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Tags of the standard header, trailer and session messages.
const (
	tagBeginString         = 8
	tagBodyLength          = 9
	tagCheckSum            = 10
	tagMsgType             = 35
	tagMsgSeqNum           = 34
	tagSenderCompID        = 49
	tagTargetCompID        = 56
	tagSendingTime         = 52
	tagPossDupFlag         = 43
	tagOrigSendingTime     = 122
	tagText                = 58
	tagBeginSeqNo          = 7
	tagEndSeqNo            = 16
	tagNewSeqNo            = 36
	tagGapFillFlag         = 123
	tagTestReqID           = 112
	tagEncryptMethod       = 98
	tagHeartBtInt          = 108
	tagResetSeqNumFlag     = 141
	tagUsername            = 553
	tagPassword            = 554
	tagRefSeqNum           = 45
	tagRefTagID            = 371
	tagRefMsgType          = 372
	tagSessionRejectReason = 373
	tagBusinessRejectRefID = 379
	tagBusinessRejectReas  = 380
)

// GarbledError is a message that cannot be trusted: malformed framing, a wrong body length or checksum.
// A session ignores it (FIX's rule for garbled messages); the gap it leaves is filled by a resend.
type GarbledError struct{ Reason string }

func (e *GarbledError) Error() string { return "garbled FIX message: " + e.Reason }

// maxBody bounds a message body; a larger BodyLength is garbled.
const maxBody = 64 << 10

// readMessage reads one message from r: BeginString, BodyLength, the body and the CheckSum, and
// verifies the two. It returns the raw bytes. An error other than *GarbledError is the connection's.
func readMessage(r *bufio.Reader) ([]byte, error) {
	// Skip anything before "8=" (garbage between messages).
	var buf bytes.Buffer
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b != '8' {
			continue
		}
		next, err := r.Peek(1)
		if err != nil {
			return nil, err
		}
		if next[0] == '=' {
			buf.WriteByte(b)
			break
		}
	}
	begin, err := r.ReadBytes(soh)
	if err != nil {
		return nil, err
	}
	buf.Write(begin)
	if len(begin) > 32 {
		return nil, &GarbledError{"BeginString too long"}
	}
	lenField, err := r.ReadBytes(soh)
	if err != nil {
		return nil, err
	}
	buf.Write(lenField)
	if !bytes.HasPrefix(lenField, []byte("9=")) {
		return nil, &GarbledError{"BodyLength (9) does not follow BeginString (8)"}
	}
	n, err := strconv.Atoi(string(lenField[2 : len(lenField)-1]))
	if err != nil || n <= 0 || n > maxBody {
		return nil, &GarbledError{fmt.Sprintf("BodyLength %q is not a length up to %d", lenField[2:len(lenField)-1], maxBody)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	buf.Write(body)
	if body[n-1] != soh {
		return nil, &GarbledError{fmt.Sprintf("BodyLength %d does not end at a field boundary", n)}
	}
	trailer := make([]byte, 7) // 10=NNN<SOH>
	if _, err := io.ReadFull(r, trailer); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(trailer, []byte("10=")) || trailer[6] != soh {
		return nil, &GarbledError{fmt.Sprintf("BodyLength %d is wrong: no CheckSum (10) after the body", n)}
	}
	want, err := strconv.Atoi(string(trailer[3:6]))
	if err != nil {
		return nil, &GarbledError{fmt.Sprintf("CheckSum %q is not three digits", trailer[3:6])}
	}
	if got := checksum(buf.Bytes()); got != want {
		return nil, &GarbledError{fmt.Sprintf("CheckSum %03d, computed %03d", want, got)}
	}
	buf.Write(trailer)
	return buf.Bytes(), nil
}

// checksum is the sum of the bytes modulo 256.
func checksum(b []byte) int {
	var s int
	for _, c := range b {
		s += int(c)
	}
	return s % 256
}

// Parse splits a verified raw message into its fields.
func Parse(raw []byte) (Message, error) {
	var m Message
	for len(raw) > 0 {
		end := bytes.IndexByte(raw, soh)
		if end < 0 {
			return m, &GarbledError{"a field does not end with SOH"}
		}
		f := raw[:end]
		raw = raw[end+1:]
		eq := bytes.IndexByte(f, '=')
		if eq <= 0 {
			return m, &GarbledError{fmt.Sprintf("field %q has no tag", f)}
		}
		tag, err := strconv.Atoi(string(f[:eq]))
		if err != nil || tag <= 0 {
			return m, &GarbledError{fmt.Sprintf("field %q: tag is not a positive number", f)}
		}
		m.Fields = append(m.Fields, Field{tag, string(f[eq+1:])})
	}
	if len(m.Fields) < 4 || m.Fields[0].Tag != tagBeginString || m.Fields[1].Tag != tagBodyLength || m.Fields[2].Tag != tagMsgType {
		return m, &GarbledError{"the message does not start with 8, 9 and 35"}
	}
	return m, nil
}

// encode builds a message of begin string, with BodyLength and CheckSum computed. fields start with
// MsgType and do not hold 8, 9 or 10.
func encode(begin string, fields []Field) []byte {
	var body bytes.Buffer
	for _, f := range fields {
		body.WriteString(strconv.Itoa(f.Tag))
		body.WriteByte('=')
		body.WriteString(f.Value)
		body.WriteByte(soh)
	}
	var out bytes.Buffer
	out.WriteString("8=" + begin + "\x01")
	out.WriteString("9=" + strconv.Itoa(body.Len()) + "\x01")
	out.Write(body.Bytes())
	fmt.Fprintf(&out, "10=%03d\x01", checksum(out.Bytes()))
	return out.Bytes()
}

// Encode builds a message: BeginString begin, then fields (MsgType first; no 8, 9 or 10), with
// BodyLength and CheckSum computed. Tools and tests that play the firm's engine use it.
func Encode(begin string, fields []Field) []byte { return encode(begin, fields) }

// ReadMessage reads and verifies one message from r, as the acceptor does; see Parse.
func ReadMessage(r *bufio.Reader) ([]byte, error) { return readMessage(r) }
