// Package money holds Yen, the product's one type of money.
//
// Money and prices are Yen: exact decimals (github.com/cockroachdb/apd), never binary floats. Prices
// and fees are read from the literal text of the event's JSON, not from the decoder's float64. Every
// intermediate figure is exact; policy amounts are rounded down to whole yen once, at the end. In JSON
// a Yen is a string holding a plain decimal ("12350", "123.5", "-400").
package money
