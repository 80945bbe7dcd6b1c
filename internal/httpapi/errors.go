package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/brokerguard/brokerguard/internal/fault"
)

// Stable error codes of the API. Clients branch on the code; the message is for people.
const (
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeBadRequest       = "bad_request"
	CodeInvalidEvent     = "invalid_event"
	CodeBodyTooLarge     = "body_too_large"
	CodeBatchTooLarge    = "batch_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnavailable      = "unavailable"
	CodeOverloaded       = "overloaded"
	CodeInternal         = "internal"
)

// retryAfterSeconds is the Retry-After of a 429: long enough for a burst to pass, short enough that a
// client retrying on it loses little.
const retryAfterSeconds = 1

// apiError is an error with its HTTP status and stable code; its message is safe to show.
type apiError struct {
	status  int
	code    string
	message string
	field   string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, message: msg}
}

// badParam is a 400 naming the query parameter or body field that is wrong.
func badParam(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeBadRequest, field: field, message: msg}
}

// present translates any error into a status, a code and a message. It is the one place where errors
// become HTTP, by the product's error kinds (internal/fault); a 5xx never carries internal text. An
// error written for the person (fault.Errorf) is shown as it is; any other error of a kind (a store's
// not-found, say) shows only the kind's words.
func present(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	say := func(words string) string {
		if fault.Shown(err) {
			return err.Error()
		}
		return words
	}
	switch {
	case errors.Is(err, fault.ErrInvalid):
		return errorf(http.StatusBadRequest, CodeBadRequest, say("invalid request"))
	case errors.Is(err, fault.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, say("not found"))
	case errors.Is(err, fault.ErrConflict), errors.Is(err, fault.ErrExists):
		return errorf(http.StatusConflict, CodeConflict, say("conflict"))
	case errors.Is(err, fault.ErrForbidden):
		return errorf(http.StatusForbidden, CodeForbidden, say("forbidden"))
	case errors.Is(err, fault.ErrOverloaded):
		return errorf(http.StatusTooManyRequests, CodeOverloaded, "too many events in flight: nothing of this request was taken; retry it after the time in Retry-After")
	case errors.Is(err, fault.ErrUnavailable):
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "temporarily unavailable; retry the request")
	}
	return errorf(http.StatusInternalServerError, CodeInternal, "internal error")
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, ae *apiError) {
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="brokerguard"`)
	}
	if ae.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	writeJSON(w, ae.status, errorBody{Error: errorDetail{Code: ae.code, Message: ae.message, Field: ae.field}})
}
