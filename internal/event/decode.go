package event

import (
	"errors"
	"fmt"
	"github.com/goccy/go-json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error codes, stable across versions: they appear in summaries, metrics and API responses.
const (
	CodeMalformedJSON  = "malformed_json"
	CodeWrongType      = "wrong_type"
	CodeMissingField   = "missing_field"
	CodeBadValue       = "bad_value"
	CodeUnknownType    = "unknown_type"
	CodeOversizedField = "oversized_field"
	CodeBadTime        = "bad_time"
	CodeLineTooLong    = "line_too_long"
	CodeTooLate        = "too_late"
	CodeInFuture       = "in_future"
	CodeOutOfRange     = "out_of_range"  // a number above its bound (Limits) or not finite
	CodeInvalidUTF8    = "invalid_utf8"  // bytes that are not UTF-8, or an escape that is no character
	CodeDuplicateKey   = "duplicate_key" // a key twice in one object
	CodeKeyCase        = "key_case"      // a key that is the contract's only when case is ignored
)

// Codes lists every error code, for metrics and summaries that report zero counts too.
func Codes() []string {
	return []string{CodeMalformedJSON, CodeWrongType, CodeMissingField, CodeBadValue, CodeUnknownType,
		CodeOversizedField, CodeBadTime, CodeLineTooLong, CodeTooLate, CodeInFuture, CodeOutOfRange, CodeInvalidUTF8,
		CodeDuplicateKey, CodeKeyCase}
}

// Size limits of the decoder.
const (
	MaxIDLen        = 128
	MaxTextLen      = 256
	MaxUserAgentLen = 1024
	MaxNoteLen      = 4096
	MaxHoldings     = 10000
)

// FieldError says what is wrong with one event and which field it is.
type FieldError struct {
	Field string // JSON name of the field ("" when the whole object is wrong)
	Code  string // one of the Code constants
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Code + ": " + e.Msg
	}
	return "field " + strconv.Quote(e.Field) + ": " + e.Code + ": " + e.Msg
}

// LineError is a FieldError located in an input: a line number of a file, or an index in a request.
type LineError struct {
	Line int64  // 1-based line number, or 0 when not from a file
	ID   string // the event id when it could be read
	Err  *FieldError
}

func (e *LineError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.FormatInt(e.Line, 10))
		b.WriteString(": ")
	}
	if e.ID != "" {
		b.WriteString("event ")
		b.WriteString(strconv.Quote(e.ID))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *LineError) Unwrap() error { return e.Err }

// CodeOf returns the error code of err, or "" when err is not a decoder error.
func CodeOf(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Code
	}
	return ""
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// optFloat is a number that may be absent; it tells absent from zero.
type optFloat struct {
	v   float64
	set bool
}

func (o *optFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		if math.IsInf(v, 0) {
			return errOutOfRange
		}
		return errWrongType
	}
	o.v, o.set = v, true
	return nil
}

var (
	errWrongType  = errors.New("wrong type")
	errOutOfRange = errors.New("out of range")
)

// wire is the JSON layout of every event type together; encoding/json fills it and ignores unknown fields.
type wire struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Time    string `json:"time"`
	Account string `json:"account"`

	Symbol            string   `json:"symbol"`
	Name              string   `json:"name"`
	Market            string   `json:"market"`
	Lot               int64    `json:"lot"`
	SharesOutstanding float64  `json:"shares_outstanding"`
	PrevClose         float64  `json:"prev_close"`
	AvgDailyVolume    float64  `json:"avg_daily_volume"`
	Price             optFloat `json:"price"`
	Volume            optFloat `json:"volume"`

	Cash          float64   `json:"cash"`
	Holdings      []Holding `json:"holdings"`
	Margin        bool      `json:"margin"`
	Opened        string    `json:"opened"`
	MFA           string    `json:"mfa"`
	Notifications *bool     `json:"notifications"`

	Result         string `json:"result"`
	Failure        string `json:"failure"`
	Method         string `json:"method"`
	Session        string `json:"session"`
	IP             string `json:"ip"`
	UserAgent      string `json:"user_agent"`
	Device         string `json:"device"`
	Country        string `json:"country"`
	Channel        string `json:"channel"`
	AcceptLanguage string `json:"accept_language"`
	TLS            string `json:"tls"`

	Field string `json:"field"`
	Value string `json:"value"`

	OrderID     string   `json:"order_id"`
	ExecID      string   `json:"exec_id"`
	Side        string   `json:"side"`
	Quantity    optFloat `json:"quantity"`
	AccountType string   `json:"account_type"`
	Fee         float64  `json:"fee"`

	Amount      optFloat `json:"amount"`
	Destination string   `json:"destination"`

	Note string `json:"note"`
}

