package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checkQuery refuses a query parameter that the route does not take, and one given twice, so that a
// misspelt filter is an error rather than a listing that silently ignores it.
func checkQuery(r *http.Request, accepted []string) error {
	for name, vs := range r.URL.Query() {
		if !slices.Contains(accepted, name) {
			if len(accepted) == 0 {
				return badParam(name, fmt.Sprintf("%s: this endpoint takes no query parameters", name))
			}
			return badParam(name, fmt.Sprintf("%s: unknown query parameter; this endpoint takes %s", name, strings.Join(accepted, ", ")))
		}
		if len(vs) > 1 {
			return badParam(name, fmt.Sprintf("%s: given %d times, give it once", name, len(vs)))
		}
	}
	return nil
}

// queryEnum returns the value of a parameter that takes one of accepted ("" when absent).
func queryEnum(r *http.Request, name string, accepted ...string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" || slices.Contains(accepted, v) {
		return v, nil
	}
	return "", badParam(name, fmt.Sprintf("%s: %q is not one of %s", name, v, strings.Join(accepted, ", ")))
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, badParam(name, fmt.Sprintf("%s: %q is not an RFC 3339 time with offset (2025-04-11T12:00:00+09:00)", name, v))
	}
	return t, nil
}

func queryInt(r *http.Request, name string, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badParam(name, fmt.Sprintf("%s: %q, want a whole number %d..%d", name, v, lo, hi))
	}
	return n, nil
}

// Page sizes of every listing.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// queryLimit reads limit: default 100, at most 1,000.
func queryLimit(r *http.Request) (int, error) {
	n, err := queryInt(r, "limit", 1, maxLimit)
	if n == 0 {
		n = defaultLimit
	}
	return int(n), err
}

// readWindow reads the query parameters every listing of decisions and alerts takes: since and until
// (RFC 3339), before (the cursor of the previous page) and limit.
func readWindow(r *http.Request, since, until *time.Time, before *int64, limit *int) error {
	var err error
	if *since, err = queryTime(r, "since"); err != nil {
		return err
	}
	if *until, err = queryTime(r, "until"); err != nil {
		return err
	}
	if *before, err = queryInt(r, "before", 1, 1<<62); err != nil {
		return err
	}
	*limit, err = queryLimit(r)
	return err
}
