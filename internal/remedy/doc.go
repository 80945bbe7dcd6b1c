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
// Per calendar month (JST), as the regulator's monthly table counts them: unauthorized accesses (every
// successful login of the attacker and every first use of a session the attacker did not log into,
// reconstructed from each incident's events; see Reconstruction.Accesses), unauthorized trades (each
// execution of an unauthorized order), yen sold and bought (each execution in its month, summed
// exactly and rounded down to whole yen once) and the accounts affected. TallyColumns describes the
// columns.
//
// Months are revised as incidents are confirmed later. A Vintage is a tally as filed (its rows, its
// name, when); Vintages stores them and never overwrites one (DirVintages: one JSON file per filing
// in a directory; a server implements the interface on its store). Revise sets the current rows
// beside the rows as last filed, month by month, with the change; a month filed under an earlier way
// of counting (TallyRow.Counting) is marked recounted. Vintages filed before the rows carried their
// counting still load as they were filed.
//
// # Exports
//
// WriteDecisionsCSV writes one row per incident (the amounts under every policy, the factors, the
// recommended amount, the status "pending approval" or "not computed" with the error).
// WriteEvidence writes an incident's evidence file: one self-contained HTML page for print (timeline
// of the unauthorized activity in JST, valuation per symbol, the amounts under every policy, the
// factors and their effect, the recommendation and its explanation, the approvals), with every text
// from the data escaped (html/template).
//
// # Backfill
//
// Backfill finds the takeovers nobody reported. It is fed, in processing order, every event of a
// detection run over history with the engine's decision and alerts (brokerguard backfill runs the
// same engine as replay). Events before From only taught the profiles. A session is suspicious when
// one of its decisions is at review or above, when a decision in it carries a takeover sign among its
// reason codes (detect.TakeoverSigns: the login's access signals, which its requests inherit), or when an
// account_takeover alert was raised in it. Its unauthorized part starts at the login when the login
// was suspicious, else at the first request from another address or device than the login's (a
// stolen session), else at the login; the orders placed from there on are proposed as unauthorized.
// An account's suspicious sessions within Gap (72h) of each other form an episode, scored 0..1000
// from its strongest session (its three strongest decisions weighted by action, the account changes
// and harms it made, an account_takeover alert), a little from the next two, less for every doubling
// of the days it spans (a takeover is a burst, a habit is spread out), plus the campaign and
// shared-infrastructure alerts naming the account. Episodes that a fraud_report of the account
// followed are set apart: the report opens its own incident. The others are proposed, ranked by
// score in bands of 25 points and by the yen traded within a band, each with its evidence and an
// Incident that compensate and tally take. The memory kept is bounded: sessions nothing flagged are
// forgotten six hours after they end (Keep), episodes are closed Gap after their last suspicious event
// and dropped at once when they score below MinScore.
package remedy
