package switchboard_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"switchboard"
)

// fieldsOf returns the sorted fields at fault in err, which must be nil or
// switchboard.Errors of EInvalid field errors with messages.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var es switchboard.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T) is not switchboard.Errors", err, err)
	}
	var fields []string
	for _, e := range es {
		if e.Code != switchboard.EInvalid || e.Field == "" || e.Message == "" {
			t.Errorf("error %+v: want an EInvalid field error with a message", e)
		}
		if !strings.HasSuffix(e.Message, ".") {
			t.Errorf("message %q is not a full sentence", e.Message)
		}
		fields = append(fields, e.Field)
	}
	slices.Sort(fields)
	return fields
}

// checkFields runs Validate and compares the fields at fault with want, and
// the joined messages with the substring mention.
func checkFields(t *testing.T, err error, want []string, mention string) {
	t.Helper()
	got := fieldsOf(t, err)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("fields at fault = %q, want %q (err: %v)", got, want, err)
	}
	if mention != "" {
		var msgs []string
		for _, e := range err.(switchboard.Errors) {
			msgs = append(msgs, e.Message)
		}
		if all := strings.Join(msgs, " | "); !strings.Contains(all, mention) {
			t.Errorf("messages %q do not mention %q", all, mention)
		}
	}
}