// Decode parses and validates one JSON object of the contract, with the default Limits. raw is kept
// (not copied) as Event.Raw. The error, when not nil, is a *FieldError.
func Decode(raw []byte) (Event, error) { return decode(raw, &defaultBounds) }

// Decode is the package's Decode with the limits l.
func (l Limits) Decode(raw []byte) (Event, error) {
	if l.MaxYen == 0 && l.MaxShares == 0 {
		return decode(raw, &defaultBounds)
	}
	b := l.bounds()
	return decode(raw, &b)
}

// DecodeStored decodes an event read back from a store: one that this or an earlier version accepted.
// It validates as Decode does, but takes any finite number, any time that a store can hold, and the
// raw forms that earlier versions took (bytes that are not UTF-8, repeated keys), so that a stricter
// release or tighter Limits never leave a store that cannot be rebuilt.
func DecodeStored(raw []byte) (Event, error) { return decode(raw, &storedBounds) }

func decode(raw []byte, b *bounds) (Event, error) {
	if !b.stored {
		if fe := checkUTF8(raw); fe != nil {
			return Event{}, fe
		}
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Event{}, jsonError(err, raw)
	}
	if !b.stored {
		if fe := checkKeys(raw); fe != nil {
			return Event{ID: w.ID}, fe
		}
	}
	ev, ferr := w.validate(b)
	if ferr != nil {
		return Event{ID: w.ID}, ferr
	}
	ev.Raw = raw
	return ev, nil
}

func jsonError(err error, raw []byte) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return &FieldError{Code: CodeMalformedJSON, Msg: "want a JSON object, got " + te.Value}
		}
		kind := kindName(te.Type.Kind().String())
		if kind == "number" && strings.HasPrefix(te.Value, "number") {
			// A number the float64 cannot hold (1e400).
			return &FieldError{Field: field, Code: CodeOutOfRange, Msg: te.Value + " is not a finite float64"}
		}
		return &FieldError{Field: field, Code: CodeWrongType, Msg: "want " + kind + ", got " + te.Value}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{Code: CodeMalformedJSON, Msg: fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)}
	}
	if errors.Is(err, errWrongType) {
		return &FieldError{Field: numberFieldNear(raw), Code: CodeWrongType, Msg: "want number"}
	}
	if errors.Is(err, errOutOfRange) {
		return &FieldError{Field: numberFieldNear(raw), Code: CodeOutOfRange, Msg: "not a finite number"}
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return &FieldError{Code: CodeMalformedJSON, Msg: err.Error()}
}

func kindName(k string) string {
	switch k {
	case "int64", "int", "int32":
		return "integer"
	case "float64", "float32":
		return "number"
	case "slice":
		return "array"
	case "struct", "ptr":
		return "object"
	}
	return k
}

// numberFieldNear finds which optional-number field held a non-number, by decoding the object loosely.
// It runs only on the error path.
func numberFieldNear(raw []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	for _, f := range []string{"price", "volume", "quantity", "amount"} {
		v, ok := m[f]
		if !ok || string(v) == "null" {
			continue
		}
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return f
		}
	}
	return ""
}

func missing(field string) *FieldError {
	return &FieldError{Field: field, Code: CodeMissingField, Msg: "required"}
}

func badValue(field, got, want string) *FieldError {
	return &FieldError{Field: field, Code: CodeBadValue, Msg: "got " + quote(got) + ", want " + want}
}

func tooLong(field string, n, max int) *FieldError {
	return &FieldError{Field: field, Code: CodeOversizedField, Msg: fmt.Sprintf("%d bytes, at most %d", n, max)}
}

// text checks a string field's size (and presence when required) and that it is printable UTF-8: a
// control character or a broken byte sequence in an id would be stored and shown everywhere.
func text(field, v string, max int, required bool) *FieldError {
	if v == "" {
		if required {
			return missing(field)
		}
		return nil
	}
	if len(v) > max {
		return tooLong(field, len(v), max)
	}
	ascii := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return &FieldError{Field: field, Code: CodeBadValue, Msg: "contains a control character"}
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(v) {
		return &FieldError{Field: field, Code: CodeBadValue, Msg: "is not valid UTF-8"}
	}
	return nil
}

func oneOf(field, v string, required bool, allowed ...string) *FieldError {
	if v == "" {
		if required {
			return missing(field)
		}
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return badValue(field, v, strings.Join(allowed, " | "))
}

func ipField(field, v string, required bool) *FieldError {
	if v == "" {
		if required {
			return missing(field)
		}
		return nil
	}
	if len(v) > MaxTextLen {
		return tooLong(field, len(v), MaxTextLen)
	}
	if _, err := netip.ParseAddr(v); err != nil {
		return badValue(field, v, "an IPv4 or IPv6 address")
	}
	return nil
}

// ParseTime parses a contract timestamp: RFC 3339 with an offset, up to nanoseconds.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: "time", Code: CodeBadTime, Msg: "want RFC 3339 with offset (e.g. 2025-03-17T09:00:01.250+09:00), got " + quote(s)}
	}
	return t, nil
}

