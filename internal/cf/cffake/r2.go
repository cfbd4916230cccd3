package cffake

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"
)

func r2Routes() []route {
	const (
		buckets = "/accounts/{account_id}/r2/buckets"
		bucket  = buckets + "/{bucket_name}"
	)
	return []route{
		{method: http.MethodGet, pattern: buckets, perm: PermR2Read, handle: (*Server).listBuckets},
		{method: http.MethodPost, pattern: buckets, perm: PermR2Edit, handle: (*Server).createBucket},
		{method: http.MethodGet, pattern: bucket, perm: PermR2Read, handle: (*Server).getBucket},
		{method: http.MethodDelete, pattern: bucket, perm: PermR2Edit, handle: (*Server).deleteBucket},
	}
}

const (
	jurisdictionHeader  = "cf-r2-jurisdiction"
	jurisdictionDefault = "default"
	bucketsCursor       = "buckets"
)

// The spec's enums, as functions so that no package-level slice can be
// changed. Location "oc" is missing from r2_bucket_location but noted there
// ("current API also returns oc") and accepted by cloudflare-go v7's
// BucketNewParamsLocationHint.
func jurisdictions() []string  { return []string{jurisdictionDefault, "eu", "fedramp"} }
func locations() []string      { return []string{"apac", "eeur", "enam", "weur", "wnam", "oc"} }
func storageClasses() []string { return []string{"Standard", "InfrequentAccess"} }

// bucketJSON is the spec's r2_bucket.
type bucketJSON struct {
	Name         string `json:"name"`
	CreationDate string `json:"creation_date"`
	Location     string `json:"location,omitempty"`
	StorageClass string `json:"storage_class"`
	Jurisdiction string `json:"jurisdiction"`
}

func (b *bucket) json() bucketJSON {
	return bucketJSON{
		Name:         b.name,
		CreationDate: b.created.UTC().Format("2006-01-02T15:04:05.000Z"),
		Location:     b.location,
		StorageClass: b.storageClass,
		Jurisdiction: b.jurisdiction,
	}
}

// validBucketName applies R2's rule: 3..63 characters of [a-z0-9-],
// starting and ending with a letter or digit. The spec's r2_bucket_name says
// maxLength 64; R2's documentation (error 10005: "Bucket names must be 3-63
// chars") and the project's design say 63, which is what the fake enforces.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}

// jurisdiction reads the cf-r2-jurisdiction header, which scopes every
// bucket operation ("default" when absent).
func jurisdiction(r *http.Request) (string, *apiError) {
	j := r.Header.Get(jurisdictionHeader)
	if j == "" {
		return jurisdictionDefault, nil
	}
	if !slices.Contains(jurisdictions(), j) {
		return "", r2InvalidArgument("Invalid %s header %q. Please specify one of %s.", jurisdictionHeader, j, strings.Join(jurisdictions(), ", "))
	}
	return j, nil
}

// listBuckets serves GET …/r2/buckets in the jurisdiction of the header:
// name_contains filters, start_after and cursor continue, per_page (1..1000,
// default 20) bounds a page, order is "name" only, direction asc or desc.
// result is {"buckets": […]}; result_info.cursor is empty on the last page.
func (s *Server) listBuckets(c *call) reply {
	j, err := jurisdiction(c.req)
	if err != nil {
		return err
	}
	q := c.req.URL.Query()
	perPage, err := intParam(q, "per_page", 20, 1, 1000, func(raw string) *apiError {
		return r2InvalidArgument("Invalid per_page of %s. Please specify an integer between 1 and 1000.", raw)
	})
	if err != nil {
		return err
	}
	if order, valid := enumParam(q, "order", "name", "name"); !valid {
		return r2InvalidArgument("Invalid order %q. Buckets can only be ordered by name.", order)
	}
	dir, valid := enumParam(q, "direction", "asc", "asc", "desc")
	if !valid {
		return r2InvalidArgument("Invalid direction %q. Please specify asc or desc.", dir)
	}
	after, hasAfter := q.Get("start_after"), q.Has("start_after")
	if cur := q.Get("cursor"); cur != "" {
		last, valid := decodeCursor(bucketsCursor, cur)
		if !valid {
			return r2InvalidArgument("Invalid cursor %q.", cur)
		}
		after, hasAfter = last, true
	}
	contains := q.Get("name_contains")

	s.mu.Lock()
	var all []bucketJSON
	for key, b := range c.account.buckets {
		if key.jurisdiction == j && strings.Contains(key.name, contains) {
			all = append(all, b.json())
		}
	}
	s.mu.Unlock()

	slices.SortFunc(all, func(x, y bucketJSON) int { return cmp.Compare(x.Name, y.Name) })
	if dir == "desc" {
		slices.Reverse(all)
	}
	if hasAfter {
		// "After" follows the direction: in a descending listing the
		// names after start_after are the smaller ones.
		i := slices.IndexFunc(all, func(b bucketJSON) bool {
			if dir == "desc" {
				return b.Name < after
			}
			return b.Name > after
		})
		if i < 0 {
			i = len(all)
		}
		all = all[i:]
	}
	items := all[:min(perPage, len(all))]
	info := struct {
		Cursor  string `json:"cursor"`
		PerPage int    `json:"per_page"`
	}{PerPage: perPage}
	if len(all) > perPage {
		info.Cursor = encodeCursor(bucketsCursor, items[len(items)-1].Name)
	}
	if items == nil {
		items = []bucketJSON{}
	}
	return okPage(map[string]any{"buckets": items}, info)
}

