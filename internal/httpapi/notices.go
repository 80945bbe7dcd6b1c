package httpapi

import (
	"context"
	"fmt"
	"net/http"
)

// NoticeAnswers takes a customer's answer to a notice: "no" (it was not me) or "yes" (it was me).
type NoticeAnswers interface {
	AnswerNotice(ctx context.Context, id, answer, actor string) (NoticeAnswer, error)
}

// NoticeAnswer is what an answer did.
type NoticeAnswer struct {
	Notice  string `json:"notice"`
	Account string `json:"account"`
	Answer  string `json:"answer"`
	// FraudReport is the id of the fraud_report event a "no" became: the account is locked and an
	// incident opened as for a report on the phone.
	FraudReport string `json:"fraud_report,omitempty"`
	Status      string `json:"status"` // recorded, or duplicate for an answer given before
}

type noticeAnswerRequest struct {
	Answer string `json:"answer"`
}

// postNoticeAnswer is the firm's app telling brokerguard what the customer answered to "was this you?".
func (s *Server) postNoticeAnswer(w http.ResponseWriter, r *http.Request) error {
	if s.o.Notices == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "customer notices are not enabled on this server (notices: in the configuration)")
	}
	var req noticeAnswerRequest
	if err := readBody(w, r, &req); err != nil {
		return err
	}
	if req.Answer != "yes" && req.Answer != "no" {
		return badParam("answer", fmt.Sprintf("answer %q: want \"yes\" (it was the customer) or \"no\" (it was not)", req.Answer))
	}
	res, err := s.o.Notices.AnswerNotice(r.Context(), r.PathValue("id"), req.Answer, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
