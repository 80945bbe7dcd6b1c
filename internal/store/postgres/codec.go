package postgres

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// The column codecs shared with the SQLite store.
var (
	clampNanos   = sqlstore.ClampNanos
	reasonsJSON  = sqlstore.ReasonsJSON
	parseReasons = sqlstore.ParseReasons
	stringsJSON  = sqlstore.StringsJSON
)

// instant returns the columns of t: nanoseconds (NULL for the zero time) and offset.
func instant(t time.Time) (pgtype.Int8, int32, error) {
	ns, valid, off, err := sqlstore.Instant(t)
	if err != nil || !valid {
		return pgtype.Int8{}, 0, err
	}
	return pgtype.Int8{Int64: ns, Valid: true}, int32(off), nil
}

// zones rebuilds stored times, reusing locations.
type zones struct{ z sqlstore.Zones }

func (z *zones) time(ns pgtype.Int8, off int) time.Time { return z.z.Time(ns.Int64, ns.Valid, off) }
