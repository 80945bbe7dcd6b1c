package detect

import (
	"strconv"
	"strings"
)

// Signal is one named observation about an event, with a strength in [0, 1].
type Signal uint8

// The signals. Their numbering is internal; their names are the stable codes that appear in reasons,
// rules and model files.
const (
	NewDevice Signal = iota
	NoDeviceID
	NewASN
	NewNetwork
	HostingASN
	VPNASN
	NewCountry
	ImpossibleTravel
	FailedLoginsBefore
	AddressShared
	DeviceShared
	NewUserAgent
	NewTLS
	UATLSMismatch
	WeakerMethod
	UnusualHour
	DormantReactivated
	SessionUnknown
	SessionAddressChanged
	SessionNetworkChanged
	SessionTLSChanged
	SessionDeviceChanged
	NotificationsOff
	EmailChangedRecently
	SensitiveChange
	MFADowngrade
	BankAccountChangedRecently
	Liquidation
	FirstTimeSymbol
	IlliquidSymbol
	FirstMarginUse
	OrderSizeOutlier
	NewWithdrawalDestination
	DestinationShared
	WithdrawalAfterLiquidation
	AccountLocked
	StuffingWave
	WatchedSymbol
	WatchedInfrastructure
	WatchedAccount
	MarketRamp
	CampaignUnderWay
	PhishableLoginNewAddress
	SellAfterAccountChange
	NumSignals
)

var signalNames = [NumSignals]string{
	NewDevice:                  "NEW_DEVICE",
	NoDeviceID:                 "NO_DEVICE_ID",
	NewASN:                     "NEW_ASN",
	NewNetwork:                 "NEW_NETWORK",
	HostingASN:                 "HOSTING_ASN",
	VPNASN:                     "VPN_ASN",
	NewCountry:                 "NEW_COUNTRY",
	ImpossibleTravel:           "IMPOSSIBLE_TRAVEL",
	FailedLoginsBefore:         "FAILED_LOGINS_BEFORE",
	AddressShared:              "ADDRESS_SHARED_ACROSS_ACCOUNTS",
	DeviceShared:               "DEVICE_SHARED_ACROSS_ACCOUNTS",
	NewUserAgent:               "NEW_USER_AGENT",
	NewTLS:                     "NEW_TLS_FINGERPRINT",
	UATLSMismatch:              "UA_TLS_MISMATCH",
	WeakerMethod:               "WEAKER_METHOD_THAN_USUAL",
	UnusualHour:                "UNUSUAL_HOUR",
	DormantReactivated:         "DORMANT_REACTIVATED",
	SessionUnknown:             "SESSION_UNKNOWN",
	SessionAddressChanged:      "SESSION_ADDRESS_CHANGED",
	SessionNetworkChanged:      "SESSION_NETWORK_CHANGED",
	SessionTLSChanged:          "SESSION_TLS_CHANGED",
	SessionDeviceChanged:       "SESSION_DEVICE_CHANGED",
	NotificationsOff:           "NOTIFICATIONS_OFF",
	EmailChangedRecently:       "EMAIL_CHANGED_RECENTLY",
	SensitiveChange:            "SENSITIVE_CHANGE",
	MFADowngrade:               "MFA_DOWNGRADE",
	BankAccountChangedRecently: "BANK_ACCOUNT_CHANGED_RECENTLY",
	Liquidation:                "LIQUIDATION",
	FirstTimeSymbol:            "FIRST_TIME_SYMBOL",
	IlliquidSymbol:             "ILLIQUID_SYMBOL",
	FirstMarginUse:             "FIRST_MARGIN_USE",
	OrderSizeOutlier:           "ORDER_SIZE_OUTLIER",
	NewWithdrawalDestination:   "NEW_WITHDRAWAL_DESTINATION",
	DestinationShared:          "DESTINATION_SHARED_ACROSS_ACCOUNTS",
	WithdrawalAfterLiquidation: "WITHDRAWAL_AFTER_LIQUIDATION",
	AccountLocked:              "ACCOUNT_LOCKED",
	StuffingWave:               "LOGIN_DURING_STUFFING_WAVE",
	WatchedSymbol:              "WATCHED_SYMBOL",
	WatchedInfrastructure:      "WATCHED_INFRASTRUCTURE",
	WatchedAccount:             "WATCHED_ACCOUNT",
	MarketRamp:                 "MARKET_RAMP",
	CampaignUnderWay:           "CAMPAIGN_UNDER_WAY",
	PhishableLoginNewAddress:   "PHISHABLE_LOGIN_FROM_NEW_ADDRESS",
	SellAfterAccountChange:     "SELL_AFTER_ACCOUNT_CHANGE",
}

