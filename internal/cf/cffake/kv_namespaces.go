package cffake

import (
	"cmp"
	"net/http"
	"slices"
)

func kvRoutes() []route {
	const (
		nss = "/accounts/{account_id}/storage/kv/namespaces"
		ns  = nss + "/{namespace_id}"
	)
	get, put, post, del := http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete
	return []route{
		{method: get, pattern: nss, perm: PermKVRead, handle: (*Server).listNamespaces},
		{method: post, pattern: nss, perm: PermKVEdit, handle: (*Server).createNamespace},
		{method: get, pattern: ns, perm: PermKVRead, handle: (*Server).getNamespace},
		{method: put, pattern: ns, perm: PermKVEdit, handle: (*Server).renameNamespace},
		{method: del, pattern: ns, perm: PermKVEdit, handle: (*Server).deleteNamespace},
		{method: get, pattern: ns + "/keys", perm: PermKVRead, handle: (*Server).listKeys},
		{method: get, pattern: ns + "/values/{key_name}", perm: PermKVRead, handle: (*Server).getValue},
		{method: put, pattern: ns + "/values/{key_name}", perm: PermKVEdit, handle: (*Server).putValue},
		{method: del, pattern: ns + "/values/{key_name}", perm: PermKVEdit, handle: (*Server).deleteValue},
		{method: get, pattern: ns + "/metadata/{key_name}", perm: PermKVRead, handle: (*Server).getMetadata},
		{method: put, pattern: ns + "/bulk", perm: PermKVEdit, handle: (*Server).bulkWrite},
		// The deprecated DELETE …/bulk and its successor POST …/bulk/delete
		// take the same body and do the same thing.
		{method: del, pattern: ns + "/bulk", perm: PermKVEdit, handle: (*Server).bulkDelete},
		{method: post, pattern: ns + "/bulk/delete", perm: PermKVEdit, handle: (*Server).bulkDelete},
		{method: post, pattern: ns + "/bulk/get", perm: PermKVRead, handle: (*Server).bulkGet},
	}
}

// namespaceJSON is the spec's workers-kv_namespace. supports_url_encoding is
// true: the fake percent-decodes keys in URLs, as namespaces created today do.
type namespaceJSON struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding bool   `json:"supports_url_encoding"`
}

func (n *namespace) json() namespaceJSON {
	return namespaceJSON{ID: n.id, Title: n.title, SupportsURLEncoding: true}
}

// lookupNamespace finds the namespace named by the path. The caller holds
// s.mu.
func (c *call) lookupNamespace() (*namespace, *apiError) {
	id := c.params["namespace_id"]
	if !isHexID(id) {
		return nil, kvMalformedNamespaceID()
	}
	n := c.account.namespaces[id]
	if n == nil {
		return nil, kvNamespaceNotFound()
	}
	return n, nil
}

// isHexID accepts 32 hex digits of either case: the form Cloudflare parses
// as a namespace id. Ids the fake makes are lowercase, so an uppercase one
// parses but is not found.
func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// checkNamespace answers early for a namespace that is missing, before a
// handler reads a large body it would then throw away. The handler looks the
// namespace up again when it writes.
func (s *Server) checkNamespace(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := c.lookupNamespace()
	return err
}

// listNamespaces serves GET …/namespaces with the spec's page (>= 1),
// per_page (5..100), order (id, title) and direction (asc, desc).
func (s *Server) listNamespaces(c *call) reply {
	q := c.req.URL.Query()
	pageNo, err := intParam(q, "page", 1, 1, 0, kvBadPage)
	if err != nil {
		return err
	}
	perPage, err := intParam(q, "per_page", 20, minNSPerPage, maxNSPerPage, func(raw string) *apiError {
		return kvBadPerPage(raw, minNSPerPage, maxNSPerPage)
	})
	if err != nil {
		return err
	}
	order, valid := enumParam(q, "order", "", "id", "title")
	if !valid {
		return kvInvalidRequest("Invalid order %q. Please specify id or title.", order)
	}
	dir, valid := enumParam(q, "direction", "asc", "asc", "desc")
	if !valid {
		return kvInvalidRequest("Invalid direction %q. Please specify asc or desc.", dir)
	}

	s.mu.Lock()
	all := make([]namespaceJSON, 0, len(c.account.namespaces))
	for _, n := range c.account.namespaces {
		all = append(all, n.json())
	}
	s.mu.Unlock()

	// Without order the spec names no sort; chosen: by title, then id, so
	// pages are stable.
	byTitle := func(x, y namespaceJSON) int { return cmp.Or(cmp.Compare(x.Title, y.Title), cmp.Compare(x.ID, y.ID)) }
	byID := func(x, y namespaceJSON) int { return cmp.Compare(x.ID, y.ID) }
	if order == "id" {
		slices.SortFunc(all, byID)
	} else {
		slices.SortFunc(all, byTitle)
	}
	if dir == "desc" {
		slices.Reverse(all)
	}
	items := page(all, pageNo, perPage)
	return okPage(items, pageInfo{Page: pageNo, PerPage: perPage, Count: len(items), TotalCount: len(all)})
}

// titleBody is the spec's workers-kv_create_rename_namespace_body.
type titleBody struct {
	Title *string `json:"title"`
}

func readTitle(c *call) (string, *apiError) {
	var body titleBody
	if err := decodeJSON(c.req, maxJSONBody, &body, smallBodyTooLarge); err != nil {
		return "", err
	}
	if body.Title == nil || *body.Title == "" {
		return "", kvMissingTitle()
	}
	return *body.Title, nil
}

// titleTaken reports whether another namespace of the account has title.
// The caller holds s.mu.
func titleTaken(a *accountState, title, except string) bool {
	for id, n := range a.namespaces {
		if n.title == title && id != except {
			return true
		}
	}
	return false
}

// createNamespace serves POST …/namespaces. A title the account already
// uses is a 400 (code 10014), as the spec's description says.
func (s *Server) createNamespace(c *call) reply {
	title, err := readTitle(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if titleTaken(c.account, title, "") {
		return kvDuplicateTitle()
	}
	n := &namespace{id: newID(), title: title, keys: map[string]kvEntry{}}
	c.account.namespaces[n.id] = n
	return ok(n.json())
}

func (s *Server) getNamespace(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	return ok(n.json())
}

// renameNamespace serves PUT …/namespaces/{id}. The spec gives this
// operation no result; the current API and cloudflare-go v7 return the
// renamed namespace, which the spec's nullable result object allows, so the
// fake returns it too.
func (s *Server) renameNamespace(c *call) reply {
	if err := s.checkNamespace(c); err != nil {
		return err
	}
	title, err := readTitle(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	if titleTaken(c.account, title, n.id) {
		return kvDuplicateTitle()
	}
	n.title = title
	return ok(n.json())
}

// deleteNamespace serves DELETE …/namespaces/{id}; its keys go with it.
func (s *Server) deleteNamespace(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	delete(c.account.namespaces, n.id)
	return ok(nil)
}
