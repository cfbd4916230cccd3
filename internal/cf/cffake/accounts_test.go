package cffake_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

type account struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	CreatedOn string `json:"created_on"`
}

func sevenAccounts() []cffake.Account {
	var out []cffake.Account
	for i := range 7 {
		out = append(out, cffake.Account{ID: fmt.Sprintf("%032x", i+1), Name: fmt.Sprintf("account %d", i+1)})
	}
	return out
}

func TestListAccountsPaginates(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t, cffake.WithAccounts(sevenAccounts()...))
	var got []string
	for pageNo := 1; ; pageNo++ {
		var accounts []account
		var info pageInfo
		r := a.get(fmt.Sprintf("/accounts?per_page=5&page=%d", pageNo)).ok(t, &accounts)
		r.info(t, &info)
		if info.Page != pageNo || info.PerPage != 5 || info.TotalCount != 7 || info.Count != len(accounts) {
			t.Fatalf("page %d: result_info %+v with %d accounts", pageNo, info, len(accounts))
		}
		if len(accounts) == 0 {
			break
		}
		for _, acc := range accounts {
			if acc.Type != "standard" || acc.CreatedOn == "" {
				t.Fatalf("account %+v lacks type or created_on", acc)
			}
			got = append(got, acc.Name)
		}
	}
	want := []string{"account 1", "account 2", "account 3", "account 4", "account 5", "account 6", "account 7"}
	if !slices.Equal(got, want) {
		t.Fatalf("accounts = %v, want %v", got, want)
	}
}

func TestListAccountsFiltersAndOrders(t *testing.T) {
	t.Parallel()
	accounts := sevenAccounts()
	a, _ := newAPI(t,
		cffake.WithAccounts(accounts...),
		cffake.WithTokens(
			cffake.Token{Value: cffake.DefaultToken, Permissions: cffake.AllPermissions()},
			cffake.Token{Value: "two", Accounts: []string{accounts[1].ID, accounts[4].ID}, Permissions: []cffake.Permission{cffake.PermAccountRead}},
			cffake.Token{Value: "kv-only", Permissions: []cffake.Permission{cffake.PermKVEdit}},
			cffake.Token{Value: "owned", Owner: accounts[0].ID, Permissions: cffake.AllPermissions()},
		),
	)
	list := func(c *api, query string) []string {
		t.Helper()
		var res []account
		c.get("/accounts"+query).ok(t, &res)
		var out []string
		for _, acc := range res {
			out = append(out, acc.Name)
		}
		return out
	}
	if got := list(a, "?direction=desc&per_page=5"); !slices.Equal(got, []string{"account 7", "account 6", "account 5", "account 4", "account 3"}) {
		t.Fatalf("desc = %v", got)
	}
	if got := list(a, "?name=account+3"); !slices.Equal(got, []string{"account 3"}) {
		t.Fatalf("name filter = %v", got)
	}
	if got := list(a.as("two"), ""); !slices.Equal(got, []string{"account 2", "account 5"}) {
		t.Fatalf("scoped token sees %v", got)
	}
	a.as("kv-only").get("/accounts").fails(t, 403, 10000)
	a.as("owned").get("/accounts").fails(t, 400, 1001)
}

func TestListAccountsRejectsOutOfBounds(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	for _, q := range []string{"per_page=4", "per_page=51", "per_page=x", "per_page=5.5", "page=0", "page=-1", "direction=up"} {
		t.Run(q, func(t *testing.T) {
			a.get("/accounts?"+q).fails(t, 400, 1001)
		})
	}
	for _, q := range []string{"per_page=5", "per_page=50", "page=1", "per_page=20.0"} {
		t.Run(q, func(t *testing.T) {
			a.get("/accounts?"+q).ok(t, nil)
		})
	}
}

type tokenInfo struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	ExpiresOn string `json:"expires_on"`
}

func TestVerifyToken(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	a, srv := newAPI(t,
		cffake.WithClock(func() time.Time { return t0 }),
		cffake.WithTokens(
			cffake.Token{Value: cffake.DefaultToken, Permissions: cffake.AllPermissions()},
			cffake.Token{Value: "fixed-id", ID: "00000000000000000000000000000001", ExpiresOn: t0.Add(time.Hour)},
			cffake.Token{Value: "disabled", Status: cffake.TokenDisabled},
			cffake.Token{Value: "owned", Owner: acct, Permissions: cffake.AllPermissions()},
		),
	)
	verifyUser := "/user/tokens/verify"
	verifyAcct := "/accounts/" + acct + "/tokens/verify"

	var tok tokenInfo
	r := a.get(verifyUser).ok(t, &tok)
	if tok.ID != cffake.TokenID(cffake.DefaultToken) || tok.Status != "active" || tok.ExpiresOn != "" {
		t.Fatalf("default token verifies as %+v", tok)
	}
	if len(r.env.Messages) != 1 || !strings.Contains(string(r.env.Messages[0]), `"code":10000`) || !strings.Contains(string(r.env.Messages[0]), "This API Token is valid and active") {
		t.Fatalf("messages = %s", r.body)
	}

	a.as("fixed-id").get(verifyUser).ok(t, &tok)
	if tok.ID != "00000000000000000000000000000001" || tok.ExpiresOn != "2026-06-01T01:00:00Z" || tok.Status != "active" {
		t.Fatalf("fixed-id verifies as %+v", tok)
	}
	srv.Advance(2 * time.Hour)
	a.as("fixed-id").get(verifyUser).ok(t, &tok)
	if tok.Status != "expired" {
		t.Fatalf("after expiry status = %q", tok.Status)
	}

	a.as("disabled").get(verifyUser).ok(t, &tok)
	if tok.Status != "disabled" {
		t.Fatalf("disabled token status = %q", tok.Status)
	}

	// Account-owned tokens verify at the account endpoint only; user
	// tokens at the user endpoint only.
	a.as("owned").get(verifyUser).fails(t, 401, 1000)
	a.as("owned").get(verifyAcct).ok(t, &tok)
	if tok.ID != cffake.TokenID("owned") {
		t.Fatalf("owned token id = %q", tok.ID)
	}
	a.get(verifyAcct).fails(t, 401, 1000)
	a.as("owned").get("/accounts/"+otherAcct+"/tokens/verify").fails(t, 401, 1000)
	a.as("unknown").get(verifyUser).fails(t, 401, 1000)
	a.as("").get(verifyUser).fails(t, 400, 9106)

	// An account-owned token works on its own account.
	a.as("owned").get(kvBase).ok(t, nil)
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	a.get("/accounts/"+acct+"/storage/kv/nowhere").fails(t, 404, 7003)
	a.get("/zones").fails(t, 404, 7003)
	a.get("/accounts/").fails(t, 404, 7003)
	r := a.do(http.MethodPatch, kvBase, nil).fails(t, 405, 7001)
	if allow := r.header.Values("Allow"); !slices.Equal(allow, []string{"GET", "POST"}) {
		t.Fatalf("Allow = %v", allow)
	}
	// Outside the API base nothing is served.
	res, err := http.Get(a.srv.URL() + "/accounts")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("outside %s: status %d", cffake.BasePath, res.StatusCode)
	}
	// Both errors of Cloudflare's unroutable answer are there.
	r = a.get("/nowhere").fails(t, 404, 7003)
	if len(r.env.Errors) != 2 || r.env.Errors[1].Code != 7000 {
		t.Fatalf("want 7003 then 7000, got %s", r.body)
	}
}
