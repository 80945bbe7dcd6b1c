package console

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"
)

// Charts are SVG drawn here, on the server: no script, colours from the stylesheet's classes (the CSP
// allows no inline style). Text is escaped; numbers are formatted by the code.

type bar struct {
	Label string
	Value float64
	Class string
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// barChart draws horizontal bars with their values; logScale draws lengths on a log scale (one value
// dwarfs the others, as allow does the other actions).
func barChart(bars []bar, logScale bool) template.HTML {
	const w, rowH, labelW, valueW = 460, 24, 150, 70
	h := rowH*len(bars) + 8
	if len(bars) == 0 {
		return ""
	}
	scale := func(v float64) float64 {
		if logScale {
			return math.Log10(1 + v)
		}
		return v
	}
	top := 0.0
	for _, b := range bars {
		top = max(top, scale(b.Value))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img">`, w, h, w, h)
	for i, b := range bars {
		y := 4 + i*rowH
		length := 0.0
		if top > 0 {
			length = scale(b.Value) / top * float64(w-labelW-valueW)
		}
		fmt.Fprintf(&sb, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, labelW-8, y+16, esc(b.Label))
		fmt.Fprintf(&sb, `<rect class="%s" x="%d" y="%d" width="%.1f" height="%d"><title>%s: %s</title></rect>`,
			esc(b.Class), labelW, y+3, max(length, 1), rowH-8, esc(b.Label), group(int64(b.Value)))
		fmt.Fprintf(&sb, `<text class="value" x="%.1f" y="%d">%s</text>`, float64(labelW)+max(length, 1)+6, y+16, group(int64(b.Value)))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// stackedHours draws series per hour from start, stacked, one class per series.
func stackedHours(series [][]float64, classes []string, start time.Time, loc *time.Location) template.HTML {
	if len(series) == 0 || len(series[0]) == 0 {
		return ""
	}
	n := len(series[0])
	const w, h, padL, padB, padT = 480, 130, 34, 20, 8
	top := 1.0
	for i := range n {
		sum := 0.0
		for _, s := range series {
			sum += s[i]
		}
		top = max(top, sum)
	}
	bw := float64(w-padL) / float64(n)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img">`, w, h, w, h)
	fmt.Fprintf(&sb, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, h-padB, w, h-padB)
	fmt.Fprintf(&sb, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, padL-4, padT+8, group(int64(top)))
	fmt.Fprintf(&sb, `<text class="tick" x="%d" y="%d" text-anchor="end">0</text>`, padL-4, h-padB)
	plotH := float64(h - padB - padT)
	for i := range n {
		y := float64(h - padB)
		for si, s := range series {
			if s[i] == 0 {
				continue
			}
			bh := s[i] / top * plotH
			y -= bh
			fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d</title></rect>`,
				classes[si], float64(padL)+float64(i)*bw+0.5, y, max(bw-1, 1), bh, start.Add(time.Duration(i)*time.Hour).In(loc).Format("01-02 15:00"), int(s[i]))
		}
		if t := start.Add(time.Duration(i) * time.Hour).In(loc); t.Hour()%12 == 0 {
			fmt.Fprintf(&sb, `<text class="tick" x="%.1f" y="%d">%s</text>`, float64(padL)+float64(i)*bw, h-4, t.Format("01-02 15h"))
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// point is one quote of the price chart.
type point struct {
	T             time.Time
	Price, Volume float64
}

// mark is an order drawn on the price chart: a hijacked buy or a beneficiary's sell.
type mark struct {
	T               time.Time
	Side, Account   string
	Quantity, Price float64
	Action          string
}

// priceChart draws a symbol's price (line) and volume (bars) quote by quote, so that nights and
// weekends take no room, with the day boundaries, and the orders marked: buys as red triangles
// pointing up, sells as blue ones pointing down, each with its account, size and decision as a
// tooltip.
func priceChart(ps []point, ms []mark, loc *time.Location, priceLabel, volumeLabel string) template.HTML {
	const w, h, padL, padR, padT = 900, 380, 64, 16, 16
	const priceH, gap, volH = 230, 26, 80
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart price" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, w, h, w, h, esc(priceLabel))
	if len(ps) == 0 {
		fmt.Fprintf(&sb, `<text class="label" x="%d" y="%d">no quotes</text></svg>`, padL, padT+40)
		return template.HTML(sb.String())
	}
	lo, hi, vmax := math.Inf(1), math.Inf(-1), 1.0
	for _, p := range ps {
		if p.Price > 0 {
			lo, hi = min(lo, p.Price), max(hi, p.Price)
		}
		vmax = max(vmax, p.Volume)
	}
	for _, m := range ms {
		if m.Price > 0 {
			lo, hi = min(lo, m.Price), max(hi, m.Price)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi-lo < hi*0.01 {
		lo, hi = lo*0.99, hi*1.01
	}
	span := hi - lo
	lo, hi = lo-span*0.05, hi+span*0.05
	plotW := float64(w - padL - padR)
	x := func(i float64) float64 { return float64(padL) + i/float64(max(len(ps)-1, 1))*plotW }
	y := func(price float64) float64 { return float64(padT) + (hi-price)/(hi-lo)*priceH }
	volTop := float64(padT + priceH + gap)
	// Axes and price ticks.
	fmt.Fprintf(&sb, `<rect class="frame" x="%d" y="%d" width="%.0f" height="%d"/>`, padL, padT, plotW, priceH)
	for i := 0; i <= 4; i++ {
		pv := lo + (hi-lo)*float64(i)/4
		fmt.Fprintf(&sb, `<line class="grid" x1="%d" y1="%.1f" x2="%.0f" y2="%.1f"/>`, padL, y(pv), float64(padL)+plotW, y(pv))
		fmt.Fprintf(&sb, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-4, y(pv)+4, formatPrice(pv))
	}
	fmt.Fprintf(&sb, `<text class="label" x="%d" y="%d">%s</text>`, padL+4, padT+14, esc(priceLabel))
	fmt.Fprintf(&sb, `<text class="label" x="%d" y="%.0f">%s</text>`, padL+4, volTop-4, esc(volumeLabel))
	// Day boundaries.
	prevDay := ""
	for i, p := range ps {
		d := p.T.In(loc).Format("2006-01-02")
		if d != prevDay {
			fmt.Fprintf(&sb, `<line class="day" x1="%.1f" y1="%d" x2="%.1f" y2="%.0f"/>`, x(float64(i)), padT, x(float64(i)), volTop+volH)
			fmt.Fprintf(&sb, `<text class="tick" x="%.1f" y="%d">%s</text>`, x(float64(i))+3, h-4, d)
			prevDay = d
		}
	}
	// Volume bars.
	bw := max(plotW/float64(len(ps))-0.5, 0.5)
	for i, p := range ps {
		if p.Volume <= 0 {
			continue
		}
		vh := p.Volume / vmax * volH
		fmt.Fprintf(&sb, `<rect class="vol" x="%.1f" y="%.1f" width="%.2f" height="%.1f"/>`, x(float64(i))-bw/2, volTop+volH-vh, bw, vh)
	}
	// Price line.
	sb.WriteString(`<polyline class="line" points="`)
	for i, p := range ps {
		if p.Price > 0 {
			fmt.Fprintf(&sb, "%.1f,%.1f ", x(float64(i)), y(p.Price))
		}
	}
	sb.WriteString(`"/>`)
	// Orders, at the first quote at or after their time.
	for _, m := range ms {
		i := sort.Search(len(ps), func(i int) bool { return !ps[i].T.Before(m.T) })
		if i == len(ps) {
			i = len(ps) - 1
		}
		price := m.Price
		if price <= 0 {
			price = ps[i].Price
		}
		cx, cy := x(float64(i)), y(price)
		tip := fmt.Sprintf("%s %s %s × %s @ %s (%s)", m.T.In(loc).Format("01-02 15:04:05"), m.Account, m.Side, group(int64(m.Quantity)), formatPrice(price), m.Action)
		if m.Side == "buy" {
			fmt.Fprintf(&sb, `<path class="buy" d="M%.1f %.1f l-6 10 h12 z"><title>%s</title></path>`, cx, cy, esc(tip))
		} else {
			fmt.Fprintf(&sb, `<path class="sell" d="M%.1f %.1f l-6 -10 h12 z"><title>%s</title></path>`, cx, cy, esc(tip))
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

func formatPrice(p float64) string {
	if p >= 100 {
		return group(int64(math.Round(p)))
	}
	return fmt.Sprintf("%.1f", p)
}
