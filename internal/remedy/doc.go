// Package remedy makes victims of account takeover whole: it reconstructs each incident from the event
// log, values the loss in exact decimal arithmetic, applies the firm's compensation policy and the
// case's factors with an explanation, and produces the regulator's monthly tally.
//
// # Flow
//
// ReadIncidents reads the incidents (one JSON object a line: an account and its unauthorized orders).
// Collect then reads the event log once and keeps only what those incidents need (a Book). Reconstruct
// resolves each incident against it (orders, executions, the attacker's accesses, holdings before);
// Assess values it (Value) and applies a Policy (Decide); Tally counts a set of reconstructions by
// month. Value, Decide and Tally work on plain values (Reconstruction, the Market interface), so a
// server can feed them from its store instead of a Book.
//
// # Money
//
// Money and prices are Yen: exact decimals (github.com/cockroachdb/apd), never binary floats. Prices
// and fees are read from the literal text of the event's JSON, not from the decoder's float64. Every
// intermediate figure is exact; policy amounts are rounded down to whole yen once, at the end. In JSON
// a Yen is a string holding a plain decimal ("12350", "123.5", "-400").
//
// # Valuation
//
// Per symbol s, over the executions of the unauthorized orders: bought and sold shares and yen
// (quantity × price), and fees. V_s is the symbol's last quote at or before the end of the valuation
// date (JST), or the last execution price of the symbol (any account's) when it has no quote by then,
// which the valuation notes. The valuation date is the first trading day after the fraud report (the
// incident's report_time, else the account's fraud_report event), or after the last unauthorized
// event when there is no report, unless given. Trading days are weekdays that the log does not show to
// be holidays (see Calendar).
//
// The built-in policies:
//
//	restore:        loss = Σ_s (sold_s − bought_s shares) × V_s − Σ_s sold_yen_s + Σ_s bought_yen_s + fees
//	                compensation = max(0, loss)
//	half_purchased: for each symbol the attacker bought,
//	                loss_s = bought_yen_s − sold_yen_s − max(0, bought_s − sold_s shares) × V_s
//	                compensation = 0.5 × Σ_s max(0, loss_s) + fees + 10,000 (all fees; forced sales of
//	                holdings, symbols only sold, are not compensated)
//	half_total:     compensation = 0.5 × max(0, restore loss)
//
// each rounded down to whole yen. A margin buy counts like a cash buy: the customer holds the shares
// and owes their price. A policy file chooses one of them as its base and adds case factors (Factor):
// percentage points of the policy amount, or multipliers, each with its side (customer or firm) and
// the sentence the explanation shows.
//
// # Tally
//
// Per calendar month (JST): unauthorized accesses (one per attacker session: the successful login
// that opened it, or the session's first event when the log has no login for it), unauthorized trades
// (orders with at least one execution, in the month of the first), yen sold and bought (each
// execution in its month) and the accounts affected.
package remedy
