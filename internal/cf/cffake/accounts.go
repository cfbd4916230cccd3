package cffake

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

func accountRoutes() []route {
	return []route{
		{method: http.MethodGet, pattern: "/accounts", perm: PermAccountRead, handle: (*Server).listAccounts},
		{method: http.MethodGet, pattern: "/user/tokens/verify", auth: authVerifyUser, handle: (*Server).verifyToken},
		{method: http.MethodGet, pattern: "/accounts/{account_id}/tokens/verify", auth: authVerifyAccount, handle: (*Server).verifyToken},
	}
}

// accountJSON is an account as GET /accounts lists it. The spec types the
// items as bare objects; these are the fields cloudflare-go's Account
// requires.
type accountJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	CreatedOn string `json:"created_on"`
}

// listAccounts serves GET /accounts: the accounts the token reaches, with
// the spec's name filter, page (>= 1), per_page (5..50) and direction.
func (s *Server) listAccounts(c *call) reply {
	if c.token.Owner != "" {
		return errAccountOwnedList()
	}
	q := c.req.URL.Query()
	pageNo, err := intParam(q, "page", 1, 1, 0, func(raw string) *apiError {
		return errAccountsQuery("Invalid page of %s. Please specify an integer of at least 1.", raw)
	})
	if err != nil {
		return err
	}
	perPage, err := intParam(q, "per_page", 20, 5, 50, func(raw string) *apiError {
		return errAccountsQuery("Invalid per_page of %s. Please specify an integer between 5 and 50.", raw)
	})
	if err != nil {
		return err
	}
	dir, valid := enumParam(q, "direction", "asc", "asc", "desc")
	if !valid {
		return errAccountsQuery("Invalid direction %q. Please specify asc or desc.", dir)
	}

	var all []accountJSON
	for _, id := range s.order {
		a := s.accounts[id]
		// The spec calls name "Name of the account" without saying how it
		// matches; chosen: exact match.
		if !c.token.reaches(id) || (q.Has("name") && q.Get("name") != a.Name) {
			continue
		}
		all = append(all, accountJSON{ID: a.ID, Name: a.Name, Type: "standard", CreatedOn: a.createdOn.Format(time.RFC3339)})
	}
	// The spec offers a direction but no order field; chosen: by name.
	slices.SortFunc(all, func(x, y accountJSON) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	if dir == "desc" {
		slices.Reverse(all)
	}
	items := page(all, pageNo, perPage)
	return okPage(items, pageInfo{Page: pageNo, PerPage: perPage, Count: len(items), TotalCount: len(all)})
}

// tokenJSON is the result of both verify endpoints (the spec's
// sup_token_verify and iam_response_single_segment).
type tokenJSON struct {
	ID        string      `json:"id"`
	Status    TokenStatus `json:"status"`
	ExpiresOn string      `json:"expires_on,omitempty"`
	NotBefore string      `json:"not_before,omitempty"`
}

// verifyMessage is the message Cloudflare sends with an active token,
// observed as {"code":10000,"message":"This API Token is valid and
// active","type":null} (putyourlightson/craft-cloudflare#88).
type verifyMessage struct {
	Code    int     `json:"code"`
	Message string  `json:"message"`
	Type    *string `json:"type"`
}

// verifyToken serves both verify endpoints once authorize has accepted the
// token for the endpoint. A disabled or expired token is not an error here:
// it is reported with its status (the spec's iam_status enum), which is how
// a client learns why its token stopped working.
func (s *Server) verifyToken(c *call) reply {
	t := c.token
	res := tokenJSON{ID: t.ID, Status: t.statusAt(c.now)}
	if !t.ExpiresOn.IsZero() {
		res.ExpiresOn = t.ExpiresOn.UTC().Format(time.RFC3339)
	}
	if !t.NotBefore.IsZero() {
		res.NotBefore = t.NotBefore.UTC().Format(time.RFC3339)
	}
	rep := ok(res)
	if res.Status == TokenActive {
		rep.messages = []any{verifyMessage{Code: 10000, Message: "This API Token is valid and active"}}
	}
	return rep
}
