package storage

import (
	"errors"
	"strconv"
	"testing"
)

func TestPagesFollowCursorsAndStopEarly(t *testing.T) {
	calls := 0
	next := func(cursor string) ([]int, string, error) {
		calls++
		n, _ := strconv.Atoi(cursor)
		if n >= 3 {
			return []int{n*10 + 1}, "", nil
		}
		return []int{n*10 + 1, n*10 + 2}, strconv.Itoa(n + 1), nil
	}
	var got []int
	for v, err := range pages(next) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if want := []int{1, 2, 11, 12, 21, 22, 31}; len(got) != len(want) || got[6] != 31 || calls != 4 {
		t.Fatalf("got %v in %d calls, want %v in 4", got, calls, want)
	}
	calls = 0
	for v := range pages(next) {
		if v == 2 {
			break
		}
	}
	if calls != 1 {
		t.Errorf("breaking on the first page still asked for %d pages", calls)
	}
	boom := errors.New("boom")
	for _, err := range pages(func(string) ([]int, string, error) { return nil, "", boom }) {
		if !errors.Is(err, boom) {
			t.Errorf("error = %v", err)
		}
	}
}

func TestPageSize(t *testing.T) {
	for _, c := range []struct{ limit, want int }{
		{-1, 50}, {0, 50}, {1, 1}, {99, 99}, {100, 100}, {101, 100}, {1 << 30, 100},
	} {
		if got := PageSize(c.limit, 50, 100); got != c.want {
			t.Errorf("PageSize(%d, 50, 100) = %d, want %d", c.limit, got, c.want)
		}
	}
}
