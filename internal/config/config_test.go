package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yml")
	files = append(files, "../../brokerguard.example.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			env := []string{"BROKERGUARD_GATEWAY_KEY=" + strings.Repeat("k", 32)}
			os.Setenv("BROKERGUARD_GATEWAY_KEY", strings.Repeat("k", 32))
			c, err := Load(f, env)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("got %v, want valid", err)
			}
		})
	}
}

func TestFullFileValues(t *testing.T) {
	c, err := Load("testdata/full.good.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Lateness != 2*time.Minute || c.Server.MaxBatch != 10 || c.Server.MaxBodyBytes != 4<<20 || c.AlertScore != 800 {
		t.Errorf("got %+v", c)
	}
	if c.Server.MaxInflightEvents != 64 || c.Server.MaxInflightRequests != 8 || c.Server.AdmissionWait != 2*time.Millisecond {
		t.Errorf("got max_inflight_events %d, max_inflight_requests %d, admission_wait %s; want 64, 8, 2ms",
			c.Server.MaxInflightEvents, c.Server.MaxInflightRequests, c.Server.AdmissionWait)
	}
	if c.Limits.MaxYen != 1e12 || c.Limits.MaxShares != 1e12 {
		t.Errorf("got limits %+v, want max_yen 1e12 from the file and the default max_shares 1e12", c.Limits)
	}
	if c.Retention.Quotes != 72*time.Hour || c.Retention.RawEvents != 0 {
		t.Errorf("got retention %+v, want quotes 72h and raw_events 0", c.Retention)
	}
	if got := c.RedactedDB(); strings.Contains(got, "secret") {
		t.Errorf("RedactedDB %q shows the password", got)
	}
}

func TestBadFiles(t *testing.T) {
	tests := map[string][]string{
		"unknown-key.bad.yml": {"field listen not found"},
		"oidc.bad.yml":        {`oidc.issuer: "ftp://idp.example.com"`, "oidc.client_id: required", `oidc.redirect_url: "https://console.example.com/login"`},
		"bad-values.bad.yml": {"db:", "lateness:", "alert_score:", "thresholds.order[1]", "server.max_batch",
			"server.max_inflight_events: -1", "server.max_inflight_requests: 0", "server.admission_wait: 5s",
			`api_keys[0].role: "god"`, "api_keys[0].sha256", `api_keys[1].name: "a" used twice`,
			"api_keys[1]: give exactly one of", `log.level: "loud"`, "limits.max_yen: 1e+300",
			"retention.quotes: 1h0m0s, want 0 (keep forever) or at least 24h", "retention.raw_events: -24h0m0s"},
	}
	for file, wants := range tests {
		t.Run(file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", file), nil)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatal("got valid, want errors")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	c, err := Load("testdata/minimal.good.yml", []string{"BROKERGUARD_DATA_DIR=/tmp/x", "BROKERGUARD_LATENESS=90s", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/tmp/x" || c.Lateness != 90*time.Second {
		t.Errorf("got data_dir %q lateness %s", c.DataDir, c.Lateness)
	}
	if _, err := Load("", []string{"BROKERGUARD_LATENESS=soon"}); err == nil || !strings.Contains(err.Error(), "BROKERGUARD_LATENESS") {
		t.Errorf("got %v, want an error naming BROKERGUARD_LATENESS", err)
	}
}

func TestKeyFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k"), []byte("  file-secret-0123456789\n"), 0o600)
	t.Setenv("BG_TEST_KEY", "env-secret-0123456789")
	c := Default()
	c.APIKeys = []APIKey{{Name: "f", Role: RoleIngest, KeyFile: filepath.Join(dir, "k")}, {Name: "e", Role: RoleRead, KeyEnv: "BG_TEST_KEY"},
		{Name: "short", Role: RoleRead, KeyEnv: "BG_UNSET_KEY"}}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "BG_UNSET_KEY is unset") {
		t.Fatalf("got %v, want the unset key named", err)
	}
	var f APIKey
	f.SetKey("file-secret-0123456789")
	if c.APIKeys[0].Hash() != f.Hash() {
		t.Error("key file not trimmed and hashed")
	}
	if strings.Contains(err.Error(), "env-secret") || strings.Contains(err.Error(), "file-secret") {
		t.Error("error shows a secret")
	}
}

func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o604, false}, {0o644, false}} {
		path := filepath.Join(dir, fmt.Sprintf("k%o", tc.mode))
		os.WriteFile(path, []byte("file-secret-0123456789"), 0o600)
		os.Chmod(path, tc.mode)
		c := Default()
		c.APIKeys = []APIKey{{Name: "f", Role: RoleIngest, KeyFile: path}}
		err := c.Validate()
		if tc.ok && err != nil {
			t.Errorf("mode %04o: got %v, want no error", tc.mode, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "api_keys[0].key_file") || !strings.Contains(err.Error(), "chmod 600 "+path)) {
			t.Errorf("mode %04o: got %v, want an error naming the setting and the fix", tc.mode, err)
		}
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{"defaults", "", ""},
		{"both", "limits: {max_yen: 5e14, max_shares: 1000000}", ""},
		{"yen above the ceiling", "limits: {max_yen: 1e16}", "limits.max_yen: 1e+16, want 1 to 1e+15"},
		{"shares below one", "limits: {max_shares: 0.5}", "limits.max_shares: 0.5, want 1 to 1e+15"},
		{"zero", "limits: {max_yen: 0}", "limits: max_yen and max_shares must not be 0"},
		{"infinite", "limits: {max_yen: .inf}", "limits.max_yen: +Inf"},
		{"not a number", "limits: {max_shares: .nan}", "limits.max_shares: NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yml")
			os.WriteFile(path, []byte(tt.yaml), 0o600)
			c, err := Load(path, nil)
			if err == nil {
				err = c.Validate()
			}
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("got %v, want an error with %q", err, tt.err)
			}
			if err == nil && c.Limits.Event().Validate() != nil {
				t.Errorf("valid config gives invalid event limits %+v", c.Limits)
			}
		})
	}
}
