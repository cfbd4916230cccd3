package cffake

import (
	"math"
	"net/url"
	"slices"
	"strconv"
)

// intParam reads an integer query parameter within [lo, hi] (hi 0: no upper
// bound), or def when it is absent. The spec types these parameters as
// "number", so "20" and "20.0" are accepted; a fraction, a non-number or a
// value out of bounds is rejected with bad(raw), as Cloudflare rejects
// out-of-bounds values rather than clamping them.
func intParam(q url.Values, name string, def, lo, hi int, bad func(raw string) *apiError) (int, *apiError) {
	if !q.Has(name) {
		return def, nil
	}
	raw := q.Get(name)
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || f != math.Trunc(f) || f < float64(lo) || (hi > 0 && f > float64(hi)) {
		return 0, bad(raw)
	}
	return int(f), nil
}

// enumParam reads a query parameter that must be one of allowed, or def when
// it is absent.
func enumParam(q url.Values, name, def string, allowed ...string) (string, bool) {
	if !q.Has(name) {
		return def, true
	}
	v := q.Get(name)
	return v, slices.Contains(allowed, v)
}

// page cuts one page out of items for page-numbered endpoints: a page past
// the end is empty, which is how cloudflare-go's pager learns it is done.
func page[T any](items []T, pageNo, perPage int) []T {
	start := (pageNo - 1) * perPage
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+perPage, len(items))]
}

// pageInfo is result_info of the page-numbered lists (the spec's
// *_result_info: page, per_page, count, total_count).
type pageInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
}