func firstErr(errs ...*FieldError) *FieldError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

var (
	markets       = []string{"prime", "standard", "growth", "foreign", "fund"}
	mfas          = []string{"none", "email_otp", "sms_otp", "totp", "passkey"}
	results       = []string{"success", "failure"}
	failures      = []string{"bad_password", "unknown_account", "mfa_failed", "locked"}
	methods       = []string{"password", "password_otp", "passkey", "app_biometric", "session_refresh"}
	channels      = []string{"web", "app", "api"}
	orderChannels = []string{"web", "app", "api", "phone"}
	fields        = []string{"email", "phone", "password", "address", "bank_account", "mfa", "notifications", "trading_pin"}
	sides         = []string{"buy", "sell"}
	accountTypes  = []string{"cash", "margin", "nisa"}
	reportChans   = []string{"phone", "web", "branch"}
)

func (w *wire) validate(b *bounds) (Event, *FieldError) {
	if err := firstErr(text("id", w.ID, MaxIDLen, true), text("type", w.Type, MaxTextLen, true)); err != nil {
		return Event{}, err
	}
	typ := ParseType(w.Type)
	if typ == TypeUnknown {
		return Event{}, &FieldError{Field: "type", Code: CodeUnknownType, Msg: "unknown event type " + quote(w.Type)}
	}
	if w.Time == "" {
		return Event{}, missing("time")
	}
	t, err := ParseTime(w.Time)
	if err != nil {
		return Event{}, err.(*FieldError)
	}
	if err := b.checkTime(t, "time"); err != nil {
		return Event{}, err
	}
	if err := text("account", w.Account, MaxIDLen, typ != TypeInstrument && typ != TypeQuote); err != nil {
		return Event{}, err
	}
	// Sizes of the free-text fields every type may carry.
	if err := firstErr(
		text("symbol", w.Symbol, MaxTextLen, false), text("name", w.Name, MaxTextLen, false),
		text("session", w.Session, MaxTextLen, false), text("user_agent", w.UserAgent, MaxUserAgentLen, false),
		text("device", w.Device, MaxTextLen, false), text("country", w.Country, MaxTextLen, false),
		text("accept_language", w.AcceptLanguage, MaxTextLen, false), text("tls", w.TLS, MaxTextLen, false),
		text("value", w.Value, MaxTextLen, false), text("order_id", w.OrderID, MaxIDLen, false),
		text("exec_id", w.ExecID, MaxIDLen, false), text("destination", w.Destination, MaxTextLen, false),
		text("note", w.Note, MaxNoteLen, false), text("opened", w.Opened, MaxTextLen, false),
	); err != nil {
		return Event{}, err
	}
	ev := Event{
		ID: w.ID, Type: typ, Time: t, Account: w.Account,
		Symbol: w.Symbol, Session: w.Session, IP: w.IP, UserAgent: w.UserAgent, Device: w.Device,
		Country: w.Country, Channel: w.Channel, AcceptLanguage: w.AcceptLanguage, TLS: w.TLS,
	}
	switch typ {
	case TypeInstrument:
		if err := firstErr(text("symbol", w.Symbol, MaxTextLen, true), oneOf("market", w.Market, false, markets...),
			b.wholeShares("lot", w.Lot), b.sharesField("shares_outstanding", w.SharesOutstanding),
			b.yenField("prev_close", w.PrevClose), b.sharesField("avg_daily_volume", w.AvgDailyVolume)); err != nil {
			return Event{}, err
		}
		ev.Name, ev.Market, ev.Lot = w.Name, w.Market, w.Lot
		ev.SharesOutstanding, ev.PrevClose, ev.AvgDailyVolume = w.SharesOutstanding, w.PrevClose, w.AvgDailyVolume
	case TypeQuote:
		vol, err := b.wholeQuantity("volume", w.Volume, true)
		if err := firstErr(text("symbol", w.Symbol, MaxTextLen, true), b.positivePrice("price", w.Price, true), err); err != nil {
			return Event{}, err
		}
		ev.Price, ev.HasPrice, ev.Volume = w.Price.v, true, vol
	case TypeSnapshot:
		if err := firstErr(b.yenField("cash", w.Cash), oneOf("mfa", w.MFA, false, mfas...)); err != nil {
			return Event{}, err
		}
		if w.Opened != "" {
			if _, err := time.Parse("2006-01-02", w.Opened); err != nil {
				return Event{}, badValue("opened", w.Opened, "a date YYYY-MM-DD")
			}
		}
		if len(w.Holdings) > MaxHoldings {
			return Event{}, tooLong("holdings", len(w.Holdings), MaxHoldings)
		}
		for i, h := range w.Holdings {
			f := "holdings[" + strconv.Itoa(i) + "]."
			if h.Symbol == "" {
				return Event{}, missing(f + "symbol")
			}
			if len(h.Symbol) > MaxTextLen {
				return Event{}, tooLong(f+"symbol", len(h.Symbol), MaxTextLen)
			}
			if err := firstErr(b.wholeShares(f+"quantity", h.Quantity), b.yenField(f+"cost", h.Cost)); err != nil {
				return Event{}, err
			}
		}
		ev.Cash, ev.Holdings, ev.Margin, ev.Opened, ev.MFA = w.Cash, w.Holdings, w.Margin, w.Opened, w.MFA
		ev.Notifications = w.Notifications == nil || *w.Notifications
	case TypeLogin:
		if err := firstErr(oneOf("result", w.Result, true, results...), oneOf("method", w.Method, true, methods...),
			ipField("ip", w.IP, true), oneOf("channel", w.Channel, false, channels...)); err != nil {
			return Event{}, err
		}
		if w.Result == "failure" {
			if err := oneOf("failure", w.Failure, true, failures...); err != nil {
				return Event{}, err
			}
		} else if w.Session == "" {
			return Event{}, missing("session")
		}
		ev.Result, ev.Failure, ev.Method = w.Result, w.Failure, w.Method
	case TypeLogout:
	case TypeProfileChange:
		if err := firstErr(oneOf("field", w.Field, true, fields...), ipField("ip", w.IP, true)); err != nil {
			return Event{}, err
		}
		ev.Field, ev.Value = w.Field, w.Value
	case TypeOrder:
		qty, qerr := b.wholeQuantity("quantity", w.Quantity, true)
		if err := firstErr(text("order_id", w.OrderID, MaxIDLen, true), text("symbol", w.Symbol, MaxTextLen, true),
			oneOf("side", w.Side, true, sides...), qerr, b.positivePrice("price", w.Price, false),
			oneOf("account_type", w.AccountType, false, accountTypes...), oneOf("channel", w.Channel, false, orderChannels...),
			ipField("ip", w.IP, w.Channel != "phone")); err != nil {
			return Event{}, err
		}
		if qty == 0 {
			return Event{}, badValue("quantity", "0", "a whole number > 0")
		}
		ev.OrderID, ev.Side, ev.Quantity, ev.Price, ev.HasPrice = w.OrderID, w.Side, qty, w.Price.v, w.Price.set
		ev.AccountType = w.AccountType
		if ev.AccountType == "" {
			ev.AccountType = "cash"
		}
	case TypeCancel:
		if err := text("order_id", w.OrderID, MaxIDLen, true); err != nil {
			return Event{}, err
		}
		ev.OrderID = w.OrderID
	case TypeExecution:
		qty, qerr := b.wholeQuantity("quantity", w.Quantity, true)
		if err := firstErr(text("order_id", w.OrderID, MaxIDLen, true), text("exec_id", w.ExecID, MaxIDLen, false),
			text("symbol", w.Symbol, MaxTextLen, true), oneOf("side", w.Side, true, sides...), qerr,
			b.positivePrice("price", w.Price, true), b.yenField("fee", w.Fee)); err != nil {
			return Event{}, err
		}
		ev.OrderID, ev.ExecID, ev.Side, ev.Quantity, ev.Price, ev.HasPrice, ev.Fee = w.OrderID, w.ExecID, w.Side, qty, w.Price.v, true, w.Fee
	case TypeWithdrawal:
		if !w.Amount.set {
			return Event{}, missing("amount")
		}
		if err := firstErr(b.yenField("amount", w.Amount.v), ipField("ip", w.IP, true),
			text("destination", w.Destination, MaxTextLen, false)); err != nil {
			return Event{}, err
		}
		ev.Amount, ev.Destination = w.Amount.v, w.Destination
	case TypeFraudReport:
		if err := oneOf("channel", w.Channel, false, reportChans...); err != nil {
			return Event{}, err
		}
		ev.Note = w.Note
	}
	if typ != TypeLogin && typ != TypeProfileChange && typ != TypeOrder && typ != TypeWithdrawal && w.IP != "" {
		if err := ipField("ip", w.IP, false); err != nil {
			return Event{}, err
		}
	}
	return ev, nil
}