// accessSignals are those that describe who is at the keyboard; a login passes them on to its session.
const accessSignals = 1<<NewDevice | 1<<NoDeviceID | 1<<NewASN | 1<<NewNetwork | 1<<HostingASN | 1<<VPNASN |
	1<<NewCountry | 1<<ImpossibleTravel | 1<<FailedLoginsBefore | 1<<AddressShared | 1<<DeviceShared |
	1<<NewUserAgent | 1<<NewTLS | 1<<UATLSMismatch | 1<<WeakerMethod | 1<<UnusualHour | 1<<DormantReactivated |
	1<<StuffingWave | 1<<PhishableLoginNewAddress

// takeoverSigns say that someone other than the customer may be at the keyboard, or is preparing the
// account: the campaign layer counts a first buy of a thin symbol with any of them as hijack-like.
const takeoverSigns = 1<<NewDevice | 1<<NewASN | 1<<HostingASN | 1<<VPNASN | 1<<NewCountry | 1<<ImpossibleTravel |
	1<<FailedLoginsBefore | 1<<AddressShared | 1<<DeviceShared | 1<<UATLSMismatch | 1<<DormantReactivated |
	1<<SessionNetworkChanged | 1<<SessionTLSChanged | 1<<SessionDeviceChanged | 1<<NotificationsOff |
	1<<EmailChangedRecently | 1<<MFADowngrade | 1<<StuffingWave | 1<<WatchedInfrastructure | 1<<WatchedAccount |
	1<<PhishableLoginNewAddress

// takeoverComposites are the reason codes of the shipped rules (internal/rules/default.yaml) and scoring
// interactions (model.yaml) that are built on takeover signs: a decision naming one of them names a
// takeover sign even when its reasons list only the composite.
var takeoverComposites = []string{
	"HOSTING_ABROAD", "NEW_DEVICE_ON_NEW_NETWORK", "UNFAMILIAR_ACCESS_THEN_HARMFUL_ACTION",
	"NOTICES_OFF_UNFAMILIAR_ACCESS", "CONTACT_CHANGE_UNFAMILIAR_ACCESS", "BANK_ACCOUNT_CHANGE_UNFAMILIAR",
	"LOGIN_FROM_SUSPECT_INFRASTRUCTURE", "REQUEST_FROM_SUSPECT_INFRASTRUCTURE", "WATCHED_ACCOUNT_UNFAMILIAR_ACCESS",
	"WATCHED_SYMBOL_TAKEOVER_SIGNS", "TAKEOVER_SIGNS_INTO_CAMPAIGN",
}

// takeoverSignCodes is the one list of takeover signs as reason codes: the signals of takeoverSigns (the
// set the live engine counts), in numbering order, then takeoverComposites.
var takeoverSignCodes = func() []string {
	var out []string
	for s := Signal(0); s < NumSignals; s++ {
		if takeoverSigns&(1<<s) != 0 {
			out = append(out, s.String())
		}
	}
	return append(out, takeoverComposites...)
}()

var takeoverSignSet = func() map[string]bool {
	m := make(map[string]bool, len(takeoverSignCodes))
	for _, c := range takeoverSignCodes {
		m[c] = true
	}
	return m
}()

// TakeoverSigns returns the reason codes that say someone other than the customer may be at the keyboard
// or is preparing the account: the signals the live engine counts as takeover signs and the shipped
// rules and interactions built on them. It is the product's only such list: history re-scans
// (backfill), incident evidence and evaluation read it here.
func TakeoverSigns() []string { return append([]string(nil), takeoverSignCodes...) }

// IsTakeoverSign reports whether a reason code is one of TakeoverSigns.
func IsTakeoverSign(code string) bool { return takeoverSignSet[code] }

// String returns the signal's stable code.
func (s Signal) String() string {
	if s < NumSignals {
		return signalNames[s]
	}
	return "UNKNOWN_SIGNAL"
}

// SignalNames lists every signal code, in numbering order.
func SignalNames() []string { return append([]string(nil), signalNames[:]...) }

// ParseSignal returns the signal with the given code.
func ParseSignal(code string) (Signal, bool) {
	for i, n := range signalNames {
		if n == code {
			return Signal(i), true
		}
	}
	return 0, false
}

// Signals is the set of signals raised for one event, with their strengths and what each saw.
type Signals struct {
	Strength  [NumSignals]float32
	Inherited uint64 // signals passed on from the session's login
	arg       [NumSignals]sigArg
}

type sigArg struct {
	a, b float64
	s    string
}

// Set raises s with strength v (keeping the strongest when raised twice) and the values its detail shows.
func (ss *Signals) Set(s Signal, v float64, a, b float64, text string) {
	if v <= 0 {
		return
	}
	if v > 1 {
		v = 1
	}
	if float32(v) <= ss.Strength[s] {
		return
	}
	ss.Strength[s] = float32(v)
	ss.arg[s] = sigArg{a, b, text}
	ss.Inherited &^= 1 << s
}

