package sim

import (
	"strconv"
)

// browser is a client software family: its channel, the TLS stack's JA4 fingerprint (one per stack:
// Chromium's BoringSSL, Firefox's NSS, Apple's network stack, OkHttp, scripting libraries) and how its
// User-Agent is written.
type browser uint8

const (
	brChromeWin browser = iota
	brEdgeWin
	brFirefoxWin
	brChromeMac
	brSafariMac
	brSafariIOS
	brChromeAndroid
	brAppIOS
	brAppAndroid
	brPythonTool // scripting client of an attack tool
	brGoTool
	numBrowsers
)

// JA4 fingerprints of the TLS stacks.
const (
	ja4Chromium = "t13d1516h2_8daaf6152771_d8a2da3f94cd"
	ja4Firefox  = "t13d1715h2_5b57614c22b0_5c2c66f702b0"
	ja4Apple    = "t13d2014h2_a09f3c656075_14788d8d241b"
	ja4OkHTTP   = "t13d1713h2_5b57614c22b0_eca864cca44a"
	ja4Python   = "t13d1812h1_85036bcba153_375ca2c5e164"
	ja4Go       = "t13d1312h2_f57a46bbacb6_e7c285222651"
)

type browserInfo struct {
	family string // user-agent family as a detector would name it
	app    bool   // the firm's phone app rather than a browser
	mobile bool
	ja4    string
}

var browsers = [numBrowsers]browserInfo{
	brChromeWin:     {"chrome", false, false, ja4Chromium},
	brEdgeWin:       {"edge", false, false, ja4Chromium},
	brFirefoxWin:    {"firefox", false, false, ja4Firefox},
	brChromeMac:     {"chrome", false, false, ja4Chromium},
	brSafariMac:     {"safari", false, false, ja4Apple},
	brSafariIOS:     {"mobile_safari", false, true, ja4Apple},
	brChromeAndroid: {"chrome_mobile", false, true, ja4Chromium},
	brAppIOS:        {"app_ios", true, true, ja4Apple},
	brAppAndroid:    {"app_android", true, true, ja4OkHTTP},
	brPythonTool:    {"python", false, false, ja4Python},
	brGoTool:        {"go", false, false, ja4Go},
}

func (b browser) info() *browserInfo { return &browsers[b] }

func (b browser) channel() string {
	switch {
	case browsers[b].app:
		return "app"
	case b == brPythonTool || b == brGoTool:
		return "api" // a customer's own trading program
	}
	return "web"
}

// Release anchors for version numbers: Chrome 120 and Firefox 121 shipped in December 2023 and both
// ship a major version about every four weeks; Safari and iOS take a new major each September.
var (
	chromeAnchor  = int64(19696) // 2023-12-05
	firefoxAnchor = int64(19710) // 2023-12-19
	appleMajors   = []struct {
		from  int64
		major int
	}{{19982, 18}, {20346, 26}} // 2024-09-16 → 18, 2025-09-15 → 26; earlier 17
)

func chromeMajor(day int64) int  { return 120 + int((day-chromeAnchor)/28) }
func firefoxMajor(day int64) int { return 121 + int((day-firefoxAnchor)/28) }

func appleVersion(day int64) (major, minor int) {
	major, from := 17, int64(19618) // 2023-09-18
	for _, a := range appleMajors {
		if day >= a.from {
			major, from = a.major, a.from
		}
	}
	minor = int((day - from) / 45)
	if minor > 6 {
		minor = 6
	}
	return major, minor
}

var androidModels = []string{"SH-M26", "SO-51E", "SC-51D", "Pixel 8", "A302SH", "SOG13", "moto g64 5G", "Pixel 9a"}
var iphoneModels = []string{"iPhone14,5", "iPhone15,2", "iPhone15,4", "iPhone16,1", "iPhone16,2", "iPhone17,3", "iPhone13,2"}

