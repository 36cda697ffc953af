package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/runtime/principal"
)

func newKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out DIR/NAME",
		Short: "Generate an Ed25519 key pair (NAME.key PKCS#8, NAME.pub SPKI)",
		Long: "Generate an Ed25519 key pair and write NAME.key (PEM PKCS#8, mode 0600) and\n" +
			"NAME.pub (PEM SPKI). Both are readable with `openssl pkey`. Prints the key ID.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return exitWith(exitUsage, "--out is required")
			}
			pub, priv, err := principal.Generate(nil)
			if err != nil {
				return err
			}
			if err := principal.WriteKeyPair(out, pub, priv); err != nil {
				return err
			}
			res := map[string]string{
				"key_id":  string(principal.IDOf(pub)),
				"private": out + ".key",
				"public":  out + ".pub",
			}
			return emit(cmd, res, func(w io.Writer) {
				fmt.Fprintln(w, res["key_id"])
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "path prefix for the key files (DIR/NAME)")
	return cmd
}