// Has reports whether s was raised.
func (ss *Signals) Has(s Signal) bool { return ss.Strength[s] > 0 }

// Mask returns the bit set of raised signals.
func (ss *Signals) Mask() uint64 {
	var m uint64
	for i, v := range ss.Strength {
		if v > 0 {
			m |= 1 << i
		}
	}
	return m
}

// Map returns the raised signals by code, for rules.
func (ss *Signals) Map() map[string]float64 {
	m := make(map[string]float64, 8)
	for i, v := range ss.Strength {
		if v > 0 {
			m[signalNames[i]] = float64(v)
		}
	}
	return m
}

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 0, 64) + "%" }

func yen(v float64) string {
	if v >= 1e6 {
		return "¥" + strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	}
	return "¥" + strconv.FormatFloat(v, 'f', 0, 64)
}

func dur(sec float64) string {
	switch {
	case sec < 120:
		return strconv.FormatFloat(sec, 'f', 0, 64) + " s"
	case sec < 7200:
		return strconv.FormatFloat(sec/60, 'f', 0, 64) + " min"
	case sec < 2*86400:
		return strconv.FormatFloat(sec/3600, 'f', 0, 64) + " h"
	}
	return strconv.FormatFloat(sec/86400, 'f', 0, 64) + " days"
}

// Detail returns the human text of a raised signal.
func (ss *Signals) Detail(s Signal) string {
	a := ss.arg[s]
	var d string
	switch s {
	case NewDevice:
		d = "device never seen on this account"
	case NoDeviceID:
		d = "no device id (new browser or cleared cookies)"
		if a.a == 1 {
			d = "no device id in the whole session, login included (a browser keeps the one set at its login)"
		}
	case NewASN:
		d = "network " + orSome(a.s, "") + "never used by this account"
	case NewNetwork:
		d = "address block " + orSome(a.s, "") + "never used by this account"
	case HostingASN:
		d = "address in a hosting network" + parens(a.s)
	case VPNASN:
		d = "address of a VPN provider" + parens(a.s)
	case NewCountry:
		d = strings.TrimSpace("first access from " + orSome(a.s, "a new country"))
	case ImpossibleTravel:
		d = "a new country faster than travel allows"
		if a.s != "" {
			d = a.s + " in " + dur(a.b) + " (" + strconv.FormatFloat(a.a, 'f', 0, 64) + " km/h)"
		}
	case FailedLoginsBefore:
		d = strconv.FormatFloat(a.a, 'f', 0, 64) + " failed logins in the hour before"
	case AddressShared:
		d = "address used by " + strconv.FormatFloat(a.a, 'f', 0, 64) + " other accounts in 24 h"
	case DeviceShared:
		d = "device id used by " + strconv.FormatFloat(a.a, 'f', 0, 64) + " other accounts"
	case NewUserAgent:
		d = "browser or app " + orSome(a.s, "") + "never used by this account"
	case NewTLS:
		d = "TLS client never seen on this account"
	case UATLSMismatch:
		d = "user agent and TLS client belong to different browsers"
		if a.s != "" {
			d = "user agent says " + a.s + " but the TLS client is another's"
		}
	case WeakerMethod:
		d = "logged in by " + a.s + ", weaker than usual"
	case UnusualHour:
		d = "login at " + strconv.FormatFloat(a.a, 'f', 0, 64) + ":00 JST, rare for this account"
	case DormantReactivated:
		d = "first activity in " + dur(a.a)
	case SessionUnknown:
		d = "session not started by a login brokerguard saw"
	case SessionAddressChanged:
		d = "address changed within the session"
	case SessionNetworkChanged:
		d = "network changed within the session" + parens(a.s)
	case SessionTLSChanged:
		d = "TLS client changed within the session"
	case SessionDeviceChanged:
		d = "device changed within the session"
	case NotificationsOff:
		d = "login and trade notices turned off"
		if a.a > 0 {
			d += " " + dur(a.a) + " ago"
		}
	case EmailChangedRecently:
		d = orSome(a.s, "email") + "changed " + dur(a.a) + " ago"
	case SensitiveChange:
		d = orSome(a.s, "account") + "change"
	case MFADowngrade:
		d = "MFA weakened" + parens(a.s)
	case BankAccountChangedRecently:
		d = "bank account changed " + dur(a.a) + " ago"
	case Liquidation:
		d = "sold " + pct(a.a) + " of holdings value in " + dur(a.b)
	case FirstTimeSymbol:
		d = "first trade in " + strings.TrimSpace(orSome(a.s, "this symbol"))
	case IlliquidSymbol:
		d = strings.TrimSpace(orSome(a.s, "a thinly traded symbol"))
	case FirstMarginUse:
		d = "first margin order"
	case OrderSizeOutlier:
		d = "order " + yen(a.a) + ", " + strconv.FormatFloat(a.b, 'f', 1, 64) + "x the usual size"
	case NewWithdrawalDestination:
		d = "withdrawal of " + yen(a.a) + " to a bank account never used"
	case DestinationShared:
		d = "bank account also used by " + strconv.FormatFloat(a.a, 'f', 0, 64) + " other accounts"
	case WithdrawalAfterLiquidation:
		d = "withdrawal after selling " + pct(a.a) + " of holdings"
	case AccountLocked:
		d = "account locked"
		if a.s != "" {
			d += ": " + a.s
		}
	case StuffingWave:
		d = "login during a credential-stuffing wave (" + strconv.FormatFloat(a.a, 'f', 0, 64) + " failed logins across accounts in 10 min)"
	case WatchedSymbol, WatchedInfrastructure, WatchedAccount:
		d = orSome(a.s, "on the watchlist") // the watchlist entry's own words
		d = d[:len(d)-1]
	case CampaignUnderWay:
		d = "a campaign is under way (" + orSome(a.s, "a thin symbol") + "pumped with hijacked accounts " + dur(a.a) + " ago)"
	case PhishableLoginNewAddress:
		d = "logged in by " + orSome(a.s, "password") + "(a code a phishing page can relay) on a client the account does not know, from an address block it never used"
	case SellAfterAccountChange:
		d = "sell of long-held shares " + dur(a.a) + " after " + orSome(a.s, "an account change") + "changed"
	case MarketRamp:
		d = "the symbol's market volume is " + strconv.FormatFloat(a.a, 'f', 0, 64) + "x an average day's by now, price " +
			strconv.FormatFloat(100*a.b, 'f', 1, 64) + "% on the previous close"
	}
	if ss.Inherited&(1<<s) != 0 {
		d = "session login: " + d
	}
	return d
}

