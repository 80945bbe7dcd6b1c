package fix

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Mapping says where the event contract's fields are in the firm's FIX messages. The order, session,
// address and device of an order are not standard FIX fields: the firm's web tier puts them in custom
// tags of the drop copy, named here (0: not sent).
type Mapping struct {
	AccountTag     int // the account; default 1 (Account)
	SessionTag     int
	IPTag          int
	DeviceTag      int
	UserAgentTag   int
	TLSTag         int
	ChannelTag     int
	DefaultChannel string // the channel of an order without ChannelTag: web, app, api or phone; "" = none
	// Location is the zone event times are written in; nil = Asia/Tokyo (JST).
	Location *time.Location
}

func (m Mapping) withDefaults() Mapping {
	if m.AccountTag == 0 {
		m.AccountTag = 1
	}
	if m.Location == nil {
		m.Location = time.FixedZone("JST", 9*3600)
	}
	return m
}

// appReject is why an application message cannot become an event.
type appReject struct {
	session bool // a session-level Reject (35=3) rather than a BusinessMessageReject (35=j)
	reason  int  // SessionRejectReason (373) or BusinessRejectReason (380)
	tag     int  // the field at fault, 0 for none
	text    string
}

// Session reject reasons (373) and business reject reasons (380) brokerguard sends.
const (
	rejRequiredTagMissing = 1
	rejValueIncorrect     = 5
	rejIncorrectFormat    = 6
	rejCompIDProblem      = 9
	rejSendingTime        = 10
	rejInvalidMsgType     = 11

	bizOther              = 0
	bizUnsupportedMsgType = 3
	bizApplicationDown    = 4
	bizCondRequiredField  = 5
)

// Tags of the application messages brokerguard maps.
const (
	tagAccount      = 1
	tagClOrdID      = 11
	tagCommission   = 12
	tagExecID       = 17
	tagLastPx       = 31
	tagLastQty      = 32
	tagOrderQty     = 38
	tagOrdType      = 40
	tagOrigClOrdID  = 41
	tagPrice        = 44
	tagSide         = 54
	tagSymbol       = 55
	tagTransactTime = 60
	tagExecType     = 150
	tagCashMargin   = 544
)

// wire is an event of the contract as the decoder takes it.
type wire struct {
	ID          string   `json:"id"`
	Type        string   `json:"type"`
	Time        string   `json:"time"`
	Account     string   `json:"account"`
	OrderID     string   `json:"order_id"`
	ExecID      string   `json:"exec_id,omitempty"`
	Session     string   `json:"session,omitempty"`
	IP          string   `json:"ip,omitempty"`
	Device      string   `json:"device,omitempty"`
	UserAgent   string   `json:"user_agent,omitempty"`
	TLS         string   `json:"tls,omitempty"`
	Symbol      string   `json:"symbol,omitempty"`
	Side        string   `json:"side,omitempty"`
	Quantity    int64    `json:"quantity,omitempty"`
	Price       *float64 `json:"price,omitempty"`
	Fee         *float64 `json:"fee,omitempty"`
	AccountType string   `json:"account_type,omitempty"`
	Channel     string   `json:"channel,omitempty"`
}

