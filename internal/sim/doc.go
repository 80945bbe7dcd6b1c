// Package sim simulates an online securities firm in Japan: its customers, the market they trade in,
// and the account takeovers and pump campaigns of 2025. It writes the firm's event log in the
// brokerguard event contract (events-v1) together with a ground truth, so that detection can be built,
// tuned and measured honestly.
//
// # What is simulated
//
// Customers of six kinds (dormant fund/NISA holders, long-term investors, swing traders, day traders on
// margin, elderly customers partly on the phone, speculators in small caps), each with devices (PC
// browsers, the phone app, phone browsers; device ids, User-Agents and JA4 TLS fingerprints that stay
// consistent per device), a home network in a real Japanese ISP range and a mobile carrier (whose
// carrier-grade NAT addresses many subscribers share), login hours, trading habits, an opening
// snapshot, and a bank account for withdrawals. Legitimate surprises happen at stated rates: trips
// abroad, new phones and PCs, cleared cookies, VPNs on hosting networks, shared household addresses
// and PCs, full liquidation followed by a withdrawal to the usual bank, first margin use, small-cap
// speculation, forgotten passwords with lockouts and resets, email, notice, bank and MFA changes, and
// phone sessions that change address.
//
// The market has prime large caps, standard/growth small caps (most priced 80-400 yen, thin volume)
// and funds with one NAV a day. Stocks get a quote each trading minute that has trades (TSE hours,
// 9:00-11:30 and 12:30-15:30 JST), with prices that respond to this firm's buying and selling, daily
// price limits, opening auctions for orders placed outside hours, and executions with fees.
//
// Attack campaigns follow PRODUCT.md: real-time relay phishing (the attacker logs in from its own
// network and relays the one-time code), stolen sessions (the victim's session id and device id used
// from another network, no login) and credential-stuffing waves (failed logins on real and unknown
// ids from shared sources, a few successes). Inside an account attackers turn notices off, change
// the email, sell every holding (funds and NISA included), buy the target in steps with the proceeds
// and margin, and try to withdraw to a new bank account. The target's volume jumps 100-300x the
// previous day and its price rises 20-40% before fading; the criminals' own accounts buy days before
// and sell into the rise; some victims report hours or days later. Careless crews work from hosting
// or foreign addresses shared by many victims, with a foreign browser language or a scripting TLS
// stack; careful ones from Japanese residential addresses with the victim's own browser family.
//
// Addresses come from a table of real IPv4 ranges (iptable.go) derived by internal/ipgen from the IP
// reference data in shared/ipdata, with its attribution; the table is embedded, so the simulator
// needs no files at run time. Scenarios are YAML (see scenarios/*.yaml for every parameter).
//
// # Variation
//
// A scenario is one point; with Options.Vary (simulate --vary, or the scenario key vary: true) it
// becomes a distribution. The parameters below are drawn from a stream of the seed of their own, so the
// same seed and vary give the same output and different seeds different draws; the truth records them
// under "draws". Without vary nothing below happens and a seed's output is what it always was.
//
//   - Per run: every legitimate surprise rate and share times a multiplier in [1, 3] (shares capped at
//     1), and the kinds only varied runs add, at base rates times the multiplier: corporate_egress
//     (share of customers whose office PC reaches the firm through their employer's proxy on a Japanese
//     cloud, 8:30-19:00 on trading days; 0.01-0.03), aggregators (share with a household-finance service
//     that logs in with the password between 01:00 and 05:00 from a few Japanese cloud addresses shared by
//     all its users, channel api, no device id; 0.005-0.02), portfolio_switch (sell most holdings and buy
//     one to three others in one session; 0.005-0.015 per account-month) and domestic_travel (hotel Wi-Fi
//     on another Japanese ISP or a hosting network, 1-5 days; 0.01-0.03 per account-month). A third of
//     day traders' API bots run on a VPS anywhere. The chance that a campaign pumps again is 0.3-0.5.
//   - Per campaign: timing burst (victims entered from up to 10 minutes before to 15-75 minutes after the
//     ramp start; 25%), spread (a 1.5-5 hour window starting up to 2 hours before the ramp, not before
//     07:00 nor past 14:45; 45%) or stealthy (08:00-14:45; 30%); the buys follow 6-35 minutes after
//     entry (careless crews 2-15), orders before 09:00 or in the lunch break wait for the session. A
//     share of 0-0.4 of relay and stolen-session victims is hit the evening before (17:00-22:30): sells
//     and market buys on margin where the account has it are queued for the open, and half of those with
//     margin, and all without, come back on the ramp day to buy with the proceeds. Victims 0.5-1.5x the
//     scenario's (at least 2), each way in's share 0.5-1.5x. Careful share 0.1-0.7 (burst), 0.2-0.9
//     (spread), 0.6-1.0 (stealthy). Ramp start 09:05-13:59, 45-240 trading minutes to the peak (stealthy
//     90-240), shape 0 (volume and rise close to the peak) to 1 (wide and flat; stealthy 0.5-1), 3-15
//     bursts of 1-4 minutes drawn along the curve carrying 0-90% of the rest of the market's ramp volume,
//     the price rising with the volume; volume multiple 50-300, rise 0.12-0.40. A campaign that pumps
//     again does so on the next trading day from 09:00-13:20, for 30-150 minutes, with 15-50% of the ramp
//     day's volume and 30-60% of its rise.
//   - Careful attackers (campaigns and standalone): one Japanese fixed-line or mobile-carrier address per
//     victim, never reused (mobile share 0.1-0.6), the victim's client family in the User-Agent and the
//     victim's exact string with a share of 0.3-1.0, a TLS stack other than the User-Agent's with a share
//     of 0.3-0.9, the one-time code relayed in real time, no device id. Session thieves use the victim's
//     session and device id from a new address; careful ones on another TLS stack with a share of
//     0.6-0.95 (careless ones as without vary).
//   - Beneficiaries: 1 to the scenario's count + 2, accounts opened 60-300 days before the data, buying
//     quietly on about 80% of 1-5 .. 2-13 lead days, selling into the ramp in 3-8 limit orders, each above
//     the last, from early in the ramp to its peak, and what is left into a next-day pump. With a chance
//     of 0-0.5 per session a beneficiary uses the address or the device the campaign's beneficiaries
//     share; otherwise its own home or phone.
//
// # Output
//
// Events are JSON Lines in strict time order (ties in the order the simulator made them), with
// unique ids e1, e2, ...; instruments and snapshots come first. The same scenario, options and seed
// give byte-identical output.
//
// The ground truth is one JSON document (type Truth):
//
//	{
//	  "version": 1, "scenario": "wave-2025", "seed": 1,
//	  "start": "...", "end": "...", "trading_days": 15, "accounts": 100000, "instruments": 310,
//	  "takeovers": [{
//	    "account": "A12345678", "kind": "phishing_relay|stolen_session|credential_stuffing",
//	    "style": "careless|careful", "campaign": "cmp-1", "wave": "cs-1", "night": true,
//	    "sessions": ["s..."], "addresses": ["..."], "start": "...", "end": "...",
//	    "first_order": "e123",
//	    "events": [{"id": "e120", "time": "...", "type": "login", "result": "success", "session": "s..."},
//	               {"id": "e123", "type": "order", "order_id": "o9", "symbol": "2671", "side": "sell",
//	                "quantity": 300, "account_type": "nisa", "yen": 420000}, ...],
//	    "fraud_report": "e990", "fraud_report_time": "..."}],
//	  "campaigns": [{"id": "cmp-1", "symbol": "2671", "ramp_day": "2025-04-10", "ramp_start": "...",
//	    "victims": [...], "beneficiaries": [...], "first_hijacked_buy": "e456",
//	    "first_hijacked_buy_time": "...", "hijacked_buy_shares": 0, "hijacked_buy_yen": 0,
//	    "prev_close": 0, "open": 0, "high": 0, "close": 0, "prev_day_volume": 0, "ramp_day_volume": 0, ...}],
//	  "stuffing_waves": [{"id": "cs-1", "style": "...", "start": "...", "end": "...", "sources": [...],
//	    "attempts": 12000, "accounts": 9000, "successes": [...]}],
//	  "beneficiaries": ["A..."],
//	  "legitimate": {"accounts": 0, "logins": 0, "failed_logins": 0, "profile_changes": 0, "orders": 0,
//	    "order_yen": 0, "withdrawals": 0},
//	  "surprises": {"travel_abroad": {"count": 0, "opportunities": 0, "unit": "account_day", "rate": 0.008}, ...},
//	  "behaviours": {"login.success": 0, "attack.target_buy": 0, "events.quote": 0, ...},
//	  "draws": {"surprise_multiplier": 2.1, "surprises": {...}, "repump_share": 0.4,
//	    "campaigns": [{"id": "cmp-1", "timing": "spread", "hijack_from": "08:40", "hijack_to": "12:55",
//	      "night": 0.3, "careful": 0.7, "ramp_minutes": 150, "ramp_shape": 0.6, "burstiness": 0.4, ...,
//	      "takeovers": [{"account": "A...", "kind": "phishing_relay", "style": "careful", "night": false,
//	        "hijack": "...", "address": "jp_mobile", "ua_copied": true, "tls_mismatch": true}]}],
//	    "standalone": {...}, "offices": 12, "aggregators": [{"name": "...", "addresses": [...], "tls": "..."}]}
//	}
//
// A takeover's events are every event the attacker caused, in time order: its logins (failed ones
// too), the requests on its sessions (profile changes, orders, cancels, withdrawals, logouts) and the
// executions of its orders. An order's "yen" is its quantity times its limit price, or the last price
// when placed for a market order. "legitimate" counts the customers' own events: everything that is
// neither an attacker's nor a beneficiary account's. A surprise's "rate" is the scenario parameter and
// "opportunities" the eligible account-days (rates per account-month: expected count = rate/30 ×
// opportunities), logins (shares of logins) or accounts (shares of accounts).
package sim
