package sim

import (
	"math"
	"unsafe"
)

// rng is a xoshiro256** generator. The simulator carries its own generator, not math/rand, so that a
// seed gives the same events on every Go version.
type rng struct {
	s0, s1, s2, s3 uint64
	buf            []byte // block that ids are carved from, so that they lie close together
}

func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRNG returns a generator for one stream of a seed; streams of the same seed are independent.
func newRNG(seed int64, stream uint64) *rng {
	x := uint64(seed) ^ (stream * 0xd1b54a32d192ed03)
	return &rng{s0: splitmix(&x), s1: splitmix(&x), s2: splitmix(&x), s3: splitmix(&x)}
}

func rotl(x uint64, k uint) uint64 { return (x << k) | (x >> (64 - k)) }

func (r *rng) u64() uint64 {
	out := rotl(r.s1*5, 7) * 9
	t := r.s1 << 17
	r.s2 ^= r.s0
	r.s3 ^= r.s1
	r.s1 ^= r.s2
	r.s0 ^= r.s3
	r.s2 ^= t
	r.s3 = rotl(r.s3, 45)
	return out
}

// intn returns a uniform int in [0, n); n must be > 0.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int((r.u64() >> 11) % uint64(n))
}

// int64n returns a uniform int64 in [0, n).
func (r *rng) int64n(n int64) int64 {
	if n <= 1 {
		return 0
	}
	return int64((r.u64() >> 1) % uint64(n))
}

// between returns a uniform int in [a, b].
func (r *rng) between(a, b int) int {
	if b <= a {
		return a
	}
	return a + r.intn(b-a+1)
}

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	return r.float() < p
}

// uniform returns a uniform float64 in [a, b).
func (r *rng) uniform(a, b float64) float64 { return a + (b-a)*r.float() }

// norm returns a standard normal deviate (Marsaglia's polar method).
func (r *rng) norm() float64 {
	for {
		u := 2*r.float() - 1
		v := 2*r.float() - 1
		s := u*u + v*v
		if s > 0 && s < 1 {
			return u * math.Sqrt(-2*math.Log(s)/s)
		}
	}
}

// lognorm returns exp(mu + sigma*N(0,1)).
func (r *rng) lognorm(mu, sigma float64) float64 { return math.Exp(mu + sigma*r.norm()) }

// exp returns an exponential deviate with mean 1.
func (r *rng) exp() float64 { return -math.Log(1 - r.float()) }

// poisson returns a Poisson deviate with mean lambda.
func (r *rng) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		n := int(math.Round(lambda + math.Sqrt(lambda)*r.norm()))
		if n < 0 {
			return 0
		}
		return n
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.float()
		if p <= l {
			return k
		}
		k++
	}
}

// poissonExp returns a Poisson deviate whose mean m is given as exp(-m) (small means).
func (r *rng) poissonExp(l float64) int {
	k, p := 0, 1.0
	for {
		p *= r.float()
		if p <= l {
			return k
		}
		k++
	}
}

// geometric returns the number of failures before the first success of trials with probability p.
func (r *rng) geometric(p float64) int {
	if p >= 1 {
		return 0
	}
	if p <= 0 {
		return math.MaxInt32
	}
	g := math.Floor(math.Log(1-r.float()) / math.Log(1-p))
	if g > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(g)
}

// pick returns an index drawn with the given weights (which need not sum to 1).
func (r *rng) pick(weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.float() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

const hexDigits = "0123456789abcdef"

// hex returns n random lowercase hex digits.
func (r *rng) hex(n int) string {
	b := make([]byte, n)
	var x uint64
	for i := range b {
		if i%16 == 0 {
			x = r.u64()
		}
		b[i] = hexDigits[x&15]
		x >>= 4
	}
	return string(b)
}

// id returns prefix followed by n random hex digits, in one allocation.
func (r *rng) id(prefix byte, n int) string {
	if len(r.buf) < n+1 {
		r.buf = make([]byte, 64<<10)
	}
	b := r.buf[: n+1 : n+1]
	r.buf = r.buf[n+1:]
	b[0] = prefix
	var x uint64
	for i := 1; i <= n; i++ {
		if (i-1)%16 == 0 {
			x = r.u64()
		}
		b[i] = hexDigits[x&15]
		x >>= 4
	}
	return unsafeString(b)
}

// digits returns n random decimal digits.
func (r *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.intn(10))
	}
	return string(b)
}

// unsafeString returns b as a string without copying; b must not change afterwards.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
