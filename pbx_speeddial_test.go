package switchboard_test

import (
	"testing"

	"switchboard"
)

func TestSpeedDialValidate(t *testing.T) {
	tests := []struct {
		name   string
		dial   switchboard.SpeedDial
		fields []string
	}{
		{name: "valid", dial: switchboard.SpeedDial{Code: "1", Number: "13800138000"}},
		{name: "international number", dial: switchboard.SpeedDial{Code: "12", Number: "+85212345678"}},
		{name: "code written with its star", dial: switchboard.SpeedDial{Code: "*1", Number: "13800138000"}, fields: []string{"code"}},
		{name: "empty code", dial: switchboard.SpeedDial{Number: "13800138000"}, fields: []string{"code"}},
		{name: "nine digit code", dial: switchboard.SpeedDial{Code: "123456789", Number: "13800138000"}, fields: []string{"code"}},
		{name: "empty number", dial: switchboard.SpeedDial{Code: "1"}, fields: []string{"number"}},
		{name: "number with a space", dial: switchboard.SpeedDial{Code: "1", Number: "138 0013 8000"}, fields: []string{"number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFields(t, tt.dial.Validate(), tt.fields, "")
		})
	}
}

func TestSpeedDialDialed(t *testing.T) {
	if got := (switchboard.SpeedDial{Code: "12"}).Dialed(); got != "*12" {
		t.Fatalf("Dialed() = %q, want *12", got)
	}
}
