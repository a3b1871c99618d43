package routing_test

import (
	"testing"

	"switchboard"
	"switchboard/routing"
)

func TestRefusalErr(t *testing.T) {
	tests := []struct {
		reason routing.Reason
		code   switchboard.ErrorCode
	}{
		{routing.ReasonNotInternal, switchboard.ENotFound},
		{routing.ReasonNotFound, switchboard.ENotFound},
		{routing.ReasonNoRoute, switchboard.ENotFound},
		{routing.ReasonPermission, switchboard.EForbidden},
		{routing.ReasonUnknownCaller, switchboard.EForbidden},
		{routing.ReasonUnknownTrunk, switchboard.EForbidden},
		{routing.ReasonInvalidNumber, switchboard.EInvalid},
		{routing.ReasonNothingToDial, switchboard.EInvalid},
	}
	for _, tt := range tests {
		r := &routing.Refusal{Reason: tt.reason, Message: "No."}
		err := r.Err()
		if switchboard.ErrorCodeOf(err) != tt.code || switchboard.ErrorMessageOf(err) != "No." {
			t.Errorf("%s: Err() = %v (%s), want code %s with the message", tt.reason, err, switchboard.ErrorCodeOf(err), tt.code)
		}
	}
}