// createBucketBody is the spec's create request.
type createBucketBody struct {
	Name         *string `json:"name"`
	LocationHint *string `json:"locationHint"`
	StorageClass *string `json:"storageClass"`
}

// defaultLocation is the location of a bucket created without a hint.
// Chosen: R2 picks the region closest to the caller; the fake pretends the
// caller is in eastern North America, or western Europe for EU buckets.
func defaultLocation(j string) string {
	if j == "eu" {
		return "weur"
	}
	return "enam"
}

// createBucket serves POST …/r2/buckets in the jurisdiction of the header.
func (s *Server) createBucket(c *call) reply {
	j, err := jurisdiction(c.req)
	if err != nil {
		return err
	}
	var body createBucketBody
	if err := decodeJSON(c.req, maxJSONBody, &body, smallBodyTooLarge); err != nil {
		return err
	}
	if body.Name == nil || !validBucketName(*body.Name) {
		return r2InvalidBucketName()
	}
	location := defaultLocation(j)
	if body.LocationHint != nil {
		if !slices.Contains(locations(), *body.LocationHint) {
			return r2InvalidArgument("Invalid locationHint %q. Please specify one of %s.", *body.LocationHint, strings.Join(locations(), ", "))
		}
		location = *body.LocationHint
	}
	class := storageClasses()[0]
	if body.StorageClass != nil {
		if !slices.Contains(storageClasses(), *body.StorageClass) {
			return r2InvalidArgument("Invalid storageClass %q. Please specify one of %s.", *body.StorageClass, strings.Join(storageClasses(), ", "))
		}
		class = *body.StorageClass
	}

	key := bucketKey{jurisdiction: j, name: *body.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.account.buckets[key] != nil {
		return r2BucketExists()
	}
	if s.hooks.Created != nil {
		if err := s.hooks.Created(c.bucketRef(key)); err != nil {
			return errInternal(http.StatusInternalServerError)
		}
	}
	b := &bucket{bucketKey: key, location: location, storageClass: class, created: c.now.Truncate(time.Millisecond)}
	c.account.buckets[key] = b
	return ok(b.json())
}

func (c *call) bucketRef(key bucketKey) BucketRef {
	return BucketRef{AccountID: c.account.ID, Jurisdiction: key.jurisdiction, Name: key.name}
}

// bucketKeyOf reads the bucket named by the path and the header.
func (c *call) bucketKeyOf() (bucketKey, *apiError) {
	j, err := jurisdiction(c.req)
	if err != nil {
		return bucketKey{}, err
	}
	name := c.params["bucket_name"]
	if !validBucketName(name) {
		return bucketKey{}, r2InvalidBucketName()
	}
	return bucketKey{jurisdiction: j, name: name}, nil
}

func (s *Server) getBucket(c *call) reply {
	key, err := c.bucketKeyOf()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := c.account.buckets[key]
	if b == nil {
		return r2NoSuchBucket()
	}
	return ok(b.json())
}

// deleteBucket serves DELETE …/r2/buckets/{bucket_name}. A bucket that holds
// objects (by SetBucketObjectCount or BucketHooks.ObjectCount) is 409 (code
// 10008). The result is an empty object, as the spec's r2_v4_response
// requires one.
func (s *Server) deleteBucket(c *call) reply {
	key, err := c.bucketKeyOf()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.account.buckets[key] == nil {
		return r2NoSuchBucket()
	}
	objects := c.account.objectCounts[key]
	if s.hooks.ObjectCount != nil {
		n, err := s.hooks.ObjectCount(c.bucketRef(key))
		if err != nil {
			return errInternal(http.StatusInternalServerError)
		}
		objects += n
	}
	if objects > 0 {
		return r2BucketNotEmpty()
	}
	if s.hooks.Deleted != nil {
		if err := s.hooks.Deleted(c.bucketRef(key)); err != nil {
			return errInternal(http.StatusInternalServerError)
		}
	}
	delete(c.account.buckets, key)
	delete(c.account.objectCounts, key)
	return ok(struct{}{})
}
