package cf

import (
	"cmp"
	"context"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		token   cffake.Token
		mutate  func(*Config)
		off     []storage.Area // areas left out by --toolsets
		failing []string       // findings that must fail; all others must pass
		fix     string         // what the first failing finding must tell the user
		want    int            // findings when all pass (default 6)
		skipped int            // findings not tried, because what they need failed
	}{
		{name: "all good", token: cffake.Token{Value: "all-permissions-token-value-000000000000",
			Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVEdit, cffake.PermR2Edit, cffake.PermD1Edit}}},
		{name: "no KV permission", token: cffake.Token{Value: "no-kv-token-value-00000000000000000000000",
			Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermR2Edit, cffake.PermD1Edit}},
			failing: []string{"Workers KV"}, fix: "Workers KV Storage"},
		{name: "no R2 permission", token: cffake.Token{Value: "no-r2-token-value-00000000000000000000000",
			Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVEdit, cffake.PermD1Edit}},
			failing: []string{"R2 buckets (REST)"}, fix: "Workers R2 Storage"},
		{name: "no D1 permission", token: cffake.Token{Value: "no-d1-token-value-00000000000000000000000",
			Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVEdit, cffake.PermR2Edit}},
			failing: []string{"D1"}, fix: "D1:Edit"},
		{name: "KV-only token, serving KV only", token: cffake.Token{Value: "kv-only-token-value-00000000000000000000",
			Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVEdit}},
			off: []storage.Area{storage.AreaR2, storage.AreaD1}, want: 3},
		{name: "KV-only token, serving R2 too", token: cffake.Token{Value: "kv-only-token-value-00000000000000000000",
			Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVEdit}},
			off: []storage.Area{storage.AreaD1}, failing: []string{"R2 buckets (REST)"}, fix: "Workers R2 Storage"},
		{name: "disabled token", token: cffake.Token{Value: "disabled-token-value-0000000000000000000",
			Status: cffake.TokenDisabled, Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVEdit, cffake.PermR2Edit}},
			failing: []string{"API token"}, fix: "CLOUDFLARE_API_TOKEN", skipped: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCloudflare(t, cffake.WithTokens(tc.token))
			b := f.backend(t, func(c *Config) { c.APIToken = tc.token.Value })
			defer b.Close()
			findings := b.Check(context.Background(), tc.off...)
			failed, skipped := map[string]bool{}, 0
			for _, fd := range findings {
				if fd.Skipped {
					skipped++
					if fd.OK || !strings.HasPrefix(fd.Detail, "not checked: ") {
						t.Errorf("%s was skipped without saying why, or called ok: %+v", fd.Name, fd)
					}
					continue
				}
				if !fd.OK {
					failed[fd.Name] = true
					if fd.Fix == "" {
						t.Errorf("%s failed without saying how to fix it: %s", fd.Name, fd.Detail)
					}
				}
				if strings.Contains(fd.Detail+fd.Fix, tc.token.Value) {
					t.Fatalf("%s shows the token", fd.Name)
				}
			}
			if skipped != tc.skipped {
				t.Errorf("%d findings skipped, want %d: %+v", skipped, tc.skipped, findings)
			}
			for _, name := range tc.failing {
				if !failed[name] {
					t.Errorf("%s should fail; findings: %+v", name, findings)
				}
				delete(failed, name)
			}
			for name := range failed {
				t.Errorf("%s failed unexpectedly; findings: %+v", name, findings)
			}
			if tc.fix != "" {
				var all string
				for _, fd := range findings {
					all += fd.Fix + " " + fd.Detail
				}
				if !strings.Contains(all, tc.fix) {
					t.Errorf("no finding mentions %q: %+v", tc.fix, findings)
				}
			}
			want := cmp.Or(tc.want, 6)
			if len(tc.failing) == 0 && len(findings) != want {
				t.Errorf("%d findings, want %d: %+v", len(findings), want, findings)
			}
		})
	}
}
