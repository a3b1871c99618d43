package sipua

import (
	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

// This file is the one place where hang-up causes and SIP status codes meet,
// both ways: the final response an unanswered inbound leg gets for the cause
// the call flow hung it up with, and the cause an outgoing INVITE's failure
// response stands for.

// statusForCause returns the final response (RFC 3261 §21) that ends an
// unanswered inbound leg hung up with cause.
func statusForCause(cause sb.HangupCause) (int, string) {
	switch cause {
	case sb.CauseBusy:
		return sip.StatusBusyHere, "Busy Here"
	case sb.CauseNoAnswer, sb.CauseUnavailable:
		return sip.StatusTemporarilyUnavailable, "Temporarily Unavailable"
	case sb.CauseDeclined:
		return sip.StatusGlobalDecline, "Decline"
	case sb.CauseNotFound:
		return sip.StatusNotFound, "Not Found"
	case sb.CauseForbidden:
		return sip.StatusForbidden, "Forbidden"
	case sb.CauseCongestion:
		return sip.StatusServiceUnavailable, "Service Unavailable"
	case sb.CauseCancelled:
		return sip.StatusRequestTerminated, "Request Terminated"
	case sb.CauseNormal, sb.CauseAdmin, sb.CauseTimeLimit:
		// Someone ended the call before it was answered: the caller hears
		// that the callee is not available, which is true.
		return sip.StatusTemporarilyUnavailable, "Temporarily Unavailable"
	}
	return sip.StatusInternalServerError, "Server Internal Error"
}

// causeForStatus returns the cause a failure response to our INVITE stands
// for. 401/407 reach it only when our credentials were refused.
func causeForStatus(code int) sb.HangupCause {
	switch code {
	case sip.StatusBusyHere, sip.StatusGlobalBusyEverywhere:
		return sb.CauseBusy
	case sip.StatusGlobalDecline:
		return sb.CauseDeclined
	case sip.StatusRequestTimeout:
		return sb.CauseNoAnswer
	case sip.StatusTemporarilyUnavailable, sip.StatusGone:
		return sb.CauseUnavailable
	case sip.StatusNotFound, sip.StatusAddressIncomplete, sip.StatusGlobalDoesNotExistAnywhere:
		return sb.CauseNotFound
	case sip.StatusForbidden:
		return sb.CauseForbidden
	case sip.StatusServiceUnavailable, sip.StatusBadGateway, sip.StatusGatewayTimeout, sip.StatusInternalServerError:
		// The trunk or the network behind it failed: the next trunk may do.
		return sb.CauseCongestion
	case sip.StatusRequestTerminated:
		return sb.CauseCancelled
	}
	return sb.CauseFailed
}

// callError returns the error Originate reports for cause.
func callError(cause sb.HangupCause, msg string) error {
	return &sb.CallError{Cause: cause, Message: msg}
}
