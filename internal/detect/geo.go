package detect

import "math"

// centroids are rough population centres of the countries brokerguard's customers and attackers are
// most often seen in (latitude, longitude), for the impossible-travel check. A country not listed is
// not checked.
var centroids = map[string][2]float64{
	"JP": {35.7, 139.7}, "KR": {37.6, 127.0}, "CN": {31.2, 121.5}, "TW": {25.0, 121.5}, "HK": {22.3, 114.2},
	"MO": {22.2, 113.5}, "SG": {1.35, 103.8}, "VN": {10.8, 106.7}, "TH": {13.8, 100.5}, "PH": {14.6, 121.0},
	"MY": {3.1, 101.7}, "ID": {-6.2, 106.8}, "IN": {19.1, 72.9}, "KH": {11.6, 104.9}, "MM": {16.8, 96.2},
	"AU": {-33.9, 151.2}, "NZ": {-36.8, 174.8}, "US": {39.0, -95.0}, "CA": {43.7, -79.4}, "MX": {19.4, -99.1},
	"BR": {-23.5, -46.6}, "GB": {51.5, -0.1}, "IE": {53.3, -6.3}, "FR": {48.9, 2.4}, "DE": {50.1, 8.7},
	"NL": {52.4, 4.9}, "BE": {50.8, 4.4}, "CH": {47.4, 8.5}, "IT": {45.5, 9.2}, "ES": {40.4, -3.7},
	"PT": {38.7, -9.1}, "SE": {59.3, 18.1}, "NO": {59.9, 10.8}, "FI": {60.2, 24.9}, "DK": {55.7, 12.6},
	"PL": {52.2, 21.0}, "CZ": {50.1, 14.4}, "AT": {48.2, 16.4}, "RU": {55.8, 37.6}, "UA": {50.5, 30.5},
	"TR": {41.0, 29.0}, "AE": {25.2, 55.3}, "IL": {32.1, 34.8}, "ZA": {-26.2, 28.0}, "NG": {6.5, 3.4},
	"RO": {44.4, 26.1}, "BG": {42.7, 23.3}, "LT": {54.7, 25.3}, "LV": {56.9, 24.1}, "SC": {-4.6, 55.5},
}

// distanceKM is the great-circle distance between two countries' centres, or -1 when either is unknown.
func distanceKM(a, b string) float64 {
	p, ok1 := centroids[a]
	q, ok2 := centroids[b]
	if !ok1 || !ok2 {
		return -1
	}
	const r = 6371.0
	rad := math.Pi / 180
	dlat := (q[0] - p[0]) * rad
	dlon := (q[1] - p[1]) * rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(p[0]*rad)*math.Cos(q[0]*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}
