package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/brokerguard/brokerguard/internal/httpapi"
)

// TestRootHandlerSeparatesAPIAndBrowser checks the composition root's mount: the API's paths go to the
// API's handler, everything else to the browser's, and without a browser handler everything is the
// API's.
func TestRootHandlerSeparatesAPIAndBrowser(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	api, browser := named("api"), named("browser")
	root := rootHandler(api, browser)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/v1/decisions", "api"},
		{"POST", "/v1/events", "api"},
		{"GET", "/v1/incidents/inc-1/evidence", "api"},
		{"GET", "/v1", "api"},
		{"GET", "/v1/nothing", "api"},
		{"GET", "/metrics", "api"},
		{"GET", "/healthz", "api"},
		{"GET", "/readyz", "api"},
		{"GET", "/", "browser"},
		{"GET", "/incidents/inc-1", "browser"},
		{"POST", "/login", "browser"},
	} {
		rec := httptest.NewRecorder()
		root.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if got := rec.Body.String(); got != tc.want {
			t.Errorf("%s %s: served by %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	rec := httptest.NewRecorder()
	rootHandler(api, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/incidents", nil))
	if rec.Body.String() != "api" {
		t.Errorf("without a browser handler, / served by %q, want the API", rec.Body.String())
	}
	if len(httpapi.Paths()) == 0 {
		t.Fatal("httpapi.Paths is empty")
	}
}
