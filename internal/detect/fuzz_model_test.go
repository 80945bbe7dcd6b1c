package detect

import (
	"testing"

	"github.com/brokerguard/brokerguard/internal/event"
)

// FuzzParseModel feeds model files to ParseModel: an error or a model that scores, never a panic.
func FuzzParseModel(f *testing.F) {
	f.Add(defaultModel)
	f.Add([]byte("version: v\nweights: {NEW_DEVICE: 1}\ninteractions: [{code: X, a: [NEW_DEVICE], b: [NEW_ASN], weight: 1}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseModel(b, "fuzz.yaml")
		if err != nil {
			return
		}
		var ss Signals
		ss.Set(NewDevice, 1, 0, 0, "")
		ss.Set(NewASN, 1, 0, 0, "")
		if score, _ := m.Score(event.TypeLogin, &ss, nil); score < 0 || score > 1000 {
			t.Fatalf("score %d outside 0..1000", score)
		}
	})
}
