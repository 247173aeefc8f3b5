package main

import "github.com/spf13/cobra"

func stub(use string) *cobra.Command {
	return &cobra.Command{Use: use, Short: "(not yet implemented)", RunE: func(*cobra.Command, []string) error { return failf("%s: not yet implemented", use) }}
}

func (a *app) encryptCommand() *cobra.Command { return stub("encrypt") }
func (a *app) decryptCommand() *cobra.Command { return stub("decrypt") }
func (a *app) inspectCommand() *cobra.Command { return stub("inspect") }
func (a *app) rewrapCommand() *cobra.Command  { return stub("rewrap") }
func (a *app) secretCommand() *cobra.Command {
	c := stub("secret")
	c.AddCommand(stub("get"), stub("exec"))
	return c
}
func (a *app) preflightCommand() *cobra.Command { return stub("preflight") }
