package web

import (
	"slices"
	"testing"
)

func TestPartSplit(t *testing.T) {
	for _, tt := range []struct {
		sizes []int64
		want  []int
	}{
		{nil, nil},
		{[]int64{10, 20, 10}, []int{1, 1, 1}},              // exactly the cap fits
		{[]int64{30, 30, 30}, []int{1, 2, 3}},              // each would overflow the part before
		{[]int64{10, 100, 10}, []int{1, 2, 3}},             // a file over the cap has a part of its own
		{[]int64{100, 0, 0}, []int{1, 2, 2}},               // missing files (size 0) follow on
		{[]int64{0, 0, 40, 1}, []int{1, 1, 1, 2}},          // empty files never start a part
		{[]int64{25, 15, 39, 1, 40}, []int{1, 1, 2, 2, 3}}, // greedy, in order
	} {
		p := partSplit{max: 40}
		var got []int
		for _, n := range tt.sizes {
			got = append(got, p.place(n))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("sizes %v: parts %v, want %v", tt.sizes, got, tt.want)
		}
	}
}
