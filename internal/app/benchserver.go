package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/brokerguard/brokerguard/internal/config"
)

// serverLatency reads the server's own latency histogram of POST /v1/events (200 answers) from its
// /metrics and returns the estimated quantiles, as Prometheus's histogram_quantile would: what the
// server spent on requests, without the load generator's own queueing on shared cores.
func serverLatency(target, key string, qs ...float64) ([]float64, uint64, error) {
	req, err := http.NewRequest("GET", strings.TrimSuffix(target, "/")+"/metrics", nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, 0, fmt.Errorf("metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("metrics: %w", err)
	}
	mf := mfs["brokerguard_http_request_seconds"]
	if mf == nil {
		return nil, 0, fmt.Errorf("metrics: no brokerguard_http_request_seconds")
	}
	var h *dto.Histogram
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["route"] == "POST /v1/events" && labels["code"] == "200" {
			h = m.GetHistogram()
		}
	}
	if h == nil || h.GetSampleCount() == 0 {
		return nil, 0, fmt.Errorf("metrics: no POST /v1/events answers recorded")
	}
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = histogramQuantile(q, h)
	}
	return out, h.GetSampleCount(), nil
}

// histogramQuantile interpolates linearly within the bucket that holds the quantile.
func histogramQuantile(q float64, h *dto.Histogram) float64 {
	rank := q * float64(h.GetSampleCount())
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		n := float64(b.GetCumulativeCount())
		if n >= rank {
			if n == below {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-below)/(n-below)
		}
		lower, below = b.GetUpperBound(), n
	}
	return lower
}

// benchOverload finds the rate that the server sustains (or takes rate), then offers twice that for
// dur, open loop, and reports what was offered and accepted, the share shed, the latency of the
// accepted requests at the client and the peak heap of the process (server and load generator).
func benchOverload(ctx context.Context, cfg config.Config, data []byte, rate int, dur time.Duration, w io.Writer) error {
	// The heap as serve has it: bench's batch setting (GOGC=400) would let garbage pile up.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	srv, stop, err := benchServe(ctx, cfg)
	if err != nil {
		return err
	}
	defer stop()
	url := "http://" + srv.addr + "/v1/events"
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	next := 0
	take := func() []byte { l := lines[next%len(lines)]; next++; return l }
	// Enough clients that they are never what limits the offered rate: the server sheds or answers.
	const workers = 128
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	send := func(body []byte) (int, error) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+benchKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if rate <= 0 {
		// Closed loop for a few seconds, as many clients as the server admits events: the rate of
		// 200s is what it sustains.
		const probe = 3 * time.Second
		conc := min(64, cfg.Server.MaxInflightRequests, cfg.Server.MaxInflightEvents)
		bodies := make(chan []byte, 1024)
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range bodies {
					if code, err := send(b); err == nil && code == 200 {
						ok.Add(1)
					}
				}
			}()
		}
		start := time.Now()
		for time.Since(start) < probe {
			bodies <- take()
		}
		close(bodies)
		wg.Wait()
		rate = int(float64(ok.Load()) / time.Since(start).Seconds())
		fmt.Fprintf(w, "overload: the server sustains %d requests/s (one event each; %d clients in a closed loop for %s)\n", rate, conc, probe)
		if rate == 0 {
			return errors.New("overload: the server accepted nothing in the probe")
		}
	}
	offer := 2 * rate
	n := int(float64(offer) * dur.Seconds())
	if left := len(lines) - next; n > left {
		// Sent again, events would be duplicates or too late: a different load.
		fmt.Fprintf(w, "overload: the log has %d events left, not the %d asked: loading for %s (more with --accounts or --days)\n",
			max(0, left), n, time.Duration(float64(max(0, left))/float64(offer)*float64(time.Second)).Round(time.Millisecond))
		n = max(0, left)
		if n == 0 {
			return errors.New("overload: no events left for the load")
		}
	}

	// Sample the heap, goroutines and events in flight while loading, from a collected heap.
	runtime.GC()
	var peakHeap, peakGoroutines, peakInflight atomic.Uint64
	sampled := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/sched/goroutines:goroutines"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			raise(&peakHeap, s[0].Value.Uint64())
			raise(&peakGoroutines, s[1].Value.Uint64())
			raise(&peakInflight, uint64(srv.svc.Inflight()))
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	type job struct {
		body     []byte
		released time.Time
	}
	jobs := make(chan job, n)
	var mu sync.Mutex
	var okLat, okWire []time.Duration // from the release; from the send
	var shed, other, errs int
	var firstBad string
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				sent := time.Now()
				code, err := send(jb.body)
				d, wire := time.Since(jb.released), time.Since(sent)
				mu.Lock()
				switch {
				case err != nil:
					errs++
				case code == 200:
					okLat, okWire = append(okLat, d), append(okWire, wire)
				case code == http.StatusTooManyRequests:
					shed++
				default:
					other++
					if firstBad == "" {
						firstBad = strconv.Itoa(code)
					}
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for sent := 0; sent < n; {
		time.Sleep(time.Millisecond)
		now := time.Now()
		due := min(n, int(now.Sub(start).Seconds()*float64(offer)))
		for ; sent < due; sent++ {
			jobs <- job{take(), now}
		}
	}
	offered := time.Since(start)
	close(jobs)
	wg.Wait()
	el := time.Since(start)
	close(done)
	<-sampled
	slices.Sort(okLat)
	slices.Sort(okWire)
	fmt.Fprintf(w, "overload: %d requests offered at %d/s (2 x %d) for %s: offered %.0f/s, accepted %.0f/s, shed %.1f%% (429), %d other answers, %d transport errors\n",
		n, offer, rate, offered.Round(100*time.Millisecond), float64(n)/offered.Seconds(), float64(len(okLat))/el.Seconds(), 100*float64(shed)/float64(max(1, n)), other, errs)
	if firstBad != "" {
		fmt.Fprintf(w, "  first other answer: %s\n", firstBad)
	}
	fmt.Fprintf(w, "  accepted requests at the client, from their release (open loop): p50 %s, p99 %s, max %s\n", percentile(okLat, 0.5).Round(time.Microsecond),
		percentile(okLat, 0.99).Round(time.Microsecond), percentile(okLat, 1).Round(time.Microsecond))
	fmt.Fprintf(w, "  accepted requests at the client, from their send (without the load generator's own backlog): p50 %s, p99 %s, max %s\n",
		percentile(okWire, 0.5).Round(time.Microsecond), percentile(okWire, 0.99).Round(time.Microsecond), percentile(okWire, 1).Round(time.Microsecond))
	if lag := el - offered; lag > time.Second {
		fmt.Fprintf(w, "  the load generator fell behind: its last request was answered %s after the last release (server and generator share the cores)\n", lag.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  peak heap %.0f MB, peak goroutines %d (server and load generator in one process), peak events in flight %d of %d (at most %d requests)\n",
		float64(peakHeap.Load())/1e6, peakGoroutines.Load(), peakInflight.Load(), cfg.Server.MaxInflightEvents, cfg.Server.MaxInflightRequests)
	if qs, n, err := serverLatency("http://"+srv.addr, benchKey, 0.5, 0.99); err == nil {
		fmt.Fprintf(w, "  the server's own histogram (%d answers 200): p50 %s, p99 %s\n", n,
			time.Duration(qs[0]*1e9).Round(time.Microsecond), time.Duration(qs[1]*1e9).Round(time.Microsecond))
	}
	return nil
}

func raise(peak *atomic.Uint64, v uint64) {
	for {
		cur := peak.Load()
		if v <= cur || peak.CompareAndSwap(cur, v) {
			return
		}
	}
}