// toEvent maps an application message of the session with the firm's engine sender to an event of the
// contract (JSON). skip is true for a message that carries no event (an ExecutionReport that is not a
// fill); a non-nil reject says what is wrong with it.
func (mp Mapping) toEvent(m *Message, sender string) (raw []byte, skip bool, rej *appReject) {
	get := func(tag int, what string) (string, *appReject) {
		v, ok := m.Get(tag)
		if !ok || v == "" {
			return "", &appReject{session: true, reason: rejRequiredTagMissing, tag: tag, text: fmt.Sprintf("required tag %d (%s) missing", tag, what)}
		}
		return v, nil
	}
	var w wire
	var r *appReject
	switch m.Type() {
	case "D":
		w.Type = "order"
		if w.OrderID, r = get(tagClOrdID, "ClOrdID"); r != nil {
			return nil, false, r
		}
		w.ID = "fix-" + sender + "-" + w.OrderID
		if w.Symbol, r = get(tagSymbol, "Symbol"); r != nil {
			return nil, false, r
		}
		if w.Side, r = side(m); r != nil {
			return nil, false, r
		}
		if w.Quantity, r = quantity(m, tagOrderQty, "OrderQty"); r != nil {
			return nil, false, r
		}
		ordType := m.Value(tagOrdType)
		if p, ok := m.Get(tagPrice); ok && ordType != "1" {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f <= 0 || math.IsInf(f, 0) {
				return nil, false, &appReject{session: true, reason: rejIncorrectFormat, tag: tagPrice, text: fmt.Sprintf("Price (44) %q is not a positive price", p)}
			}
			w.Price = &f
		} else if ordType == "2" {
			return nil, false, &appReject{reason: bizCondRequiredField, tag: tagPrice, text: "a limit order (40=2) without Price (44)"}
		}
		switch m.Value(tagCashMargin) {
		case "1":
			w.AccountType = "cash"
		case "2", "3":
			w.AccountType = "margin"
		}
		w.Channel = mp.DefaultChannel
		if mp.ChannelTag != 0 {
			if c := m.Value(mp.ChannelTag); c != "" {
				w.Channel = c
			}
		}
		w.IP, w.Device, w.UserAgent, w.TLS = mp.custom(m, mp.IPTag), mp.custom(m, mp.DeviceTag), mp.custom(m, mp.UserAgentTag), mp.custom(m, mp.TLSTag)
	case "F":
		w.Type = "cancel"
		if w.OrderID, r = get(tagOrigClOrdID, "OrigClOrdID"); r != nil {
			return nil, false, r
		}
		id, r := get(tagClOrdID, "ClOrdID")
		if r != nil {
			return nil, false, r
		}
		w.ID = "fix-" + sender + "-cancel-" + id
	case "8":
		switch m.Value(tagExecType) {
		case "F", "1", "2": // a trade (4.4), a partial fill or a fill (4.2)
		default:
			return nil, true, nil
		}
		w.Type = "execution"
		if w.ExecID, r = get(tagExecID, "ExecID"); r != nil {
			return nil, false, r
		}
		w.ID = "fix-" + sender + "-exec-" + w.ExecID
		if w.OrderID, r = get(tagClOrdID, "ClOrdID"); r != nil {
			return nil, false, r
		}
		if w.Symbol, r = get(tagSymbol, "Symbol"); r != nil {
			return nil, false, r
		}
		if w.Side, r = side(m); r != nil {
			return nil, false, r
		}
		if w.Quantity, r = quantity(m, tagLastQty, "LastQty"); r != nil {
			return nil, false, r
		}
		px, r := get(tagLastPx, "LastPx")
		if r != nil {
			return nil, false, r
		}
		f, err := strconv.ParseFloat(px, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return nil, false, &appReject{session: true, reason: rejIncorrectFormat, tag: tagLastPx, text: fmt.Sprintf("LastPx (31) %q is not a positive price", px)}
		}
		w.Price = &f
		fee := 0.0
		if c, ok := m.Get(tagCommission); ok {
			if fee, err = strconv.ParseFloat(c, 64); err != nil || fee < 0 || math.IsInf(fee, 0) {
				return nil, false, &appReject{session: true, reason: rejIncorrectFormat, tag: tagCommission, text: fmt.Sprintf("Commission (12) %q is not an amount", c)}
			}
		}
		w.Fee = &fee
	default:
		return nil, false, &appReject{reason: bizUnsupportedMsgType, text: fmt.Sprintf("MsgType %q is not taken by brokerguard's drop copy (D, F and 8 are)", m.Type())}
	}
	if w.Account, r = get(mp.AccountTag, "the account"); r != nil {
		return nil, false, r
	}
	if w.Type != "execution" {
		w.Session = mp.custom(m, mp.SessionTag)
	}
	t, r := transactTime(m)
	if r != nil {
		return nil, false, r
	}
	w.Time = t.In(mp.Location).Format("2006-01-02T15:04:05.999999999Z07:00")
	b, err := json.Marshal(w)
	if err != nil {
		return nil, false, &appReject{reason: bizOther, text: err.Error()}
	}
	return b, false, nil
}

func (mp Mapping) custom(m *Message, tag int) string {
	if tag == 0 {
		return ""
	}
	return m.Value(tag)
}

func side(m *Message) (string, *appReject) {
	switch v := m.Value(tagSide); v {
	case "1":
		return "buy", nil
	case "2", "5", "6": // sell, sell short, sell short exempt
		return "sell", nil
	case "":
		return "", &appReject{session: true, reason: rejRequiredTagMissing, tag: tagSide, text: "required tag 54 (Side) missing"}
	default:
		return "", &appReject{session: true, reason: rejValueIncorrect, tag: tagSide, text: fmt.Sprintf("Side (54) %q is neither buy (1) nor sell (2, 5, 6)", v)}
	}
}

// quantity reads a whole number of shares; FIX writes quantities as decimals ("100" or "100.0").
func quantity(m *Message, tag int, name string) (int64, *appReject) {
	v, ok := m.Get(tag)
	if !ok || v == "" {
		return 0, &appReject{session: true, reason: rejRequiredTagMissing, tag: tag, text: fmt.Sprintf("required tag %d (%s) missing", tag, name)}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f != math.Trunc(f) || f > 1e12 {
		return 0, &appReject{session: true, reason: rejIncorrectFormat, tag: tag, text: fmt.Sprintf("%s (%d) %q is not a whole positive number of shares", name, tag, v)}
	}
	return int64(f), nil
}

// transactTime reads TransactTime (60), or SendingTime (52) without it: UTCTimestamp,
// YYYYMMDD-HH:MM:SS with optional fractions.
func transactTime(m *Message) (time.Time, *appReject) {
	tag := tagTransactTime
	v, ok := m.Get(tag)
	if !ok {
		tag, v = tagSendingTime, m.Value(tagSendingTime)
	}
	t, err := parseUTCTimestamp(v)
	if err != nil {
		return time.Time{}, &appReject{session: true, reason: rejIncorrectFormat, tag: tag, text: fmt.Sprintf("tag %d %q is not a UTCTimestamp (YYYYMMDD-HH:MM:SS.sss)", tag, v)}
	}
	return t, nil
}

func parseUTCTimestamp(v string) (time.Time, error) {
	layout := "20060102-15:04:05"
	if i := strings.IndexByte(v, '.'); i >= 0 {
		layout += "." + strings.Repeat("0", len(v)-i-1)
	}
	return time.ParseInLocation(layout, v, time.UTC)
}

// utcTimestamp formats t as FIX's UTCTimestamp with milliseconds.
func utcTimestamp(t time.Time) string {
	return t.UTC().Format("20060102-15:04:05.000")
}
