// Package event defines brokerguard's input and output contract (events-v1): the events a securities firm
// sends, the decisions and alerts brokerguard returns, and the strict decoder that turns one JSON object
// into a validated Event or a LineError naming the field that is wrong.
package event

import (
	"time"
)

// Type is the kind of an event.
type Type uint8

// Event types of the contract.
const (
	TypeUnknown Type = iota
	TypeInstrument
	TypeQuote
	TypeSnapshot
	TypeLogin
	TypeLogout
	TypeProfileChange
	TypeOrder
	TypeCancel
	TypeExecution
	TypeWithdrawal
	TypeFraudReport
	numTypes
)

var typeNames = [numTypes]string{
	TypeUnknown:       "unknown",
	TypeInstrument:    "instrument",
	TypeQuote:         "quote",
	TypeSnapshot:      "snapshot",
	TypeLogin:         "login",
	TypeLogout:        "logout",
	TypeProfileChange: "profile_change",
	TypeOrder:         "order",
	TypeCancel:        "cancel",
	TypeExecution:     "execution",
	TypeWithdrawal:    "withdrawal",
	TypeFraudReport:   "fraud_report",
}

// String returns the contract's name of the type.
func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "unknown"
}

// Types lists every event type of the contract, in a stable order.
func Types() []Type {
	out := make([]Type, 0, numTypes-1)
	for t := TypeInstrument; t < numTypes; t++ {
		out = append(out, t)
	}
	return out
}

// ParseType returns the type named s, or TypeUnknown.
func ParseType(s string) Type {
	for t := TypeInstrument; t < numTypes; t++ {
		if typeNames[t] == s {
			return t
		}
	}
	return TypeUnknown
}

// Holding is one position of a snapshot.
type Holding struct {
	Symbol   string  `json:"symbol"`
	Quantity int64   `json:"quantity"`
	Cost     float64 `json:"cost"`
}

// Event is one validated event of the contract. Fields that do not belong to the event's type are zero.
// Money is yen; prices may have decimals. Raw holds the original JSON object as received.
type Event struct {
	ID      string
	Type    Type
	Time    time.Time
	Account string

	// instrument, quote, order, execution
	Symbol            string
	Name              string
	Market            string
	Lot               int64
	SharesOutstanding float64
	PrevClose         float64
	AvgDailyVolume    float64
	Price             float64 // quote: last price; order: limit price (0 with HasPrice false = market order); execution: price
	HasPrice          bool
	Volume            int64

	// snapshot
	Cash          float64
	Holdings      []Holding
	Margin        bool
	Opened        string
	MFA           string
	Notifications bool

	// login and request context
	Result         string
	Failure        string
	Method         string
	Session        string
	IP             string
	UserAgent      string
	Device         string
	Country        string
	Channel        string
	AcceptLanguage string
	TLS            string

	// profile_change
	Field string
	Value string

	// order, cancel, execution
	OrderID     string
	ExecID      string
	Side        string
	Quantity    int64
	AccountType string
	Fee         float64

	// withdrawal
	Amount      float64
	Destination string

	// fraud_report
	Note string

	Raw []byte
}

// NeedsDecision reports whether the contract requires exactly one decision for the event: a successful
// login, a profile change, an order or a withdrawal.
func (e *Event) NeedsDecision() bool {
	switch e.Type {
	case TypeLogin:
		return e.Result == "success"
	case TypeProfileChange, TypeOrder, TypeWithdrawal:
		return true
	}
	return false
}

// Action is what the firm does with a decided event, from least to most severe.
type Action uint8

// Actions of the contract, in order of severity.
const (
	ActionAllow Action = iota
	ActionReview
	ActionChallenge
	ActionHold
	ActionBlock
	numActions
)

var actionNames = [numActions]string{"allow", "review", "challenge", "hold", "block"}

// String returns the contract's name of the action.
func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return "allow"
}

// Actions lists every action, least severe first.
func Actions() []Action {
	return []Action{ActionAllow, ActionReview, ActionChallenge, ActionHold, ActionBlock}
}

// ParseAction returns the action named s.
func ParseAction(s string) (Action, bool) {
	for a := ActionAllow; a < numActions; a++ {
		if actionNames[a] == s {
			return a, true
		}
	}
	return ActionAllow, false
}

// MarshalText implements encoding.TextMarshaler.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Action) UnmarshalText(b []byte) error {
	v, ok := ParseAction(string(b))
	if !ok {
		return &FieldError{Field: "action", Code: CodeBadValue, Msg: "unknown action " + quote(string(b))}
	}
	*a = v
	return nil
}

// Reason is one contributing cause of a decision or alert: a stable machine code and a human detail.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Decision is brokerguard's answer to an event that needs one.
type Decision struct {
	ID      string    `json:"id"`
	Account string    `json:"account"`
	Type    string    `json:"type"`
	Action  Action    `json:"action"`
	Score   int       `json:"score"`
	Reasons []Reason  `json:"reasons"`
	Time    time.Time `json:"-"`
}

// Alert kinds of the contract.
const (
	AlertAccountTakeover      = "account_takeover"
	AlertCampaign             = "campaign"
	AlertBeneficiary          = "beneficiary"
	AlertCredentialStuffing   = "credential_stuffing"
	AlertSharedInfrastructure = "shared_infrastructure"
	// AlertPhishingSite is a site that imitates the firm, found before its customers reach it (a
	// lookalike name in a Certificate Transparency log). Beyond the contract's kinds: firms that do
	// not watch for phishing never see it.
	AlertPhishingSite = "phishing_site"
)

// Alert is a finding that spans events or accounts.
type Alert struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Symbols  []string  `json:"symbols"`
	Accounts []string  `json:"accounts"`
	Score    int       `json:"score"`
	Reasons  []Reason  `json:"reasons"`
}
