package winname

import "testing"

func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  bool
	}{
		{"report.pdf", false},
		{".hidden", false},
		{".", false},
		{"..", false},
		{"..foo", false},
		{"CONSOLE.txt", false},
		{"COM10", false},
		{"LPT", false},
		{"nullable", false},
		{"0123456789abcdef0123456789abcdef", false}, // a blob id
		{"ab", false}, // a blob directory
		{"d0c5a3a7-2b1e-4d7f-9c1a-0e5b6f7a8b9c.sqlite-wal", false},
		{"CON", true},
		{"con", true},
		{"Nul.txt", true},
		{"AUX.tar.gz", true},
		{"PRN ", true},
		{"COM1", true},
		{"com9.log", true},
		{"LPT0", true},
		{"COM\u00b9", true},
		{"CONIN$", true},
		{"conout$.txt", true},
		{"COM1 .log", true},
		{"report.", true},
		{"report ", true},
		{"a:b", true},
		{"C:", true},
		{"what?", true},
		{"a*b", true},
		{"a|b", true},
		{`a"b`, true},
		{"a<b>", true},
		{"a\tb", true},
		{`a\b`, true},
	} {
		if got := Problem(tc.name); (got != "") != tc.bad {
			t.Errorf("Problem(%q) = %q, want a problem: %v", tc.name, got, tc.bad)
		}
	}
}
