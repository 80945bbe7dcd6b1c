package campaign

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
)

// Access is a request with takeover signs (or a withdrawal to a new destination), as the layer
// records it for linking accounts and for fraud reports.
type Access struct {
	ID        string
	Account   string
	Time      time.Time
	Addr      netip.Addr
	Anonymous bool // a hosting or VPN network
	// ForeignAddr and ForeignDevice are set when the network, or the device, is not the account's own;
	// only those link accounts and are watched after a fraud report.
	ForeignAddr   bool
	ForeignDevice bool
	Device        string
	Destination   string
	// Symbol is set for a buy of a thin symbol.
	Symbol string
	Signs  string
}

type resKey struct {
	kind  string
	value string
}

type acctUse struct {
	acct int32
	t    uint32
}

type trailItem struct {
	t           uint32
	addr        netip.Addr
	anonymous   bool
	foreignAddr bool
	foreignDev  bool
	device      string
	destination string
	symbol      string
}

const (
	maxUsesPerResource = 32
	maxTrail           = 24
	// Addresses link accounts only when this many share one: carrier NAT puts strangers behind one address.
	minIPAccounts = 3
)

// graph links accounts through shared infrastructure with a union-find over account ids.
type graph struct {
	mu      sync.Mutex
	ids     map[string]int32
	names   []string
	parent  []int32
	members map[int32][]int32  // root → accounts
	links   map[int32][]string // root → the resources that joined it (first few)
	alerted map[int32]int      // root → component size at its last alert
	res     map[resKey][]acctUse
	trails  map[int32][]trailItem
	inserts int
}

func newGraph() graph {
	return graph{ids: map[string]int32{}, members: map[int32][]int32{}, links: map[int32][]string{},
		alerted: map[int32]int{}, res: map[resKey][]acctUse{}, trails: map[int32][]trailItem{}}
}

func (g *graph) id(account string) int32 {
	if i, ok := g.ids[account]; ok {
		return i
	}
	i := int32(len(g.names))
	g.ids[account] = i
	g.names = append(g.names, account)
	g.parent = append(g.parent, i)
	return i
}

func (g *graph) find(i int32) int32 {
	for g.parent[i] != i {
		g.parent[i] = g.parent[g.parent[i]]
		i = g.parent[i]
	}
	return i
}

func (g *graph) size(root int32) int {
	if m, ok := g.members[root]; ok {
		return len(m)
	}
	return 1
}

// union joins the components of a and b through the resource named link; it returns the new root.
func (g *graph) union(a, b int32, link string) int32 {
	ra, rb := g.find(a), g.find(b)
	if ra == rb {
		return ra
	}
	if g.size(ra) < g.size(rb) {
		ra, rb = rb, ra
	}
	g.parent[rb] = ra
	ma := g.members[ra]
	if ma == nil {
		ma = []int32{ra}
	}
	mb := g.members[rb]
	if mb == nil {
		mb = []int32{rb}
	}
	g.members[ra] = append(ma, mb...)
	delete(g.members, rb)
	ls := append(g.links[ra], g.links[rb]...)
	if !slices.Contains(ls, link) {
		ls = append(ls, link)
	}
	if len(ls) > 6 {
		ls = ls[:6]
	}
	g.links[ra] = ls
	delete(g.links, rb)
	g.alerted[ra] = max(g.alerted[ra], g.alerted[rb])
	delete(g.alerted, rb)
	return ra
}

// use records that acct used the resource at t and returns the other accounts that used it within
// window before.
func (g *graph) use(k resKey, acct int32, t, window uint32) []int32 {
	uses := g.res[k]
	var others []int32
	self := -1
	j := 0
	for _, u := range uses {
		if u.t+window < t {
			continue // forget uses that left the window
		}
		if u.acct == acct {
			self = j
		} else {
			others = append(others, u.acct)
		}
		uses[j] = u
		j++
	}
	uses = uses[:j]
	switch {
	case self >= 0:
		uses[self].t = t
	case len(uses) < maxUsesPerResource:
		uses = append(uses, acctUse{acct, t})
	}
	g.res[k] = uses
	g.inserts++
	if g.inserts >= 1<<14 {
		g.inserts = 0
		for k, us := range g.res {
			if len(us) == 0 || us[len(us)-1].t+window < t {
				delete(g.res, k)
			}
		}
	}
	return others
}

func describe(k resKey) string {
	return k.kind + " " + k.value
}

