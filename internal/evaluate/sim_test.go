package evaluate

import (
	"bufio"
	"bytes"
	"context"
	"testing"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// TestSimulatedRun links the simulator's truth to its events: a decider that blocks every event
// stops every takeover and challenges every legitimate login; one that allows everything stops none.
func TestSimulatedRun(t *testing.T) {
	sc, err := sim.BuiltinScenario("small")
	if err != nil {
		t.Fatal(err)
	}
	var events, truth bytes.Buffer
	if _, err := sim.Generate(context.Background(), sc, sim.Options{Seed: 9, Accounts: 1500}, &events, &truth); err != nil {
		t.Fatal(err)
	}
	decide := func(a event.Action) *bytes.Buffer {
		var out bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(events.Bytes()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			e, err := event.Decode(sc.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !e.NeedsDecision() {
				continue
			}
			d := event.Decision{ID: e.ID, Account: e.Account, Type: e.Type.String(), Action: a}
			out.Write(event.AppendDecision(nil, &d))
			out.WriteByte('\n')
		}
		return &out
	}
	block, err := Evaluate(bytes.NewReader(truth.Bytes()), decide(event.ActionBlock), nil)
	if err != nil {
		t.Fatal(err)
	}
	if block.Takeovers.Takeovers == 0 || block.Takeovers.StoppedShare != 1 || block.Takeovers.StoppedYenShare != 1 {
		t.Errorf("blocking everything: %+v", block.Takeovers)
	}
	if block.Legitimate.LoginChallengeRate != 1 || block.Legitimate.OrderHoldRate != 1 {
		t.Errorf("blocking everything: legitimate %+v", block.Legitimate)
	}
	if block.Decisions.MissingAttacker != 0 || block.Decisions.MissingLegitimate != 0 {
		t.Errorf("decisions missing: %+v", block.Decisions)
	}
	allow, err := Evaluate(bytes.NewReader(truth.Bytes()), decide(event.ActionAllow), nil)
	if err != nil {
		t.Fatal(err)
	}
	if allow.Takeovers.Stopped != 0 || allow.Legitimate.LoginsChallenged != 0 || allow.Legitimate.AccountsBlocked != 0 {
		t.Errorf("allowing everything: %+v %+v", allow.Takeovers, allow.Legitimate)
	}
}
