package sqlite

import (
	"database/sql"
	"time"

	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// The column codecs shared with the PostgreSQL store.
var (
	clampNanos   = sqlstore.ClampNanos
	reasonsJSON  = sqlstore.ReasonsJSON
	parseReasons = sqlstore.ParseReasons
	stringsJSON  = sqlstore.StringsJSON
	parseStrings = sqlstore.ParseStrings
)

// instant returns the columns of t: nanoseconds (nil for the zero time) and offset.
func instant(t time.Time) (any, int64, error) {
	ns, valid, off, err := sqlstore.Instant(t)
	if err != nil || !valid {
		return nil, 0, err
	}
	return ns, int64(off), nil
}

// zones rebuilds stored times, reusing locations.
type zones struct{ z sqlstore.Zones }

func (z *zones) time(ns sql.NullInt64, off int) time.Time { return z.z.Time(ns.Int64, ns.Valid, off) }