// orSome returns s followed by a space, or the fallback (followed by a space when not empty).
func orSome(s, fallback string) string {
	if s == "" {
		s = fallback
	}
	if s == "" {
		return ""
	}
	return s + " "
}

// parens returns " (s)", or nothing for an empty s.
func parens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// uaFamily reduces a User-Agent to a family such as "chrome/windows" or "app/ios".
func uaFamily(ua string) string {
	if ua == "" {
		return ""
	}
	os := "other"
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iOS"):
		os = "ios"
	case strings.Contains(ua, "Android"):
		os = "android"
	case strings.Contains(ua, "Windows"):
		os = "windows"
	case strings.Contains(ua, "Mac OS X"), strings.Contains(ua, "Macintosh"):
		os = "mac"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		os = "linux"
	}
	b := "other"
	switch {
	case !strings.HasPrefix(ua, "Mozilla/"):
		// Apps and scripts name themselves first: "BrokerApp/5.2 (iOS 17.4)", "python-requests/2.31".
		if i := strings.IndexAny(ua, "/ "); i > 0 {
			b = strings.ToLower(ua[:i])
		} else {
			b = strings.ToLower(ua)
		}
		if len(b) > 24 {
			b = b[:24]
		}
	case strings.Contains(ua, "Edg/"):
		b = "edge"
	case strings.Contains(ua, "OPR/"):
		b = "opera"
	case strings.Contains(ua, "Firefox/"), strings.Contains(ua, "FxiOS/"):
		b = "firefox"
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "CriOS/"):
		b = "chrome"
	case strings.Contains(ua, "Safari/"):
		b = "safari"
	}
	return b + "/" + os
}

// tlsStack names the TLS stack a user agent's own client would carry: the stack is the networking
// library's, not the browser's brand. Chrome, Edge, Opera and other Chromium browsers share one on every
// system but iOS; every browser on iOS (Chrome and Firefox included) uses Apple's, as Safari does on a
// Mac; Firefox uses its own elsewhere. Apps and scripts, which name themselves, are their own stack. A
// client whose TLS fingerprint is carried by another stack everywhere else lies about what it is.
func tlsStack(fam string) string {
	b, os, _ := strings.Cut(fam, "/")
	switch {
	case os == "ios" && b != "other" && isBrowser(b):
		return "apple"
	case b == "safari":
		return "apple"
	case b == "chrome" || b == "edge" || b == "opera":
		return "chromium"
	case b == "firefox":
		return "gecko"
	}
	return fam
}

func isBrowser(b string) bool {
	switch b {
	case "chrome", "edge", "opera", "firefox", "safari":
		return true
	}
	return false
}
