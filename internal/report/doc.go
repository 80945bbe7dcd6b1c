// Package report produces the regulator's reports: the monthly tally of unauthorized accesses and
// trades, the tallies as filed (vintages, never overwritten) and their revisions.
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
package report
