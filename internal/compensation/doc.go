// Package compensation makes victims of account takeover whole: it values a reconstructed incident's
// loss in exact decimal arithmetic (Value), applies the firm's compensation policy and the case's
// factors with an explanation (Policy, Decide, Assess), and writes the decisions as CSV and each
// incident's printable evidence file.
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
// # Exports
//
// WriteDecisionsCSV writes one row per incident (the amounts under every policy, the factors, the
// recommended amount, the status "pending approval" or "not computed" with the error).
// WriteEvidence writes an incident's evidence file: one self-contained HTML page for print (timeline
// of the unauthorized activity in JST, valuation per symbol, the amounts under every policy, the
// factors and their effect, the recommendation and its explanation, the approvals), with every text
// from the data escaped (html/template).
package compensation