// Access records a suspicious request: it extends the account's trail, links the account to others
// that used the same device, address or destination, and raises a shared_infrastructure alert when a
// group of linked accounts reaches three (and again each time it doubles).
func (l *Layer) Access(a *Access) []event.Alert {
	t := unix(a.Time)
	g := &l.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	acct := g.id(a.Account)
	tr := g.trails[acct]
	i := 0
	for i < len(tr) && (tr[i].t+l.cfg.LinkWindow < t || len(tr)-i >= maxTrail) {
		i++
	}
	g.trails[acct] = append(tr[i:], trailItem{t: t, addr: a.Addr, anonymous: a.Anonymous, foreignAddr: a.ForeignAddr,
		foreignDev: a.ForeignDevice, device: a.Device, destination: a.Destination, symbol: a.Symbol})

	root := g.find(acct)
	var keys []resKey
	if a.Device != "" && a.ForeignDevice {
		keys = append(keys, resKey{KindDevice, a.Device})
	}
	if a.Destination != "" {
		keys = append(keys, resKey{KindDestination, a.Destination})
	}
	if a.Addr.IsValid() && a.ForeignAddr {
		keys = append(keys, resKey{KindIP, a.Addr.String()})
		if a.Anonymous {
			// A crew rents neighbouring addresses of one hosting or VPN block.
			keys = append(keys, resKey{KindPrefix, BlockOf(a.Addr).String()})
		}
	}
	for _, k := range keys {
		others := g.use(k, acct, t, l.cfg.LinkWindow)
		if (k.kind == KindIP || k.kind == KindPrefix) && len(others)+1 < minIPAccounts {
			continue
		}
		for _, o := range others {
			root = g.union(root, o, describe(k))
		}
	}
	n := g.size(root)
	if n < 3 || n < 2*g.alerted[root] {
		return nil
	}
	g.alerted[root] = n
	accts := make([]string, 0, n)
	for _, m := range g.members[root] {
		accts = append(accts, g.names[m])
	}
	slices.Sort(accts)
	detail := fmt.Sprintf("%d accounts with takeover signs linked through %s", n, strings.Join(g.links[root], ", "))
	return []event.Alert{{ID: "si-" + a.ID, Time: a.Time, Kind: event.AlertSharedInfrastructure, Accounts: accts,
		Score: min(1000, 550+50*n), Reasons: []event.Reason{{Code: "SHARED_INFRASTRUCTURE", Detail: detail}}}}
}

// FraudReport propagates a customer's fraud report: the infrastructure and thin symbols of the
// account's recent suspicious activity go on the watchlist, and the accounts that shared that
// infrastructure are watched and named in a shared_infrastructure alert.
func (l *Layer) FraudReport(id, account string, at time.Time) []event.Alert {
	t := unix(at)
	exp := at.Add(time.Duration(l.cfg.WatchTTL) * time.Second)
	g := &l.graph
	g.mu.Lock()
	acct, known := g.ids[account]
	var trail []trailItem
	if known {
		for _, it := range g.trails[acct] {
			if it.t+l.cfg.LinkWindow >= t {
				trail = append(trail, it)
			}
		}
	}
	reason := "used in the activity account " + account + " reported as not theirs"
	shared := map[string]bool{}
	var via []string
	for _, it := range trail {
		var keys []resKey
		if it.device != "" && it.foreignDev {
			keys = append(keys, resKey{KindDevice, it.device})
		}
		if it.destination != "" {
			keys = append(keys, resKey{KindDestination, it.destination})
		}
		if it.addr.IsValid() && it.foreignAddr {
			keys = append(keys, resKey{KindIP, it.addr.String()})
		}
		for _, k := range keys {
			for _, u := range g.res[k] {
				if u.acct != acct && u.t+l.cfg.LinkWindow >= t && !shared[g.names[u.acct]] {
					shared[g.names[u.acct]] = true
					if !slices.Contains(via, describe(k)) && len(via) < 6 {
						via = append(via, describe(k))
					}
				}
			}
		}
	}
	g.mu.Unlock()

	for _, it := range trail {
		l.watchAccess(it.addr, it.device, it.anonymous, it.foreignAddr, it.foreignDev, reason, SourceFraudReport, id, at, exp)
		if it.destination != "" {
			l.watch.Put(Entry{Kind: KindDestination, Value: it.destination, Reason: reason, Source: SourceFraudReport, Ref: id, Added: at, Expires: exp})
		}
		if it.symbol != "" {
			l.watch.Put(Entry{Kind: KindSymbol, Value: it.symbol, Reason: "bought in the activity account " + account + " reported as not theirs",
				Source: SourceFraudReport, Ref: id, Added: at, Expires: exp})
		}
	}
	if len(shared) == 0 {
		return nil
	}
	accts := joinSorted(shared)
	for _, a := range accts {
		l.watch.Put(Entry{Kind: KindAccount, Value: a, Reason: "shares infrastructure with account " + account + ", reported as taken over",
			Source: SourceFraudReport, Ref: id, Added: at, Expires: exp})
	}
	all := append([]string{account}, accts...)
	return []event.Alert{{ID: "fr-" + id, Time: at, Kind: event.AlertSharedInfrastructure, Accounts: all,
		Score: 800, Reasons: []event.Reason{{Code: "SHARES_INFRASTRUCTURE_WITH_REPORTED_ACCOUNT",
			Detail: fmt.Sprintf("%s used %s, like account %s, which reported a takeover", plural(len(accts), "account", "accounts"),
				strings.Join(via, ", "), account)}}}}
}