// userAgent writes the User-Agent of browser b on day for a device whose software lags lag versions
// behind the newest and whose model index is model.
func userAgent(b browser, day int64, lag, model int) string {
	var s []byte
	num := func(v int) { s = strconv.AppendInt(s, int64(v), 10) }
	switch b {
	case brChromeWin, brEdgeWin:
		v := chromeMajor(day) - lag
		s = append(s, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/"...)
		num(v)
		s = append(s, ".0.0.0 Safari/537.36"...)
		if b == brEdgeWin {
			s = append(s, " Edg/"...)
			num(v)
			s = append(s, ".0.0.0"...)
		}
	case brFirefoxWin:
		v := firefoxMajor(day) - lag
		s = append(s, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:"...)
		num(v)
		s = append(s, ".0) Gecko/20100101 Firefox/"...)
		num(v)
		s = append(s, ".0"...)
	case brChromeMac:
		s = append(s, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/"...)
		num(chromeMajor(day) - lag)
		s = append(s, ".0.0.0 Safari/537.36"...)
	case brSafariMac:
		ma, mi := appleVersion(day - int64(lag)*45)
		s = append(s, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/"...)
		num(ma)
		s = append(s, '.')
		num(mi)
		s = append(s, " Safari/605.1.15"...)
	case brSafariIOS:
		ma, mi := appleVersion(day - int64(lag)*45)
		s = append(s, "Mozilla/5.0 (iPhone; CPU iPhone OS "...)
		num(ma)
		s = append(s, '_')
		num(mi)
		s = append(s, " like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/"...)
		num(ma)
		s = append(s, '.')
		num(mi)
		s = append(s, " Mobile/15E148 Safari/604.1"...)
	case brChromeAndroid:
		s = append(s, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/"...)
		num(chromeMajor(day) - lag)
		s = append(s, ".0.0.0 Mobile Safari/537.36"...)
	case brAppIOS:
		ma, mi := appleVersion(day - int64(lag)*45)
		s = append(s, "TradeApp/"...)
		s = appendAppVersion(s, day, lag)
		s = append(s, " ("...)
		s = append(s, iphoneModels[model%len(iphoneModels)]...)
		s = append(s, "; iOS "...)
		num(ma)
		s = append(s, '.')
		num(mi)
		s = append(s, "; Scale/3.00)"...)
	case brAppAndroid:
		s = append(s, "TradeApp/"...)
		s = appendAppVersion(s, day, lag)
		s = append(s, " (Android "...)
		num(13 + (model+lag)%3)
		s = append(s, "; "...)
		s = append(s, androidModels[model%len(androidModels)]...)
		s = append(s, ')')
	case brPythonTool:
		s = append(s, "python-requests/2.32.3"...)
	case brGoTool:
		s = append(s, "Go-http-client/2.0"...)
	}
	return string(s)
}

// appendAppVersion writes the firm's app version: a minor release every six weeks.
func appendAppVersion(s []byte, day int64, lag int) []byte {
	rel := int((day-19723)/42) - lag // releases since 2024-01-01
	if rel < 0 {
		rel = 0
	}
	s = strconv.AppendInt(s, int64(4+rel/10), 10)
	s = append(s, '.')
	s = strconv.AppendInt(s, int64(rel%10), 10)
	return append(s, ".0"...)
}

// Accept-Language values by the customer's language and the client family.
func acceptLanguage(lang string, b browser) string {
	if b == brPythonTool || b == brGoTool {
		return "" // scripts send none
	}
	switch lang {
	case "ja":
		switch b {
		case brFirefoxWin:
			return "ja,en-US;q=0.7,en;q=0.3"
		case brSafariMac, brSafariIOS:
			return "ja-JP,ja;q=0.9"
		case brAppIOS, brAppAndroid:
			return "ja-JP"
		}
		return "ja,en-US;q=0.9,en;q=0.8"
	case "en":
		if browsers[b].app {
			return "en-JP"
		}
		return "en-US,en;q=0.9"
	case "zh":
		return "zh-CN,zh;q=0.9"
	case "ko":
		return "ko-KR,ko;q=0.9"
	case "vi":
		return "vi-VN,vi;q=0.9"
	}
	return ""
}
