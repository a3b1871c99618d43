// Package e2e holds the end-to-end tests of the whole product with real
// peers: TestMain builds the switchboard binary (go build ./cmd/switchboard),
// every test starts it as a subprocess with a data folder, ports and RTP
// range of its own, configures it only through the public JSON API, as an
// integrator would, and points real SIP peers from Debian at it (baresip,
// linphonec, SIPp, sipvicious; see package sbtest).
//
//	go test ./e2e/                         # all, about 90 s on 2 cores
//	go test ./e2e/ -run TestCallBetweenPhones -v
//
// A missing peer fails the test and names the Debian package (.ci/run
// installs them all); nothing is skipped. TestRegistrationStorm logs a
// benchmark line "BENCH register_rate=... cpu_us_per_register=...".
//
// The package has no code besides its tests; this file only documents it.
package e2e
