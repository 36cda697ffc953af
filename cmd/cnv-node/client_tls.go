package main

import (
	"crypto/tls"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cnv-project/cnv/tlsutil"
)

// addClientTLSFlags adds --ca, --cert and --key-file (env CNV_CA,
// CNV_CERT, CNV_KEY_FILE): a command speaks HTTPS to nodes started with
// TLS, checks their node certificates against the CA and offers its own
// client certificate (nodes started with --verify-incoming require one).
func addClientTLSFlags(fl *pflag.FlagSet) {
	fl.String("ca", "", "the cluster CA certificate: speak TLS to the nodes (env CNV_CA)")
	fl.String("cert", "", "client certificate to present (made by cnv-node tls cert create --client NAME; env CNV_CERT)")
	fl.String("key-file", "", "the client certificate's key (env CNV_KEY_FILE)")
}

func flagOrEnv(cmd *cobra.Command, flag, env string) string {
	if f := cmd.Flag(flag); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return os.Getenv(env)
}

// tlsOf is the client TLS config the command's flags ask for (nil: plain
// HTTP).
func tlsOf(cmd *cobra.Command) (*tls.Config, error) {
	files := tlsutil.Files{CA: flagOrEnv(cmd, "ca", "CNV_CA"), Cert: flagOrEnv(cmd, "cert", "CNV_CERT"),
		Key: flagOrEnv(cmd, "key-file", "CNV_KEY_FILE")}
	if !files.Enabled() {
		return nil, nil
	}
	if files.CA == "" {
		return nil, exitWith(exitUsage, "--cert and --key-file need --ca (or CNV_CA)")
	}
	b, err := tlsutil.Load(files)
	if err != nil {
		return nil, inputErr(err)
	}
	return b.APIClient(), nil
}
