package event

import "testing"

var benchLines = [][]byte{
	[]byte(`{"id":"e26864","type":"login","time":"2025-04-10T02:37:00.603+09:00","account":"A54819816","result":"success","method":"password_otp","session":"sb5e8914ca6ee3b0bed0efef7","ip":"43.107.206.196","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36","device":"d7f3a9","country":"JP","channel":"web","accept_language":"ja-JP,ja;q=0.9","tls":"t13d1516h2_8daaf6152771_02713d6af862"}`),
	[]byte(`{"id":"q1","type":"quote","time":"2025-04-10T09:01:00.000+09:00","symbol":"7203","price":2810.5,"volume":300000}`),
	[]byte(`{"id":"e26942","type":"order","time":"2025-04-10T02:51:48.538+09:00","account":"A54819816","order_id":"o1263","session":"sb5e8914ca6ee3b0bed0efef7","ip":"43.107.206.196","device":"d7f3a9","user_agent":"Mozilla/5.0","tls":"t13d1516h2","symbol":"7203","side":"sell","quantity":300,"account_type":"cash","channel":"web"}`),
}

// BenchmarkDecode measures decoding a mix of a login, a quote and an order.
func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(benchLines[i%len(benchLines)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawChecks measures the checks of the raw bytes (UTF-8, escapes, keys) that Decode adds to
// the JSON decoder's work, on the same mix.
func BenchmarkRawChecks(b *testing.B) {
	for i := 0; i < b.N; i++ {
		raw := benchLines[i%len(benchLines)]
		if checkUTF8(raw) != nil || checkKeys(raw) != nil {
			b.Fatal("refused")
		}
	}
}
