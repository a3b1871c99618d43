// Command switchboard is the whole product in one binary: the PBX, the web
// admin and agent workspace, and the CLI to manage them.
//
//	switchboard serve                      run everything (embedded SQLite in ./data)
//	switchboard migrate                    apply database migrations and exit
//	switchboard tenant create --name N     add a company; tenant list
//	switchboard user create --tenant N --username U --password P --role admin|leader|agent
//	switchboard user reset-password|lock|unlock --username U [--password P]
//	switchboard token create --username U [--name N] [--ttl 720h]
//	switchboard backup --out DIR           consistent copy of the database and data folder
//	switchboard version
//
// Every command takes --data DIR and --db DSN; serve also --http, --sip,
// --rtp-ports and --public-ip. Each flag can be set as SWITCHBOARD_<NAME>
// (e.g. SWITCHBOARD_HTTP); flags win over the environment.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}
