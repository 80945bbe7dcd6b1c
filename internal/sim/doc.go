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
//	  "behaviours": {"login.success": 0, "attack.target_buy": 0, "events.quote": 0, ...}
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
