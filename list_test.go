package switchboard_test

import (
	"context"
	"errors"
	"testing"

	sb "switchboard"
)

// numbersList serves the numbers 1..n a page at a time, like a store list,
// and fails at page failAt (0: never).
func numbersList(n, failAt int) sb.ListFunc[int] {
	return func(_ context.Context, _ *sb.Actor, q sb.ListQuery) (sb.Page[int], error) {
		if q.Page == failAt {
			return sb.Page[int]{}, errors.New("database gone")
		}
		p := sb.Page[int]{Total: n}
		first := 1 + q.Offset()
		if q.After != nil {
			first = int(q.After.ID) + 1
		}
		for i := first; i <= n && len(p.Items) < q.PageSize; i++ {
			p.Items = append(p.Items, i)
		}
		return p, nil
	}
}

func TestAllItemsReadsEveryPage(t *testing.T) {
	for _, n := range []int{0, 999, 1000, 1001, 2500} {
		got, err := sb.AllItems(context.Background(), nil, numbersList(n, 0), sb.ListQuery{})
		if err != nil || len(got) != n {
			t.Fatalf("n=%d: got %d items, %v", n, len(got), err)
		}
		for i, v := range got {
			if v != i+1 {
				t.Fatalf("n=%d: item %d is %d", n, i, v)
			}
		}
	}
	if _, err := sb.AllItems(context.Background(), nil, numbersList(2500, 2), sb.ListQuery{}); err == nil {
		t.Fatal("a failing second page was not reported")
	}
}

func TestEachItemAfterWalksByKey(t *testing.T) {
	var got []int
	key := func(v *int) *sb.ListKey { return &sb.ListKey{ID: int64(*v)} }
	err := sb.EachItemAfter(context.Background(), nil, sb.ListQuery{Page: 7}, numbersList(2345, 0), key, func(v *int) error {
		got = append(got, *v)
		return nil
	})
	if err != nil || len(got) != 2345 || got[0] != 1 || got[2344] != 2345 {
		t.Fatalf("walked %d items (%v), first/last wrong or missing", len(got), err)
	}
	stop := errors.New("enough")
	n := 0
	err = sb.EachItemAfter(context.Background(), nil, sb.ListQuery{}, numbersList(2345, 0), key, func(*int) error {
		if n++; n == 1500 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 1500 {
		t.Fatalf("fn's error did not stop the walk: %v after %d", err, n)
	}
}
