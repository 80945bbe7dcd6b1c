// Package backfill re-scans history with the live detection engine and proposes incidents for the
// takeovers nobody reported. It sits beside detection: it reads the engine's decisions and alerts and
// detect.TakeoverSigns, and hands each proposal on as a reconstruct.Claim.
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
package backfill
