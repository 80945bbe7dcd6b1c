// Package reconstruct rebuilds an incident from the event log: the claim (one account and its
// unauthorized orders, one line of an incidents file), the orders, executions, the attacker's accesses
// and the holdings before, and the market's prices and trading calendar that valuation reads.
//
// ReadIncidents reads the claims. Collect reads the event log once and keeps only what those claims
// need (a Book); Reconstruct resolves each claim against it. The compensation and report packages work
// on the Reconstruction and the Market interface, so a server can feed them from its store instead.
//
// Prices and fees are read from the literal text of the event's JSON (YenField), not from the
// decoder's float64.
package reconstruct
